"""Merge, split and undo: the only code that moves records between students.

Every move is written to the audit log in the same transaction: one `audit_log` row (who, when,
action, why, details) and one `audit_changes` row per record moved (student before and after).
Undo reads those rows back, so any merge can be reversed however long ago it happened.

Rules (master-patient-index practice and the MSIX process):

* a merge keeps the ID of the oldest student (the lowest number); the others are absorbed and
  remember which student absorbed them (`students.merged_into`);
* a split keeps the original ID on the records that stay and mints one new ID for the records
  that leave; every pair across the split is remembered as "not a match";
* undoing a merge moves the absorbed records back to the student they came from and remembers
  the merged pair(s) as "not a match", so a later upload does not merge them again;
* decisions are constraints: a pair whose latest decision is "not a match" never ends up in one
  student through a merge or an undo (`check_no_not_a_match`, run by every move here) unless the
  reviewer explicitly reverses it (`reverse_decisions=True`, which records "match" for each such
  pair in the same audit entry); an undo refuses when a later entry moved the records it would
  restore, naming that entry (or, with `cascade=True`, undoes the later merges first).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.review.store import (
    ReviewError,
    first_row,
    next_id,
    ordered_pair,
    reserve_student_numbers,
    student_id_sql,
    write_audit,
)

MERGE_ACTIONS = ("merge", "auto_merge")


def mint_students(
    con: duckdb.DuckDBPyConnection, n: int, *, audit_id: int, at: datetime
) -> list[str]:
    """Create n new student IDs (consecutive numbers) and return them in order."""
    if n <= 0:
        return []
    first = reserve_student_numbers(con, n)
    rows = con.execute(
        f"SELECT {student_id_sql('s')} FROM range(?, ?) t(s) ORDER BY s", [first, first + n]
    ).fetchall()
    ids = [r[0] for r in rows]
    con.execute("INSERT INTO students SELECT unnest(?::VARCHAR[]), ?, ?, NULL", [ids, at, audit_id])
    return ids


def move_records(con: duckdb.DuckDBPyConnection, moves: pd.DataFrame, *, audit_id: int) -> int:
    """Give each active record in `moves` (record_key, student_id) its new student, writing one
    audit_changes row per record whose student actually changes. Returns the number moved."""
    if moves.empty:
        return 0
    con.register("_moves", moves[["record_key", "student_id"]])
    try:
        con.execute(
            """INSERT INTO audit_changes
               SELECT ?, r.record_key, r.student_id, m.student_id, r.content_hash, r.content_hash
               FROM records r JOIN _moves m USING (record_key)
               WHERE r.active AND r.student_id IS DISTINCT FROM m.student_id""",
            [audit_id],
        )
        (moved,) = first_row(
            con.execute("SELECT count(*) FROM audit_changes WHERE audit_id = ?", [audit_id])
        )
        con.execute(
            """UPDATE records SET student_id = m.student_id
               FROM _moves m
               WHERE records.record_key = m.record_key AND records.active
                 AND records.student_id IS DISTINCT FROM m.student_id"""
        )
    finally:
        con.unregister("_moves")
    return int(moved)


def active_records_of(con: duckdb.DuckDBPyConnection, student_id: str) -> list[str]:
    rows = con.execute(
        "SELECT record_key FROM records WHERE active AND student_id = ? ORDER BY record_key",
        [student_id],
    ).fetchall()
    return [r[0] for r in rows]


def student_of(con: duckdb.DuckDBPyConnection, record_key: str) -> str:
    row = first_row(
        con.execute("SELECT student_id FROM records WHERE active AND record_key = ?", [record_key])
    )
    if row is None:
        raise ReviewError(f"record {record_key} is not in the index")
    return row[0]


def remember_not_a_match(
    con: duckdb.DuckDBPyConnection,
    pairs: list[tuple[str, str]],
    *,
    reviewer: str,
    comment: str,
    at: datetime,
    audit_id: int,
) -> None:
    """Record "not a match" for each pair so no upload merges or queues it again."""
    if not pairs:
        return
    first = next_id(con, "decisions", "decision_id")
    frame = pd.DataFrame(sorted({ordered_pair(a, b) for a, b in pairs}), columns=["l", "r"])
    frame["decision_id"] = range(first, first + len(frame))
    con.register("_nam", frame)
    try:
        con.execute(
            """INSERT INTO decisions
               SELECT decision_id, NULL, l, r, 'not_a_match', ?, ?, ?, ? FROM _nam""",
            [reviewer, comment, at, audit_id],
        )
    finally:
        con.unregister("_nam")


LATEST_NOT_A_MATCH_SQL = """
    WITH latest AS (
        SELECT record_key_l AS l, record_key_r AS r, arg_max(decision, decision_id) AS decision,
               arg_max(audit_id, decision_id) AS audit_id
        FROM decisions WHERE decision IN ('match', 'not_a_match') GROUP BY 1, 2)
    SELECT latest.l, latest.r, a.student_id AS student_l, b.student_id AS student_r,
           latest.audit_id
    FROM latest
    JOIN records a ON a.record_key = latest.l AND a.active
    JOIN records b ON b.record_key = latest.r AND b.active
    WHERE latest.decision = 'not_a_match'
      AND a.student_id IN (SELECT unnest(?::VARCHAR[]))
      AND b.student_id IN (SELECT unnest(?::VARCHAR[]))
