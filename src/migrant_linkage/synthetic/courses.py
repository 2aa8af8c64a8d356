"""Synthetic course titles in state styles, each with the catalogue course it truly is.

    from migrant_linkage.synthetic.courses import generate_course_titles
    titles = generate_course_titles(2_000, seed=1)     # columns below; same seed, same rows

A row starts from a catalogue course's title (or one of its aliases) and is written the way a
state's system would send it (data/courses/synthetic_title_styles.csv): roman or arabic numerals,
the state's honors and AP markers, shortened words (its own list, data/courses/
synthetic_title_words.csv, plus vowel-dropping and cut words, which the normalizer's tables do
not undo), a field-length limit that cuts the title, upper or title case, Spanish titles, typos,
the state's own course codes, subject names, grades and credits.

Columns: state, code, title, subject, grade, credits, true_course_id, true_styles (';'-joined
styles applied). The generator's word lists are separate from the normalizer's, but written by
the same hands: a benchmark must also use titles the generator did not make
(tests/data/course_titles_labelled.csv).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from migrant_linkage.courses.catalogue import Catalogue, example_catalogue_path, read_catalogue
from migrant_linkage.synthetic.text import keyboard_typo

__all__ = ["COURSE_STYLE_STATES", "generate_course_titles"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "courses"
_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}
_ARABIC = {v: k for k, v in _ROMAN.items()}
#: Words a title-case system still writes in capitals.
_KEEP_UPPER = frozenset(
    {"AP", "A.P.", "US", "U.S.", "USA", "IB", "ESL", "AB", "BC", "PE", "H"}
) | set(_ROMAN)


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False, encoding="utf-8")


@cache
def _styles() -> dict[str, dict[str, str]]:
    """Each state's style, by column name (all text, as in the CSV)."""
    rows = _read("synthetic_title_styles.csv")
    return {
        str(r["state"]): {str(k): str(v) for k, v in r.items()} for r in rows.to_dict("records")
    }


@cache
def _words() -> dict[str, tuple[list[str], str]]:
    rows = _read("synthetic_title_words.csv")
    return {
        w: ([f for f in forms.split(";") if f], es)
        for w, forms, es in zip(rows["word"], rows["short_forms"], rows["spanish"], strict=True)
    }


@cache
def _subjects() -> dict[str, dict[str, str]]:
    rows = _read("synthetic_subjects.csv")
    return {
        str(r["subject"]): {str(k): str(v) for k, v in r.items()} for r in rows.to_dict("records")
    }


COURSE_STYLE_STATES: tuple[str, ...] = tuple(_styles())


def _drop_vowels(word: str) -> str:
    """SCIENCE -> SCNC: the first letter kept, later vowels dropped (a common short form)."""
    return word[0] + re.sub(r"[AEIOU]", "", word[1:]) if len(word) > 4 else word


def _spanish(words: list[str]) -> list[str]:
    """Word by word, the head noun (the last word) moved first: WORLD HISTORY -> HISTORIA
    MUNDIAL. Grammar is rough; the words are what a Spanish record would hold."""
    table = _words()
    numbers = [w for w in words if w.isdigit() or w in _ROMAN]
    rest = [w for w in words if w not in numbers]
    translated = [table[w][1] if w in table else w for w in rest]
    translated = [t for t in translated if t]
    if len(translated) > 1:
        translated = [translated[-1], *translated[:-1]]
    return [*" ".join(translated).split(), *numbers]


