"""A search query's standardized values, by the upload's own standardization functions.

An upload standardizes a file through ``standardize.derive_columns``, which assembles one
DataFrame of every derived column. For one query row that assembly costs more than the
standardizing itself (about 40 ms against 15 at 1M-record load), so a query calls the same
functions (names.standardize_names, dates.parse_dates, the codes.standardize_* lookups) field
group by field group and keeps their values as plain Python values. It leaves out what a search
never reads (the enrolment date, quality flags, the source row). tests/test_search_query.py
checks, over generated queries, that every value equals what derive_columns gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from migrant_linkage.schema import INPUT_COLUMNS

#: Derived columns a search does not compute for its query (no comparison or key reads them).
NOT_COMPUTED = ("source_row", "enrollment_date_std", "quality_flags")


def standardized_values(given: Mapping[str, str], label: str) -> dict[str, Any]:
    """The standardized columns of one record whose contract fields are `given` (others
    missing), as plain values (None for missing), computed as derive_columns computes them."""
    from migrant_linkage.standardize import codes
    from migrant_linkage.standardize.dates import parse_dates
    from migrant_linkage.standardize.names import fold_name, standardize_names

    def series(column: str) -> pd.Series:
        return pd.Series([given.get(column)], dtype="str")

    values: dict[str, Any] = {"source_name": label}
    state_std, _ = codes.standardize_state(series("state"))
    values["state_std"] = state_std.iloc[0]
    values["state_student_id_std"] = codes.standardize_state_student_id(
        series("state_student_id")
    ).iloc[0]
    values["msix_id_std"] = codes.standardize_msix_id(series("msix_id"))[0].iloc[0]
    names = standardize_names(
        pd.DataFrame({c: series(c) for c in INPUT_COLUMNS if c != "record_id"})
    )
    for column in names.columns:
        if column != "name_flags":
            values[column] = names[column].iloc[0]
    birth = parse_dates(series("birth_date"), None)
    for column in birth.columns:
        if column != "flags":
            values[column] = birth[column].iloc[0]
    values["sex_std"] = codes.standardize_sex(series("sex"))[0].iloc[0]
    values["multiple_birth_std"] = codes.standardize_multiple_birth(series("multiple_birth")).iloc[
        0
    ]
    values["birth_date_verified"] = codes.standardize_birth_date_verification(
        series("birth_date_verification")
    ).iloc[0]
    city = fold_name(series("birth_city")).astype("str").iloc[0]
    values["birth_city_std"] = None if city == "" else city
    birth_state, birth_country, _ = codes.standardize_birth_place(
        series("birth_state"), series("birth_country")
    )
    values["birth_state_std"] = birth_state.iloc[0]
    values["birth_country_std"] = birth_country.iloc[0]
    return {column: plain(value) for column, value in values.items()}


def plain(value: Any) -> Any:
    """A frame cell as a plain Python value for a query parameter (missing as None)."""
    if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if hasattr(value, "hour") else value.isoformat()
    return value.item() if hasattr(value, "item") else value
