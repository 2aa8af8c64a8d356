"""The cultural cheat sheet in comparisons/ is executable: every row is a test.

Each row holds two raw values as a state would send them. The two records go through the real
standardizer, then through the real comparison SQL on DuckDB, and the level the pair lands in
must be the row's expected_level. A failure names the file, the row and its note.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from migrant_linkage.comparisons import COMPARISON_NAMES, comparison_levels, gamma_case_sql
from migrant_linkage.levels import gamma_value
from migrant_linkage.schema import INPUT_COLUMNS
from migrant_linkage.standardize import standardize

CHEAT_SHEET = Path(__file__).resolve().parents[1] / "comparisons"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "comparisons.md"

#: Every record starts from this; a row's value overrides the fields its comparison names.
BASE_RECORD = {"state": "TX", "first_name": "ANA", "last_name_1": "PEREZ"}


@dataclass(frozen=True)
class Row:
    comparison: str
    line: int  # line number in the CSV, header is line 1
    value_a: str
    value_b: str
    expected_level: str
    note: str

    @property
    def key(self) -> str:
        return f"{self.comparison}:{self.line}"


def _fields() -> dict[str, list[str]]:
    with open(CHEAT_SHEET / "fields.csv", newline="", encoding="utf-8") as f:
        return {r["comparison"]: r["fields"].split("|") for r in csv.DictReader(f)}


def _rows() -> list[Row]:
    rows = []
    for name in COMPARISON_NAMES:
        with open(CHEAT_SHEET / f"{name}.csv", newline="", encoding="utf-8") as f:
            for line, r in enumerate(csv.DictReader(f), start=2):
                rows.append(
                    Row(name, line, r["value_a"], r["value_b"], r["expected_level"], r["note"])
                )
    return rows


ROWS = _rows()


def _raw_record(fields: list[str], value: str, record_id: str) -> dict[str, str]:
    parts = value.split("|")
    if len(parts) > len(fields):
        raise ValueError(f"{record_id}: {len(parts)} '|'-parts but only fields {fields}")
    record = {column: "" for column in INPUT_COLUMNS}
    record.update(BASE_RECORD)
    record.update(dict(zip(fields, parts, strict=False)))
    record["record_id"] = record_id
    return record


@cache
def _landed_levels() -> dict[tuple[str, str], str]:
    """Standardize every row's two records in one call and score every pair in one query.

    Keys are (row key, order): order "ab" puts record A on the left of the pair, "ba" on the
    right, so the tests can check that a comparison does not depend on which record is which.
    """
    fields = _fields()
    records = []
    for row in ROWS:
        records.append(_raw_record(fields[row.comparison], row.value_a, f"{row.key}:a"))
        records.append(_raw_record(fields[row.comparison], row.value_b, f"{row.key}:b"))
    result = standardize(pd.DataFrame(records, columns=list(INPUT_COLUMNS)))
    # A rejected record fails only its own row, with the reason, not the whole sheet.
    rejected = {
        record_id.rsplit(":", 1)[0]: f"rejected by the standardizer: {reason}"
        for record_id, reason in zip(
            result.rejects["record_id"], result.rejects["reason"], strict=True
        )
    }

    con = duckdb.connect()
    con.register("records", result.standardized)
    columns = [c for c in result.standardized.columns if c != "record_id"]
    select_l = ", ".join(f'l."{c}" AS "{c}_l"' for c in columns)
    select_r = ", ".join(f'r."{c}" AS "{c}_r"' for c in columns)
    con.execute(
        f"""CREATE TABLE pairs AS
        SELECT substr(l.record_id, 1, length(l.record_id) - 2) AS key,
               right(l.record_id, 1) || right(r.record_id, 1) AS side_order,
               {select_l}, {select_r}
        FROM records l JOIN records r
          ON l.record_id <> r.record_id
         AND substr(l.record_id, 1, length(l.record_id) - 2)
           = substr(r.record_id, 1, length(r.record_id) - 2)"""
    )
    cases = ", ".join(gamma_case_sql(name, "duckdb") for name in COMPARISON_NAMES)
    scored = con.execute(f"SELECT key, side_order, {cases} FROM pairs").df()
    scored = scored.set_index(["key", "side_order"])

    landed = {}
    label_of = {name: _labels_by_gamma(name) for name in COMPARISON_NAMES}
    for row in ROWS:
        for order in ("ab", "ba"):
            if row.key in rejected:
                landed[row.key, order] = rejected[row.key]
                continue
            gamma = scored.loc[(row.key, order), f"gamma_{row.comparison}"]
            landed[row.key, order] = label_of[row.comparison][int(gamma)]
    return landed


def _labels_by_gamma(name: str) -> dict[int, str]:
    return {gamma_value(name, lv.label): lv.label for lv in comparison_levels(name)}


@pytest.mark.parametrize("row", ROWS, ids=[r.key for r in ROWS])
def test_cheat_sheet_row_lands_in_expected_level(row: Row) -> None:
    landed = _landed_levels()[row.key, "ab"]
    assert landed == row.expected_level, (
        f"comparisons/{row.comparison}.csv line {row.line} ({row.note}): "
        f"{row.value_a!r} vs {row.value_b!r} landed in {landed!r}, "
        f"expected {row.expected_level!r}"
    )


def test_comparisons_do_not_depend_on_which_record_is_left() -> None:
    landed = _landed_levels()
    one_sided = [
        f"{r.key} ({landed[r.key, 'ab']} vs {landed[r.key, 'ba']})"
        for r in ROWS
        if landed[r.key, "ab"] != landed[r.key, "ba"]
    ]
    assert not one_sided, f"rows whose level changes when A and B swap sides: {one_sided}"


@pytest.mark.parametrize("name", COMPARISON_NAMES)
def test_every_level_has_a_cheat_sheet_row(name: str) -> None:
    covered = {r.expected_level for r in ROWS if r.comparison == name}
    missing = [lv.label for lv in comparison_levels(name) if lv.label not in covered]
    assert not missing, f"comparisons/{name}.csv has no row for level(s) {missing}"


def test_expected_levels_are_known_labels() -> None:
    unknown = [
        r.key
        for r in ROWS
        if r.expected_level not in {lv.label for lv in comparison_levels(r.comparison)}
    ]
    assert not unknown, f"rows naming a level that does not exist: {unknown}"


def test_cheat_sheet_has_at_least_250_rows() -> None:
    assert len(ROWS) >= 250


def test_docs_show_the_current_cheat_sheet() -> None:
    spec = importlib.util.spec_from_file_location("render_docs", CHEAT_SHEET / "render_docs.py")
    assert spec is not None and spec.loader is not None
    render_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_docs)
    assert DOCS.read_text(encoding="utf-8") == render_docs.render(DOCS.read_text("utf-8")), (
        "docs/comparisons.md is out of date: run python3 comparisons/render_docs.py"
    )
