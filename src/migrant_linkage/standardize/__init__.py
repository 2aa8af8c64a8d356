"""Standardization: one state file in, the standardized table and the rejects out.

`standardize` chains the pure, vectorised pieces: read (io.py) -> names (names.py) -> dates
(dates.py) -> codes (codes.py) -> rejects (validate.py). Every input record ends up in exactly
one of the two outputs; the counts say how many went where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from migrant_linkage.io import READ_PROBLEM_COLUMN, describe_source, read_records
from migrant_linkage.schema import (
    FLAG_SEPARATOR,
    INPUT_COLUMNS,
    REJECT_COLUMNS,
    STANDARDIZED_COLUMN_NAMES,
    QualityFlag,
    RejectCode,
)
from migrant_linkage.standardize import codes
from migrant_linkage.standardize.dates import parse_dates, parse_enrollment_dates
from migrant_linkage.standardize.pair_inputs import PAIR_INPUT_SOURCES, derive_pair_inputs
from migrant_linkage.standardize.validate import find_rejects, oversized_fields

__all__ = [
    "StandardizeInternalError",
    "StandardizeResult",
    "combine_flags",
    "derive_columns",
    "standardize",
]

DateFormat = str | Mapping[str, str] | None


class StandardizeInternalError(RuntimeError):
    """A bug in this library: the counts did not reconcile. Never caused by bad input."""


@dataclass(frozen=True)
class StandardizeResult:
    standardized: pd.DataFrame  # raw contract columns verbatim + STANDARDIZED_COLUMNS + extras
    rejects: pd.DataFrame  # schema.REJECT_COLUMNS, one row per rejected input record
    counts: dict[str, int]  # records_in, standardized, rejected, rejected_<REASON> per code

    def to_arrow(self) -> dict[str, pa.Table]:
        """The two tables as Arrow ({"standardized": ..., "rejects": ...}), for a caller working
        in Arrow or Polars (`polars.from_arrow`). Identifiers stay text."""
        return {
            "standardized": pa.Table.from_pandas(self.standardized, preserve_index=False),
            "rejects": pa.Table.from_pandas(self.rejects, preserve_index=False),
        }


def standardize(
    source: object,
    *,
    column_map: Mapping[str, str] | None = None,
    date_format: DateFormat = None,
    source_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    table: str | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
    today: date | None = None,
) -> StandardizeResult:
    """Standardize one input (anything `io.read_records` accepts).

    `date_format` declares the date format for both date columns ("DD/MM/YYYY" or "%d/%m/%Y"),
    or per column ({"birth_date": "DD/MM/YYYY"}). `source_name` labels the input in the output
    (default: the file or table name, or "dataframe"). `today` fixes the reference day for
    two-digit years and plausible ages (default: the day of the call).
    """
    raw = read_records(
        source,
        column_map=column_map,
        encoding=encoding,
        delimiter=delimiter,
        table=table,
        connection=connection,
    )
    # Re-standardizing a standardized table: derived columns are recomputed from the raw ones.
    raw = raw.drop(columns=[c for c in STANDARDIZED_COLUMN_NAMES if c in raw.columns])
    raw = raw.reset_index(drop=True)
    label = source_name or describe_source(source, table)
    read_problems = raw.pop(READ_PROBLEM_COLUMN) if READ_PROBLEM_COLUMN in raw else None
    oversized = oversized_fields(raw)

    # Rows that will be rejected for what the reader or the length check found are not
    # standardized: a 5 MB surname never reaches the name folding.
    untrusted = oversized.notna()
    if read_problems is not None:
        untrusted |= read_problems.notna()
    clean = raw.mask(untrusted, axis=0) if untrusted.any() else raw
    derived = _derive(clean, label, date_format, today)
    header_names = {ours: theirs for theirs, ours in (column_map or {}).items()}
    reasons, rejects = find_rejects(
        raw, derived, label, header_names, read_problems=read_problems, oversized=oversized
    )
    kept = reasons.isna().to_numpy()

    extras = [c for c in raw.columns if c not in INPUT_COLUMNS]
    standardized = pd.concat(
        [raw[list(INPUT_COLUMNS)], derived[list(STANDARDIZED_COLUMN_NAMES)], raw[extras]], axis=1
    )
    standardized = standardized.loc[kept].reset_index(drop=True)

    counts = {
        "records_in": len(raw),
        "standardized": len(standardized),
        "rejected": len(rejects),
        **{
            f"rejected_{code.value}": int((rejects["reason"] == code.value).sum())
            for code in RejectCode
        },
    }
    if counts["records_in"] != counts["standardized"] + counts["rejected"]:
        raise StandardizeInternalError(
            f"{label}: {counts['records_in']} records in but {counts['standardized']} "
            f"standardized + {counts['rejected']} rejected; please report this bug"
        )
    return StandardizeResult(standardized, rejects[list(REJECT_COLUMNS)], counts)


def derive_columns(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    """The standardized columns of `raw` (every contract column present, text), with no reject
    rules: a search query may lack a name or a record id (review/search.py)."""
    return _derive(raw, label, None, None)


def _format_for(date_format: DateFormat, column: str) -> str | None:
    if date_format is None or isinstance(date_format, str):
        return date_format
    return date_format.get(column)


def _derive(raw: pd.DataFrame, label: str, date_format: DateFormat, today: date | None):
    """All derived columns (STANDARDIZED_COLUMN_NAMES) on raw's index."""
    from migrant_linkage.standardize.names import fold_name, standardize_names

    names = standardize_names(raw[list(INPUT_COLUMNS)])
    names.index = raw.index
    birth = parse_dates(raw["birth_date"], _format_for(date_format, "birth_date"), today=today)
    enrolment = parse_enrollment_dates(
        raw["enrollment_date"], _format_for(date_format, "enrollment_date"), today=today
    )
    sex_std, sex_unrecognised = codes.standardize_sex(raw["sex"])
    state_std, state_unrecognised = codes.standardize_state(raw["state"])
    birth_state_std, birth_country_std, place_unrecognised = codes.standardize_birth_place(
        raw["birth_state"], raw["birth_country"]
    )
    msix_std, msix_malformed = codes.standardize_msix_id(raw["msix_id"])

    derived = pd.DataFrame(index=raw.index)
    derived["source_name"] = pd.Series(label, index=raw.index, dtype="str")
    derived["source_row"] = pd.Series(np.arange(1, len(raw) + 1), index=raw.index, dtype="Int64")
    derived["state_std"] = state_std
    derived["state_student_id_std"] = codes.standardize_state_student_id(raw["state_student_id"])
    derived["msix_id_std"] = msix_std
    for column in names.columns:
        if column == "name_flags":
            continue
        values = names[column]
        # One text dtype across the table ("str", NaN for missing), whatever names.py returns.
        is_text = pd.api.types.is_string_dtype(values)
        derived[column] = values.astype("str") if is_text else values
    for column in birth.columns:
        if column != "flags":
            derived[column] = birth[column]
    derived["sex_std"] = sex_std
    derived["multiple_birth_std"] = codes.standardize_multiple_birth(raw["multiple_birth"])
    derived["birth_date_verified"] = codes.standardize_birth_date_verification(
        raw["birth_date_verification"]
    )
    city = fold_name(raw["birth_city"])
    city = city.astype("str")
    derived["birth_city_std"] = city.mask(city == "")
    derived["birth_state_std"] = birth_state_std
    derived["birth_country_std"] = birth_country_std
    derived["enrollment_date_std"] = enrolment["enrollment_date_std"]
    derived["quality_flags"] = combine_flags(
        names["name_flags"],
        birth["flags"],
        enrolment["flags"],
        codes.flag_series(sex_unrecognised, QualityFlag.SEX_UNRECOGNISED),
        codes.flag_series(state_unrecognised, QualityFlag.STATE_UNRECOGNISED),
        codes.flag_series(place_unrecognised, QualityFlag.BIRTH_PLACE_UNRECOGNISED),
        codes.flag_series(msix_malformed, QualityFlag.MSIX_ID_MALFORMED),
    )
    # The comparisons' per-record inputs, read from the columns just derived (pair_inputs.py).
    sources = [c for c in PAIR_INPUT_SOURCES if c in derived.columns]
    pair_inputs = derive_pair_inputs(derived[sources].assign(birth_date=raw["birth_date"]))
    for column in pair_inputs.columns:
        derived[column] = pair_inputs[column]
    missing = [c for c in STANDARDIZED_COLUMN_NAMES if c not in derived.columns]
    if missing:
        raise StandardizeInternalError(f"{label}: names.py did not return columns {missing}")
    return derived


