"""Storage of the master index: one DuckDB file, its tables, and safe transactions.

DuckDB lets one process at a time open a database file for writing, so every operation here
opens the file, does its work in one transaction and closes it again. A second process that finds
the file locked waits and retries until `lock_timeout` runs out (then IndexBusyError). That makes
each upload and each decision atomic (a crash before COMMIT leaves the file as it was) and lets
several reviewers' processes share one index without losing a decision.

Tables (all created by `create_schema`):

* ``meta``            key/value settings: schema version, next student number, two-person rule,
                      current model (Splink JSON) and thresholds.
* ``records``         every version of every uploaded record: the raw contract columns verbatim,
                      the standardized columns, and bookkeeping (record_key, submitting_state,
                      version, content_hash, student_id, uploaded_in, active).
* ``students``        every student ID ever minted (merged_into set while absorbed by a merge).
* ``uploads``         one row per upload run: source, state, reviewer, model and thresholds used,
                      counts.
* ``rejects``         records an upload could not take in, with the reason (record ids only).
* ``worklist``        near matches waiting for a person, with their evidence.
* ``item_evidence``   new evidence attached to an undecided item: a record of it changed in an
                      upload while the item was open (the record was locked), so the item was
                      scored again; the weights and evidence before and after.
* ``decisions``       every reviewer decision; the latest match / not-a-match per pair is
                      remembered so a rejected pair never returns.
* ``pending_merges``  proposals waiting for a second person under the two-person rule: merges,
                      splits, undos and model changes (`kind`, with `payload_json`; items.py).
* ``accounts``        reviewer accounts: id, display name, role, scope (accounts.py); no
                      credentials (a login service keeps those keyed by account_id).
* ``audit_log``       append-only: who, when, action, why, details (JSON), and the SHA-256
                      chain (prev_hash, entry_hash; chain.py) sealed at every commit.
* ``audit_changes``   append-only: per audit entry, each record's state before and after (student
                      and content hash). Replaying it rebuilds the current assignment.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.db import make_private, quote_identifier
from migrant_linkage.review.chain import seal
from migrant_linkage.schema import INPUT_COLUMNS, STANDARDIZED_COLUMNS, TRUTH_COLUMNS

SCHEMA_VERSION = "2"

#: Student IDs are "S" + this many digits: sortable as text, so the oldest student is min(id).
STUDENT_ID_DIGITS = 9
STUDENT_ID_PREFIX = "S"

#: Test hook: when this environment variable names a crash point, the process kills itself
#: there (SIGKILL, no clean-up), so tests can prove a crash leaves the index unchanged.
CRASH_ENV = "MIGRANT_LINKAGE_CRASH_AT"

DEFAULT_LOCK_TIMEOUT = 120.0


class ReviewError(ValueError):
    """A request the index cannot carry out as asked; the message says why (record ids only)."""


class IndexBusyError(RuntimeError):
    """Another process held the index file for longer than the lock timeout."""


class IndexNotFoundError(FileNotFoundError):
    """The index file does not exist (create it with `index init` or MasterIndex.create)."""


def crash_point(name: str) -> None:
    """Kill this process here if the CRASH_ENV test hook names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def student_id_sql(seq_expr: str) -> str:
    """SQL turning a student number into its ID, e.g. 12 -> 'S000000012'."""
    return f"'{STUDENT_ID_PREFIX}' || lpad(CAST({seq_expr} AS VARCHAR), {STUDENT_ID_DIGITS}, '0')"


def format_student_id(seq: int) -> str:
    return f"{STUDENT_ID_PREFIX}{seq:0{STUDENT_ID_DIGITS}d}"


# ---------------------------------------------------------------------------------------------
# Table definitions
# ---------------------------------------------------------------------------------------------

