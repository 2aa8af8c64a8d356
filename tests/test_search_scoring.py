"""The compact scorer (review/fast_score.py) against Splink's own score_pairs SQL: every
candidate pair of many searches gets the same levels, weights, zone, grade and guard both
ways, on an index of a few hundred synthetic records uploaded with the shipped model."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.review import MasterIndex
from migrant_linkage.review.search import Searcher, searcher_for
from migrant_linkage.review.search_fields import QUERY_FIELDS
from migrant_linkage.schema import INPUT_COLUMNS

STATES = ("CA", "FL", "TX")


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return synthetic.generate(400, seed=11, states=list(STATES))


@pytest.fixture(scope="module")
def built(tmp_path_factory, population) -> MasterIndex:
    path = tmp_path_factory.mktemp("scoring") / "index.duckdb"
    index = MasterIndex.create(path, administrator="admin")
    for state in ("CA", "FL"):
        part = population[population["state"] == state].reset_index(drop=True)
        index.upload(part, state=state, actor="admin")
    return index


def queries(population: pd.DataFrame) -> list[dict[str, str]]:
    """Every TX record (not in the index) as a vendor sends it, and as a specialist types it:
    names only, birth date only."""
    found = []
    for _, row in population[population["state"] == "TX"].iterrows():
        full = {
            c: row[c]
            for c in INPUT_COLUMNS
            if c in QUERY_FIELDS and isinstance(row[c], str) and row[c].strip()
        }
        found.append(full)
        names = {k: v for k, v in full.items() if k in ("first_name", "last_name_1")}
        if names:
            found.append(names)
        if "birth_date" in full:
            found.append({"birth_date": full["birth_date"]})
    return found


def slipped_dates(index: MasterIndex, n: int = 10) -> list[dict[str, str]]:
    """Indexed records queried with their birth date keyed one digit off into no real date:
    the level that compares the raw birth_date fields decides these pairs."""
    found = []
    for _, row in index.records().sort_values("record_key").iterrows():
        slipped = unreal_month(row["birth_date"]) if isinstance(row["birth_date"], str) else None
        if slipped and isinstance(row["first_name"], str) and isinstance(row["last_name_1"], str):
            found.append(
                {
                    "first_name": row["first_name"],
                    "last_name_1": row["last_name_1"],
                    "birth_date": slipped,
                }
            )
        if len(found) == n:
            break
    return found


def unreal_month(date: str) -> str | None:
    """2014-03-07 -> 2014-13-07: one keyed digit off, and no real date (ISO dates only)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        return None
    year, month, day = date.split("-")
    return f"{year}-1{month[1]}-{day}" if "03" <= month <= "09" else None


def test_every_candidate_pair_is_scored_as_splink_scores_it(built, population):
    compared = 0
    zones = set()
    gammas_seen: set[tuple[str, int]] = set()
    shared = searcher_for(built)
    compact = Searcher(shared.model, shared.thresholds)
    splink = Searcher(shared.model, shared.thresholds, through_splink=True)
    for query in queries(population) + slipped_dates(built):
        with built._read() as con:
            fast = compact.search(con, query, index_path=built.path, strict_dates=False).pairs
            reference = splink.search(con, query, index_path=built.path, strict_dates=False).pairs
        by_record = {p["record_id_r"]: p for p in reference}
        assert sorted(p["record_id_r"] for p in fast) == sorted(by_record)
        for pair in fast:
            expected = by_record[pair["record_id_r"]]
            for column in ("zone", "grade", "guarded", "guard_reason"):
                assert pair[column] == expected[column], column
            for column in compact.levels.gamma_columns():
                assert pair[column] == expected[column], column
                gammas_seen.add((column, pair[column]))
            for column in ("match_weight", "match_probability") + tuple(
                f"weight_{n}" for n in compact.levels.names
            ):
                assert math.isclose(pair[column], expected[column], rel_tol=1e-12, abs_tol=1e-9)
            zones.add(pair["zone"])
            compared += 1
    # the comparison covered many pairs, more than one zone (not only non-matches), and the
    # level that reads the raw birth date
    assert compared >= 500 and len(zones) >= 2, (compared, zones)
    unreal = compact.levels.gamma("birth_date", "unparseable_one_digit")
    assert unreal is not None and ("gamma_birth_date", unreal) in gammas_seen
