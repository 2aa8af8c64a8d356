"""Reading the append-only audit log: entries with before/after state, replay, and a check
that the log is complete.

Each `audit_changes` row sets one record's state (student and content hash). Replaying the
rows in audit order therefore rebuilds, from nothing, which student every record belongs to;
`replay` does that and `check_replay` compares it with the live tables. `check_chain` checks that
every change starts where the previous change of the same record ended (no missing entry).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.review.store import ReviewError, first_row


def entries(con: duckdb.DuckDBPyConnection, *, limit: int | None = None) -> pd.DataFrame:
    """The audit log, newest first, with the number of records each entry changed."""
    return con.execute(
        f"""SELECT a.audit_id, a.logged_at, a.actor, a.action, a.reason, a.details_json,
                   (SELECT count(*) FROM audit_changes c WHERE c.audit_id = a.audit_id)
                       AS records_changed
            FROM audit_log a ORDER BY a.audit_id DESC
            {"LIMIT " + str(int(limit)) if limit else ""}"""
    ).df()


def entry(con: duckdb.DuckDBPyConnection, audit_id: int) -> dict[str, Any]:
    """One entry with its before and after state as JSON-ready dicts:
    {"records": {record_key: {"student_id": ..., "content_hash": ...}}}."""
    row = first_row(
        con.execute(
            "SELECT audit_id, logged_at, actor, action, reason, details_json FROM audit_log "
            "WHERE audit_id = ?",
            [audit_id],
        )
    )
    if row is None:
        raise ReviewError(f"no audit entry {audit_id}")
    changes = con.execute(
        "SELECT * FROM audit_changes WHERE audit_id = ? ORDER BY record_key", [audit_id]
    ).df()
    before = {
        k: {"student_id": s, "content_hash": h}
        for k, s, h in zip(
            changes["record_key"], changes["before_student"], changes["before_hash"], strict=True
        )
        if isinstance(h, str)
    }
    after = {
        k: {"student_id": s, "content_hash": h}
        for k, s, h in zip(
            changes["record_key"], changes["after_student"], changes["after_hash"], strict=True
        )
    }
    return {
        "audit_id": row[0],
        "at": row[1].isoformat(),
        "actor": row[2],
        "action": row[3],
        "reason": row[4],
        "details": json.loads(row[5] or "{}"),
        "before": {"records": before},
        "after": {"records": after},
    }


def replay(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rebuild (record_key, student_id, content_hash) by applying every change in audit order."""
    return con.execute(
        """SELECT record_key,
                  arg_max(after_student, audit_id) AS student_id,
                  arg_max(after_hash, audit_id) AS content_hash
           FROM audit_changes GROUP BY record_key ORDER BY record_key"""
    ).df()


def live_state(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT record_key, student_id, content_hash FROM records WHERE active ORDER BY record_key"
    ).df()


def check_chain(con: duckdb.DuckDBPyConnection) -> int:
    """Number of changes whose before-state is not the previous change's after-state."""
    (broken,) = first_row(
        con.execute(
            """SELECT count(*) FROM (
               SELECT before_student, before_hash,
                      lag(after_student) OVER w AS prev_student,
                      lag(after_hash) OVER w AS prev_hash
               FROM audit_changes WINDOW w AS (PARTITION BY record_key ORDER BY audit_id))
           WHERE before_student IS DISTINCT FROM prev_student
              OR before_hash IS DISTINCT FROM prev_hash"""
        )
    )
    return int(broken)


def check_replay(con: duckdb.DuckDBPyConnection) -> bool:
    """True when replaying the audit log gives exactly the live assignment, and the chain of
    changes is unbroken."""
    replayed = replay(con).reset_index(drop=True)
    live = live_state(con).reset_index(drop=True)
    return check_chain(con) == 0 and replayed.equals(live)