#: Bookkeeping columns of the records table, before the contract columns.
RECORD_BOOKKEEPING: tuple[tuple[str, str], ...] = (
    ("record_key", "VARCHAR NOT NULL"),  # submitting_state || ':' || record_id
    ("submitting_state", "VARCHAR NOT NULL"),
    ("version", "INTEGER NOT NULL"),
    ("content_hash", "VARCHAR NOT NULL"),
    ("student_id", "VARCHAR"),
    ("uploaded_in", "BIGINT NOT NULL"),
    ("active", "BOOLEAN NOT NULL"),
    ("replaced_in", "BIGINT"),
)


def record_columns() -> list[tuple[str, str]]:
    """(name, DuckDB type) of every records column, in table order."""
    cols: list[tuple[str, str]] = list(RECORD_BOOKKEEPING)
    seen = {c for c, _ in cols}
    for name in INPUT_COLUMNS:
        if name not in seen:
            cols.append((name, "VARCHAR"))
            seen.add(name)
    for col in STANDARDIZED_COLUMNS:
        if col.name not in seen:
            cols.append((col.name, col.sql_type))
            seen.add(col.name)
    for name in TRUTH_COLUMNS:  # synthetic ground truth, carried for benchmarks; never read
        if name not in seen:
            cols.append((name, "VARCHAR"))
            seen.add(name)
    return cols


#: Standardized columns added after an index's schema was fixed, and how to derive each from
#: the columns an older index holds (its records are not standardized again). `MasterIndex.open`
#: adds the ones an index lacks (add_missing_record_columns).
def _record_column_upgrades() -> dict[str, tuple[tuple[str, ...], Any]]:
    from migrant_linkage.standardize.names import given_name_readings, is_known_surname

    return {
        "given_name_1_readings": (("given_name_1",), given_name_readings),
        "surname_known": (("surname_units_key",), is_known_surname),
    }


