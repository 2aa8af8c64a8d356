"""Reading the crosswalk's CSV files (titles, catalogue, remembered mappings, a reviewed
suggestion file) as text, with errors that name the file and what to do."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from migrant_linkage.errors import UsageError

__all__ = ["CourseFileError", "read_text_table", "require_columns"]

#: Tried in order when reading: modern exports, then Windows/Excel exports of accented titles.
_ENCODINGS = ("utf-8-sig", "cp1252")


class CourseFileError(UsageError):
    """A crosswalk input cannot be used as it is; the message names the file and the fix."""


def read_text_table(source: object, what: str) -> tuple[pd.DataFrame, str]:
    """Every column as text (an empty cell is missing, "NA" is text), and a label for messages.

    `source` is a DataFrame, or a CSV or Parquet path. Header names are trimmed."""
    if isinstance(source, pd.DataFrame):
        frame, label = source.copy(), "dataframe"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        label = path.name
        if not path.is_file():
            raise CourseFileError(f"{what} {label}: file not found ({path})")
        frame = _read_path(path, what)
    else:
        raise CourseFileError(
            f"cannot read the {what} from a {type(source).__name__}: pass a CSV or Parquet path "
            "or a pandas DataFrame"
        )
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    text = {}
    for column in frame.columns:
        values = frame[column].astype("str")
        text[column] = values.mask(values.str.strip() == "")
    return pd.DataFrame(text, index=pd.RangeIndex(len(frame))), label


def _read_path(path: Path, what: str) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as error:  # noqa: BLE001 - pyarrow raises several types
            raise CourseFileError(
                f"{what} {path.name}: not a readable Parquet file ({type(error).__name__})"
            ) from None
    if path.stat().st_size == 0:
        raise CourseFileError(f"{what} {path.name}: the file is empty; it needs a header row")
    for encoding in _ENCODINGS:
        try:
            return pd.read_csv(
                path,
                dtype="str",
                keep_default_na=False,
                na_values=[""],
                index_col=False,
                encoding=encoding,
                sep=None if path.suffix.lower() == ".txt" else ",",
                engine="python" if path.suffix.lower() == ".txt" else "c",
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise CourseFileError(f"{what} {path.name}: no header row") from None
        except pd.errors.ParserError:
            raise CourseFileError(
                f"{what} {path.name}: not a valid comma-separated file (a quote never closed, "
                "or a row with more fields than the header)"
            ) from None
    raise CourseFileError(f"{what} {path.name}: neither UTF-8 nor cp1252; re-save it as UTF-8")


#: Every column name the crosswalk's files use; a header holding none of them is not shown.
KNOWN_COLUMNS: frozenset[str] = frozenset(
    {"title", "code", "subject", "grade", "credits", "course_id", "aliases", "decision", "state"}
)


def require_columns(frame: pd.DataFrame, label: str, what: str, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CourseFileError(
            f"{what} {label}: required column(s) {missing} missing ({_found(frame.columns)}). "
            "Rename the columns in the file; docs/courses.md lists them"
        )


def _found(columns: pd.Index) -> str:
    """The header for a message, unless it may be a record: a file sent without its header row
    (a course-enrolment extract, say) has a student's values there, which must not reach a log."""
    names = [str(c) for c in columns]
    if not names:
        return "found no columns"
    if not KNOWN_COLUMNS & set(names):
        return (
            f"found {len(names)} column(s), none a crosswalk column; names not shown in case the "
            "header row is missing and the first row is a record"
        )
    # Control characters (an escape code, a line break) are not echoed to a terminal.
    shown = ["".join(ch if ch.isprintable() else "?" for ch in n) for n in names]
    return "found: " + ", ".join(shown)
