"""The worklist: near matches a person decides, and the optional two-person rule.

Item statuses: open (waiting), skipped (someone looked and passed; still to decide), pending
(a merge proposed, waiting for a second reviewer), decided, resolved (a merge put both records
in one student), superseded (a record changed in a later upload; the pair was scored again and
queued afresh if still close).

Decisions are remembered: the latest "match" or "not_a_match" per pair is what an upload
honours, so a pair decided "not a match" never returns to the worklist and is never merged
automatically. Every decision also writes an audit entry.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.review.merge import merge_students, student_of
from migrant_linkage.review.store import ReviewError, first_row, next_id, ordered_pair, write_audit
from migrant_linkage.schema import INPUT_COLUMNS

DECISIONS = ("match", "not_a_match", "skip")
UNDECIDED = ("open", "skipped")

#: Fields shown side by side: the raw contract columns and the key standardized ones.
SIDE_BY_SIDE_COLUMNS: tuple[str, ...] = (
    "record_key",
    "student_id",
    *[c for c in INPUT_COLUMNS if c != "record_id"],
    "given_name_full",
    "surname_full",
    "birth_date_std",
    "birth_date_verified",
    "sex_std",
    "parent_given_a",
    "parent_given_b",
    "parent_surnames_key",
    "quality_flags",
)


def normalise_decision(decision: str) -> str:
    value = decision.strip().lower().replace("-", "_").replace(" ", "_")
    if value in ("same", "same_student", "merge"):
        value = "match"
    if value in ("different", "different_students", "not_match", "no_match"):
        value = "not_a_match"
    if value not in DECISIONS:
        raise ReviewError(f"decision {decision!r}: use match, not-a-match or skip")
    return value


def list_items(
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    state: str | None = None,
    older_than_days: float | None = None,
    status: tuple[str, ...] = UNDECIDED,
    limit: int | None = None,
) -> pd.DataFrame:
    """Worklist items with both records' state and student, oldest first."""
    where = ["w.status IN (SELECT unnest(?::VARCHAR[]))"]
    params: list[Any] = [list(status)]
    if state is not None:
        where.append("(l.submitting_state = ? OR r.submitting_state = ?)")
        params += [state.upper(), state.upper()]
    if older_than_days is not None:
        where.append("w.created_at <= ?")
        params.append(now - timedelta(days=older_than_days))
    sql = f"""
        SELECT w.item_id, w.status, w.reason, w.match_weight, w.match_probability,
               w.record_key_l, w.record_key_r,
               l.submitting_state AS state_l, r.submitting_state AS state_r,
               l.student_id AS student_l, r.student_id AS student_r,
               w.created_at, date_diff('day', w.created_at, ?::TIMESTAMP) AS age_days
        FROM worklist w
        LEFT JOIN records l ON l.record_key = w.record_key_l AND l.active
        LEFT JOIN records r ON r.record_key = w.record_key_r AND r.active
        WHERE {" AND ".join(where)}
        ORDER BY w.created_at, w.item_id
        {"LIMIT " + str(int(limit)) if limit else ""}"""
    return con.execute(sql, [now, *params]).df()


def show_item(con: duckdb.DuckDBPyConnection, item_id: int) -> dict[str, Any]:
    """The item, both records side by side (field, left, right), and the evidence per
    comparison (comparison, level, weight)."""
    row = con.execute("SELECT * FROM worklist WHERE item_id = ?", [item_id]).df()
    if row.empty:
        raise ReviewError(f"no worklist item {item_id}")
    item = row.iloc[0].to_dict()
    cols = ", ".join(SIDE_BY_SIDE_COLUMNS)
    records = (
        con.execute(
            f"SELECT {cols} FROM records WHERE active AND record_key IN (?, ?)",
            [item["record_key_l"], item["record_key_r"]],
        )
        .df()
        .set_index("record_key")
    )
    left = records.loc[item["record_key_l"]] if item["record_key_l"] in records.index else None
    right = records.loc[item["record_key_r"]] if item["record_key_r"] in records.index else None
    fields = [c for c in SIDE_BY_SIDE_COLUMNS if c != "record_key"]
    side = pd.DataFrame(
        {
            "field": ["record_key", *fields],
            "left": [item["record_key_l"], *[None if left is None else left[f] for f in fields]],
            "right": [item["record_key_r"], *[None if right is None else right[f] for f in fields]],
        }
    )
    evidence = json.loads(item.get("evidence_json") or "{}")
    evidence_frame = pd.DataFrame(
        [
            {"comparison": name, "level": ev.get("level"), "weight": ev.get("weight")}
            for name, ev in evidence.items()
        ],
        columns=["comparison", "level", "weight"],
    )
    return {"item": item, "records": side, "evidence": evidence_frame}


