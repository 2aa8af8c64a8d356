"""The comparisons' per-record inputs (standardize/pair_inputs.py, issue 20): the levels that
read them give every pair the level the per-pair string SQL gave it before.

The reference below is the SQL those levels ran before the change, frozen here: it split
`surname_units_key` and joined the given words on every pair, removed spaces and hyphens on
every pair, and took the birth date's digits on every pair. Both are run over every ordered
pair of a set of records built to hold the edge cases (no surname unit, a repeated unit, more
units than the levels look at, hyphens, accents, particles, a surname in the middle-name
field, no given name, impossible and short birth dates) and of synthetic records.
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage.comparisons import COMPARISON_NAMES, comparison_levels, migrant_comparisons
from migrant_linkage.schema import PAIR_INPUT_COLUMNS, SCORED_COLUMN_NAMES
from migrant_linkage.standardize import standardize
from migrant_linkage.standardize.pair_inputs import PAIR_INPUT_SQL
from migrant_linkage.synthetic import generate

# ------------------------------------------------------------------ the SQL before issue 20
_K = "surname_units_key"


def _word_in(word: str, words: str) -> str:
    return f"(' ' || {words} || ' ') LIKE ('% ' || {word} || ' %')"


def _unit(key: str, i: int) -> str:
    return f"split_part({key}, ' ', {i})"


def _spaces(key: str) -> str:
    return f"(length({key}) - length(replace({key}, ' ', '')))"


def _within(small: str, big: str) -> str:
    return " AND ".join(
        f"({_unit(small, i)} = '' OR {_word_in(_unit(small, i), big)})" for i in (1, 2, 3)
    )


def _any_in(key: str, words: str) -> str:
    return " OR ".join(_word_in(_unit(key, i), words) for i in (1, 2, 3))


def _no_gaps(expression: str) -> str:
    return f"replace(replace({expression}, ' ', ''), '-', '')"


def _digits(side: str) -> str:
    return f"translate(birth_date_{side}, '-/. ', '')"


_GIVEN_WORDS = "concat_ws(' ', given_name_full_{s}, middle_name_std_{s})"
_GIVEN_RUN = "concat_ws('', given_name_full_{s}, middle_name_std_{s})"

BEFORE: dict[tuple[str, str], str] = {
    ("surname", "subset"): (
        f"({_spaces(_K + '_l')} < {_spaces(_K + '_r')} AND ({_within(_K + '_l', _K + '_r')})) "
        f"OR ({_spaces(_K + '_r')} < {_spaces(_K + '_l')} AND ({_within(_K + '_r', _K + '_l')}))"
    ),
    ("surname", "joined"): (
        "surname_full_l <> surname_full_r "
        f"AND {_no_gaps('surname_full_l')} = {_no_gaps('surname_full_r')}"
    ),
    ("surname", "any_common"): _any_in(_K + "_l", _K + "_r"),
    ("surname", "in_given"): (
        f"({_any_in(_K + '_l', _GIVEN_WORDS.format(s='r'))}) "
        f"OR ({_any_in(_K + '_r', _GIVEN_WORDS.format(s='l'))})"
    ),
    ("given_name", "joined"): (
        f"{_no_gaps(_GIVEN_RUN.format(s='l'))} = {_no_gaps(_GIVEN_RUN.format(s='r'))}"
    ),
    ("birth_date", "unparseable_one_digit"): (
        "(birth_date_std_l IS NULL OR birth_date_std_r IS NULL) "
        f"AND length({_digits('l')}) >= 6 AND length({_digits('r')}) >= 6 "
        f"AND damerau_levenshtein({_digits('l')}, {_digits('r')}) <= 1"
    ),
}


def _level_sql(comparison: str, label: str) -> str:
    """The level's condition as the DuckDB engine renders it now."""
    creator = migrant_comparisons(term_frequency=False)[COMPARISON_NAMES.index(comparison)]
    labels = [level.label for level in comparison_levels(comparison)]
    return creator.get_comparison("duckdb").comparison_levels[labels.index(label)].sql_condition


# ------------------------------------------------------------------ the records
SURNAMES = [
    ("Garcia Lopez", None),
    ("Lopez Garcia", None),
    ("Garcia", "Lopez"),
    ("Garcia", None),
    ("Lopez", None),
    ("Hernandez Hernandez", None),
    ("Hernandez", None),
    ("De la Cruz", None),
    ("Delacruz", None),
    ("Martinez-Cruz", None),
    ("MartinezCruz", None),
    ("Martínez Cruz", None),
    ("Núñez", "Peña"),
    ("Nunez Pena", None),
    ("Perez Diaz Ruiz Smith", None),
    ("Smith", "Perez Diaz Ruiz"),
    ("Diaz Perez Ruiz Smith Vega", None),
    (None, "Lopez"),
    ("Al Lik", None),
    ("Allik", None),
    ("San Martin", None),
    ("O'Brien", None),
    ("Unknown", None),
    (None, None),
    ("Jose", None),
]
GIVEN = [
    ("José Luis", None),
    ("Joseluis", None),
    ("Jose-Luis", None),
    ("Jose", "Luis"),
    ("Jose", "Garcia"),
    ("Bri Dget", None),
    ("Bridget", None),
    ("María de los Ángeles", None),
    ("Lopez", None),
    (None, None),
    (None, "Garcia"),
    ("Garcia", "Lopez"),
    ("Ana", "Smith"),
]
BIRTH_DATES = [
    "2010-02-30",
    "2010-01-30",
    "20100230",
    "02/30/2010",
    "2010-02-03",
    "19060229",
    "19060129",
    "2010-13-01",
    "2010-03-01",
    "1/2/10",
    "12345",
    "abc",
    "",
    None,
]