def missing_record_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(name, type) of the records columns this version defines and the index lacks."""
    have = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'records'"
        ).fetchall()
    }
    return [(name, typ) for name, typ in record_columns() if name not in have]


def add_missing_record_columns(
    con: duckdb.DuckDBPyConnection, missing: Sequence[tuple[str, str]]
) -> None:
    """Add `missing` columns to the records table, each filled from the columns it derives from
    (one pass per column, per distinct value). A column with no known derivation is an error:
    the index then needs its files uploaded again into a new one."""
    from migrant_linkage.standardize.pair_inputs import PAIR_INPUT_SQL

    upgrades = _record_column_upgrades()
    unknown = [name for name, _ in missing if name not in upgrades and name not in PAIR_INPUT_SQL]
    if unknown:
        raise ReviewError(
            f"this index lacks the records columns {', '.join(unknown)}, which cannot be derived "
            "from what it holds: create a new index and upload the states' files into it"
        )
    # DuckDB alters no table an index depends on: the records indexes are rebuilt after.
    indexes = con.execute(
        "SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'records'"
    ).fetchall()
    for index_name, _ in indexes:
        con.execute(f"DROP INDEX {quote_identifier(index_name)}")
    # The comparisons' per-record inputs: the standardizer's own SQL, in one UPDATE.
    by_sql = [(name, typ) for name, typ in missing if name in PAIR_INPUT_SQL]
    for name, typ in by_sql:
        con.execute(f"ALTER TABLE records ADD COLUMN {quote_identifier(name)} {typ}")
    if by_sql:
        fills = ", ".join(
            f"{quote_identifier(name)} = {PAIR_INPUT_SQL[name]}" for name, _ in by_sql
        )
        con.execute(f"UPDATE records SET {fills}")
    for name, typ in missing:
        if name in PAIR_INPUT_SQL:
            continue
        sources, derive = upgrades[name]
        frame = con.execute(
            f"SELECT record_key, {', '.join(quote_identifier(c) for c in sources)} FROM records"
        ).df()
        values = pd.DataFrame(
            {"record_key": frame["record_key"], "value": derive(*(frame[c] for c in sources))}
        )
        con.execute(f"ALTER TABLE records ADD COLUMN {quote_identifier(name)} {typ}")
        con.register("ml_upgrade_values", values)
        con.execute(
            f"UPDATE records SET {quote_identifier(name)} = v.value FROM ml_upgrade_values v "
            "WHERE records.record_key = v.record_key"
        )
        con.unregister("ml_upgrade_values")
    for _, sql in indexes:
        con.execute(sql)


def _ddl() -> list[str]:
    records = ",\n    ".join(f"{name} {typ}" for name, typ in record_columns())
    return [
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        f"CREATE TABLE records (\n    {records}\n)",
        """CREATE TABLE students (
            student_id VARCHAR PRIMARY KEY,
            created_at TIMESTAMP NOT NULL,
            created_audit_id BIGINT NOT NULL,
            merged_into VARCHAR
        )""",
        """CREATE TABLE uploads (
            upload_id BIGINT PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            source VARCHAR,
            submitting_state VARCHAR,
            reviewer VARCHAR,
            model_json VARCHAR,
            thresholds_json VARCHAR,
            counts_json VARCHAR
        )""",
        """CREATE TABLE rejects (
            upload_id BIGINT NOT NULL,
            source_row BIGINT,
            record_id VARCHAR,
            reason VARCHAR,
            message VARCHAR
        )""",
        """CREATE TABLE worklist (
            item_id BIGINT PRIMARY KEY,
            record_key_l VARCHAR NOT NULL,
            record_key_r VARCHAR NOT NULL,
            match_weight DOUBLE,
            match_probability DOUBLE,
            reason VARCHAR,
            evidence_json VARCHAR,
            status VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            upload_id BIGINT,
            closed_at TIMESTAMP,
            evidence_updated_in BIGINT,
            level VARCHAR
        )""",
        """CREATE TABLE item_evidence (
            item_id BIGINT NOT NULL,
            upload_id BIGINT NOT NULL,
            changed_record VARCHAR NOT NULL,
            previous_weight DOUBLE,
            match_weight DOUBLE,
            previous_evidence_json VARCHAR,
            evidence_json VARCHAR,
            recorded_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE decisions (
            decision_id BIGINT PRIMARY KEY,
            item_id BIGINT,
            record_key_l VARCHAR NOT NULL,
            record_key_r VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,
            reviewer VARCHAR NOT NULL,
            comment VARCHAR,
            decided_at TIMESTAMP NOT NULL,
            audit_id BIGINT
        )""",
        """CREATE TABLE pending_merges (
            pending_id BIGINT PRIMARY KEY,
            item_id BIGINT,
            record_key_l VARCHAR,
            record_key_r VARCHAR,
            proposed_by VARCHAR NOT NULL,
            proposed_at TIMESTAMP NOT NULL,
            comment VARCHAR,
            status VARCHAR NOT NULL,
            closed_by VARCHAR,
            closed_at TIMESTAMP,
            kind VARCHAR NOT NULL,
            payload_json VARCHAR
        )""",
        """CREATE TABLE audit_log (
            audit_id BIGINT PRIMARY KEY,
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            reason VARCHAR,
            details_json VARCHAR,
            prev_hash VARCHAR,
            entry_hash VARCHAR
        )""",
        """CREATE TABLE audit_changes (
            audit_id BIGINT NOT NULL,
            record_key VARCHAR NOT NULL,
            before_student VARCHAR,
            after_student VARCHAR,
            before_hash VARCHAR,
            after_hash VARCHAR
        )""",
        """CREATE TABLE accounts (
            account_id VARCHAR PRIMARY KEY,
            display_name VARCHAR NOT NULL,
            role VARCHAR NOT NULL,
            state VARCHAR,
            region VARCHAR,
            district VARCHAR,
            active BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL,
            created_by VARCHAR NOT NULL
        )""",
        "CREATE INDEX records_key ON records (record_key)",
        "CREATE INDEX records_student ON records (student_id)",
    ]


def create_schema(con: duckdb.DuckDBPyConnection, settings: dict[str, str]) -> None:
    for statement in _ddl():
        con.execute(statement)
    values = {
        "schema_version": SCHEMA_VERSION,
        "next_student_seq": "1",
        "revision": "0",
        **settings,
    }
    con.executemany("INSERT INTO meta VALUES (?, ?)", list(values.items()))


# ---------------------------------------------------------------------------------------------
# Connections and transactions
# ---------------------------------------------------------------------------------------------


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def connect(path: Path, *, timeout: float, create: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the index file, waiting while another process holds it (up to `timeout` seconds)."""
    if not create and not path.exists():
        raise IndexNotFoundError(
            f"{path}: no index here; create one with `migrant-linkage index init --index {path}`"
        )
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            new = not path.exists()
            connection = duckdb.connect(str(path))
            if new:
                make_private(path)  # the index holds every student's records: 0600
            return connection
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise IndexBusyError(
                    f"{path}: another process kept the index busy for {timeout:.0f}s; "
                    "try again or raise the lock timeout"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def transaction(
    path: Path, *, timeout: float, create: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """One atomic unit of work: open, BEGIN, yield, COMMIT (or ROLLBACK on error), close."""
    con = connect(path, timeout=timeout, create=create)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


def run_in_transaction(
    path: Path, work, *, timeout: float = DEFAULT_LOCK_TIMEOUT, name: str = "write"
):
    """Call `work(con)` inside one transaction; retry the whole unit if the file was locked or
    a concurrent writer in this process conflicted, until `timeout` runs out. `name` labels the
    unit for the crash test hook (`<name>:before_commit`)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            with transaction(path, timeout=max(deadline - time.monotonic(), 0.0)) as con:
                result = work(con)
                bump_revision(con)
                seal(con)  # hash the entries this unit appended, before it commits
                crash_point(f"{name}:before_commit")
                return result
        except duckdb.Error as exc:
            if not (_is_lock_error(exc) or _is_conflict(exc)) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def reading(
    path: Path, *, timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for reading only (still waits for the writer's lock)."""
    con = connect(path, timeout=timeout)
    try:
        yield con
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Small helpers used inside transactions
# ---------------------------------------------------------------------------------------------


def get_meta(con: duckdb.DuckDBPyConnection, key: str, default: str | None = None) -> str | None:
    row = first_row(con.execute("SELECT value FROM meta WHERE key = ?", [key]))
    return default if row is None else row[0]


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def bump_revision(con: duckdb.DuckDBPyConnection) -> None:
    """Every write transaction advances the index revision, so an upload scored on a snapshot
    can tell whether the index changed before it writes."""
    set_meta(con, "revision", str(int(get_meta(con, "revision", "0") or "0") + 1))


def next_id(con: duckdb.DuckDBPyConnection, table: str, column: str) -> int:
    """Next integer id of `table` (one writer at a time, so max + 1 inside the transaction is
    safe and keeps ids gap-free and deterministic)."""
    (value,) = first_row(con.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}"))
    return int(value)


def reserve_student_numbers(con: duckdb.DuckDBPyConnection, n: int) -> int:
    """Reserve n student numbers; return the first."""
    first = int(get_meta(con, "next_student_seq", "1"))
    set_meta(con, "next_student_seq", str(first + n))
    return first


def write_audit(
    con: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    reason: str | None,
    details: dict[str, Any],
    at: datetime,
    audit_id: int | None = None,
) -> int:
    """Append one audit entry (its id is the next free one unless reserved by the caller)."""
    if audit_id is None:
        audit_id = next_id(con, "audit_log", "audit_id")
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        [audit_id, at, actor, action, reason, json.dumps(details, sort_keys=True, default=str)],
    )
    return audit_id


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def first_row(cursor: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a result, reading the result to the end (DuckDB keeps a connection busy
    until a result is fully fetched, so `fetchone` alone would block the next statement)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None