def _render(
    title: str,
    style: dict[str, str],
    rng: np.random.Generator,
) -> tuple[str, list[str]]:
    applied: list[str] = []
    words = re.sub(r"[^A-Za-z0-9\- ]", " ", title).upper().split()
    level = None
    if "HONORS" in words:
        words.remove("HONORS")
        level = "honors"
    if words and words[0] == "AP":
        words = words[1:]
        level = "ap"
    numerals = style["numerals"]
    if numerals == "mixed":
        numerals = "roman" if rng.random() < 0.5 else "arabic"
    table = _ROMAN if numerals == "arabic" else _ARABIC
    if any(w in table for w in words):
        applied.append(f"numerals_{numerals}")
    words = [table.get(w, w) for w in words]
    if rng.random() < float(style["spanish"]):
        words = _spanish(words)
        applied.append("spanish")
    elif rng.random() < float(style["abbreviate"]):
        short = []
        for w in words:
            forms = _words().get(w, ([], ""))[0]
            pick = rng.random()
            if forms and pick < 0.7:
                short.append(forms[int(rng.integers(len(forms)))])
            elif pick < 0.85:
                short.append(_drop_vowels(w))
            else:
                short.append(w)
        if short != words:
            applied.append("abbreviated")
        words = short
    if level == "honors":
        form = style["honors_form"]
        words = [*words, form] if rng.random() < 0.8 else [form, *words]
        applied.append("honors")
    elif level == "ap":
        words = [style["ap_form"], *words]
        applied.append("ap")
    if rng.random() < float(style["typo"]):
        long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long:
            i = long[int(rng.integers(len(long)))]
            words[i] = keyboard_typo(words[i], int(rng.integers(1 << 30)))
            applied.append("typo")
    text = " ".join(words)
    if style["case"] == "title":
        text = " ".join(w if w in _KEEP_UPPER else w.capitalize() for w in text.split())
    limit = int(style["max_length"])
    if limit and len(text) > limit:
        text = text[:limit].rstrip()
        applied.append("cut")
    if rng.random() < 0.1 and style["case"] == "upper":
        text = text.replace(" ", "-", 1) if " " in text else text
        applied.append("punctuation")
    return text, applied


def _code(state: str, course_id: str, pattern: str) -> str:
    """The state's own code for a course: stable per (state, course), unrelated to the id."""
    if not pattern:
        return ""
    seed = zlib.crc32(f"{state}|{course_id}".encode())
    rng = np.random.default_rng(seed)
    return "".join(
        str(int(rng.integers(10)))
        if ch == "#"
        else chr(65 + int(rng.integers(26)))
        if ch == "X"
        else ch
        for ch in pattern
    )


def generate_course_titles(
    n_titles: int,
    seed: int = 0,
    *,
    catalogue: Catalogue | None = None,
    states: Sequence[str] | None = None,
) -> pd.DataFrame:
    """`n_titles` rows of state course titles with their true catalogue course (one Python step
    per row: meant for tests and benchmarks, up to some 100,000 rows)."""
    if isinstance(n_titles, bool) or not isinstance(n_titles, int) or n_titles < 1:
        raise ValueError(f"n_titles must be a whole number >= 1, got {n_titles!r}")
    catalogue = catalogue or read_catalogue(example_catalogue_path())
    styles = _styles()
    chosen = list(states) if states is not None else list(styles)
    unknown = sorted(set(chosen) - set(styles))
    if unknown or not chosen:
        raise ValueError(f"states {unknown or chosen}: use some of {list(styles)}")
    rng = np.random.default_rng(seed)
    courses = catalogue.courses
    subjects = _subjects()
    rows = []
    for _ in range(n_titles):
        state = chosen[int(rng.integers(len(chosen)))]
        style = styles[state]
        course = courses.iloc[int(rng.integers(len(courses)))]
        listed = course["aliases"] if isinstance(course["aliases"], str) else ""
        aliases = [a.strip() for a in listed.split(";") if a.strip()]
        names = [course["title"], *aliases]
        start = names[0] if rng.random() < 0.7 else names[int(rng.integers(len(names)))]
        title, applied = _render(start, style, rng)
        subject = course["subject"] if isinstance(course["subject"], str) else ""
        if style["subject_style"] == "none" or not subject:
            subject_text = ""
        elif "spanish" in applied and subject in subjects:
            subject_text = subjects[subject]["spanish"]
        elif style["subject_style"] == "short" and subject in subjects:
            subject_text = subjects[subject]["short"]
        else:
            subject_text = subject
        grade = ""
        low, high = course["grade_low"], course["grade_high"]
        if not np.isnan(low) and rng.random() < float(style["gives_grade"]):
            grade = str(int(rng.integers(int(low), int(high) + 1)))
            grade = grade.zfill(2) if state in ("TX", "FL") else grade
        credits = ""
        if not np.isnan(course["credits"]) and rng.random() < float(style["gives_credits"]):
            credits = f"{course['credits']:g}"
        rows.append(
            (
                state,
                _code(state, str(course["course_id"]), style["code_format"]),
                title,
                subject_text,
                grade,
                credits,
                course["course_id"],
                ";".join(applied),
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "state",
            "code",
            "title",
            "subject",
            "grade",
            "credits",
            "true_course_id",
            "true_styles",
        ],
    )
    return frame.replace("", pd.NA).astype("str")
