"""Accepted course mappings, remembered per state in a CSV file the user points at.

A mapping says: in state XX, the course sent with this code (or none) and this normalized title
is catalogue course C. The next file from XX that sends the same code and a title that
normalizes the same way maps to C without a suggestion ("remembered"). Accepting a different
course for a remembered title replaces it and keeps the replaced course id in the row.

Columns: state, code, title, title_key, course_id, course_title, decision (accepted: the top
suggestion; corrected: another course), decided_at (UTC, ISO 8601), replaced_course_id.
The file holds course titles and codes only, never student data.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from migrant_linkage.courses.catalogue import Catalogue
from migrant_linkage.courses.files import CourseFileError, read_text_table, require_columns
from migrant_linkage.courses.normalize import normalize_titles
from migrant_linkage.io import write_table

__all__ = [
    "DECISIONS",
    "MAPPING_COLUMNS",
    "MappingUpdate",
    "code_keys",
    "decisions_from_review",
    "read_mappings",
    "remember",
    "remembered_for",
    "state_code",
]

MAPPING_COLUMNS: tuple[str, ...] = (
    "state",
    "code",
    "title",
    "title_key",
    "course_id",
    "course_title",
    "decision",
    "decided_at",
    "replaced_course_id",
)
#: accepted: the specialist took the top suggestion; corrected: they chose another course.
DECISIONS: tuple[str, ...] = ("accepted", "corrected")

_STATE = re.compile(r"^[A-Z]{2}$")
_KEY = ["state", "code_key", "title_key"]


def state_code(state: object) -> str:
    """A two-letter state (or territory) code, upper case; anything else is a usage error."""
    text = str(state or "").strip().upper()
    if not _STATE.match(text):
        raise CourseFileError(f"state {state!r}: give the two-letter code, e.g. TX or PR")
    return text


def code_keys(codes: pd.Series) -> pd.Series:
    """A course code as the mapping key holds it: trimmed, upper case, "" when missing."""
    return codes.astype("object").fillna("").astype(str).str.strip().str.upper()


def read_mappings(path: str | os.PathLike | None) -> pd.DataFrame:
    """The remembered mappings (an empty table when there is no file yet)."""
    if path is None or not Path(path).exists():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in MAPPING_COLUMNS})
    frame, label = read_text_table(path, "mappings file")
    require_columns(frame, label, "mappings file", MAPPING_COLUMNS)
    return frame[list(MAPPING_COLUMNS)]


@dataclass(frozen=True)
class MappingUpdate:
    """What `remember` did: counts, and the file written."""

    added: int
    replaced: int
    unchanged: int
    path: Path


def remember(
    path: str | os.PathLike,
    decisions: pd.DataFrame,
    catalogue: Catalogue,
    *,
    now: datetime | None = None,
) -> MappingUpdate:
    """Add or replace mappings from `decisions` (columns state, code, title, course_id,
    decision) and write the file atomically. Every course_id must be in the catalogue."""
    require_columns(decisions, "decisions", "decisions", ("state", "title", "course_id"))
    decisions = decisions.copy()
    for column in ("code", "decision"):
        if column not in decisions.columns:
            decisions[column] = pd.Series(pd.NA, index=decisions.index, dtype="str")
    unknown = sorted(set(decisions["course_id"]) - set(catalogue.courses["course_id"]))
    if unknown:
        raise CourseFileError(
            f"course id(s) {unknown[:10]} are not in catalogue {catalogue.label}; choose a "
            "course_id from the catalogue"
        )
    bad = sorted(set(decisions["decision"].fillna("accepted")) - set(DECISIONS))
    if bad:
        raise CourseFileError(f"decision(s) {bad}: use one of {list(DECISIONS)}")
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    titles = catalogue.courses.set_index("course_id")["title"]
    new = pd.DataFrame(
        {
            "state": [state_code(s) for s in decisions["state"]],
            "code": decisions["code"].astype("str"),
            "title": decisions["title"].astype("str"),
            "title_key": normalize_titles(decisions["title"]),
            "course_id": decisions["course_id"].astype("str"),
            "course_title": decisions["course_id"].map(titles).astype("str"),
            "decision": decisions["decision"].fillna("accepted").astype("str"),
            "decided_at": stamp,
        }
    )
    empty = new["title_key"] == ""
    if empty.any():
        raise CourseFileError("a decision's title has no letters or digits; it cannot be keyed")
    new["code_key"] = code_keys(new["code"])
    # The last decision about a title in one batch is the one kept.
    new = new.drop_duplicates(_KEY, keep="last")
    old = read_mappings(path)
    old = old.assign(code_key=code_keys(old["code"]))
    joined = new.merge(old[[*_KEY, "course_id"]], on=_KEY, how="left", suffixes=("", "_old"))
    same = joined["course_id_old"] == joined["course_id"]
    replaced = joined["course_id_old"].notna() & ~same
    joined["replaced_course_id"] = joined["course_id_old"].where(replaced)
    fresh = joined[~same.fillna(False)]
    kept = old.merge(fresh[_KEY], on=_KEY, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"]
    out = pd.concat([kept[list(MAPPING_COLUMNS)], fresh[list(MAPPING_COLUMNS)]])
    out = out.sort_values(["state", "title_key", "code"], kind="stable", na_position="first")
    target = write_table(out.reset_index(drop=True), Path(path))
    return MappingUpdate(
        added=int((~replaced & ~same.fillna(False)).sum()),
        replaced=int(replaced.sum()),
        unchanged=int(same.fillna(False).sum()),
        path=target,
    )


def remembered_for(mappings: pd.DataFrame, state: str) -> pd.DataFrame:
    """One state's mappings keyed by code_key and title_key."""
    rows = mappings[mappings["state"].fillna("").str.upper() == state]
    return rows.assign(code_key=code_keys(rows["code"]))[
        ["code_key", "title_key", "course_id", "decision", "decided_at"]
    ].drop_duplicates(["code_key", "title_key"], keep="last")


