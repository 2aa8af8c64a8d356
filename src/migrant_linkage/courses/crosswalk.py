"""Candidates, scores and reasons: each state course title against every catalogue course.

The title's words (numbers and level markers set apart, see normalize.split_title) are compared
with rapidfuzz's WRatio, a 0-100 similarity that forgives typos, word order and extra words;
then points are added or taken for the parts that decide between neighbouring courses:

| evidence | points | why |
|---|---:|---|
| numbers differ (ALGEBRA 1 vs 2) | -30 | a different year of the course |
| a number on one side only | -8 | ALGEBRA is probably ALGEBRA 1, not surely |
| catalogue course is honors/AP/IB, title is not (or another level) | -12 | never place a student in a level the title does not say |
| title says honors/AP/IB, the catalogue course does not | -4 | the regular course, when the catalogue has no such level |
| subject agrees / differs | +4 / -4 | when both sides give one |
| grade inside / outside the course's grades | +3 / -3 | when both sides give one |
| credits equal / different | +1 / -1 | when both sides give them |

Candidates rank by the sum; the score shown is clipped to 0-100. A course known by several
titles (its aliases) scores by the best of them. The work is a matrix per chunk of distinct
titles (numpy, rapidfuzz.cdist): once per distinct (code, title, subject, grade, credits), never
once per file row; reasons are written only for the top candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from migrant_linkage.courses.catalogue import Catalogue, parse_credits, parse_grades
from migrant_linkage.courses.files import read_text_table, require_columns
from migrant_linkage.courses.mappings import code_keys, read_mappings, remembered_for, state_code
from migrant_linkage.courses.normalize import load_terms, normalize_titles, split_title

__all__ = [
    "REJECT_REASONS",
    "TITLE_COLUMNS",
    "CrosswalkResult",
    "map_titles",
    "read_titles",
]

#: The columns of a state's course file: title is required, the others help when present.
TITLE_COLUMNS: tuple[str, ...] = ("title", "code", "subject", "grade", "credits")

REJECT_REASONS: dict[str, str] = {
    "title_missing": "the title is empty",
    "title_without_words": "the title holds nothing to compare (only punctuation, or only "
    "words such as GRADE or OF)",
}

NUMBER_DIFFERS = -30.0
NUMBER_ONE_SIDED = -8.0
LEVEL_ONLY_IN_CATALOGUE = -12.0
LEVEL_ONLY_IN_TITLE = -4.0
SUBJECT_AGREES, SUBJECT_DIFFERS = 4.0, -4.0
GRADE_AGREES, GRADE_DIFFERS = 3.0, -3.0
CREDITS_AGREE, CREDITS_DIFFER = 1.0, -1.0
#: Subjects agree when rapidfuzz's token_set_ratio of their normalized words reaches this
#: (MATHEMATICS vs MATH: equal after normalization; ENGLISH vs ENGLISH LANGUAGE ARTS: a subset).
SUBJECT_SAME_AT = 90.0
#: A title word and a catalogue word at least this similar (fuzz.ratio) are named as a typo.
NEAR_WORD_AT = 75.0
#: Cells of the title x catalogue matrix scored at once (float32: 4 bytes each).
_CHUNK_CELLS = 2_000_000


def read_titles(source: object) -> pd.DataFrame:
    """A state's course file (CSV, Parquet or DataFrame) with the TITLE_COLUMNS (missing
    optional ones added empty) and `row`, the data row number (1 = first row after the header)."""
    frame, label = read_text_table(source, "course titles")
    require_columns(frame, label, "course titles", ("title",))
    for column in TITLE_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame.insert(0, "row", np.arange(1, len(frame) + 1))
    return frame


@dataclass(frozen=True)
class CrosswalkResult:
    """The crosswalk of one file. Every input row is in `suggestions` (with its ranks) or in
    `rejects`, never both: `counts["rows"] == counts["mapped"] + counts["rejected"]`.

    - suggestions: row, code, title, rank, course_id, course_title, score, match
      (remembered | suggested), reasons;
    - review: one row per distinct (code, normalized title), the top candidates side by side
      and an empty `decision` column for the data specialist (see mappings / docs/courses.md);
    - rejects: row, code, title, reason, reason_text."""

    suggestions: pd.DataFrame
    review: pd.DataFrame
    rejects: pd.DataFrame
    counts: dict[str, int]
    state: str


def map_titles(
    titles: object,
    catalogue: Catalogue,
    *,
    state: str,
    mappings: pd.DataFrame | None = None,
    top: int = 3,
) -> CrosswalkResult:
    """Map a state's course titles to the catalogue: remembered mappings first (an exact match
    on state, code and normalized title wins, and says so), the top `top` candidates for the
    rest."""
    state = state_code(state)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a whole number >= 1, got {top!r}")
    rows = titles if _is_read(titles) else read_titles(titles)
    assert isinstance(rows, pd.DataFrame)
    terms = load_terms()
    rows = rows.assign(
        title_key=normalize_titles(rows["title"], terms),
        code_key=code_keys(rows["code"]),
        subject_key=normalize_titles(rows["subject"], terms),
    )
    reason = np.where(
        rows["title"].isna(),
        "title_missing",
        np.where(rows["title_key"] == "", "title_without_words", ""),
    )
    rejects = rows.loc[reason != "", ["row", "code", "title"]].assign(reason=reason[reason != ""])
    rejects["reason_text"] = rejects["reason"].map(REJECT_REASONS)
    kept = rows[reason == ""]

    unit_columns = ["code_key", "title_key", "subject_key", "grade", "credits"]
    units = kept[unit_columns].drop_duplicates().reset_index(drop=True)
    units["unit"] = np.arange(len(units))
    kept = kept.merge(units, on=unit_columns, how="left", validate="many_to_one")

    known = remembered_for(mappings if mappings is not None else read_mappings(None), state)
    known = known[known["course_id"].isin(catalogue.courses["course_id"])]
    units = units.merge(known, on=["code_key", "title_key"], how="left")
    is_known = units["course_id"].notna().to_numpy()
    remembered = _remembered_rows(units[is_known], catalogue, state)
    suggested = _suggest(
        units[~is_known].reset_index(drop=True), catalogue, min(top, len(catalogue.courses))
    )
    per_unit = pd.concat([remembered, suggested], ignore_index=True)

    suggestions = kept[["row", "unit", "code", "title"]].merge(per_unit, on="unit")
    suggestions = suggestions.sort_values(["row", "rank"], kind="stable").reset_index(drop=True)
    review = _review(kept, per_unit, top)
    counts = {
        "rows": len(rows),
        "mapped": int(kept["row"].nunique()),
        "remembered": int(kept["unit"].isin(units.loc[is_known, "unit"]).sum()),
        "suggested": int((~kept["unit"].isin(units.loc[is_known, "unit"])).sum()),
        "rejected": len(rejects),
        "distinct_titles": int(units.shape[0]),
    }
    return CrosswalkResult(
        suggestions.drop(columns=["unit", "points"]),
        review,
        rejects.reset_index(drop=True),
        counts,
        state,
    )


def _is_read(titles: object) -> bool:
    return isinstance(titles, pd.DataFrame) and {"row", *TITLE_COLUMNS} <= set(titles.columns)


def _remembered_rows(units: pd.DataFrame, catalogue: Catalogue, state: str) -> pd.DataFrame:
    titles = catalogue.courses.set_index("course_id")["title"]
    reasons = (
        f"remembered: {state} mapping "
        + units["decision"].fillna("accepted")
        + " "
        + units["decided_at"].fillna("")
        + " (same code and normalized title)"
    )
    return pd.DataFrame(
        {
            "unit": units["unit"].to_numpy(),
            "rank": 1,
            "course_id": units["course_id"].to_numpy(),
            "course_title": units["course_id"].map(titles).to_numpy(),
            "score": 100.0,
            "points": np.nan,
            "match": "remembered",
            "reasons": reasons.to_numpy(),
        }
    )


@dataclass(frozen=True)
class _Sides:
    """The title side (one row per unit) and the catalogue side (one column per variant)."""

    core: np.ndarray
    numbers: np.ndarray
    markers: np.ndarray
    subject: np.ndarray  # index into the shared subject list (-1 when missing)
    grade_low: np.ndarray
    grade_high: np.ndarray
    credits: np.ndarray


def _suggest(units: pd.DataFrame, catalogue: Catalogue, top: int) -> pd.DataFrame:
    columns = ["unit", "rank", "course_id", "course_title", "score", "match", "reasons", "points"]
    if units.empty:
        return pd.DataFrame(columns=columns)
    terms = load_terms()
    parts = [split_title(key, terms) for key in units["title_key"]]
    variants = catalogue.variants
    courses = catalogue.courses
    course_of = variants["course_index"].to_numpy()
    subjects = sorted((set(units["subject_key"]) | set(courses["subject_key"])) - {""})
    subject_index = {s: i for i, s in enumerate(subjects)}
    same_subject = np.zeros((max(1, len(subjects)),) * 2, dtype=bool)
    if subjects:
        same_subject[:] = (
            process.cdist(subjects, subjects, scorer=fuzz.token_set_ratio, dtype=np.float32)
            >= SUBJECT_SAME_AT
        )
    low, high, _ = parse_grades(units["grade"])
    credits, _ = parse_credits(units["credits"])
    left = _Sides(
        np.array([p.core for p in parts], dtype=object),
        np.array([p.numbers for p in parts], dtype=object),
        np.array([p.markers for p in parts], dtype=object),
        units["subject_key"].map(lambda s: subject_index.get(s, -1)).to_numpy(),
        low,
        high,
        credits,
    )
    right = _Sides(
        variants["core"].to_numpy(dtype=object),
        variants["numbers"].to_numpy(dtype=object),
        variants["markers"].to_numpy(dtype=object),
        courses["subject_key"].map(lambda s: subject_index.get(s, -1)).to_numpy()[course_of],
        courses["grade_low"].to_numpy()[course_of],
        courses["grade_high"].to_numpy()[course_of],
        courses["credits"].to_numpy()[course_of],
    )
    starts = np.flatnonzero(np.r_[True, course_of[1:] != course_of[:-1]])
    chunk = max(1, _CHUNK_CELLS // len(variants))
    unit_ids = units["unit"].to_numpy()
    course_ids = courses["course_id"].to_numpy()
    course_titles = courses["title"].to_numpy()
    variant_texts = variants["variant"].to_numpy()
    ends = np.r_[starts[1:], len(variants)]
    out = []
    for begin in range(0, len(units), chunk):
        rows = slice(begin, begin + chunk)
        total = _total_scores(_take(left, rows), right, same_subject)
        per_course = np.maximum.reduceat(total, starts, axis=1)
        order = np.argsort(-per_course, axis=1, kind="stable")[:, :top]
        for offset, ranked in enumerate(order):
            u = begin + offset
            for rank, course in enumerate(ranked, start=1):
                best = starts[course] + int(np.argmax(total[offset, starts[course] : ends[course]]))
                out.append(
                    (
                        int(unit_ids[u]),
                        rank,
                        course_ids[course],
                        course_titles[course],
                        round(float(np.clip(per_course[offset, course], 0.0, 100.0)), 1),
                        "suggested",
                        _reasons(left, u, right, best, variant_texts[best], same_subject),
                        float(per_course[offset, course]),
                    )
                )
    return pd.DataFrame(out, columns=columns)


def _take(sides: _Sides, rows: slice) -> _Sides:
    return _Sides(*(getattr(sides, f)[rows] for f in _Sides.__dataclass_fields__))


def _evidence(left: _Sides, right: _Sides, same_subject: np.ndarray) -> dict[str, np.ndarray]:
    """Each kind of evidence as points, titles down and catalogue variants across."""

    def both(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        has_a, has_b = (a != "")[:, None], (b != "")[None, :]
        return has_a, has_b, a[:, None] == b[None, :]

    has_n, has_m, same_n = both(left.numbers, right.numbers)
    numbers = np.where(
        has_n & has_m,
        np.where(same_n, 0.0, NUMBER_DIFFERS),
        np.where(has_n ^ has_m, NUMBER_ONE_SIDED, 0.0),
    )
    has_l, has_r, same_l = both(left.markers, right.markers)
    level = np.where(
        same_l,
        0.0,
        np.where(has_r, LEVEL_ONLY_IN_CATALOGUE, np.where(has_l, LEVEL_ONLY_IN_TITLE, 0.0)),
    )
    ls, rs = left.subject[:, None], right.subject[None, :]
    given = (ls >= 0) & (rs >= 0)
    agree = same_subject[np.maximum(ls, 0), np.maximum(rs, 0)]
    subject = np.where(given, np.where(agree, SUBJECT_AGREES, SUBJECT_DIFFERS), 0.0)
    lo, hi = left.grade_low[:, None], left.grade_high[:, None]
    clo, chi = right.grade_low[None, :], right.grade_high[None, :]
    g_given = ~np.isnan(lo) & ~np.isnan(clo)
    inside = (lo <= chi) & (clo <= hi)
    grade = np.where(g_given, np.where(inside, GRADE_AGREES, GRADE_DIFFERS), 0.0)
    lc, rc = left.credits[:, None], right.credits[None, :]
    c_given = ~np.isnan(lc) & ~np.isnan(rc)
    credits = np.where(c_given, np.where(np.isclose(lc, rc), CREDITS_AGREE, CREDITS_DIFFER), 0.0)
    return {
        "numbers": numbers,
        "level": level,
        "subject": subject,
        "grade": grade,
        "credits": credits,
    }


def _total_scores(left: _Sides, right: _Sides, same_subject: np.ndarray) -> np.ndarray:
    words = process.cdist(
        list(left.core), list(right.core), scorer=fuzz.WRatio, dtype=np.float32, workers=1
    )
    total = words.astype(np.float64)
    for points in _evidence(left, right, same_subject).values():
        total += points
    # Not clipped here: two courses both past 100 (the honors title and its honors and regular
    # courses) must still rank in order. The score shown is clipped.
    return total


def _reasons(
    left: _Sides, u: int, right: _Sides, v: int, variant: str, same_subject: np.ndarray
) -> str:
    """Why this catalogue title scored as it did, in words a data specialist can check."""
    one_left, one_right = _take(left, slice(u, u + 1)), _take(right, slice(v, v + 1))
    points = {k: float(a[0, 0]) for k, a in _evidence(one_left, one_right, same_subject).items()}
    title_words, course_words = left.core[u].split(), right.core[v].split()
    similarity = fuzz.WRatio(left.core[u], right.core[v])
    matched = [w for w in title_words if w in course_words]
    near = []
    for word in (w for w in title_words if w not in course_words):
        others = [c for c in course_words if c not in matched]
        hit = process.extractOne(word, others, scorer=fuzz.ratio, score_cutoff=NEAR_WORD_AT)
        if hit:
            near.append(f"{word}~{hit[0]}")
    text = [f"words {similarity:.0f}/100 vs '{variant}'"]
    if matched:
        text.append("matched " + " ".join(matched))
    if near:
        text.append("near " + " ".join(near))
    extra = [
        w for w in course_words if w not in matched and not any(n.endswith(f"~{w}") for n in near)
    ]
    if extra:
        text.append("catalogue only " + " ".join(extra))
    text.append(_numbers_reason(left.numbers[u], right.numbers[v], points["numbers"]))
    text.append(_level_reason(left.markers[u], right.markers[v], points["level"]))
    for kind in ("subject", "grade", "credits"):
        if points[kind]:
            text.append(
                f"{kind} {'agrees' if points[kind] > 0 else 'differs'} ({points[kind]:+.0f})"
            )
    return "; ".join(t for t in text if t)


def _numbers_reason(title: str, course: str, points: float) -> str:
    if title and course:
        return (
            f"number {title} agrees"
            if not points
            else f"number {title} vs {course} ({points:+.0f})"
        )
    if title or course:
        return f"number {title or course} on one side only ({points:+.0f})"
    return ""


def _level_reason(title: str, course: str, points: float) -> str:
    if title == course:
        return f"level {title} agrees" if title else ""
    return f"level {title or 'regular'} vs {course or 'regular'} ({points:+.0f})"


def _review(kept: pd.DataFrame, per_unit: pd.DataFrame, top: int) -> pd.DataFrame:
    """One row per (code, normalized title) for the specialist, from its most common variant
    (the same title sent with different grades or credits can rank courses differently)."""
    counts = kept.groupby(["code_key", "title_key", "unit"], sort=False).agg(
        rows=("row", "size"), code=("code", "first"), title=("title", "first")
    )
    counts = counts.reset_index().sort_values("rows", ascending=False, kind="stable")
    totals = counts.groupby(["code_key", "title_key"], sort=False)["rows"].transform("sum")
    counts = counts.assign(rows=totals).drop_duplicates(["code_key", "title_key"])
    review = counts[["unit", "code", "title", "title_key", "rows"]].reset_index(drop=True)
    first = per_unit[per_unit["rank"] == 1][["unit", "match", "points"]]
    second = per_unit[per_unit["rank"] == 2][["unit", "points"]]
    review = review.merge(first, on="unit", how="left")
    review = review.merge(second, on="unit", how="left", suffixes=("", "_2"))
    # How far the first candidate is ahead of the second, on the unclipped sums: two scores of
    # 100 with a lead of 4 say the first is the better of two good matches.
    review["lead"] = (review["points"] - review["points_2"]).round(1)
    review = review.drop(columns=["points", "points_2"])
    for rank in range(1, top + 1):
        names = {c: f"{c}_{rank}" for c in ("course_id", "course_title", "score", "reasons")}
        ranked = per_unit[per_unit["rank"] == rank][["unit", *names]].rename(columns=names)
        review = review.merge(ranked, on="unit", how="left")
    review = review.copy()  # one block again after the merges, before the last column
    review["decision"] = pd.Series(pd.NA, index=review.index, dtype="str")
    return (
        review.drop(columns="unit")
        .sort_values(["title_key", "code"], kind="stable")
        .reset_index(drop=True)
    )
