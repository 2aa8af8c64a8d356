"""The tamper-evident audit log: every entry carries a SHA-256 hash chained over the previous
entry's hash and its own content.

An entry's content is its row (id, time, actor, action, reason, details) plus digests of the
rows written under it in `audit_changes` (which record moved where) and `decisions`. So editing
an actor, a reason, a decision or a record's move, deleting or inserting an entry in the middle,
or reordering entries breaks the chain at that entry, and `verify` names it.

Hashes are written by `seal` at the end of every write transaction (store.run_in_transaction),
once for all the entries the transaction added, so code that appends entries in bulk (an upload's
auto-merges) needs no change. The digests of the changed and decision rows are computed in SQL,
one pass per transaction; Python hashes one line per entry.

Limits (docs/review-workflow.md): someone able to rewrite the file can recompute every hash from
the point they edit, and can drop the newest entries. `verify` returns the head hash (the last
entry's) so it can be kept somewhere the index's writers cannot reach and compared later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import duckdb
import pandas as pd

GENESIS = "0" * 64

#: Digest per audit entry of the rows written under it (SQL: one pass over the new rows).
_DIGESTS_SQL = """
    WITH c AS (
        SELECT audit_id, sha256(string_agg(
            concat_ws(chr(31), record_key, coalesce(before_student, chr(30)),
                      coalesce(after_student, chr(30)), coalesce(before_hash, chr(30)),
                      coalesce(after_hash, chr(30))),
            chr(30) ORDER BY record_key, before_student, after_student)) AS changes
        FROM audit_changes WHERE audit_id >= ? GROUP BY audit_id),
    d AS (
        SELECT audit_id, sha256(string_agg(
            concat_ws(chr(31), CAST(decision_id AS VARCHAR), coalesce(CAST(item_id AS VARCHAR),
                      chr(30)), record_key_l, record_key_r, decision, reviewer,
                      coalesce(comment, chr(30))),
            chr(30) ORDER BY decision_id)) AS decisions
        FROM decisions WHERE audit_id >= ? GROUP BY audit_id)
    SELECT a.audit_id, a.logged_at, a.actor, a.action, a.reason, a.details_json,
           coalesce(c.changes, '') AS changes, coalesce(d.decisions, '') AS decisions,
           a.prev_hash, a.entry_hash
    FROM audit_log a LEFT JOIN c USING (audit_id) LEFT JOIN d USING (audit_id)
    WHERE a.audit_id >= ? ORDER BY a.audit_id
"""


def entry_hash(prev_hash: str, row: tuple) -> str:
    """SHA-256 of the previous hash and one entry's content (row from _DIGESTS_SQL)."""
    audit_id, logged_at, actor, action, reason, details, changes, decisions = row[:8]
    content = json.dumps(
        [
            int(audit_id),
            pd.Timestamp(logged_at).isoformat(),
            actor,
            action,
            reason,
            details,
            changes,
            decisions,
        ],
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{prev_hash}\x1f{content}".encode()).hexdigest()


def seal(con: duckdb.DuckDBPyConnection) -> int:
    """Hash the entries this transaction appended (those without a hash), in id order, chained
    on the last sealed entry. Returns the number sealed."""
    row = con.execute("SELECT min(audit_id) FROM audit_log WHERE entry_hash IS NULL").fetchone()
    first = row[0] if row else None
    if first is None:
        return 0
    before = con.execute(
        "SELECT entry_hash FROM audit_log WHERE audit_id < ? ORDER BY audit_id DESC LIMIT 1",
        [first],
    ).fetchone()
    prev = before[0] if before else GENESIS
    rows = con.execute(_DIGESTS_SQL, [first, first, first]).fetchall()
    sealed = []
    for r in rows:  # one step per new audit entry
        h = entry_hash(prev, r)
        sealed.append((r[0], prev, h))
        prev = h
    frame = pd.DataFrame(sealed, columns=["audit_id", "prev_hash", "entry_hash"])
    con.register("_sealed", frame)
    try:
        con.execute(
            """UPDATE audit_log SET prev_hash = s.prev_hash, entry_hash = s.entry_hash
               FROM _sealed s WHERE audit_log.audit_id = s.audit_id"""
        )
    finally:
        con.unregister("_sealed")
    return len(sealed)


@dataclass
class Verdict:
    """What `verify` found: ok, the first failing entry (None when ok) and why, the number of
    entries and the head hash."""

    ok: bool
    entries: int
    head: str
    first_bad: int | None = None
    why: str | None = None


def verify(con: duckdb.DuckDBPyConnection) -> Verdict:
    """Check the id sequence (1, 2, 3, ... without gaps) and every entry's hash, in order."""
    rows = con.execute(_DIGESTS_SQL, [0, 0, 0]).fetchall()
    prev = GENESIS
    for expected_id, r in enumerate(rows, start=1):
        audit_id, stored_prev, stored = int(r[0]), r[8], r[9]
        if audit_id != expected_id:
            why = f"ids jump from {expected_id - 1} to {audit_id} (entries missing)"
            return Verdict(False, len(rows), prev, audit_id, why)
        if stored_prev != prev:
            why = "it does not chain on the previous entry (an entry was removed or reordered)"
            return Verdict(False, len(rows), prev, audit_id, why)
        if stored != entry_hash(prev, r):
            why = "its content (actor, reason, details, moves or decisions) was changed"
            return Verdict(False, len(rows), prev, audit_id, why)
        prev = stored
    return Verdict(True, len(rows), prev)
