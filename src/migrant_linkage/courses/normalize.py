"""Course titles into comparable words: `ALG. I (H)`, `Algebra 1 Honors` and `ÁLGEBRA I HON`
all become `ALGEBRA 1 HONORS`.

The steps, in order: accents and case are dropped (NFKD, combining marks removed, upper case);
letters written with full stops are joined (`A.P.` -> `AP`); every other character that is
not a letter or digit becomes a space; ordinals lose their ending
(`9TH` -> `9`); letters and digits glued together are split (`ALG1` -> `ALG 1`); then the word
tables in data/courses/ (abbreviations.csv and spanish_terms.csv: abbreviations, roman numerals
and number words, Spanish subject names, honors/AP/IB markers, stopwords) are applied, the
longest form first, until nothing changes; a repeated word is kept once.

The result only holds A-Z, 0-9 and single spaces, and normalizing it again gives it back
(tests/test_courses_normalize.py checks both with hypothesis).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

__all__ = [
    "TERM_TABLES",
    "TitleParts",
    "TitleTerms",
    "load_terms",
    "normalize_title",
    "normalize_titles",
    "split_title",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "courses"

#: The word tables, applied together (a form may appear in only one of them).
TERM_TABLES: tuple[str, ...] = ("abbreviations.csv", "spanish_terms.csv")

#: Kinds of rows in the tables; a `marker` expansion is a course level (HONORS, AP, IB, PREAP).
TERM_KINDS: frozenset[str] = frozenset({"abbreviation", "spanish", "numeral", "marker", "stopword"})

#: A table that keeps producing new forms would loop; no real table needs this many passes.
_MAX_PASSES = 10

_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
#: Letters written with full stops (A.P., U.S., P.E., EE.UU.) are one word once the stops go.
_DOTTED = re.compile(r"(?<![A-Z0-9])[A-Z]{1,2}(?:\.[A-Z]{1,2})+\.?(?![A-Z0-9])")
_ORDINAL = re.compile(r"(?<![A-Z0-9])(\d+)(?:ST|ND|RD|TH)(?![A-Z0-9])")
_LETTER_DIGIT = re.compile(r"(?<=[A-Z])(?=[0-9])|(?<=[0-9])(?=[A-Z])")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


@dataclass(frozen=True)
class TitleTerms:
    """The word tables as one replacement: each form (one or more words) and what it becomes."""

    expansions: Mapping[str, str]  # form -> expansion ("" for a stopword)
    markers: frozenset[str]  # the course-level words (HONORS, AP, IB, PREAP)
    pattern: re.Pattern[str]  # every form as whole words, the longest first


def _fold(text: str) -> str:
    """Accents and case dropped, everything but A-Z and 0-9 made a space."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()
    # upper() can produce new decomposable letters (e.g. 'ǰ' -> 'J̌'), so fold once more.
    bare = "".join(
        ch for ch in unicodedata.normalize("NFKD", bare) if not unicodedata.combining(ch)
    )
    bare = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), bare)
    return " ".join(_NOT_ALNUM.sub(" ", bare).split())


def read_term_rows(path: Path) -> pd.DataFrame:
    """One word table, its forms folded like titles so that `ÁLG.` in a table means ALG."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    frame["form"] = frame["form"].map(_fold)
    frame["expansion"] = frame["expansion"].map(_fold)
    return frame


@cache
def load_terms(data_dir: Path = DATA_DIR) -> TitleTerms:
    """The shipped tables (read once). A form listed twice is an error in the tables."""
    frames = [read_term_rows(data_dir / name).assign(table=name) for name in TERM_TABLES]
    rows = pd.concat(frames, ignore_index=True)
    unknown = sorted(set(rows["kind"]) - TERM_KINDS)
    if unknown:
        raise ValueError(
            f"data/courses: unknown kind(s) {unknown}; use one of {sorted(TERM_KINDS)}"
        )
    repeated = rows[rows["form"].duplicated(keep=False)]
    if not repeated.empty:
        raise ValueError(
            f"data/courses: form(s) {sorted(set(repeated['form']))} are listed more than once"
        )
    expansions = dict(zip(rows["form"], rows["expansion"], strict=True))
    markers = frozenset(rows.loc[rows["kind"] == "marker", "expansion"])
    forms = sorted(expansions, key=lambda form: (-len(form), form))
    alternation = "|".join(re.escape(form) for form in forms)
    pattern = re.compile(rf"(?<![A-Z0-9])(?:{alternation})(?![A-Z0-9])")
    return TitleTerms(expansions, markers, pattern)


def _one_pass(text: str, terms: TitleTerms) -> str:
    replaced = terms.pattern.sub(lambda m: terms.expansions[m.group(0)], text)
    replaced = _LEADING_ZEROS.sub("", replaced)
    # A repeated word adds nothing (SPANISH FOR SPANISH SPEAKERS); keep its first place.
    return " ".join(dict.fromkeys(replaced.split()))


def normalize_title(title: object, terms: TitleTerms | None = None) -> str:
    """One title's comparable words ("" for a missing or word-less title)."""
    if title is None or title is pd.NA or (isinstance(title, float) and title != title):
        return ""
    terms = terms or load_terms()
    text = _fold(str(title))
    text = _ORDINAL.sub(r"\1", text)
    text = _LETTER_DIGIT.sub(" ", text)
    for _ in range(_MAX_PASSES):
        again = _one_pass(text, terms)
        if again == text:
            break
        text = again
    return text


def normalize_titles(titles: pd.Series, terms: TitleTerms | None = None) -> pd.Series:
    """`normalize_title` over a column, computed once per distinct title."""
    terms = terms or load_terms()
    distinct = pd.unique(titles.astype("object"))
    table = {value: normalize_title(value, terms) for value in distinct if not pd.isna(value)}
    mapped = titles.astype("object").map(table).astype("object")
    return mapped.where(mapped.notna(), "").astype("str")


@dataclass(frozen=True)
class TitleParts:
    """A normalized title split for scoring: the words, the numbers and the course level."""

    core: str  # words that are neither numbers nor level markers, in title order
    numbers: str  # the numbers, space-joined in title order ("" when none)
    markers: str  # the level markers, sorted and space-joined ("" when none)


def split_title(normalized: str, terms: TitleTerms | None = None) -> TitleParts:
    terms = terms or load_terms()
    words = normalized.split()
    numbers = [w for w in words if w.isdigit()]
    markers = sorted({w for w in words if w in terms.markers})
    core = [w for w in words if not w.isdigit() and w not in terms.markers]
    return TitleParts(" ".join(core), " ".join(numbers), " ".join(markers))
