"""The search keys and the students of an index's records, held in memory per index, so a search
finds its candidates and their students without an index look-up.

Why: at 1M records the key look-up (``search_keys``, an ART index, about ten keys per query)
took 4 to 16 ms and reading the candidates' students from ``records`` 3 to 18 ms, together a
quarter of a search. Held here, both take well under a millisecond.

* **The keys** (`HeldKeys`): the distinct keys of ``search_keys`` sorted, each with the rows of
  the records holding it (one ``list`` column from DuckDB: its offsets and values are the
  postings), and the record keys in sorted order, so that a record's row number orders as its
  key does. Keys change only in search.refresh, which writes a new token (candidates.py): the
  copy is read again after an upload. At 1M records: 13.3M keys rows, 1.8M distinct keys,
  about 150 MB.
* **The students** (`HeldStudents`): each of those records' student (null when it has no
  active version), as of one index revision: merges, splits and undo move records between
  students without an upload, and every write advances the revision. After an upload (a new
  token) the students are read again whole; after any other write only the records that
  ``audit_changes`` says changed student since the copy's last audit entry (merge.move_records
  writes one row per record moved, in the same transaction).

The keys and students are loaded in a thread of their own (through a connection of their own):
until they are, searches read ``search_keys`` and ``records`` as before, so the first search
after the server starts or after an upload does not wait about 10 s (1M records) for them.

A connection that sees an older revision than a copy uses the copy as is (it began before the
write committed; the copy is the newer view of the same index), as candidates.py does.

Record keys and student ids only; no names or dates. Nothing here is written to disk.
"""

from __future__ import annotations

import bisect
import gc
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from migrant_linkage.review.candidates import index_marks

#: Copies kept per process (one per index; the server holds one index).
MAX_COPIES = 4


