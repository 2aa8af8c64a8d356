"""The database: one connection factory, one memory policy, and quoting for every SQL we build.

Every DuckDB connection the package opens for linkage work (a job's, training's, an index
upload's scoring) comes from `connect` / `make_db_api`, so every one gets the same memory limit
and spill directory. Every identifier or path put into SQL goes through `quote_identifier` or
`quote_literal`: a column called `my "odd" name` or a folder called O'Brien is a name, never SQL
(a CSV header is user input).
"""

from __future__ import annotations

import atexit
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

__all__ = [
    "MEMORY_LIMIT_ENV",
    "PRIVATE_FILE_MODE",
    "TEMP_DIRECTORY_ENV",
    "atomic_file",
    "columns_sql",
    "connect",
    "copy_atomic",
    "default_memory_limit",
    "execute",
    "is_memory_size",
    "load_frame",
    "make_db_api",
    "make_private",
    "quote_identifier",
    "quote_literal",
    "scalar",
    "spill_directory",
]

#: Environment variables that bound DuckDB's memory on every connection the package opens.
#: DuckDB's own default is 80% of RAM per connection, which an in-memory 1M-record job uses
#: (about 20 GB); with a limit DuckDB spills to disk instead (docs/scale.md).
MEMORY_LIMIT_ENV = "MIGRANT_LINKAGE_DUCKDB_MEMORY_LIMIT"  # e.g. "4GB"
TEMP_DIRECTORY_ENV = "MIGRANT_LINKAGE_DUCKDB_TEMP_DIRECTORY"  # default: a new temporary dir

#: Without MEMORY_LIMIT_ENV, DuckDB may use this share of the machine's RAM (4 GB on a 24 GB
#: machine). The limit covers DuckDB only; the interpreter holds about 0.6-0.9 GB besides at
#: 1M records (the standardized records are parked on disk while DuckDB works), and a 1M job
#: peaked at 4.2 GB with this default (docs/scale.md, fifth round).
DEFAULT_MEMORY_SHARE = 1 / 6
#: The default limit never goes below this, however small the machine (DuckDB needs room).
MIN_DEFAULT_MEMORY_LIMIT_MB = 1024

#: Every file the package writes holds student data or describes it: owner read/write only.
PRIVATE_FILE_MODE = 0o600

_spill_directory: str | None = None


# ------------------------------------------------------------------------------- quoting
def quote_identifier(name: str) -> str:
    """A table or column name as a quoted SQL identifier (DuckDB and Spark SQL both read
    double-quoted identifiers with doubled quotes inside)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A string as a SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def columns_sql(names: Iterable[str]) -> str:
    """A comma-separated list of quoted column names."""
    return ", ".join(quote_identifier(n) for n in names)


# ------------------------------------------------------------------------------- connections
def default_memory_limit() -> str | None:
    """DuckDB's memory limit when the environment names none: DEFAULT_MEMORY_SHARE of the
    machine's physical RAM, in MB; None when the platform does not say how much RAM it has."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    if ram <= 0:
        return None
    megabytes = max(int(ram * DEFAULT_MEMORY_SHARE) // 2**20, MIN_DEFAULT_MEMORY_LIMIT_MB)
    return f"{megabytes}MB"


def is_memory_size(text: str) -> bool:
    """Whether `text` is a size DuckDB's memory_limit accepts, such as 4GB or 500MB."""
    return bool(re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text, re.I))


def spill_directory() -> str:
    """Where DuckDB spills beyond its memory limit: TEMP_DIRECTORY_ENV, else one temporary
    directory per process (removed when the process ends), not DuckDB's `.tmp` in the current
    directory. The run's other temporary files of student data go there too (pipeline.parked)."""
    global _spill_directory
    chosen = os.environ.get(TEMP_DIRECTORY_ENV)
    if chosen:
        return chosen
    if _spill_directory is None:
        _spill_directory = tempfile.mkdtemp(prefix="migrant-linkage-duckdb-")
        atexit.register(shutil.rmtree, _spill_directory, ignore_errors=True)
    return _spill_directory


def _limit_memory(connection: duckdb.DuckDBPyConnection) -> None:
    limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if limit and not is_memory_size(limit):
        raise ValueError(f"{MEMORY_LIMIT_ENV}={limit!r}: give a size such as 4GB or 500MB")
    chosen = limit or default_memory_limit()
    if chosen is None:
        return
    execute(connection, f"SET memory_limit = {quote_literal(chosen)}")
    execute(connection, f"SET temp_directory = {quote_literal(spill_directory())}")


