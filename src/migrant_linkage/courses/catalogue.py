"""The reference catalogue a state maps its course titles to, read from the user's CSV.

Columns: `course_id` and `title` (required); `subject`, `grade` (a grade or a range: `9`,
`9-12`, `K-5`), `credits` (a number) and `aliases` (other titles of the same course, `;`
separated) are optional; other columns are carried along. The package ships a small EXAMPLE
(`example_catalogue_path()`), written by hand for the docs and tests: it is not an official
code list, and a state should map to its own or its exchange partners' catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from migrant_linkage.courses.files import CourseFileError, read_text_table, require_columns
from migrant_linkage.courses.normalize import load_terms, normalize_titles, split_title

__all__ = [
    "CATALOGUE_REQUIRED",
    "Catalogue",
    "example_catalogue_path",
    "parse_credits",
    "parse_grades",
    "read_catalogue",
]

CATALOGUE_REQUIRED: tuple[str, ...] = ("course_id", "title")

_GRADE_WORDS = {"PK": -1, "PREK": -1, "K": 0, "KG": 0, "KN": 0}
_GRADE = r"(PK|PREK|KG|KN|K|\d{1,2})(?:\.0+)?"  # 9.0: a grade read as a number upstream
_GRADE_RANGE = rf"(?i)^\s*{_GRADE}\s*(?:(?:-|TO|–)\s*{_GRADE})?\s*$"


def example_catalogue_path() -> Path:
    """The shipped EXAMPLE catalogue (not an official code list)."""
    return Path(__file__).resolve().parent.parent / "data" / "courses" / "example_catalogue.csv"


def parse_grades(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low and high grade of each value (K = 0, PK = -1; NaN when missing), and which
    non-missing values could not be read."""
    text = values.astype("object").where(values.notna(), "").astype(str).str.upper()
    parts = text.str.extract(_GRADE_RANGE)
    low = parts[0].map(lambda g: _GRADE_WORDS.get(g, g) if isinstance(g, str) else g)
    high = parts[1].where(parts[1].notna(), parts[0])
    high = high.map(lambda g: _GRADE_WORDS.get(g, g) if isinstance(g, str) else g)
    low_n = pd.to_numeric(low, errors="coerce").to_numpy(dtype=float)
    high_n = pd.to_numeric(high, errors="coerce").to_numpy(dtype=float)
    unreadable = (text.str.strip() != "").to_numpy() & np.isnan(low_n)
    return np.fmin(low_n, high_n), np.fmax(low_n, high_n), unreadable


def parse_credits(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Credits as numbers (NaN when missing), and which non-missing values were not numbers."""
    numbers = pd.to_numeric(values.astype("object"), errors="coerce").to_numpy(
        dtype=float, copy=True
    )
    unreadable = values.notna().to_numpy() & ~np.isfinite(numbers)
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers, unreadable


@dataclass(frozen=True)
class Catalogue:
    """A read catalogue: one row per course, and one row per title a course is known by.

    `courses`: course_id, title, subject, subject_key, grade_low, grade_high, credits (and the
    file's other columns). `variants`: course_index (row of `courses`), variant (the title or
    an alias as written), key, core, numbers, markers; sorted by course_index."""

    courses: pd.DataFrame
    variants: pd.DataFrame
    label: str

    def has_course(self, course_id: str) -> bool:
        return bool((self.courses["course_id"] == course_id).any())

    def title_of(self, course_id: str) -> str:
        return str(self.courses.loc[self.courses["course_id"] == course_id, "title"].iloc[0])


def _error_rows(mask: np.ndarray) -> str:
    rows = (np.flatnonzero(mask) + 1).tolist()
    shown = ", ".join(map(str, rows[:10]))
    return f"data row(s) {shown}" + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


def read_catalogue(source: object) -> Catalogue:
    """Read and check a catalogue CSV (or DataFrame). Every problem is an error naming the rows:
    a reference list with a hole would send students to the wrong course silently."""
    frame, label = read_text_table(source, "catalogue")
    require_columns(frame, label, "catalogue", CATALOGUE_REQUIRED)
    if frame.empty:
        raise CourseFileError(f"catalogue {label}: no courses (only a header row)")
    for column in ("subject", "grade", "credits", "aliases"):
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame["course_id"] = frame["course_id"].str.strip()
    for column in CATALOGUE_REQUIRED:
        empty = frame[column].isna().to_numpy()
        if empty.any():
            raise CourseFileError(f"catalogue {label}: empty {column} in {_error_rows(empty)}")
    repeated = frame["course_id"].duplicated(keep=False).to_numpy()
    if repeated.any():
        raise CourseFileError(
            f"catalogue {label}: course_id repeated in {_error_rows(repeated)}; each course "
            "needs its own id (put other titles of one course in the aliases column)"
        )
    low, high, bad_grade = parse_grades(frame["grade"])
    if bad_grade.any():
        raise CourseFileError(
            f"catalogue {label}: grade not readable in {_error_rows(bad_grade)}; write a grade "
            "(K, 1-12) or a range such as 9-12, or leave it empty"
        )
    credits, bad_credits = parse_credits(frame["credits"])
    if bad_credits.any():
        raise CourseFileError(
            f"catalogue {label}: credits not a number in {_error_rows(bad_credits)}"
        )
    terms = load_terms()
    courses = frame.assign(
        subject_key=normalize_titles(frame["subject"], terms),
        grade_low=low,
        grade_high=high,
        credits=credits,
    ).reset_index(drop=True)
    variants = _variants(courses, terms)
    wordless = ~courses.index.isin(variants["course_index"])
    if wordless.any():
        raise CourseFileError(
            f"catalogue {label}: title has no letters or digits in {_error_rows(wordless)}"
        )
    return Catalogue(courses, variants, label)


def _variants(courses: pd.DataFrame, terms) -> pd.DataFrame:
    aliases = courses["aliases"].fillna("").str.split(";")
    titles = [
        [title, *(a.strip() for a in extra if a.strip())]
        for title, extra in zip(courses["title"], aliases, strict=True)
    ]
    variants = pd.DataFrame(
        {"course_index": np.repeat(np.arange(len(courses)), [len(t) for t in titles])}
    )
    variants["variant"] = pd.Series([v for t in titles for v in t], dtype="str")
    variants["key"] = normalize_titles(variants["variant"], terms)
    variants = variants[variants["key"] != ""].drop_duplicates(["course_index", "key"])
    parts = [split_title(key, terms) for key in variants["key"]]
    variants["core"] = [p.core for p in parts]
    variants["numbers"] = [p.numbers for p in parts]
    variants["markers"] = [p.markers for p in parts]
    return variants.sort_values("course_index", kind="stable").reset_index(drop=True)
