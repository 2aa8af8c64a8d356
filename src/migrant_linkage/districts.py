"""District master lists: each district's (LEA's) active migrant students, so a district can
check its local database against the state's (seed guide §2.2.2).

    from migrant_linkage import districts
    lists = districts.master_lists_from_reconcile("reconcile-out")   # after `reconcile`
    lists = districts.master_lists("mep.csv")                        # straight from an export
    districts.write_master_lists(lists, "district-lists")            # one CSV per district

A student is on a list when the migrant database flags the record (a record there without a
flag counts as flagged, enrolment.flagged) and the enrolment is active on the day of the list
(enrolment.is_active_sql: the active status when given, else no exit date or a later one).
From a reconcile folder, each row also says what the reconciliation found (`reconcile_category`
and, for TWO_IDS, the state system's record), so the district sees what to correct.

The files hold names and birth dates: they are written owner-only (0600) and atomically
(io.write_table), and a district's file name is built from its id with every character outside
letters, digits, '-' and '_' replaced, so an id can never name a path outside the folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from migrant_linkage.db import connect, quote_literal
from migrant_linkage.enrolment import flagged, is_active_sql, standardize_enrolment
from migrant_linkage.io import write_table
from migrant_linkage.reconcile import NO_DISTRICT
from migrant_linkage.standardize import standardize

__all__ = [
    "MASTER_LIST_COLUMNS",
    "master_lists",
    "master_lists_from_reconcile",
    "write_master_lists",
]

#: What a district checks against its own database, in order.
MASTER_LIST_COLUMNS: tuple[str, ...] = (
    "district_id",
    "school_id",
    "state_student_id",
    "record_id",
    "first_name",
    "middle_name",
    "last_name_1",
    "last_name_2",
    "birth_date",
    "enrollment_date",
    "enrollment_end_date",
    "reconcile_category",
    "state_system_record_id",
)

COMBINED_FILE = "all_districts.csv"


def _on(on: str | date | None) -> str:
    """The list's day as ISO text (today when not given)."""
    if on is None:
        return date.today().isoformat()
    if isinstance(on, date):
        return on.isoformat()
    try:
        return date.fromisoformat(str(on)).isoformat()
    except ValueError:
        raise ValueError(f"on={on!r}: give the list's day as YYYY-MM-DD") from None


def _select_active(records: pd.DataFrame, on: str) -> pd.DataFrame:
    """The flagged records active on `on`, in district, school and name order (SQL, a column at
    a time). `records` has the enrolment _std columns, `flagged` and the list columns."""
    con = connect()
    try:
        con.register("ml_district_records", records)
        return con.execute(
            f"""
            SELECT coalesce(district_id_std, {quote_literal(NO_DISTRICT)}) AS district_id,
                   school_id_std AS school_id,
                   state_student_id_std AS state_student_id,
                   record_id, first_name, middle_name, last_name_1, last_name_2,
                   birth_date_std AS birth_date,
                   enrollment_date_std AS enrollment_date,
                   enrollment_end_date_std AS enrollment_end_date,
                   reconcile_category, state_system_record_id
            FROM ml_district_records
            WHERE flagged AND ({is_active_sql(quote_literal(on))})
            ORDER BY district_id, school_id NULLS LAST, last_name_1, first_name, record_id
            """
        ).df()
    finally:
        con.close()


def master_lists(
    source: Any,
    *,
    column_map: Mapping[str, str] | None = None,
    date_format: str | None = None,
    on: str | date | None = None,
) -> pd.DataFrame:
    """The active migrant students of a migrant-database export (anything `standardize`
    reads), all districts in one frame of MASTER_LIST_COLUMNS. Rejected records are not listed
    (they have no usable id or name); `validate` shows them."""
    result = standardize(source, column_map=column_map, date_format=date_format)
    records = standardize_enrolment(result.standardized, date_format=date_format)
    records["flagged"] = flagged(records["migrant_flag_std"], migrant_system=True)
    for column in ("reconcile_category", "state_system_record_id"):  # no reconciliation here
        records[column] = pd.Series(pd.NA, index=records.index, dtype="str")
    return _select_active(records, _on(on))


def master_lists_from_reconcile(
    folder: str | Path, *, on: str | date | None = None
) -> pd.DataFrame:
    """The active migrant students of a `reconcile` output folder (its records.csv): the
    migrant database's records, each with the category the reconciliation gave it."""
    listed = pd.read_csv(
        Path(folder) / "records.csv", dtype="str", keep_default_na=False, na_values=[""]
    )
    records = listed[listed["system"] == "migrant"].copy()
    records["flagged"] = records["flagged"].eq("True")
    records["reconcile_category"] = records["category"]
    two_ids = records["category"] == "TWO_IDS"
    records["state_system_record_id"] = records["partner_record_id"].where(two_ids)
    return _select_active(records, _on(on))


def district_file_name(district_id: str) -> str:
    """district_<id>.csv with every character outside [A-Za-z0-9_-] replaced by '_'."""
    return "district_" + re.sub(r"[^A-Za-z0-9_-]", "_", str(district_id)) + ".csv"


def write_master_lists(lists: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """One CSV per district (district_<id>.csv) and all_districts.csv, owner-only. Returns the
    paths written. Two district ids that differ only in replaced characters share no file: the
    second gets the id's position appended."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for position, (district, rows) in enumerate(lists.groupby("district_id", sort=True)):
        name = district_file_name(str(district))
        if name in used:
            name = name.removesuffix(".csv") + f"_{position}.csv"
        used.add(name)
        written.append(write_table(rows.reset_index(drop=True), out / name))
    written.append(write_table(lists, out / COMBINED_FILE))
    return written