def connect(database: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the package's memory policy: in memory, or in an on-disk
    database file when `database` is given (DuckDB then spills to the file)."""
    created = database is not None and not Path(database).exists()
    connection = duckdb.connect(str(database) if database is not None else ":memory:")
    if created:
        make_private(Path(database))  # type: ignore[arg-type]
    _limit_memory(connection)
    return connection


def make_private(path: Path) -> None:
    """Owner read/write only for a database file the package just created (DuckDB creates it
    with the process's umask, usually world-readable). Its tables hold student data."""
    if path.is_file():
        os.chmod(path, PRIVATE_FILE_MODE)


def make_db_api(database: str | Path | None = None) -> tuple[Any, duckdb.DuckDBPyConnection]:
    """The one place that builds a Splink database API over DuckDB. Returns (db_api,
    connection). On the Spark backend this is still where the scored pairs land and where
    zones, guards and clustering run (spark_backend.py scores on Spark)."""
    from splink import DuckDBAPI

    connection = connect(database)
    return DuckDBAPI(connection=connection), connection


# ------------------------------------------------------------------------------- statements
def execute(con: duckdb.DuckDBPyConnection, sql: str, parameters: Any = None) -> None:
    """Run a statement and drain its result: Splink shares the connection, and DuckDB refuses
    new work while a result is unfinished."""
    con.execute(sql, parameters).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The single value a query returns."""
    return con.execute(sql).fetchall()[0][0]


def load_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame | pa.Table,
    types: Mapping[str, str] | None = None,
) -> None:
    """Copy a frame into a new table, casting the columns named in `types` to their SQL type.
    A column that is empty in every row (no state sent birth cities) would otherwise arrive
    untyped and break the string comparisons. Column names are quoted: they may come from a
    user's file header. An Arrow table is scanned in place (pipeline.parked)."""
    types = types or {}
    columns = frame.column_names if isinstance(frame, pa.Table) else frame.columns
    select = ", ".join(
        f"CAST({quote_identifier(c)} AS {types[c]}) AS {quote_identifier(c)}"
        if c in types
        else quote_identifier(c)
        for c in columns
    )
    view = "_ml_frame_to_load"
    con.register(view, frame)
    try:
        execute(
            con, f"CREATE OR REPLACE TABLE {quote_identifier(table)} AS SELECT {select} FROM {view}"
        )
    finally:
        con.unregister(view)


@contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[Path]:
    """The one way the package writes a file: yields a path to write `target` through.

    The path is in a new hidden folder beside the target (mode 0700, named `.<target>.…`, so a
    reader globbing the output folder ignores it, and so does whatever temporary name the writer
    itself uses inside it, such as DuckDB COPY's `tmp_` file). When the block ends the file is
    made 0600 and renamed over the target: the target appears whole or not at all, and is never
    world-readable. A killed writer leaves at most the hidden folder."""
    final = Path(target)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as error:  # name the folder the user chose, not our temporary name
        raise OSError(error.errno, error.strerror, str(final.parent)) from error
    temporary = folder / final.name
    try:
        yield temporary
        os.chmod(temporary, PRIVATE_FILE_MODE)
        os.replace(temporary, final)
    except (OSError, duckdb.IOException) as error:
        # A write that fails part way (a full disk) names no file: name the target.
        if isinstance(error, OSError) and error.filename not in (None, str(temporary)):
            raise
        code = getattr(error, "errno", None) or _errno_from(str(error))
        cause = getattr(error, "strerror", None) or os.strerror(code)
        raise OSError(code, cause, str(final)) from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _errno_from(message: str) -> int:
    """The errno a DuckDB IO message describes (as `"errno":"27"`, or only in words)."""
    given = re.search(r'"errno"\s*:\s*"?(\d+)', message)
    if given:
        return int(given.group(1))
    for code in (errno.ENOSPC, errno.EFBIG, errno.EACCES, errno.EROFS, errno.EDQUOT):
        if os.strerror(code) in message:
            return code
    return errno.EIO


def copy_atomic(con: duckdb.DuckDBPyConnection, select_sql: str, target: Path, fmt: str) -> None:
    """Stream a query to a Parquet or CSV file through `atomic_file`: the target appears whole
    or not at all, 0600, and no partial file is ever visible in the target's folder."""
    options = "FORMAT PARQUET" if fmt == "parquet" else "FORMAT CSV, HEADER"
    with atomic_file(target) as temporary:
        execute(con, f"COPY ({select_sql}) TO {quote_literal(str(temporary))} ({options})")