def _item(con: duckdb.DuckDBPyConnection, item_id: int) -> tuple[str, str, str]:
    row = first_row(
        con.execute(
            "SELECT record_key_l, record_key_r, status FROM worklist WHERE item_id = ?", [item_id]
        )
    )
    if row is None:
        raise ReviewError(f"no worklist item {item_id}")
    return row


def _record_decision(
    con: duckdb.DuckDBPyConnection,
    *,
    item_id: int | None,
    pair: tuple[str, str],
    decision: str,
    reviewer: str,
    comment: str | None,
    at: datetime,
    audit_id: int,
) -> int:
    decision_id = next_id(con, "decisions", "decision_id")
    l_key, r_key = ordered_pair(*pair)
    con.execute(
        "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [decision_id, item_id, l_key, r_key, decision, reviewer, comment, at, audit_id],
    )
    return decision_id


def _check_reviewer(reviewer: str) -> str:
    if not reviewer or not reviewer.strip():
        raise ReviewError("a reviewer id is required (who decided)")
    return reviewer.strip()


def decide(
    con: duckdb.DuckDBPyConnection,
    item_id: int,
    decision: str,
    *,
    reviewer: str,
    comment: str | None,
    at: datetime,
    two_person_rule: bool,
) -> dict[str, Any]:
    """Record a reviewer's decision on one item; merge (or propose a merge) on "match"."""
    reviewer = _check_reviewer(reviewer)
    decision = normalise_decision(decision)
    l_key, r_key, status = _item(con, item_id)
    if status not in UNDECIDED:
        raise ReviewError(f"worklist item {item_id} is {status}, not open; nothing to decide")
    outcome: dict[str, Any] = {"item_id": item_id, "decision": decision}
    if decision == "match" and two_person_rule:
        audit_id = write_audit(
            con,
            actor=reviewer,
            action="propose_merge",
            reason=comment,
            details={"item_id": item_id, "pair": [l_key, r_key]},
            at=at,
        )
        pending_id = next_id(con, "pending_merges", "pending_id")
        con.execute(
            "INSERT INTO pending_merges VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL)",
            [pending_id, item_id, l_key, r_key, reviewer, at, comment],
        )
        _record_decision(
            con,
            item_id=item_id,
            pair=(l_key, r_key),
            decision="propose_match",
            reviewer=reviewer,
            comment=comment,
            at=at,
            audit_id=audit_id,
        )
        con.execute("UPDATE worklist SET status = 'pending' WHERE item_id = ?", [item_id])
        outcome.update(pending_id=pending_id, audit_id=audit_id, merged=False)
        return outcome
    if decision == "match":
        outcome.update(
            _merge_pair(
                con, (l_key, r_key), reviewer=reviewer, comment=comment, at=at, item_id=item_id
            )
        )
        con.execute(
            "UPDATE worklist SET status = 'decided', closed_at = ? WHERE item_id = ?",
            [at, item_id],
        )
        return outcome
    audit_id = write_audit(
        con,
        actor=reviewer,
        action="decide",
        reason=comment,
        details={"item_id": item_id, "pair": [l_key, r_key], "decision": decision},
        at=at,
    )
    _record_decision(
        con,
        item_id=item_id,
        pair=(l_key, r_key),
        decision=decision,
        reviewer=reviewer,
        comment=comment,
        at=at,
        audit_id=audit_id,
    )
    new_status = "skipped" if decision == "skip" else "decided"
    con.execute(
        "UPDATE worklist SET status = ?, closed_at = ? WHERE item_id = ?",
        [new_status, None if decision == "skip" else at, item_id],
    )
    outcome.update(audit_id=audit_id, merged=False)
    return outcome


def _merge_pair(
    con: duckdb.DuckDBPyConnection,
    pair: tuple[str, str],
    *,
    reviewer: str,
    comment: str | None,
    at: datetime,
    item_id: int | None,
    validated_by: str | None = None,
) -> dict[str, Any]:
    """Merge the students of two records (if not already one) and remember the pair as a match."""
    l_student, r_student = student_of(con, pair[0]), student_of(con, pair[1])
    details = {"item_id": item_id, "pairs": [list(ordered_pair(*pair))]}
    if validated_by:
        details.update(proposed_by=reviewer, validated_by=validated_by)
    if l_student == r_student:
        audit_id = write_audit(
            con,
            actor=validated_by or reviewer,
            action="decide",
            reason=comment,
            details={**details, "decision": "match", "note": "already one student"},
            at=at,
        )
        survivor, merged = l_student, False
    else:
        audit_id, survivor = merge_students(
            con,
            [l_student, r_student],
            actor=validated_by or reviewer,
            reason=comment,
            at=at,
            details=details,
        )
        merged = True
    _record_decision(
        con,
        item_id=item_id,
        pair=pair,
        decision="match",
        reviewer=validated_by or reviewer,
        comment=comment,
        at=at,
        audit_id=audit_id,
    )
    return {"audit_id": audit_id, "student_id": survivor, "merged": merged}


