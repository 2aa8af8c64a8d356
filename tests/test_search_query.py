"""A search query is standardized exactly as an upload standardizes the same record
(review/query.py calls the upload's functions without building the upload's DataFrame)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage import synthetic
from migrant_linkage.review.query import NOT_COMPUTED, plain, standardized_values
from migrant_linkage.review.search import SearchError, keys_sql, query_keys, query_values
from migrant_linkage.schema import INPUT_COLUMNS, STANDARDIZED_COLUMN_NAMES, STANDARDIZED_COLUMNS
from migrant_linkage.standardize import derive_columns
from migrant_linkage.standardize.names import NAME_INPUT_COLUMNS

COMPARED = [c for c in STANDARDIZED_COLUMN_NAMES if c not in NOT_COMPUTED]


def as_an_upload_standardizes(fields: dict[str, str]) -> dict[str, object]:
    raw = pd.DataFrame({c: pd.Series([fields.get(c)], dtype="str") for c in INPUT_COLUMNS})
    derived = derive_columns(raw, "search")
    return {c: plain(derived.loc[0, c]) for c in COMPARED}


def as_a_query_standardizes(fields: dict[str, str]) -> dict[str, object]:
    values = standardized_values(fields, "search")
    return {c: values.get(c) for c in COMPARED}


NAMES = st.one_of(
    st.sampled_from(
        [
            "María Guadalupe",
            "JOSE LUIS",
            "de la Cruz",
            "GARCÍA-LÓPEZ",
            "Martinez Cruz",
            "Lupe",
            "O'Brien",
            "Ñuñez",
            "Jr",
            "  ",
            "X",
            "Baby Boy",
        ]
    ),
    st.text(max_size=20),
)
DATES = st.one_of(
    st.sampled_from(["2014-03-07", "03/07/2014", "7/3/14", "2014-02-30", "01/01/2013", "soon"]),
    st.dates().map(str),
    st.text(max_size=12),
)
CODES = {
    "sex": st.sampled_from(["F", "m", "Female", "U", "2", ""]),
    "state": st.sampled_from(["TX", "tx", "Texas", "CA", "ZZ", ""]),
    "birth_state": st.sampled_from(["TX", "Jalisco", "JAL", "", "??"]),
    "birth_country": st.sampled_from(["US", "MX", "Mexico", "GT", "Narnia", ""]),
    "multiple_birth": st.sampled_from(["Y", "N", "yes", "0", ""]),
    "msix_id": st.sampled_from(["123456789012", "1234-5678-9012", "12", ""]),
    "state_student_id": st.sampled_from([" 0042 ", "A-17", ""]),
    "birth_date_verification": st.sampled_from(["Y", "N", "", "maybe"]),
}
NAME_FIELDS = (*NAME_INPUT_COLUMNS, "birth_city")
RECORDS = st.fixed_dictionaries(
    {},
    optional={**{f: NAMES for f in NAME_FIELDS}, "birth_date": DATES, **CODES},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_a_query_is_standardized_as_an_upload_standardizes_it(fields):
    assert as_a_query_standardizes(fields) == as_an_upload_standardizes(fields)


def test_generated_records_are_standardized_as_an_upload_standardizes_them():
    """Records of our generator (twins, compound names, swapped dates...), field by field."""
    records = synthetic.generate(40, seed=11)
    for row in records.to_dict("records"):
        fields = {c: row[c] for c in INPUT_COLUMNS if isinstance(row.get(c), str) and row[c]}
        assert as_a_query_standardizes(fields) == as_an_upload_standardizes(fields)


def test_an_unreadable_birth_date_in_a_query_is_refused_or_left_out():
    with pytest.raises(SearchError, match="birth_date: not a date"):
        query_values({"first_name": "ANA", "birth_date": "31/31/2014"})
    lenient = query_values({"first_name": "ANA", "birth_date": "31/31/2014"}, strict_dates=False)
    assert lenient["birth_date_std"] is None and lenient["given_name_1"] == "ANA"


def keys_as_the_index_builds_them(values: dict[str, object]) -> list[str]:
    """keys_sql over a table holding the one row, typed as the records table types it."""
    import duckdb

    con = duckdb.connect()
    typed = [(c.name, c.sql_type) for c in STANDARDIZED_COLUMNS]
    con.execute(f"CREATE TABLE q (record_key VARCHAR, {', '.join(f'{n} {t}' for n, t in typed)})")
    casts = ", ".join(f"CAST(? AS {t})" for _, t in typed)
    con.execute(f"INSERT INTO q VALUES ('query', {casts})", [values.get(n) for n, _ in typed])
    return sorted(k for _, k in con.execute(keys_sql("q")).fetchall())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_a_querys_keys_are_the_keys_the_index_builds_for_the_same_record(fields):
    values = standardized_values(fields, "search")
    assert query_keys(values) == keys_as_the_index_builds_them(values)
