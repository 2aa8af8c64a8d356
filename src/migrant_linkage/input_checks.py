"""Checks on one standardized source that catch a wrong layout before anyone links on it.

A column map with a typo, an export that leaves a column out, or a date format declared for
the wrong file do not reject a single record: every record is kept, and every record quietly
carries BIRTH_DATE_MISSING or BIRTH_DATE_UNPARSEABLE. These checks turn that into a warning
that names the source and the column (never a value), counted per source.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import pandas as pd

from migrant_linkage.schema import FLAG_SEPARATOR, INPUT_COLUMNS, TRUTH_COLUMNS, QualityFlag

#: Contract columns the comparisons lean on most; a source that has none of one of them is
#: almost always a layout problem (a missing column map entry), not the data.
EXPECTED_COLUMNS: tuple[str, ...] = ("first_name", "last_name_1", "sex", "birth_date")

#: "Empty for (nearly) every record": a real export leaves some cells blank, but a column blank
#: in 98 of 100 records means the column is not where the map or the export says it is.
NEARLY_ALL_EMPTY = 0.98

#: "Fails for most rows": a declared date format that cannot read most of the non-blank dates
#: of its column was declared for the wrong file (one bad row in three is a data problem).
MOST_ROWS = 0.5

#: The date columns a declared format applies to, and the flag that says it failed.
DATE_COLUMNS: dict[str, QualityFlag] = {
    "birth_date": QualityFlag.BIRTH_DATE_UNPARSEABLE,
    "enrollment_date": QualityFlag.ENROLLMENT_DATE_UNPARSEABLE,
}


def flag_counts(quality_flags: pd.Series) -> dict[str, int]:
    """How many records carry each quality flag (flags are ';'-joined in one column). Counted
    once per distinct combination of flags, which is a handful even for a million records."""
    combos = quality_flags.fillna("").value_counts()
    counts: dict[str, int] = {}
    for combo, n in combos.items():
        for flag in str(combo).split(FLAG_SEPARATOR):
            if flag:
                counts[flag] = counts.get(flag, 0) + int(n)
    return dict(sorted(counts.items()))


def _format_for(date_format: str | Mapping[str, str] | None, column: str) -> str | None:
    if date_format is None or isinstance(date_format, str):
        return date_format
    return date_format.get(column)


def source_warnings(
    standardized: pd.DataFrame,
    label: str,
    *,
    column_map: Mapping[str, str] | None = None,
    date_format: str | Mapping[str, str] | None = None,
) -> list[str]:
    """Warnings for one standardized source: a map target that is not a contract column, a
    mapped or expected column empty for (nearly) every record, a declared date format that
    fails for most rows. Messages hold column names and counts only."""
    warnings: list[str] = []
    column_map = dict(column_map or {})
    known = set(INPUT_COLUMNS) | set(TRUTH_COLUMNS)
    for theirs, ours in column_map.items():
        if ours not in known:
            close = difflib.get_close_matches(ours, INPUT_COLUMNS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            warnings.append(
                f"{label}: the column map sends '{theirs}' to '{ours}', which is not a "
                f"record-contract column{hint}; the column is carried along but never compared"
            )
    n = len(standardized)
    if n == 0:  # every record rejected: the reject counts already say so
        return warnings
    mapped = {ours: theirs for theirs, ours in column_map.items() if ours in INPUT_COLUMNS}
    checked = list(dict.fromkeys([*EXPECTED_COLUMNS, *mapped]))
    for column in checked:
        filled = int(standardized[column].notna().sum()) if column in standardized else 0
        if (n - filled) / n >= NEARLY_ALL_EMPTY:
            where = (
                f"mapped from '{mapped[column]}'" if column in mapped else "nothing is mapped to it"
            )
            warnings.append(
                f"{label}: {column} is empty for {n - filled:,} of {n:,} records ({where}); "
                "check the column map and the export"
            )
    flags = standardized["quality_flags"].fillna("")
    for column, flag in DATE_COLUMNS.items():
        declared = _format_for(date_format, column)
        if declared is None or column not in standardized:
            continue
        given = int(standardized[column].notna().sum())
        failed = int(flags.str.contains(flag.value, regex=False).sum())
        if given and failed / given > MOST_ROWS:
            warnings.append(
                f"{label}: the declared date format {declared!r} cannot read {failed:,} of "
                f"{given:,} {column} values; is it this source's format?"
            )
    return warnings
