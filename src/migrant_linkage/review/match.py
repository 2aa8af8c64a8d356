"""Match one incoming record against the master index: the student it belongs to, the
candidates a person should look at, or "new".

The record is searched with every field it has (search.py: the index's own model and routing),
then judged by the zones an upload would give its pairs:

* **matched**: exactly one student has a pair in the match zone (the upload would join it);
* **review**: two or more students are in the match zone (an upload never merges students),
  or the best pairs are near matches: a person decides;
* **new**: nothing reaches the near-match zone.

With `commit`, the record then goes through the normal upload path (MasterIndex.upload: the
same standardization and rejects, guards, remembered decisions, worklist and audit), so a
committed match is exactly what uploading a one-record file would do. The outcome reports the
student the upload put the record in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from migrant_linkage.review.search import SearchError, SearchResult, search
from migrant_linkage.review.search_fields import QUERY_FIELDS
from migrant_linkage.review.store import ReviewError
from migrant_linkage.schema import INPUT_COLUMNS

MATCHED = "matched"
REVIEW = "review"
NEW = "new"

#: Candidate students returned with a match outcome.
MATCH_CANDIDATES = 10


@dataclass
class MatchOutcome:
    outcome: str  # matched / review / new
    student_id: str | None  # the matched student (outcome "matched")
    candidates: list[dict[str, Any]]
    record_key: str | None = None
    known_as: str | None = None  # the student already holding this record key, if any
    committed: dict[str, Any] | None = None
    search: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "student_id": self.student_id,
            "record_key": self.record_key,
            "known_as": self.known_as,
            "candidates": self.candidates,
            "committed": self.committed,
            "search": self.search,
        }


def judge(result: SearchResult) -> tuple[str, str | None]:
    """(outcome, student) from a search's candidates, by their zones."""
    matched = [c for c in result.candidates if c.zone == "match"]
    near = [c for c in result.candidates if c.zone == "near_match"]
    if len(matched) == 1 and not near:
        return MATCHED, matched[0].student_id
    if matched or near:
        return REVIEW, None
    return NEW, None


def match(
    index: Any,
    record: Mapping[str, Any],
    *,
    commit: bool = False,
    reviewer: str | None = None,
    state: str | None = None,
) -> MatchOutcome:
    """Match `record` (record-contract fields; `record_id` and the submitting `state` are needed
    to commit) against `index`; with `commit`, upload it as a one-record file."""
    unknown = sorted(set(record) - set(INPUT_COLUMNS))
    if unknown:
        raise SearchError(f"unknown record fields {unknown}; use the record contract's columns")
    query = {k: v for k, v in record.items() if k in QUERY_FIELDS}
    result = search(
        index, query, page_size=MATCH_CANDIDATES, include_non_matches=False, strict_dates=False
    )
    outcome, student = judge(result)
    submitting = (state or record.get("state") or "").strip().upper() or None
    record_id = str(record.get("record_id") or "").strip() or None
    key = f"{submitting}:{record_id}" if submitting and record_id else None
    known_as = _student_of(index, key) if key else None
    found = MatchOutcome(
        outcome=outcome,
        student_id=student,
        candidates=[c.as_dict() for c in result.candidates],
        record_key=key,
        known_as=known_as,
        search={k: v for k, v in result.as_dict().items() if k != "candidates"},
    )
    if commit:
        if not reviewer or not str(reviewer).strip():
            raise ReviewError("committing a match needs a reviewer id (who sent it)")
        if key is None:
            raise ReviewError("committing a match needs record_id and the submitting state")
        frame = pd.DataFrame([{c: record.get(c) for c in INPUT_COLUMNS}], dtype="str")
        frame["record_id"] = record_id
        frame["state"] = record.get("state") or submitting
        report = index.upload(frame, state=submitting, actor=reviewer, source_name="match")
        found.committed = {
            "upload_id": report.upload_id,
            "counts": report.counts,
            "student_id": _student_of(index, key),
        }
    return found


def _student_of(index: Any, key: str) -> str | None:
    with index._read() as con:
        rows = con.execute(
            "SELECT student_id FROM records WHERE active AND record_key = ?", [key]
        ).fetchall()
    return rows[0][0] if rows else None
