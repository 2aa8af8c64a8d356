"""Per-record inputs of the pair comparisons: string work done once per record, not per pair.

Some comparison levels used to split and re-join one record's fields on every pair they met
(the surname units of `surname_units_key`, the given words, the names without spaces or
hyphens, the birth date's keyed digits). The answer depends on one record only, so it is
computed here once per record, and the levels (comparisons.py) compare these columns.

Each column is one DuckDB SQL expression over the record's own columns (PAIR_INPUT_SQL). The
standardizer runs it over the whole table at once, and a master index made before these
columns existed fills them with the same expressions when it is opened (review/index.py), so
the two can never disagree.

The surname unit columns hold the unit padded with one space each side (' GARCIA '), and a
unit past the key's last one holds two spaces ('  '): exactly the pattern the levels used to
build per pair from ``split_part``, so "unit in words" is a substring test of the padded unit
in the other record's padded words, with the same answer on every pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from migrant_linkage.schema import PAIR_INPUT_COLUMNS, SURNAME_UNIT_COLUMNS

__all__ = ["PAIR_INPUT_SQL", "PAIR_INPUT_SOURCES", "derive_pair_inputs", "pair_inputs_of_one"]


def _padded_unit(position: int) -> str:
    return f"' ' || split_part(surname_units_key, ' ', {position}) || ' '"


def _keyed_digits() -> str:
    # The raw field as keyed with its separators removed (1983-10-24, 10/24/1983 and 19831024
    # keep their digits in the file's own order); fewer than six characters cannot hold a date.
    digits = "translate(birth_date, '-/. ', '')"
    return f"CASE WHEN length({digits}) >= 6 THEN {digits} END"


#: Column -> its DuckDB SQL over one record (standardized columns and the raw birth_date).
PAIR_INPUT_SQL: dict[str, str] = {
    "surname_units_padded": "' ' || surname_units_key || ' '",
    **{column: _padded_unit(i) for i, column in enumerate(SURNAME_UNIT_COLUMNS, start=1)},
    "surname_unit_count": (
        "length(surname_units_key) - length(replace(surname_units_key, ' ', '')) + 1"
    ),
    "given_words_padded": "' ' || concat_ws(' ', given_name_full, middle_name_std) || ' '",
    "surname_joined": "replace(replace(surname_full, ' ', ''), '-', '')",
    "given_name_joined": (
        "replace(replace(concat_ws('', given_name_full, middle_name_std), ' ', ''), '-', '')"
    ),
    "given_names_with_initial": (
        "CASE WHEN given_name_2 IS NOT NULL "
        "THEN given_name_1 || ' ' || substr(given_name_2, 1, 1) END"
    ),
    "birth_date_keyed_digits": _keyed_digits(),
}

#: Which columns each pair input reads: each group is computed once per distinct value of its
#: columns (a million records hold far fewer surname keys, given names and birth-date texts).
_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("surname_units_key",),
        ("surname_units_padded", *SURNAME_UNIT_COLUMNS, "surname_unit_count"),
    ),
    (("given_name_full", "middle_name_std"), ("given_words_padded", "given_name_joined")),
    (("surname_full",), ("surname_joined",)),
    (("given_name_1", "given_name_2"), ("given_names_with_initial",)),
    (("birth_date",), ("birth_date_keyed_digits",)),
)

#: The columns those expressions read.
PAIR_INPUT_SOURCES: tuple[str, ...] = tuple(c for sources, _ in _GROUPS for c in sources)

if tuple(PAIR_INPUT_SQL) != PAIR_INPUT_COLUMNS or sorted(
    c for _, made in _GROUPS for c in made
) != sorted(PAIR_INPUT_COLUMNS):  # schema.py names them, this module fills them
    raise RuntimeError("pair_inputs.PAIR_INPUT_SQL, _GROUPS and schema.PAIR_INPUT_COLUMNS disagree")


def derive_pair_inputs(records: pd.DataFrame) -> pd.DataFrame:
    """The PAIR_INPUT_COLUMNS of `records` (which has PAIR_INPUT_SOURCES), on its index: each
    group's SQL runs in DuckDB over the distinct values of its columns, spread back with a
    take; no per-row Python."""
    out = pd.DataFrame(index=records.index)
    with duckdb.connect() as con:
        for sources, made in _GROUPS:
            rows, distinct = _distinct_rows(records, sources)
            con.register("distinct_values", distinct)
            select = ", ".join(f"{PAIR_INPUT_SQL[name]} AS {name}" for name in made)
            # The row order of a plain projection over one registered table is the table's.
            result = con.sql(f"SELECT {select} FROM distinct_values").to_arrow_table()
            con.unregister("distinct_values")
            for name in made:
                values = result.column(name).take(rows).to_pandas()
                values.index = records.index
                kind = "Int64" if name == "surname_unit_count" else "str"
                out[name] = values.astype(kind)
    return out[list(PAIR_INPUT_COLUMNS)]


def _distinct_rows(records: pd.DataFrame, sources: tuple[str, ...]) -> tuple[pa.Array, pa.Table]:
    """Each row's position among the distinct value combinations of `sources` (missing is a
    value of its own), and those combinations as an Arrow table."""
    key = np.zeros(len(records), dtype=np.int64)
    for column in sources:
        codes, uniques = pd.factorize(records[column], use_na_sentinel=False)
        key = key * (len(uniques) + 1) + codes  # two columns of at most 1e9 values fit int64
    rows, distinct_keys = pd.factorize(key)
    first = np.empty(len(distinct_keys), dtype=np.int64)
    first[rows[::-1]] = np.arange(len(records) - 1, -1, -1)  # a row holding each combination
    table = pa.table(
        {c: pa.Array.from_pandas(records[c].iloc[first], type=pa.string()) for c in sources}
    )
    return pa.array(rows), table


@cache
def _one_record_database() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def pair_inputs_of_one(sources: Mapping[str, str | None]) -> dict[str, object]:
    """The PAIR_INPUT_COLUMNS of one record (a search query) from its PAIR_INPUT_SOURCES
    values, by the same SQL, as one parameterised query: a search cannot spend the tens of
    milliseconds a table's worth of set-up costs on one row. A cursor per call on one in-memory
    database the process keeps, so searches at once do not share a cursor."""
    row = ", ".join(f"CAST(? AS VARCHAR) AS {c}" for c in PAIR_INPUT_SOURCES)
    select = ", ".join(f"{PAIR_INPUT_SQL[c]} AS {c}" for c in PAIR_INPUT_COLUMNS)
    with _one_record_database().cursor() as cursor:
        values = cursor.execute(
            f"SELECT {select} FROM (SELECT {row})", [sources.get(c) for c in PAIR_INPUT_SOURCES]
        ).fetchone()
    assert values is not None  # a SELECT over one row returns one row
    return dict(zip(PAIR_INPUT_COLUMNS, values, strict=True))
