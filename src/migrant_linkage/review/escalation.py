"""Assignment and escalation of worklist items, as MSIX routes them: district, then region, then
state data administrators.

* An item is **assigned** to the lowest level that has an active account covering the item's
  states (records carry no district or region, so within a state every account of that level
  sees it). A district account sees district items; a region account sees district and region
  items; a state (or national) account sees them all.
* An item nobody decides **escalates**: after `escalation_days[level]` days at a level it moves
  to the next one. The times are an index setting (`MasterIndex.set_escalation_days`, an
  administrator's audited change); the defaults below are this project's choice, not MSIX's.
* A **validation** item (a proposal waiting for a second person) that has waited the full time
  (the sum over the levels) **passes automatically**: `run` validates it and the audit entry
  says so (actor `AUTOMATIC`, details `automatic: true` and who ran the escalation).

`run` is the command (`index escalate`) and library call (`MasterIndex.escalate`); it is meant to
run daily (cron). It writes one audit entry per level change batch and one per automatic pass.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb

from migrant_linkage.review.accounts import Account
from migrant_linkage.review.store import get_meta, write_audit

LEVELS: tuple[str, ...] = ("district", "region", "state")

#: Days an item waits at each level before it escalates (our default; set per index).
DEFAULT_ESCALATION_DAYS: dict[str, float] = {"district": 10.0, "region": 10.0, "state": 10.0}

#: The actor recorded for what escalation does by itself (not an account id: parentheses are
#: not allowed in those, so no account can be mistaken for it).
AUTOMATIC = "(automatic)"


def account_level(account: Account) -> str:
    if account.district is not None:
        return "district"
    if account.region is not None:
        return "region"
    return "state"


def escalation_days(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    text = get_meta(con, "escalation_days_json")
    return {**DEFAULT_ESCALATION_DAYS, **(json.loads(text) if text else {})}


def clean_days(days: dict[str, float]) -> dict[str, float]:
    out = {}
    for level, value in days.items():
        if level not in LEVELS:
            raise ValueError(f"escalation level {level!r}: use {', '.join(LEVELS)}")
        value = float(value)
        if not value >= 0:
            raise ValueError(f"escalation days for {level} must be zero or more")
        out[level] = value
    return out


def levels_by_state(con: duckdb.DuckDBPyConnection) -> dict[str | None, set[str]]:
    """Levels that have an active account, per account state (None: national accounts)."""
    rows = con.execute(
        """SELECT state, CASE WHEN district IS NOT NULL THEN 'district'
                              WHEN region IS NOT NULL THEN 'region' ELSE 'state' END
           FROM accounts WHERE active"""
    ).fetchall()
    out: dict[str | None, set[str]] = {}
    for state, level in rows:
        out.setdefault(state, set()).add(level)
    return out


def level_of(
    states: set[str],
    age_days: float,
    available: dict[str | None, set[str]],
    days: dict[str, float],
) -> str:
    """The level an item of `states` waiting `age_days` is at: it starts at the lowest level
    with an account for one of its states and climbs one level per elapsed level time."""
    present = set().union(*(available.get(s, set()) for s in states)) | available.get(None, set())
    start = next((i for i, lv in enumerate(LEVELS) if lv in present), len(LEVELS) - 1)
    index, left = start, age_days
    while index < len(LEVELS) - 1 and left >= days[LEVELS[index]]:
        left -= days[LEVELS[index]]
        index += 1
    return LEVELS[index]


def run(con: duckdb.DuckDBPyConnection, *, now: datetime, run_by: str) -> dict[str, Any]:
    """Move undecided items to their level and pass validation items that waited the full
    time. Returns counts and the audit ids written."""
    from migrant_linkage.review import worklist

    days = escalation_days(con)
    available = levels_by_state(con)
    items = con.execute(
        """SELECT item_id, record_key_l, record_key_r, created_at, level FROM worklist
           WHERE status IN ('open', 'skipped', 'waiting', 'pending') ORDER BY item_id"""
    ).fetchall()
    moves: dict[str, list[int]] = {}
    for item_id, left, right, created, level in items:  # undecided items, one step each
        states = {left.split(":", 1)[0], right.split(":", 1)[0]}
        age = (now - created).total_seconds() / 86400
        new = level_of(states, age, available, days)
        if new != level:
            moves.setdefault(new, []).append(int(item_id))
    audit_ids = []
    for level, ids in sorted(moves.items()):
        con.execute(
            "UPDATE worklist SET level = ? WHERE item_id IN (SELECT unnest(?::BIGINT[]))",
            [level, ids],
        )
        audit_ids.append(
            write_audit(
                con,
                actor=AUTOMATIC,
                action="escalate",
                reason=f"items now at {level} level",
                details={"level": level, "item_ids": ids, "run_by": run_by, "automatic": True},
                at=now,
            )
        )
    full = timedelta(days=sum(days.values()))
    due = con.execute(
        "SELECT pending_id FROM pending_merges WHERE status = 'pending' AND proposed_at <= ? "
        "ORDER BY pending_id",
        [now - full],
    ).fetchall()
    passed = []
    for (pending_id,) in due:  # proposals are few
        outcome = worklist.validate(
            con,
            int(pending_id),
            reviewer=AUTOMATIC,
            approve=True,
            comment=f"passed automatically after {full.days} days (escalation run by {run_by})",
            at=now,
        )
        passed.append(int(pending_id))
        if "audit_id" in outcome:
            audit_ids.append(int(outcome["audit_id"]))
    return {
        "escalated": {level: len(ids) for level, ids in moves.items()},
        "passed_automatically": passed,
        "audit_ids": audit_ids,
    }