@dataclass(frozen=True)
class HeldKeys:
    """One index's search keys as of one refresh token."""

    token: str | None
    revision: int
    keys: pa.StringArray  # the distinct keys, sorted
    offsets: np.ndarray  # keys[i]'s record rows are rows[offsets[i]:offsets[i + 1]]
    rows: np.ndarray  # int32 rows into record_keys
    record_keys: pa.StringArray  # every keyed record, sorted (row order = key order)

    def sharing(self, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(record rows, keys shared) of the records holding any of `keys` (distinct keys):
        what ``SELECT record_key, count(*) FROM search_keys WHERE key IN (...) GROUP BY
        record_key`` gives, rows ascending."""
        found = []
        view = _Sorted(self.keys)
        for key in keys:
            at = bisect.bisect_left(view, key)
            if at < len(view) and view[at] == key:
                found.append(self.rows[self.offsets[at] : self.offsets[at + 1]])
        if not found:
            return np.empty(0, np.int32), np.empty(0, np.int64)
        rows, counts = np.unique(np.concatenate(found), return_counts=True)
        return rows, counts


class _Sorted:
    """A sorted Arrow string array as a sequence bisect can search (one value read per step)."""

    def __init__(self, values: pa.StringArray):
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i: int) -> str:
        return self._values[i].as_py()


@dataclass(frozen=True)
class HeldStudents:
    """The student of each record of a HeldKeys copy (by row), as of one index revision."""

    token: str | None
    revision: int
    last_audit: int  # the newest audit_changes entry applied
    students: np.ndarray  # object: the student id per row, None without an active version


#: A copy is loaded in a thread of its own, through a connection of its own, while searches
#: read the index tables instead (search.py), so neither the server's first search nor the
#: first after an upload waits for it (about 10 s at 1M records). False: load at once, in the
#: caller's turn (the tests of the copies' answers use this).
LOAD_IN_BACKGROUND = True

_HELD: OrderedDict[str, tuple[HeldKeys, HeldStudents]] = OrderedDict()
_LOADING: dict[str, threading.Thread] = {}
_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


def _last_audit(con: duckdb.DuckDBPyConnection) -> int:
    (audit,) = con.execute("SELECT coalesce(max(audit_id), 0) FROM audit_changes").fetchall()[0]
    return int(audit)


def held_for(
    con: duckdb.DuckDBPyConnection, path: str | Path, keys_table: str
) -> tuple[HeldKeys, HeldStudents] | None:
    """The keys and students of the index at `path` (read through `con`), up to date with
    `con`'s view of it (see the module docstring); None while they are being loaded (the
    caller reads the index tables meanwhile)."""
    resolved = str(Path(path).resolve())
    token, revision = index_marks(con)
    with _LOCK:
        held = _HELD.get(resolved)
        fresh = held is not None and (held[0].token == token or revision <= held[0].revision)
        if not fresh:
            if LOAD_IN_BACKGROUND:
                _start_loading(resolved, keys_table)
                return None
            held = _load(con, token, revision, keys_table)
        assert held is not None
        keys, students = held
        if revision > students.revision:  # a merge, split or undo since: its audit rows
            students = _apply_moves(con, keys, students, revision)
        _keep(resolved, (keys, students))
        return keys, students


def wait_for_loading(path: str | Path) -> None:
    """Return when no copy of the index at `path` is being loaded (tests, benchmarks)."""
    with _LOCK:
        running = _LOADING.get(str(Path(path).resolve()))
    if running is not None:
        running.join()


def forget(path: str | Path) -> None:
    """Drop the copies of the index at `path` (an index file replaced on disk)."""
    wait_for_loading(path)
    with _LOCK:
        _HELD.pop(str(Path(path).resolve()), None)


def _keep(resolved: str, held: tuple[HeldKeys, HeldStudents]) -> None:
    """Store `held` as the copy of `resolved` (the caller holds _LOCK)."""
    _HELD[resolved] = held
    _HELD.move_to_end(resolved)
    while len(_HELD) > MAX_COPIES:
        _HELD.popitem(last=False)


def _start_loading(resolved: str, keys_table: str) -> None:
    """A loading thread for `resolved`, unless one runs (the caller holds _LOCK)."""
    running = _LOADING.get(resolved)
    if running is not None and running.is_alive():
        return
    thread = threading.Thread(
        target=_load_in_background, args=(resolved, keys_table), name="held-keys", daemon=True
    )
    _LOADING[resolved] = thread
    thread.start()


def _load_in_background(resolved: str, keys_table: str) -> None:
    from migrant_linkage.review.store import reading

    try:
        with reading(Path(resolved)) as con:
            token, revision = index_marks(con)
            held = _load(con, token, revision, keys_table)
        with _LOCK:
            current = _HELD.get(resolved)
            if current is None or revision >= current[0].revision:
                _keep(resolved, held)
    except Exception as error:  # searches go on reading the index; the next one tries again
        _log.warning(
            "loading the search keys of an index into memory failed (%s); searches read "
            "the index meanwhile",
            type(error).__name__,
        )
    finally:
        with _LOCK:
            if _LOADING.get(resolved) is threading.current_thread():
                del _LOADING[resolved]


def _load(
    con: duckdb.DuckDBPyConnection, token: str | None, revision: int, keys_table: str
) -> tuple[HeldKeys, HeldStudents]:
    keys = _load_keys(con, token, revision, keys_table)
    held = keys, _load_students(con, keys, revision)
    # What the process holds now (a million students' ids, the copies' maps) is long-lived:
    # out of the collector's reach, so that a full collection during a search does not walk
    # it (one took 57 ms at 1M records). Freed by reference counting as before.
    gc.collect()
    gc.freeze()
    return held


def _load_keys(
    con: duckdb.DuckDBPyConnection, token: str | None, revision: int, keys_table: str
) -> HeldKeys:
    record_keys = con.sql(
        f"SELECT DISTINCT record_key FROM {keys_table} ORDER BY record_key"
    ).to_arrow_table()
    record_keys = record_keys.append_column(
        "row", pa.array(np.arange(record_keys.num_rows, dtype=np.int32))
    )
    con.register("_held_record_keys", record_keys)
    try:
        # One list of record rows per distinct key: the list column's offsets and values are
        # the postings, with no per-row work here.
        postings = con.sql(
            f"""SELECT k.key, list(r.row) AS rows
                FROM {keys_table} k
                JOIN _held_record_keys r USING (record_key)
                GROUP BY k.key ORDER BY k.key"""
        ).to_arrow_table()
    finally:
        con.unregister("_held_record_keys")
    lists = postings.column("rows").combine_chunks()
    return HeldKeys(
        token=token,
        revision=revision,
        keys=postings.column("key").combine_chunks(),
        offsets=lists.offsets.to_numpy().astype(np.int64),
        rows=lists.values.to_numpy().astype(np.int32),
        record_keys=record_keys.column("record_key").combine_chunks(),
    )


def _load_students(con: duckdb.DuckDBPyConnection, keys: HeldKeys, revision: int) -> HeldStudents:
    audit = _last_audit(con)  # read first: a move committed after it is applied again later
    active = con.sql("SELECT record_key, student_id FROM records WHERE active").to_arrow_table()
    students = np.full(len(keys.record_keys), None, dtype=object)
    rows = pc.index_in(active.column("record_key"), value_set=keys.record_keys).to_numpy(
        zero_copy_only=False
    )
    keyed = ~np.isnan(rows.astype(np.float64))  # an active record without keys: never found
    values = active.column("student_id").to_numpy(zero_copy_only=False)
    students[rows[keyed].astype(np.int64)] = values[keyed]
    return HeldStudents(keys.token, revision, audit, students)


def _apply_moves(
    con: duckdb.DuckDBPyConnection,
    keys: HeldKeys,
    held: HeldStudents,
    revision: int,
) -> HeldStudents:
    """`held` with the student moves written since its last audit entry, in their order (each
    audit_changes row sets a record's student: audit.py replays the index the same way)."""
    moved = con.sql(
        "SELECT audit_id, record_key, after_student FROM audit_changes WHERE audit_id > ? "
        "ORDER BY audit_id, rowid",
        params=[held.last_audit],
    ).fetchall()
    students = held.students
    if moved:
        students = students.copy()  # a search holding the older copy keeps it whole
        view = _Sorted(keys.record_keys)
        for _, record_key, after in moved:
            at = bisect.bisect_left(view, record_key)
            if at < len(view) and view[at] == record_key:
                students[at] = after
    last = max((m[0] for m in moved), default=held.last_audit)
    return HeldStudents(keys.token, revision, last, students)
