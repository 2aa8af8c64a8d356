"""Rejects: the few records that cannot enter the linkage, each with a reason and a message.

A record is rejected only when it cannot be identified or addressed: no record_id, a record_id
already used earlier in the same input, no submitting state, or no usable name at all
(placeholders such as UNKNOWN or BABY GIRL are no name: standardize/names.py makes them missing).
Everything else is kept with quality flags. Messages name the column and the row, never the
child's name or birth date (FERPA).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from migrant_linkage.schema import INPUT_COLUMNS, REJECT_COLUMNS, QualityFlag, RejectCode

#: The longest value a record-contract field may hold, in characters. State systems store names
#: in fields of a few dozen characters (VARCHAR(255) at most); a longer value is not a name but
#: a broken export, and comparing it costs time and memory with the square of its length (two
#: 5 MB surnames took a comparison to 24 GB). Such a record is rejected before standardizing.
MAX_FIELD_LENGTH = 255


def oversized_fields(raw: pd.DataFrame) -> pd.Series:
    """Per row, the message naming the contract columns longer than MAX_FIELD_LENGTH (and
    their lengths, never their values); None where every field fits. One vectorised length
    per column."""
    message = pd.Series(None, index=raw.index, dtype=object)
    for column in INPUT_COLUMNS:
        if column not in raw.columns:
            continue
        lengths = raw[column].str.len()
        long = (lengths > MAX_FIELD_LENGTH).fillna(False).astype(bool)
        if not long.any():
            continue
        part = (
            f"column '{column}' holds "
            + lengths[long].astype("int64").map("{:,}".format)
            + " characters"
        )
        message[long] = (message[long].fillna("") + "; " + part).str.lstrip("; ")
    found = message.notna()
    message[found] = (
        message[found]
        + f", more than the {MAX_FIELD_LENGTH} a field may hold: not compared; fix the export"
    )
    return message


def _blank(values: pd.Series) -> pd.Series:
    return (values.isna() | (values.astype("str").str.strip() == "")).astype(bool)


def _repeats_header(raw: pd.DataFrame, header_names: Mapping[str, str]) -> pd.Series:
    """Rows whose record_id and state cells hold those columns' own header names: a header
    row in the middle of the data, left by concatenating exports (otherwise it would become a
    child called FIRST NAME LAST NAME)."""
    repeats = pd.Series(True, index=raw.index)
    for column in ("record_id", "state"):
        own_name = header_names.get(column, column).strip().lower()
        cells = raw[column].astype("str").str.strip().str.lower()
        repeats &= (cells == own_name).fillna(False).astype(bool)
    return repeats


def find_rejects(
    raw: pd.DataFrame,
    names: pd.DataFrame,
    source_name: str,
    header_names: Mapping[str, str] | None = None,
    read_problems: pd.Series | None = None,
    oversized: pd.Series | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Decide which rows are rejected.

    `raw` holds the contract columns on a 0-based RangeIndex (row i is source_row i+1);
    `names` is the output of standardize_names on the same index. `header_names` gives the
    input's own name of a contract column where a column map renamed it ({contract: theirs}).
    `read_problems` holds the reader's message for rows it could not trust (a quote that
    swallowed records), `oversized` the message of `oversized_fields`; None where there is none.
    Returns (reason per row, None where the row is kept; the rejects table with
    schema.REJECT_COLUMNS). When several reasons apply, the first in RejectCode order is
    reported.
    """
    source_row = pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    id_key = raw["record_id"].astype("str").str.strip()
    id_blank = _blank(raw["record_id"])
    id_repeated = id_key.duplicated(keep="first") & ~id_blank
    first_use = pd.Series(
        source_row[~id_repeated & ~id_blank].to_numpy(),
        index=id_key[~id_repeated & ~id_blank].to_numpy(),
    )
    no_name = (names["given_name_full"].isna() & names["surname_full"].isna()).astype(bool)
    # A record whose only names are placeholders (UNKNOWN, BABY GIRL, FNU LNU) has no name
    # either: it is rejected like an empty one, with a message that says why.
    flags = names["quality_flags"] if "quality_flags" in names else names["name_flags"]
    only_placeholders = no_name & flags.fillna("").str.contains(
        QualityFlag.NAME_PLACEHOLDER.value, regex=False
    ).astype(bool)
    no_name_message = pd.Series(
        "columns 'first_name' and 'last_name_1' hold no usable name after folding: "
        "at least one name is required",
        index=raw.index,
        dtype=object,
    )
    no_name_message[only_placeholders] = (
        "columns 'first_name' and 'last_name_1' hold only placeholders (such as UNKNOWN, "
        "BABY GIRL, FNU): at least one real name is required"
    )
    header_row = _repeats_header(raw, header_names or {})
    nothing = pd.Series(None, index=raw.index, dtype=object)
    read_problems = nothing if read_problems is None else read_problems.reindex(raw.index)
    oversized = nothing if oversized is None else oversized.reindex(raw.index)

    # (reason, rows it applies to, message: one text for all rows, or one per applying row)
    checks: list[tuple[RejectCode, pd.Series, str | pd.Series]] = [
        (RejectCode.UNBALANCED_QUOTE, read_problems.notna(), read_problems),
        (RejectCode.FIELD_TOO_LONG, oversized.notna(), oversized),
        (
            RejectCode.HEADER_ROW,
            header_row,
            "the row repeats the header row (record_id and state hold the column names): "
            "exports were concatenated with their headers; remove the row",
        ),
        (
            RejectCode.MISSING_RECORD_ID,
            id_blank,
            "column 'record_id' is empty: every record needs an id unique in its input",
        ),
        (
            RejectCode.DUPLICATE_RECORD_ID,
            id_repeated,
            "column 'record_id' repeats the id first used at row "
            + id_key[id_repeated].map(first_use).astype("Int64").astype("str")
            + ": only that first record is kept; give this record its own id",
        ),
        (
            RejectCode.MISSING_STATE,
            _blank(raw["state"]),
            "column 'state' is empty: the submitting state is required",
        ),
        (
            RejectCode.MISSING_NAME,
            no_name,
            no_name_message[no_name],
        ),
    ]

    reason = pd.Series(None, index=raw.index, dtype=object)
    message = pd.Series(None, index=raw.index, dtype=object)
    for code, applies, text in checks:
        new = applies & reason.isna()
        if not new.any():
            continue
        reason[new] = code.value
        message[new] = text if isinstance(text, str) else text.reindex(raw.index)[new]

    rejected = reason.notna()
    rejects = pd.DataFrame(
        {
            "source_name": pd.Series(source_name, index=raw.index[rejected], dtype="str"),
            "source_row": source_row[rejected].astype("Int64"),
            # An id longer than any id can be is a broken field: not copied into the rejects.
            "record_id": raw["record_id"]
            .where(raw["record_id"].str.len().fillna(0) <= MAX_FIELD_LENGTH)[rejected]
            .astype("str"),
            "reason": reason[rejected].astype("str"),
            "message": message[rejected].astype("str"),
        },
        columns=list(REJECT_COLUMNS),
    ).reset_index(drop=True)
    return reason, rejects