#: What a specialist may write in the review file's `decision` column besides a course id.
ACCEPT_WORDS = frozenset({"ACCEPT", "ACCEPTED", "YES", "Y", "OK", "X"})
SKIP_WORDS = frozenset({"", "SKIP", "NO", "N", "?"})


def decisions_from_review(review: object, state: str, catalogue: Catalogue) -> pd.DataFrame:
    """The decisions a data specialist wrote into a review file (see crosswalk.CrosswalkResult):
    `accept` (or yes / y / ok / x) takes the top suggestion, a rank number (1, 2, 3) takes that
    suggestion, a catalogue course id corrects it, an empty cell or `skip` leaves the title
    undecided. Anything else is an error naming the rows, and nothing is remembered."""
    frame, label = read_text_table(review, "review file")
    require_columns(frame, label, "review file", ("title", "course_id_1", "decision"))
    if "code" not in frame.columns:
        frame["code"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    said = frame["decision"].fillna("").str.strip()
    word = said.str.upper()
    chosen = pd.Series(pd.NA, index=frame.index, dtype="str")
    chosen = chosen.mask(word.isin(ACCEPT_WORDS), frame["course_id_1"])
    ranks = [int(c.rsplit("_", 1)[1]) for c in frame.columns if c.startswith("course_id_")]
    for rank in ranks:
        chosen = chosen.mask(word == str(rank), frame[f"course_id_{rank}"])
    named = chosen.isna() & ~word.isin(SKIP_WORDS) & said.isin(catalogue.courses["course_id"])
    chosen = chosen.mask(named, said)
    unreadable = chosen.isna() & ~word.isin(SKIP_WORDS)
    if unreadable.any():
        rows = (unreadable.to_numpy().nonzero()[0] + 1).tolist()
        raise CourseFileError(
            f"review file {label}: decision in data row(s) {rows[:10]} is neither accept, a rank "
            f"({', '.join(map(str, ranks))}), skip nor a course_id of catalogue {catalogue.label}; "
            "nothing was remembered"
        )
    decided = frame[chosen.notna()]
    chosen = chosen[chosen.notna()]
    return pd.DataFrame(
        {
            "state": state_code(state),
            "code": decided["code"],
            "title": decided["title"],
            "course_id": chosen,
            "decision": (chosen == decided["course_id_1"]).map(
                {True: "accepted", False: "corrected"}
            ),
        }
    ).reset_index(drop=True)