"""


def not_a_match_pairs(con: duckdb.DuckDBPyConnection, students: list[str]) -> pd.DataFrame:
    """Pairs whose latest decision is "not a match" with both records in `students` (columns
    l, r, student_l, student_r, audit_id)."""
    return con.execute(LATEST_NOT_A_MATCH_SQL, [students, students]).df()


def check_no_not_a_match(con: duckdb.DuckDBPyConnection, students: list[str]) -> None:
    """Refuse (ReviewError) when a pair decided "not a match" sits inside one of `students`."""
    pairs = not_a_match_pairs(con, students)
    inside = pairs[pairs["student_l"] == pairs["student_r"]]
    if len(inside):
        first = inside.iloc[0]
        raise ReviewError(
            f"{len(inside)} pair(s) decided not a match would end up in one student (first: "
            f"{first['l']} and {first['r']}, audit entry {int(first['audit_id'])}); reverse "
            "that decision explicitly to go ahead"
        )


def merge_students(
    con: duckdb.DuckDBPyConnection,
    student_ids: list[str],
    *,
    actor: str,
    reason: str | None,
    at: datetime,
    action: str = "merge",
    details: dict[str, Any] | None = None,
    reverse_decisions: bool = False,
) -> tuple[int, str]:
    """Merge the students into the oldest of them. Returns (audit_id, surviving student_id).
    Refuses when a pair across them was decided "not a match", unless `reverse_decisions`
    (then each such pair is recorded as "match", by `actor`, under this merge's entry)."""
    distinct = sorted(set(student_ids))
    if len(distinct) < 2:
        raise ReviewError("a merge needs two different students")
    known = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT student_id FROM records WHERE active AND student_id IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [distinct],
        ).fetchall()
    }
    missing = [s for s in distinct if s not in known]
    if missing:
        raise ReviewError(f"no active records for student(s) {', '.join(missing)}")
    survivor, absorbed = distinct[0], distinct[1:]
    blocking = not_a_match_pairs(con, distinct)
    blocking = blocking[blocking["student_l"] != blocking["student_r"]]
    if len(blocking) and not reverse_decisions:
        first = blocking.iloc[0]
        raise ReviewError(
            f"students {', '.join(distinct)} hold {len(blocking)} pair(s) decided not a match "
            f"(first: {first['l']} and {first['r']}, audit entry {int(first['audit_id'])}); "
            "the merge is refused unless that decision is explicitly reversed"
        )
    reversed_pairs = sorted(zip(blocking["l"], blocking["r"], strict=True))
    extra = {"reversed_not_a_match": [list(p) for p in reversed_pairs]} if reversed_pairs else {}
    audit_id = write_audit(
        con,
        actor=actor,
        action=action,
        reason=reason,
        details={"survivor": survivor, "absorbed": absorbed, **(details or {}), **extra},
        at=at,
    )
    if reversed_pairs:
        first_id = next_id(con, "decisions", "decision_id")
        con.executemany(
            "INSERT INTO decisions VALUES (?, NULL, ?, ?, 'match', ?, ?, ?, ?)",
            [
                [first_id + i, left, right, actor, "reverses not a match", at, audit_id]
                for i, (left, right) in enumerate(reversed_pairs)
            ],
        )
    moves = con.execute(
        "SELECT record_key, ? AS student_id FROM records WHERE active AND student_id IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [survivor, absorbed],
    ).df()
    move_records(con, moves, audit_id=audit_id)
    con.execute(
        "UPDATE students SET merged_into = ? WHERE student_id IN (SELECT unnest(?::VARCHAR[]))",
        [survivor, absorbed],
    )
    resolve_items_within(con, survivor, at=at)
    return audit_id, survivor


