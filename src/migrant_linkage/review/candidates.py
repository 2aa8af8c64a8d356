"""The compared columns of an index's records, held in memory per index, so a search reads its
candidates by row number instead of from the records table.

Why: a search scores about 150 candidate records of a million. Reading them from ``records``
(``record_key IN (...)``, 39 columns, 4 term-frequency joins) took 90 to 140 ms at 1M, because
DuckDB decompresses a whole vector per row and column it reads. Held here as one Arrow table
(the current version of each record), the same rows are taken in about a millisecond.

What may change in the index, and how this copy follows it:

* Records are only ever inserted, by uploads (a changed record is a new version, a new row).
  The copy reads the rows of the uploads it has not seen (all rows the first time).
* Term frequencies are recomputed by every upload (search.refresh): the copy reloads them.
* ``active`` and ``student_id`` change with merges, splits and undo as well: they are never held
  here; a query reads them for its candidates from the index (search.py).

Every search.refresh (inside each upload's transaction) writes a new token to ``meta``; a query
whose connection sees another token than the copy's brings the copy up to date first, so a
search never sees a record older than its own connection's view of the index.

Record values stay in this process's memory only (never a file or a log).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from migrant_linkage.db import quote_identifier
from migrant_linkage.levels import frequency_column

#: The meta key search.refresh rewrites with a new token in every upload's transaction.
TOKEN_KEY = "search_refresh_token"
#: Copies kept per process (one per index and column set; the server holds one index).
MAX_COPIES = 4
#: Past this share of the index's rows, the superseded versions a copy holds (each changed
#: record's older rows, kept by loading uploads one after another) make it load afresh.
MAX_SUPERSEDED = 0.2


def new_token(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the index's records or term frequencies as changed (called by search.refresh inside
    the caller's transaction)."""
    con.execute(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [TOKEN_KEY, uuid.uuid4().hex],
    )


def index_marks(con: duckdb.DuckDBPyConnection) -> tuple[str | None, int]:
    """The refresh token and the index revision (bumped by every write) `con` sees."""
    values = dict(
        con.execute(
            "SELECT key, value FROM meta WHERE key IN (?, 'revision')", [TOKEN_KEY]
        ).fetchall()
    )
    return values.get(TOKEN_KEY), int(values.get("revision") or 0)


@dataclass(frozen=True)
class IndexColumns:
    """One index's records (current versions) and term frequencies, as of one refresh token."""

    token: str | None
    revision: int  # the index revision the copy was brought up to date at
    table: pa.Table  # record_key, submitting_state, the held columns, the tf value columns
    rows: dict[str, int]  # record key -> row of its newest version in `table`
    frequencies: dict[str, dict[str, tuple[float, float]]]  # column -> value -> (tf, share)
    population: int  # active records
    records_total: int  # rows in `records` (every version) at that revision
    last_upload: int | None  # the newest uploaded_in held

    def holds(self, record_key: str) -> bool:
        return record_key in self.rows

    def take(self, record_keys: Sequence[str], tf_columns: Sequence[str]) -> pa.Table:
        """The rows of `record_keys` (keys this copy holds), in the order given, with the tf_
        and share columns of `tf_columns` as the index's frequency table gives them: a value no
        active record holds counts as one record in the population, a missing value has none."""
        table = self.table.take(pa.array([self.rows[k] for k in record_keys], pa.int64()))
        floor = 1.0 / max(self.population, 1)
        for column in tf_columns:
            known = self.frequencies.get(column, {})
            found = [
                None if v is None else known.get(v, (floor, floor))
                for v in table.column(value_column(column)).to_pylist()
            ]
            for name, part in (("tf_" + column, 0), (frequency_column(column), 1)):
                values = [None if f is None else f[part] for f in found]
                table = table.append_column(name, pa.array(values, pa.float64()))
        return table.drop_columns([n for n in table.column_names if n.startswith(VALUE_PREFIX)])

    def frequency(self, column: str, value: str) -> tuple[float, float]:
        """(tf, share) of `value` in `column`, as `take` gives them."""
        floor = 1.0 / max(self.population, 1)
        return self.frequencies.get(column, {}).get(value, (floor, floor))


#: The text form of a term-frequency column's value, as the frequency table keys it.
VALUE_PREFIX = "_tf_value_"


def value_column(column: str) -> str:
    return VALUE_PREFIX + column


_COPIES: OrderedDict[tuple[str, tuple[str, ...], tuple[str, ...]], IndexColumns] = OrderedDict()
_LOCK = threading.Lock()


