"""Reading the append-only audit log: entries with before/after state, replay, and a check
that the log is complete.

Each `audit_changes` row sets one record's state (student and content hash). Replaying the
rows in audit order therefore rebuilds, from nothing, which student every record belongs to;
`replay` does that and `check_replay` compares it with the live tables. `check_chain` checks that
every change starts where the previous change of the same record ended (no missing entry).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.review.chain import Verdict
from migrant_linkage.review.chain import verify as chain_verify
from migrant_linkage.review.store import ReviewError, first_row, get_meta


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


def model_digest(model_json: str | None) -> str | None:
    """SHA-256 of the index's model JSON (None: the shipped default), as the audit records it."""
    return None if model_json is None else hashlib.sha256(model_json.encode()).hexdigest()


def settings_from_log(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], int | None]:
    """The settings the audit log says the index has (two-person rule, thresholds, model
    digest), and the id of the last entry that set each: replaying the settings entries."""
    state: dict[str, Any] = {}
    last: dict[str, int] = {}
    rows = con.execute(
        "SELECT audit_id, details_json FROM audit_log "
        "WHERE action IN ('create_index', 'settings', 'set_model') ORDER BY audit_id"
    ).fetchall()
    for audit_id, details_json in rows:  # settings entries are few
        details = json.loads(details_json or "{}")
        for key in ("two_person_rule", "thresholds", "model_sha256"):
            if key in details:
                state[key] = details[key]
                last[key] = audit_id
    return state, (max(last.values()) if last else None)


def check_settings(con: duckdb.DuckDBPyConnection) -> str | None:
    """None when the live settings are what the audit log set; else which one differs."""
    logged, _ = settings_from_log(con)
    rule = get_meta(con, "two_person_rule", "false") == "true"
    if "two_person_rule" in logged and bool(logged["two_person_rule"]) != rule:
        return "the two-person rule differs from the last audited setting"
    thresholds = get_meta(con, "thresholds_json")
    if "thresholds" in logged and json.loads(thresholds or "null") != logged["thresholds"]:
        return "the thresholds differ from the last audited setting"
    if (
        "model_sha256" in logged
        and model_digest(get_meta(con, "model_json")) != logged["model_sha256"]
    ):
        return "the model differs from the last audited model"
    return None


def verify(con: duckdb.DuckDBPyConnection) -> Verdict:
    """Chain and id sequence (chain.verify), then the settings, then the replay."""
    verdict = chain_verify(con)
    if not verdict.ok:
        return verdict
    wrong = check_settings(con)
    if wrong is not None:
        _, last = settings_from_log(con)
        return Verdict(False, verdict.entries, verdict.head, last, wrong)
    if check_chain(con) != 0 or not check_replay(con):
        bad = first_row(
            con.execute(
                """WITH live AS (SELECT record_key, student_id, content_hash FROM records
                                 WHERE active),
                        replayed AS (SELECT record_key, arg_max(after_student, audit_id) AS s,
                                            arg_max(after_hash, audit_id) AS h,
                                            max(audit_id) AS last
                                     FROM audit_changes GROUP BY record_key)
                   SELECT min(r.last) FROM replayed r FULL JOIN live l USING (record_key)
                   WHERE r.s IS DISTINCT FROM l.student_id
                      OR r.h IS DISTINCT FROM l.content_hash"""
            )
        )
        first = None if bad is None or bad[0] is None else int(bad[0])
        why = "replaying the log does not give the records' current students"
        return Verdict(False, verdict.entries, verdict.head, first, why)
    return verdict


def check_replay(con: duckdb.DuckDBPyConnection) -> bool:
    """True when replaying the audit log gives exactly the live assignment, and the chain of
    changes is unbroken."""
    replayed = replay(con).reset_index(drop=True)
    live = live_state(con).reset_index(drop=True)
    return check_chain(con) == 0 and replayed.equals(live)