def resolve_items_within(con: duckdb.DuckDBPyConnection, student_id: str, *, at: datetime) -> None:
    """Close undecided worklist items whose two records now belong to one student: the merge
    settled them (status 'resolved')."""
    con.execute(
        """UPDATE worklist SET status = 'resolved', closed_at = ?
           WHERE status IN ('open', 'skipped')
             AND record_key_l IN (SELECT record_key FROM records WHERE active AND student_id = ?)
             AND record_key_r IN (SELECT record_key FROM records WHERE active AND student_id = ?)""",
        [at, student_id, student_id],
    )


def split_student(
    con: duckdb.DuckDBPyConnection,
    student_id: str,
    leaving: list[str],
    *,
    actor: str,
    reason: str | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> tuple[int, str]:
    """Move the `leaving` records of a student to one new student. Returns (audit_id, new ID)."""
    members = active_records_of(con, student_id)
    if not members:
        raise ReviewError(f"student {student_id} has no active records")
    leaving = sorted(set(leaving))
    strangers = [k for k in leaving if k not in set(members)]
    if strangers:
        raise ReviewError(f"record(s) {', '.join(strangers)} do not belong to student {student_id}")
    staying = [k for k in members if k not in set(leaving)]
    if not leaving or not staying:
        raise ReviewError("a split must leave at least one record on each side")
    audit_id = next_id(con, "audit_log", "audit_id")
    (new_id,) = mint_students(con, 1, audit_id=audit_id, at=at)
    write_audit(
        con,
        actor=actor,
        action="split",
        reason=reason,
        details={
            "student_id": student_id,
            "new_student_id": new_id,
            "leaving": leaving,
            "staying": staying,
            **(details or {}),
        },
        at=at,
        audit_id=audit_id,
    )
    move_records(
        con, pd.DataFrame({"record_key": leaving, "student_id": new_id}), audit_id=audit_id
    )
    remember_not_a_match(
        con,
        [(a, b) for a in leaving for b in staying],
        reviewer=actor,
        comment=f"split (audit {audit_id})",
        at=at,
        audit_id=audit_id,
    )
    return audit_id, new_id


def undo_merge(
    con: duckdb.DuckDBPyConnection,
    target: int,
    *,
    actor: str,
    reason: str | None,
    at: datetime,
    details: dict[str, Any] | None = None,
    cascade: bool = False,
) -> int:
    """Reverse the merge written as audit entry `target`. Returns the undo's audit_id.
    Refuses, naming the entries, when later entries moved the records it would move back;
    with `cascade`, undoes those later merges first (newest first) and refuses if one of them
    is not a merge."""
    row = first_row(
        con.execute("SELECT action, details_json FROM audit_log WHERE audit_id = ?", [target])
    )
    if row is None:
        raise ReviewError(f"no audit entry {target}")
    action, details_json = row
    if action not in MERGE_ACTIONS:
        raise ReviewError(f"audit entry {target} is a {action!r}, not a merge; only merges undo")
    done = first_row(
        con.execute(
            "SELECT audit_id FROM audit_log WHERE action = 'undo' "
            "AND json_extract(details_json, '$.target')::BIGINT = ?",
            [target],
        )
    )
    if done is not None:
        raise ReviewError(f"audit entry {target} was already undone by entry {done[0]}")
    extra = details or {}
    details = json.loads(details_json)
    later = _later_moves(con, target)
    if later:
        if not cascade:
            raise ReviewError(
                f"audit entry {target} cannot be undone alone: later entries "
                f"{', '.join(str(a) for a, _ in later)} moved the records it would move back; "
                "undo those first (or ask for the cascade)"
            )
        blockers = [f"{a} ({act})" for a, act in later if act not in MERGE_ACTIONS]
        if blockers:
            raise ReviewError(
                f"audit entry {target} cannot be undone: later entries {', '.join(blockers)} "
                "are not merges and undo does not reverse them"
            )
        for later_id, _ in sorted(later, reverse=True):
            undo_merge(
                con, later_id, actor=actor, reason=reason, at=at, details=extra, cascade=True
            )
        extra = {**extra, "cascaded": [a for a, _ in later]}
    changes = con.execute(
        """SELECT c.record_key, c.before_student, c.after_student
           FROM audit_changes c JOIN records r ON r.record_key = c.record_key AND r.active
           WHERE c.audit_id = ? ORDER BY c.record_key""",
        [target],
    ).df()
    if changes.empty:
        raise ReviewError(f"audit entry {target} moved no record that is still in the index")
    audit_id = write_audit(
        con,
        actor=actor,
        action="undo",
        reason=reason,
        details={"target": target, "target_action": action, **extra},
        at=at,
    )
    # Records that had no student before (new records an upload joined to a student) leave
    # together under one new ID; the others go back to the student they came from.
    back = changes["before_student"].copy()
    homeless = back.isna()
    if homeless.any():
        (new_id,) = mint_students(con, 1, audit_id=audit_id, at=at)
        back[homeless] = new_id
    restored = sorted(set(changes.loc[~homeless, "before_student"]))
    con.execute(
        "UPDATE students SET merged_into = NULL WHERE student_id IN (SELECT unnest(?::VARCHAR[]))",
        [restored],
    )
    move_records(
        con,
        pd.DataFrame({"record_key": changes["record_key"], "student_id": back}),
        audit_id=audit_id,
    )
    # Remember the pairs that caused the merge as "not a match".
    evidence = [tuple(p) for p in details.get("pairs", [])]
    if not evidence:
        moved = set(changes["record_key"])
        survivor = details.get("survivor")
        stayers = [k for k in active_records_of(con, survivor)] if survivor else []
        evidence = [(a, b) for a in sorted(moved) for b in stayers if b not in moved]
    remember_not_a_match(
        con,
        evidence,
        reviewer=actor,
        comment=f"undo of audit {target}",
        at=at,
        audit_id=audit_id,
    )
    check_no_not_a_match(con, sorted({*back.dropna(), *changes["after_student"].dropna()}))
    return audit_id


def _later_moves(con: duckdb.DuckDBPyConnection, target: int) -> list[tuple[int, str]]:
    """(audit_id, action) of the later entries that moved a record `target` moved (and that
    were not themselves undone), oldest first."""
    rows = con.execute(
        """SELECT DISTINCT a.audit_id, a.action
           FROM audit_changes t
           JOIN audit_changes c ON c.record_key = t.record_key AND c.audit_id > t.audit_id
           JOIN audit_log a ON a.audit_id = c.audit_id
           WHERE t.audit_id = ? AND a.action NOT IN ('undo', 'upload')
             AND c.before_student IS DISTINCT FROM c.after_student
             AND NOT EXISTS (
                 SELECT 1 FROM audit_log u WHERE u.action = 'undo'
                   AND json_extract(u.details_json, '$.target')::BIGINT = a.audit_id)
           ORDER BY a.audit_id""",
        [target],
    ).fetchall()
    return [(int(a), str(act)) for a, act in rows]
