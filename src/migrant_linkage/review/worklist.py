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

from migrant_linkage.review.items import advance, proposal_type
from migrant_linkage.review.merge import merge_students, split_student, student_of, undo_merge
from migrant_linkage.review.store import ReviewError, first_row, next_id, ordered_pair, write_audit
from migrant_linkage.schema import INPUT_COLUMNS

DECISIONS = ("match", "not_a_match", "skip")
UNDECIDED = ("open", "skipped", "waiting")

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
    levels: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Worklist items with both records' state and student, oldest first (waiting items, which
    cannot be decided yet, after the others). `levels`: only items
    assigned to one of these escalation levels (not yet assigned counts as the lowest)."""
    where = ["w.status IN (SELECT unnest(?::VARCHAR[]))"]
    params: list[Any] = [list(status)]
    if levels is not None:
        where.append("coalesce(w.level, 'district') IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(levels))
    if state is not None:
        where.append("(l.submitting_state = ? OR r.submitting_state = ?)")
        params += [state.upper(), state.upper()]
    if older_than_days is not None:
        where.append("w.created_at <= ?")
        params.append(now - timedelta(days=older_than_days))
    sql = f"""
        SELECT w.item_id, w.status, w.level, w.reason, w.match_weight, w.match_probability,
               w.record_key_l, w.record_key_r,
               l.submitting_state AS state_l, r.submitting_state AS state_r,
               l.student_id AS student_l, r.student_id AS student_r,
               w.created_at, date_diff('day', w.created_at, ?::TIMESTAMP) AS age_days
        FROM worklist w
        LEFT JOIN records l ON l.record_key = w.record_key_l AND l.active
        LEFT JOIN records r ON r.record_key = w.record_key_r AND r.active
        WHERE {" AND ".join(where)}
        ORDER BY w.status = 'waiting', w.created_at, w.item_id
        {"LIMIT " + str(int(limit)) if limit else ""}"""
    return con.execute(sql, [now, *params]).df()


def show_item(con: duckdb.DuckDBPyConnection, item_id: int) -> dict[str, Any]:
    """The item, both records side by side (field, left, right), the evidence per comparison
    (comparison, level, weight), every record of each student involved (`students`: side,
    then the record's fields), what keeps the two students apart (`conflicts`: pairs across
    them decided not a match, and other undecided items between them, with who and why), and
    the evidence attached while the item was open (`new_evidence`)."""
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
    students = con.execute(
        f"""SELECT CASE WHEN r.student_id = (SELECT student_id FROM records
                                              WHERE active AND record_key = ?)
                        THEN 'left' ELSE 'right' END AS side, {cols}
            FROM records r WHERE active AND student_id IN (
                SELECT student_id FROM records WHERE active AND record_key IN (?, ?))
            ORDER BY side, record_key""",
        [item["record_key_l"], item["record_key_l"], item["record_key_r"]],
    ).df()
    left_keys = students.loc[students["side"] == "left", "record_key"].tolist()
    right_keys = students.loc[students["side"] == "right", "record_key"].tolist()
    conflicts = con.execute(
        """WITH latest AS (
               SELECT record_key_l, record_key_r, arg_max(decision, decision_id) AS decision,
                      arg_max(reviewer, decision_id) AS reviewer,
                      arg_max(comment, decision_id) AS comment,
                      arg_max(audit_id, decision_id) AS audit_id
               FROM decisions WHERE decision IN ('match', 'not_a_match') GROUP BY 1, 2)
           SELECT 'decided not a match' AS kind, record_key_l, record_key_r, reviewer,
                  comment AS reason, audit_id, NULL::BIGINT AS item_id
           FROM latest WHERE decision = 'not_a_match'
             AND ((list_contains(?::VARCHAR[], record_key_l)
                   AND list_contains(?::VARCHAR[], record_key_r))
               OR (list_contains(?::VARCHAR[], record_key_l)
                   AND list_contains(?::VARCHAR[], record_key_r)))
           UNION ALL
           SELECT 'undecided item', record_key_l, record_key_r, NULL, reason, NULL, item_id
           FROM worklist WHERE item_id <> ?
             AND status IN ('open', 'skipped', 'pending', 'waiting')
             AND ((list_contains(?::VARCHAR[], record_key_l)
                   AND list_contains(?::VARCHAR[], record_key_r))
               OR (list_contains(?::VARCHAR[], record_key_l)
                   AND list_contains(?::VARCHAR[], record_key_r)))
           ORDER BY 1, 2, 3""",
        [left_keys, right_keys, right_keys, left_keys, item_id]
        + [left_keys, right_keys, right_keys, left_keys],
    ).df()
    new_evidence = con.execute(
        "SELECT upload_id, changed_record, previous_weight, match_weight, recorded_at "
        "FROM item_evidence WHERE item_id = ? ORDER BY upload_id",
        [item_id],
    ).df()
    return {
        "item": item,
        "records": side,
        "evidence": evidence_frame,
        "students": students,
        "conflicts": conflicts,
        "new_evidence": new_evidence,
    }


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
    event = (
        "skip"
        if decision == "skip"
        else "propose"
        if two_person_rule and decision == "match"
        else "decide"
    )
    new_status = advance("item", status, event, label=f"worklist item {item_id}")
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
        pending_id = insert_proposal(
            con,
            kind="merge",
            item_id=item_id,
            pair=(l_key, r_key),
            reviewer=reviewer,
            comment=comment,
            at=at,
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
        con.execute("UPDATE worklist SET status = ? WHERE item_id = ?", [new_status, item_id])
        outcome.update(pending_id=pending_id, audit_id=audit_id, merged=False)
        return outcome
    if decision == "match":
        outcome.update(
            _merge_pair(
                con, (l_key, r_key), reviewer=reviewer, comment=comment, at=at, item_id=item_id
            )
        )
        con.execute(
            "UPDATE worklist SET status = ?, closed_at = ? WHERE item_id = ?",
            [new_status, at, item_id],
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
    """Merge the students of two records (if not already one) and remember the pair as a match.
    The "match" decision is written first, under the merge's (reserved) audit id, so deciding a
    reopened pair "match" is itself the explicit reversal of its earlier "not a match"; any other
    pair across the two students decided "not a match" still refuses the merge."""
    l_student, r_student = student_of(con, pair[0]), student_of(con, pair[1])
    reserved = next_id(con, "audit_log", "audit_id")
    _record_decision(
        con,
        item_id=item_id,
        pair=pair,
        decision="match",
        reviewer=validated_by or reviewer,
        comment=comment,
        at=at,
        audit_id=reserved,
    )
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
    assert audit_id == reserved  # one writer: the entry took the id the decision names
    return {"audit_id": audit_id, "student_id": survivor, "merged": merged}


def insert_proposal(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    item_id: int | None,
    pair: tuple[str, str] | None,
    reviewer: str,
    comment: str | None,
    at: datetime,
    payload: dict[str, Any] | None = None,
) -> int:
    """One row waiting for a second person; returns its pending id."""
    pending_id = next_id(con, "pending_merges", "pending_id")
    l_key, r_key = ordered_pair(*pair) if pair else (None, None)
    con.execute(
        """INSERT INTO pending_merges (pending_id, item_id, record_key_l, record_key_r,
               proposed_by, proposed_at, comment, status, kind, payload_json)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)""",
        [
            pending_id,
            item_id,
            l_key,
            r_key,
            reviewer,
            at,
            comment,
            kind,
            json.dumps(payload, sort_keys=True) if payload is not None else None,
        ],
    )
    return pending_id


def propose(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    *,
    pair: tuple[str, str] | None,
    payload: dict[str, Any],
    reviewer: str,
    comment: str | None,
    at: datetime,
) -> int:
    """A split, undo or model change under the two-person rule: audited, then waits for a
    second person (validate carries it out)."""
    # The model itself is not copied into the log (its digest is, when the change is made).
    write_audit(
        con,
        actor=reviewer,
        action=f"propose_{kind}",
        reason=comment,
        details={"pair": list(pair) if pair else None, **payload} if kind != "set_model" else {},
        at=at,
    )
    return insert_proposal(
        con,
        kind=kind,
        item_id=None,
        pair=pair,
        reviewer=reviewer,
        comment=comment,
        at=at,
        payload=payload,
    )


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
    pending_id = insert_proposal(
        con, kind="merge", item_id=None, pair=pair, reviewer=reviewer, comment=comment, at=at
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
            "SELECT item_id, record_key_l, record_key_r, proposed_by, status, comment, kind, "
            "payload_json FROM pending_merges WHERE pending_id = ?",
            [pending_id],
        )
    )
    if row is None:
        raise ReviewError(f"no pending merge {pending_id}")
    item_id, l_key, r_key, proposed_by, status, proposal_comment, kind, payload_json = row
    label = f"pending {kind} {pending_id}"
    new_pending = advance("proposal", status, "approve" if approve else "reject", label=label)
    if reviewer == proposed_by:
        raise ReviewError(
            f"{label} was proposed by {proposed_by}; a second, different reviewer must validate it"
        )
    item_id = None if item_id is None or pd.isna(item_id) else int(item_id)
    if kind != "merge":
        return _validate_proposal(
            con,
            pending_id,
            kind,
            json.loads(payload_json or "{}"),
            proposed_by=proposed_by,
            reviewer=reviewer,
            approve=approve,
            comment=comment or proposal_comment,
            at=at,
            new_status=new_pending,
        )
    if item_id is not None:
        item_status = _item(con, item_id)[2]
        new_item = advance(
            "item",
            item_status,
            "approve" if approve else "reject",
            label=f"worklist item {item_id}",
        )
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


def release_waiting(con: duckdb.DuckDBPyConnection, *, at: datetime) -> int:
    """Open the waiting items whose records are no longer locked (oldest first, one item per
    record), and resolve those whose two records are now one student. Runs at the end of every
    write (MasterIndex._write). Returns the number opened."""
    waiting = con.execute(
        """SELECT w.item_id, w.record_key_l, w.record_key_r,
                  l.student_id IS NOT DISTINCT FROM r.student_id AS same_student
           FROM worklist w
           LEFT JOIN records l ON l.record_key = w.record_key_l AND l.active
           LEFT JOIN records r ON r.record_key = w.record_key_r AND r.active
           WHERE w.status = 'waiting' ORDER BY w.item_id"""
    ).fetchall()
    if not waiting:
        return 0
    locked = {
        r[0]
        for r in con.execute(
            """SELECT record_key_l FROM worklist WHERE status IN ('open', 'skipped', 'pending')
               UNION SELECT record_key_r FROM worklist
               WHERE status IN ('open', 'skipped', 'pending')"""
        ).fetchall()
    }
    opened, resolved = [], []
    for item_id, left, right, same in waiting:  # waiting items are few
        if same:
            resolved.append(item_id)
        elif left not in locked and right not in locked:
            opened.append(item_id)
            locked.update((left, right))
    if resolved:
        con.execute(
            "UPDATE worklist SET status = 'resolved', closed_at = ? "
            "WHERE item_id IN (SELECT unnest(?::BIGINT[]))",
            [at, resolved],
        )
    if opened:
        con.execute(
            "UPDATE worklist SET status = 'open' WHERE item_id IN (SELECT unnest(?::BIGINT[]))",
            [opened],
        )
    return len(opened)


def _validate_proposal(
    con: duckdb.DuckDBPyConnection,
    pending_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    proposed_by: str,
    reviewer: str,
    approve: bool,
    comment: str | None,
    at: datetime,
    new_status: str,
) -> dict[str, Any]:
    """Carry out (or reject) a proposed split, undo or model change."""
    outcome: dict[str, Any] = {"pending_id": pending_id, "approved": approve, "kind": kind}
    if not approve:
        outcome["audit_id"] = write_audit(
            con,
            actor=reviewer,
            action=f"reject_{kind}",
            reason=comment,
            details={"pending_id": pending_id, "proposed_by": proposed_by},
            at=at,
        )
    elif kind == "split":
        audit_id, new_id = split_student(
            con,
            payload["student_id"],
            list(payload["leaving"]),
            actor=reviewer,
            reason=comment,
            at=at,
            details={"proposed_by": proposed_by, "validated_by": reviewer},
        )
        outcome.update(audit_id=audit_id, new_student_id=new_id)
    elif kind == "undo":
        outcome["audit_id"] = undo_merge(
            con,
            int(payload["target"]),
            actor=reviewer,
            reason=comment,
            at=at,
            details={"proposed_by": proposed_by, "validated_by": reviewer},
            cascade=bool(payload.get("cascade", False)),
        )
    elif kind == "set_model":
        from migrant_linkage.review.audit import model_digest
        from migrant_linkage.review.store import set_meta

        model_json = json.dumps(payload["settings"])
        set_meta(con, "model_json", model_json)
        outcome["audit_id"] = write_audit(
            con,
            actor=reviewer,
            action="set_model",
            reason=comment,
            details={
                "proposed_by": proposed_by,
                "validated_by": reviewer,
                "model_sha256": model_digest(model_json),
            },
            at=at,
        )
    else:
        raise ReviewError(f"pending {pending_id}: unknown kind {kind!r}")
    con.execute(
        "UPDATE pending_merges SET status = ?, closed_by = ?, closed_at = ? WHERE pending_id = ?",
        [new_status, reviewer, at, pending_id],
    )
    return outcome


def pending_kind(con: duckdb.DuckDBPyConnection, pending_id: int) -> tuple[str, list[str]]:
    """(kind, record keys) of a proposal: the records whose states decide who may validate."""
    row = first_row(
        con.execute(
            "SELECT kind, record_key_l, record_key_r, payload_json FROM pending_merges "
            "WHERE pending_id = ?",
            [pending_id],
        )
    )
    if row is None:
        raise ReviewError(f"no pending merge {pending_id}")
    kind, left, right, payload = row
    keys = [k for k in (left, right) if k]
    if kind == "split":
        keys += json.loads(payload)["leaving"]
    return kind, keys


def pending(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Proposals waiting for a second person, with their MSIX worklist type."""
    frame = con.execute(
        "SELECT * EXCLUDE (payload_json) FROM pending_merges WHERE status = 'pending' "
        "ORDER BY pending_id"
    ).df()
    frame.insert(
        1,
        "item_type",
        [proposal_type(k, i) for k, i in zip(frame["kind"], frame["item_id"], strict=True)],
    )
    return frame