def columns_for(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    columns: Sequence[str],
    tf_columns: Sequence[str],
    frequencies_table: str,
) -> IndexColumns:
    """The copy of the index at `path` (read through `con`) holding `columns` and the values of
    `tf_columns`, up to date with `con`'s view of the index: loaded on first use, brought up to
    date after an upload (a connection that sees an older revision than the copy uses it as is:
    it began before the upload committed)."""
    key = (str(Path(path).resolve()), tuple(columns), tuple(tf_columns))
    token, revision = index_marks(con)
    with _LOCK:
        held = _COPIES.get(key)
        if held is None or (held.token != token and revision > held.revision):
            held = _load(con, held, token, revision, key[1], key[2], frequencies_table)
            _COPIES[key] = held
        _COPIES.move_to_end(key)
        while len(_COPIES) > MAX_COPIES:
            _COPIES.popitem(last=False)
        return held


def forget(path: str | Path) -> None:
    """Drop the copies of the index at `path` (an index file replaced on disk)."""
    resolved = str(Path(path).resolve())
    with _LOCK:
        for key in [k for k in _COPIES if k[0] == resolved]:
            del _COPIES[key]


def _load(
    con: duckdb.DuckDBPyConnection,
    held: IndexColumns | None,
    token: str | None,
    revision: int,
    columns: tuple[str, ...],
    tf_columns: tuple[str, ...],
    frequencies_table: str,
) -> IndexColumns:
    """`held` with the rows of the uploads after its last one, or a full load when nothing is
    held or the records table does not add up to what is held plus those rows."""
    (total,) = con.execute("SELECT count(*) FROM records").fetchall()[0]
    new = None
    if held is not None and held.last_upload is not None:
        new = _read_rows(con, columns, tf_columns, since=held.last_upload)
        keys = new.column("record_key").to_pylist()
        superseded = (  # older versions held: before, plus those the new rows replace
            held.table.num_rows
            - len(held.rows)
            + sum(1 for k in keys if k in held.rows)
            + len(keys)
            - len(set(keys))
        )
        if held.records_total + new.num_rows != total or superseded > MAX_SUPERSEDED * len(
            held.rows
        ):
            new = None  # start again: the index changed otherwise, or old versions pile up
    if new is None:  # the active version of every record: the newest one
        held, new = None, _read_rows(con, columns, tf_columns, since=None)
    offset = 0 if held is None else held.table.num_rows
    rows = {} if held is None else dict(held.rows)
    # A later version comes after an earlier one (ordered by upload and version): it wins.
    rows.update(
        zip(new.column("record_key").to_pylist(), range(offset, offset + new.num_rows), strict=True)
    )
    uploads = new.column("uploaded_in").to_pylist()
    last = max((u for u in uploads if u is not None), default=None)
    new = new.drop_columns(["uploaded_in"])
    (population,) = con.execute("SELECT count(*) FROM records WHERE active").fetchall()[0]
    return IndexColumns(
        token=token,
        revision=revision,
        # One chunk per column: taking rows from a many-chunked column concatenates it first.
        table=(new if held is None else pa.concat_tables([held.table, new])).combine_chunks(),
        rows=rows,
        frequencies=_read_frequencies(con, frequencies_table),
        population=int(population),
        records_total=int(total),
        last_upload=max((u for u in (last, held and held.last_upload) if u), default=None),
    )


def _read_rows(
    con: duckdb.DuckDBPyConnection,
    columns: tuple[str, ...],
    tf_columns: tuple[str, ...],
    *,
    since: int | None,
) -> pa.Table:
    """The active records (since None), or every row uploaded after upload `since`, oldest
    version first; a tf column's value as text, as the frequency table holds it."""
    selected = [quote_identifier(c) for c in ("record_key", "submitting_state", *columns)]
    selected += [
        f"CAST({quote_identifier(c)} AS VARCHAR) AS {quote_identifier(value_column(c))}"
        for c in tf_columns
    ]
    if since is None:
        where, order, params = "WHERE active", "", []
    else:
        where, order, params = "WHERE uploaded_in > ?", "ORDER BY uploaded_in, version", [since]
    return con.sql(
        f"SELECT {', '.join(selected)}, uploaded_in FROM records {where} {order}", params=params
    ).to_arrow_table()


def _read_frequencies(
    con: duckdb.DuckDBPyConnection, frequencies_table: str
) -> dict[str, dict[str, tuple[float, float]]]:
    frequencies: dict[str, dict[str, tuple[float, float]]] = {}
    for column, value, tf, share in con.execute(
        f"SELECT column_name, value, tf, share FROM {frequencies_table}"
    ).fetchall():
        frequencies.setdefault(column, {})[value] = (tf, share)
    return frequencies
