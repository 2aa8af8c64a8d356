"""A search query's standardized values, by the upload's own standardization functions.

An upload standardizes a file through ``standardize.derive_columns``, which assembles one
DataFrame of every derived column. For one query row that assembly cost more than the
standardizing itself, so a query calls the same functions (names.standardize_names,
dates.parse_dates, the codes.standardize_* look-ups) field group by field group, keeps their
values as plain Python values, and keeps each group's result per distinct input (a date-only
search skips the names; states, sexes and countries repeat). It leaves out what a search never
reads (the enrolment date, quality flags, the source row). tests/test_search_query.py checks,
over generated queries, that every value equals what derive_columns gives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import cache, lru_cache
from typing import Any

import pandas as pd

#: Derived columns a search does not compute for its query (no comparison or key reads them).
NOT_COMPUTED = ("source_row", "enrollment_date_std", "quality_flags")


def standardized_values(given: Mapping[str, str], label: str) -> dict[str, Any]:
    """The standardized columns of one record whose contract fields are `given` (others
    missing), as plain values (None for missing), computed as derive_columns computes them."""
    from migrant_linkage.standardize.names import NAME_INPUT_COLUMNS

    values: dict[str, Any] = {"source_name": label}
    values.update(_codes(*(given.get(c) for c in CODED_FIELDS)))
    values.update(_names(tuple(given.get(c) for c in NAME_INPUT_COLUMNS)))
    values.update(_birth_date(given.get("birth_date"), date.today()))
    values.update(_pair_inputs(_pair_input_sources(values, given)))
    return values


#: Each group's results are kept per distinct input (plain values, no record ids): a
#: date-only search skips the names, repeated names and dates cost nothing the second time.
CACHED = 4096


@lru_cache(maxsize=CACHED)
def _names(fields: tuple[str | None, ...]) -> dict[str, Any]:
    from migrant_linkage.standardize.names import NAME_INPUT_COLUMNS, standardize_names

    names = standardize_names(
        pd.DataFrame([list(fields)], columns=list(NAME_INPUT_COLUMNS), dtype="str")
    )
    return _plain_row(names, "name_flags")


@lru_cache(maxsize=CACHED)
def _birth_date(value: str | None, today: date) -> dict[str, Any]:
    """The birth date's columns as of `today` (two-digit years and plausibility depend on it,
    as in an upload, which reads the day of the call)."""
    from migrant_linkage.standardize.dates import parse_dates

    return _plain_row(parse_dates(_series(value), None, today=today), "flags")


def _plain_row(frame: pd.DataFrame, leave_out: str) -> dict[str, Any]:
    """The first row's values but column `leave_out`, as plain values (a column at a time:
    to_dict and drop cost more than reading some thirty cells of one row)."""
    return {str(c): plain(frame[c].iloc[0]) for c in frame.columns if c != leave_out}


def _series(value: str | None) -> pd.Series:
    return pd.Series([value], dtype="str")


#: The fields standardized by code look-ups alone (no reference day, no other field): a few
#: distinct values each (states, sexes, countries), so their results are kept per value.
CODED_FIELDS = (
    "state",
    "state_student_id",
    "msix_id",
    "sex",
    "multiple_birth",
    "birth_date_verification",
    "birth_city",
    "birth_state",
    "birth_country",
)


def _codes(*fields: str | None) -> dict[str, Any]:
    """The coded fields' columns (`fields` in CODED_FIELDS order), each field (the birth place:
    its two fields) standardized and kept on its own: the IDs differ per child, the state, sex,
    flags and places repeat, so a query pays only for what it has not seen."""
    given = dict(zip(CODED_FIELDS, fields, strict=True))
    values = dict(_coded(field, given[field]) for field in _one_field_standardizers())
    values.update(_birth_place(given["birth_state"], given["birth_country"]))
    return {column: plain(value) for column, value in values.items()}


@cache
def _one_field_standardizers() -> dict[str, tuple[str, Callable[[pd.Series], pd.Series]]]:
    """Coded field -> (its standardized column, the upload's function over a Series)."""
    from migrant_linkage.standardize import codes
    from migrant_linkage.standardize.names import fold_name

    def birth_city(values: pd.Series) -> pd.Series:
        city = fold_name(values).astype("str")
        return city.where(city != "", None)

    return {
        "state": ("state_std", lambda v: codes.standardize_state(v)[0]),
        "state_student_id": ("state_student_id_std", codes.standardize_state_student_id),
        "msix_id": ("msix_id_std", lambda v: codes.standardize_msix_id(v)[0]),
        "sex": ("sex_std", lambda v: codes.standardize_sex(v)[0]),
        "multiple_birth": ("multiple_birth_std", codes.standardize_multiple_birth),
        "birth_date_verification": (
            "birth_date_verified",
            codes.standardize_birth_date_verification,
        ),
        "birth_city": ("birth_city_std", birth_city),
    }


@lru_cache(maxsize=CACHED)
def _coded(field: str, value: str | None) -> tuple[str, Any]:
    column, standardize = _one_field_standardizers()[field]
    return column, standardize(_series(value)).iloc[0]


@lru_cache(maxsize=CACHED)
def _birth_place(birth_state: str | None, birth_country: str | None) -> dict[str, Any]:
    from migrant_linkage.standardize import codes

    state_std, country_std, _ = codes.standardize_birth_place(
        _series(birth_state), _series(birth_country)
    )
    return {"birth_state_std": state_std.iloc[0], "birth_country_std": country_std.iloc[0]}


def plain(value: Any) -> Any:
    """A frame cell as a plain Python value for a query parameter (missing as None)."""
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if hasattr(value, "hour") else value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _pair_input_sources(values: Mapping[str, Any], given: Mapping[str, str]) -> tuple:
    from migrant_linkage.standardize.pair_inputs import PAIR_INPUT_SOURCES

    # The raw birth date is read as keyed; the others are standardized values just computed.
    return tuple(given.get(c) if c == "birth_date" else values.get(c) for c in PAIR_INPUT_SOURCES)


@lru_cache(maxsize=CACHED)
def _pair_inputs(sources: tuple[str | None, ...]) -> dict[str, Any]:
    """The comparisons' per-record inputs (standardize/pair_inputs.py) of the query."""
    from migrant_linkage.standardize.pair_inputs import PAIR_INPUT_SOURCES, pair_inputs_of_one

    return pair_inputs_of_one(dict(zip(PAIR_INPUT_SOURCES, sources, strict=True)))