def _edge_records(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        last_1, last_2 = SURNAMES[rng.integers(len(SURNAMES))]
        first, middle = GIVEN[rng.integers(len(GIVEN))]
        rows.append(
            {
                "record_id": f"e{i}",
                "state": "TX",
                "first_name": first,
                "middle_name": middle,
                "last_name_1": last_1,
                "last_name_2": last_2,
                "birth_date": BIRTH_DATES[rng.integers(len(BIRTH_DATES))],
            }
        )
    # Every surname with every given name once, so no combination is left to chance.
    for j, ((last_1, last_2), (first, middle)) in enumerate(itertools.product(SURNAMES, GIVEN)):
        rows.append(
            {
                "record_id": f"x{j}",
                "state": "CA",
                "first_name": first,
                "middle_name": middle,
                "last_name_1": last_1,
                "last_name_2": last_2,
                "birth_date": BIRTH_DATES[j % len(BIRTH_DATES)],
            }
        )
    return pd.DataFrame(rows)


def _mismatches(records: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(level -> (pairs where before and now disagree, pairs the level took before))."""
    columns = [c for c in SCORED_COLUMN_NAMES if c in records.columns]
    with duckdb.connect() as con:
        con.register("records", records[["record_id", *columns]])
        sides = ", ".join(f"a.{c} AS {c}_l, b.{c} AS {c}_r" for c in columns)
        con.execute(
            f"CREATE TABLE pairs AS SELECT {sides} FROM records a JOIN records b "
            "ON a.record_id <> b.record_id"
        )
        out = {}
        for (comparison, label), before in BEFORE.items():
            now = _level_sql(comparison, label)
            was, is_ = f"coalesce(({before}), false)", f"coalesce(({now}), false)"
            out[(comparison, label)] = con.execute(
                f"SELECT count(*) FILTER (WHERE {was} <> {is_}), count(*) FILTER (WHERE {was}) "
                "FROM pairs"
            ).fetchone()
    return out


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    synthetic = generate(60, seed=7)
    edge = _edge_records(120, seed=3)
    raw = pd.concat([synthetic[edge.columns.intersection(synthetic.columns)], edge])
    result = standardize(raw.astype("object").where(raw.notna(), None))
    return result.standardized


@pytest.fixture(scope="module")
def mismatches(records) -> dict[tuple[str, str], tuple[int, int]]:
    return _mismatches(records)


@pytest.mark.parametrize("level", list(BEFORE), ids=lambda key: ".".join(key))
def test_level_on_per_record_columns_gives_every_pair_the_level_it_had(mismatches, level) -> None:
    mismatched, taken_before = mismatches[level]
    assert taken_before > 0, f"no pair reaches {level}: the records do not test it"
    assert mismatched == 0, f"{mismatched} pairs changed level {level}"


def test_a_key_with_more_units_than_the_levels_read_keeps_them_all_in_the_padded_key(records):
    many = records[records["surname_unit_count"] > 3]
    assert len(many) > 0
    for _, row in many.iterrows():
        assert row["surname_units_padded"] == f" {row['surname_units_key']} "
        assert row["surname_unit_3_padded"].strip() == row["surname_units_key"].split()[2]


def test_every_pair_input_has_its_sql_and_is_a_scored_column() -> None:
    assert tuple(PAIR_INPUT_SQL) == PAIR_INPUT_COLUMNS
    assert set(PAIR_INPUT_COLUMNS) <= set(SCORED_COLUMN_NAMES)


_WORDS = st.sampled_from(
    ["GARCIA", "García", "LOPEZ", "de", "la", "CRUZ", "Cruz", "José", "LUIS", "-", " ", "  ", "Ñ"]
)
_FIELD = st.one_of(st.none(), st.lists(_WORDS, min_size=1, max_size=5).map("".join))
_RECORD = st.fixed_dictionaries(
    {
        "first_name": _FIELD,
        "middle_name": _FIELD,
        "last_name_1": _FIELD,
        "last_name_2": _FIELD,
        "birth_date": st.one_of(st.none(), st.text(alphabet="0123-/. 9", max_size=11)),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RECORD, min_size=2, max_size=8))
def test_any_names_and_dates_keep_their_levels(rows) -> None:
    raw = pd.DataFrame(rows)
    raw.insert(0, "state", "TX")
    raw.insert(0, "record_id", [str(i) for i in range(len(raw))])
    kept = standardize(raw).standardized
    if len(kept) < 2:
        return
    for level, (mismatched, _) in _mismatches(kept).items():
        assert mismatched == 0, f"{mismatched} pairs changed level {level}"