def propose_merge(
    con: duckdb.DuckDBPyConnection,
    pair: tuple[str, str],
    *,
    reviewer: str,
    comment: str | None,
    at: datetime,
) -> int:
    """A hand merge under the two-person rule: wait for a second reviewer."""
    reviewer = _check_reviewer(reviewer)
    audit_id = write_audit(
        con,
        actor=reviewer,
        action="propose_merge",
        reason=comment,
        details={"item_id": None, "pair": list(pair)},
        at=at,
    )
    pending_id = next_id(con, "pending_merges", "pending_id")
    con.execute(
        "INSERT INTO pending_merges VALUES (?, NULL, ?, ?, ?, ?, ?, 'pending', NULL, NULL)",
        [pending_id, *ordered_pair(*pair), reviewer, at, comment],
    )
    _record_decision(
        con,
        item_id=None,
        pair=pair,
        decision="propose_match",
        reviewer=reviewer,
        comment=comment,
        at=at,
        audit_id=audit_id,
    )
    return pending_id


def validate(
    con: duckdb.DuckDBPyConnection,
    pending_id: int,
    *,
    reviewer: str,
    approve: bool,
    comment: str | None,
    at: datetime,
) -> dict[str, Any]:
    """Second reviewer: approve (the merge takes effect) or reject (the item reopens)."""
    reviewer = _check_reviewer(reviewer)
    row = first_row(
        con.execute(
            "SELECT item_id, record_key_l, record_key_r, proposed_by, status, comment "
            "FROM pending_merges WHERE pending_id = ?",
            [pending_id],
        )
    )
    if row is None:
        raise ReviewError(f"no pending merge {pending_id}")
    item_id, l_key, r_key, proposed_by, status, proposal_comment = row
    if status != "pending":
        raise ReviewError(f"pending merge {pending_id} is {status}; nothing to validate")
    if reviewer == proposed_by:
        raise ReviewError(
            f"pending merge {pending_id} was proposed by {proposed_by}; a second, different "
            "reviewer must validate it"
        )
    item_id = None if item_id is None or pd.isna(item_id) else int(item_id)
    if approve:
        outcome = _merge_pair(
            con,
            (l_key, r_key),
            reviewer=proposed_by,
            comment=comment or proposal_comment,
            at=at,
            item_id=item_id,
            validated_by=reviewer,
        )
        new_pending, new_item = "validated", "decided"
    else:
        audit_id = write_audit(
            con,
            actor=reviewer,
            action="reject_merge",
            reason=comment,
            details={"pending_id": pending_id, "item_id": item_id, "pair": [l_key, r_key]},
            at=at,
        )
        _record_decision(
            con,
            item_id=item_id,
            pair=(l_key, r_key),
            decision="reject_match",
            reviewer=reviewer,
            comment=comment,
            at=at,
            audit_id=audit_id,
        )
        outcome = {"audit_id": audit_id, "merged": False}
        new_pending, new_item = "rejected", "open"
    con.execute(
        "UPDATE pending_merges SET status = ?, closed_by = ?, closed_at = ? WHERE pending_id = ?",
        [new_pending, reviewer, at, pending_id],
    )
    if item_id is not None:
        con.execute(
            "UPDATE worklist SET status = ?, closed_at = ? WHERE item_id = ?",
            [new_item, at if new_item == "decided" else None, item_id],
        )
    return {"pending_id": pending_id, "approved": approve, **outcome}


def pending_pair(con: duckdb.DuckDBPyConnection, pending_id: int) -> tuple[str, str]:
    row = first_row(
        con.execute(
            "SELECT record_key_l, record_key_r FROM pending_merges WHERE pending_id = ?",
            [pending_id],
        )
    )
    if row is None:
        raise ReviewError(f"no pending merge {pending_id}")
    return row[0], row[1]


def pending(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT * FROM pending_merges WHERE status = 'pending' ORDER BY pending_id"
    ).df()