def combine_flags(*flag_columns: pd.Series) -> pd.Series:
    """Merge several ';'-joined flag columns into one: sorted, unique, '' when clean.

    Flags are low-cardinality, so each distinct *combination* is joined once in Python and
    spread back with numpy, instead of splitting and sorting strings on every row.
    """
    length = len(flag_columns[0])
    key = np.zeros(length, dtype=np.int64)
    radix = 1
    for column in flag_columns:
        column_codes, uniques = pd.factorize(column, use_na_sentinel=True)
        key = key + (column_codes.astype(np.int64) + 1) * radix
        radix *= len(uniques) + 1
        if radix > 2**40:  # keep the mixed-radix key well inside int64
            key, seen = pd.factorize(key)
            radix = len(seen)
    _, first_row, inverse = np.unique(key, return_index=True, return_inverse=True)
    joined = []
    for row in first_row:
        tokens: set[str] = set()
        for column in flag_columns:
            value = column.iloc[row]
            if isinstance(value, str) and value:
                tokens.update(t for t in value.split(FLAG_SEPARATOR) if t)
        joined.append(FLAG_SEPARATOR.join(sorted(tokens)))
    return pd.Series(np.array(joined, dtype=object)[inverse], index=flag_columns[0].index).astype(
        "str"
    )
