"""The optional enrolment columns (migrant flag, district, school, exit date, active status),
checked and standardized for the jobs that read them: reconcile.py and districts.py.

Standardization carries these columns through untouched (they are not identity evidence, and
dedupe and link never read them); `standardize_enrolment` adds the `_std` columns of
schema.ENROLMENT_STANDARDIZED_COLUMNS and `enrolment_flags`. A bad value is a flag, never a
reject: the record can still be identified, and staff need to see it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from migrant_linkage.schema import ENROLMENT_COLUMNS, EnrolmentFlag
from migrant_linkage.standardize import combine_flags
from migrant_linkage.standardize.codes import (
    standardize_multiple_birth,
    standardize_state_student_id,
)
from migrant_linkage.standardize.dates import parse_enrollment_dates

__all__ = ["flagged", "is_active_sql", "standardize_enrolment"]


def _yes_no(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Y, N or null (the yes/no code list, data/yes_no_codes.csv), and where a value was given
    that is not a yes/no word."""
    std = standardize_multiple_birth(values)  # the same Y/N/Sí/1/0/true/false list
    given = values.notna() & (values.astype("str").str.strip() != "")
    return std, (given & std.isna()).astype(bool)


def _flag(mask: pd.Series, flag: EnrolmentFlag) -> pd.Series:
    return pd.Series(np.where(mask.to_numpy(dtype=bool), flag.value, ""), index=mask.index)


def _identifier(values: pd.Series) -> pd.Series:
    return standardize_state_student_id(values)  # trimmed, upper case, blank -> null


def standardize_enrolment(
    records: pd.DataFrame, *, date_format: str | None = None, today: date | None = None
) -> pd.DataFrame:
    """`records` (standardized or raw) with the enrolment `_std` columns and `enrolment_flags`
    added. Absent enrolment columns count as empty. `enrollment_date_std` is used when present
    (the standardized table has it) to check that exit does not come before entry."""
    out = records.copy()
    for column in ENROLMENT_COLUMNS:
        if column not in out.columns:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="str")
    migrant, migrant_bad = _yes_no(out["migrant_flag"])
    active, active_bad = _yes_no(out["active_status"])
    exit_dates = parse_enrollment_dates(out["enrollment_end_date"], date_format, today=today)
    out["migrant_flag_std"] = migrant
    out["district_id_std"] = _identifier(out["district_id"])
    out["school_id_std"] = _identifier(out["school_id"])
    out["enrollment_end_date_std"] = exit_dates["enrollment_date_std"]
    out["active_std"] = active
    entry = out["enrollment_date_std"] if "enrollment_date_std" in out.columns else None
    inverted = pd.Series(False, index=out.index)
    if entry is not None:  # ISO text compares as dates
        inverted = (out["enrollment_end_date_std"] < entry).fillna(False).astype(bool)
    out["enrolment_flags"] = combine_flags(
        _flag(migrant_bad, EnrolmentFlag.MIGRANT_FLAG_UNRECOGNISED),
        _flag(active_bad, EnrolmentFlag.ACTIVE_STATUS_UNRECOGNISED),
        exit_dates["flags"].str.replace(
            "ENROLLMENT_DATE_UNPARSEABLE", EnrolmentFlag.ENROLLMENT_END_DATE_UNPARSEABLE.value
        ),
        _flag(inverted, EnrolmentFlag.ENROLLMENT_DATES_INVERTED),
        _flag(out["district_id_std"].isna(), EnrolmentFlag.DISTRICT_MISSING),
    )
    return out


def is_active_sql(on: str) -> str:
    """SQL: whether an enrolment is active on the ISO date `on` (a quoted literal). It must
    have begun by then (or give no entry date); then the active status decides when given,
    and without one an enrolment with no exit date, or an exit date after `on`, is active."""
    return (
        f"(enrollment_date_std IS NULL OR enrollment_date_std <= {on}) AND "
        "CASE WHEN active_std IS NOT NULL THEN active_std = 'Y' "
        f"ELSE enrollment_end_date_std IS NULL OR enrollment_end_date_std > {on} END"
    )


def flagged(migrant_flag_std: pd.Series, *, migrant_system: bool) -> pd.Series:
    """Whether each record counts as flagged migrant. The migrant database lists migrant
    children, so there only an explicit N means "not"; in any other system (the state student
    record system) only an explicit Y means "flagged"."""
    if migrant_system:
        return migrant_flag_std.ne("N").fillna(True).astype(bool)
    return migrant_flag_std.eq("Y").fillna(False).astype(bool)
