"""Read state files into the record contract, and write tables safely.

Everything is read as text: no type inference (an ID "00123" keeps its zeros) and no guessing
of missing values (a child can be named "NA" or "NULL"); only an empty cell becomes missing.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from migrant_linkage.schema import INPUT_COLUMNS, REQUIRED_INPUT_COLUMNS

#: Encodings tried, in order, when a CSV's encoding is not declared. UTF-8 (a BOM is skipped)
#: covers modern exports; cp1252 covers Windows/Excel exports of accented names. cp1252 leaves
#: five bytes undefined, so Latin-1 (which decodes any byte) is the last resort.
FALLBACK_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")

#: A CSV cell starting with one of these is a formula in Excel/LibreOffice/Sheets.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")

#: Columns an input may have. The record contract has 21; state exports add a few dozen. Every
#: column costs time in every stage, and a 100,000-column header made validation run for
#: minutes, so a wider input is refused with a message instead.
MAX_COLUMNS = 1_000

#: The column in which read_records marks a row it could not trust (its value is the message);
#: standardize rejects such rows with RejectCode.UNBALANCED_QUOTE and drops the column.
READ_PROBLEM_COLUMN = "_ml_read_problem"

#: Identifiers stored as floating point lose digits above this (2^53: a double's mantissa).
_FLOAT_EXACT_LIMIT = 2**53


class RecordContractError(ValueError):
    """The input cannot be read as the record contract (a required column is missing, the
    column map is wrong, the file type is unknown). The message says what to do."""


def read_records(
    source: object,
    *,
    column_map: Mapping[str, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    table: str | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Read records into a frame of text columns named as in the record contract.

    `source` is a pandas DataFrame, an Arrow table, a Polars DataFrame (anything with
    `to_arrow()` or the Arrow stream interface), a DuckDB relation, a CSV or Parquet path, a
    DuckDB database path (with `table`, or as a (path, table) pair), or a table name (with
    `connection`). `column_map` renames {their_name: contract_name}. Missing optional contract
    columns are added as all-NA; extra columns (such as the truth columns of synthetic data) are
    carried through unchanged. A row the reader could not trust (a quote that swallowed the
    following records) carries its reason in READ_PROBLEM_COLUMN; standardize rejects it.
    """
    if isinstance(source, tuple) and len(source) == 2 and table is None:
        database, name = source  # (database path, table name), as dedupe takes it
        source, table = database, str(name)
    label = describe_source(source, table)
    frame = _read_raw(source, encoding=encoding, delimiter=delimiter, table=table, conn=connection)
    _check_column_count(len(frame.columns), label)
    frame = _as_text(frame, label)
    frame = _apply_column_map(frame, column_map or {}, label)
    for column in REQUIRED_INPUT_COLUMNS:
        if column not in frame.columns:
            raise RecordContractError(
                f"{label}: required column '{column}' is missing ({_found(frame.columns)}). "
                f"Rename the column in the file or pass column_map={{'<your column>': "
                f"'{column}'}}."
            )
    for column in INPUT_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
    return frame


def _check_column_count(count: int, label: str) -> None:
    if count > MAX_COLUMNS:
        raise RecordContractError(
            f"{label}: {count:,} columns, more than the {MAX_COLUMNS:,} an input may have; keep "
            "the record-contract columns (docs/record-contract.md) and drop the others"
        )


def describe_source(source: object, table: str | None = None) -> str:
    """A short label for messages and the source_name column (never file contents)."""
    if isinstance(source, pd.DataFrame):
        return "dataframe"
    if isinstance(source, duckdb.DuckDBPyRelation):
        return "duckdb relation"
    if _is_arrow_like(source):
        return "polars dataframe" if type(source).__module__.startswith("polars") else "arrow table"
    if table is not None:
        return f"{Path(str(source)).name}:{table}" if _is_path(source) else table
    return Path(str(source)).name if _is_path(source) else str(source)


def _is_path(source: object) -> bool:
    return isinstance(source, str | os.PathLike)


def _is_arrow_like(source: object) -> bool:
    """An Arrow table or record batch, or a frame that hands one over (Polars, and any library
    with the Arrow PyCapsule stream interface)."""
    return isinstance(source, pa.Table | pa.RecordBatch) or (
        not isinstance(source, pd.DataFrame | str | os.PathLike)
        and (hasattr(source, "to_arrow") or hasattr(source, "__arrow_c_stream__"))
    )


def _to_arrow(source: object) -> pa.Table:
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source.to_arrow_table()
    if hasattr(source, "to_arrow"):
        return pa.table(source.to_arrow())
    return pa.table(source)


def _read_raw(
    source: object,
    *,
    encoding: str | None,
    delimiter: str | None,
    table: str | None,
    conn: duckdb.DuckDBPyConnection | None,
) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return _frame_as_text(source)
    if isinstance(source, duckdb.DuckDBPyRelation) or _is_arrow_like(source):
        return _arrow_as_text(_to_arrow(source))
    if conn is not None:
        return _read_duckdb(conn, table or str(source))
    if not _is_path(source):
        raise RecordContractError(
            f"cannot read records from a {type(source).__name__}: pass a pandas DataFrame, a "
            "CSV/Parquet path, a DuckDB database path with table=..., or a table name with "
            "connection=..."
        )
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in _DUCKDB_SUFFIXES:
        if table is None:
            raise RecordContractError(f"{path.name}: a DuckDB database needs table='<name>'")
        if not path.exists():
            raise RecordContractError(f"{path.name}: file not found ({path})")
        with duckdb.connect(str(path), read_only=True) as db:
            return _read_duckdb(db, table)
    if not path.exists():
        raise RecordContractError(f"{path.name}: file not found ({path})")
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            parquet = pq.read_table(path)
        except (pa.ArrowException, OSError) as error:
            # Arrow's message describes the file's structure, never cell values.
            raise RecordContractError(
                f"{path.name}: not a readable Parquet file ({type(error).__name__}: "
                f"{str(error)[:120]}). Re-export it, or send CSV"
            ) from None
        return _arrow_as_text(parquet, path.name)
    if suffix in (".csv", ".txt", ".tsv", ""):
        return _read_csv(path, delimiter or ("\t" if suffix == ".tsv" else None), encoding)
    raise RecordContractError(
        f"{path.name}: unknown file type '{suffix}'. Use .csv, .tsv, .txt, .parquet or a DuckDB "
        "database (.duckdb/.db) with table=..."
    )


def _read_csv(path: Path, sep: str | None, encoding: str | None) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise RecordContractError(
            f"{path.name}: the file is empty (not even a header row). Export the records with "
            "a header row naming the columns"
        )
    sep = sep or _sniff_delimiter(path)
    # Refuse a too-wide file from its header line, before pandas builds a column per field.
    _check_column_count(_header_field_count(path, sep), path.name)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise RecordContractError(
                f"{path.name}: unknown encoding {encoding!r}; use e.g. utf-8, cp1252 or latin-1, "
                "or leave it out to let the reader try UTF-8, then cp1252"
            ) from None
    candidates = (encoding,) if encoding is not None else FALLBACK_ENCODINGS
    if encoding is None and _starts_with_utf16_bom(path):
        candidates = ("utf-16",)  # Excel's "Unicode text"; cp1252 would read it as NUL bytes
    for candidate in candidates:
        try:
            return _parse_csv(path, sep, candidate)
        except UnicodeError:  # UnicodeDecodeError, and UTF-16's "no byte-order mark"
            if encoding is not None:
                raise RecordContractError(
                    f"{path.name}: cannot be decoded as {encoding}; leave the encoding out to "
                    "let the reader try UTF-8, then cp1252"
                ) from None
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


#: Delimiters recognised from the header row when none is given (Excel in many locales writes
#: ';', database exports often write tabs or pipes).
SNIFFED_DELIMITERS: tuple[str, ...] = (";", "\t", "|")


def _starts_with_utf16_bom(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _header_field_count(path: Path, sep: str) -> int:
    """How many fields the header line holds (quotes respected; delimiters are ASCII)."""
    with path.open("rb") as f:
        raw = f.readline()
    # UTF-16 puts a NUL beside every ASCII byte; the delimiter is still one of them.
    line = raw.replace(b"\x00", b"").decode("latin-1")
    return max((len(row) for row in csv.reader([line], delimiter=sep)), default=0)


def _sniff_delimiter(path: Path) -> str:
    """',' unless the header row holds no comma but exactly one of ; TAB | (then that one)."""
    with path.open("rb") as f:
        header = f.readline(1_000_000).decode("latin-1")  # delimiters are ASCII
    if "," in header:
        return ","
    found = [d for d in SNIFFED_DELIMITERS if d in header]
    return found[0] if len(found) == 1 else ","


def _parse_csv(path: Path, sep: str, encoding: str) -> pd.DataFrame:
    """pandas.read_csv with every parser failure turned into a RecordContractError naming the
    file and data row (row 1 is the first record after the header; never a cell value)."""
    options = {
        "sep": sep,
        "dtype": "str",
        "keep_default_na": False,  # "NA", "NULL", "None" are possible names, not missing values
        "na_values": [""],
        "index_col": False,  # never turn extra fields into an index (that shifts every column)
        "encoding": encoding,
    }
    shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(sep, repr(sep))
    try:
        with warnings.catch_warnings():
            # pandas only warns when the first record has more fields than the header, and
            # then drops the extra fields: make that an error like any other ragged row.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = _read_csv_after_bom(path, options)
            header = _read_csv_after_bom(path, {**options, "header": None, "nrows": 1})
    except pd.errors.EmptyDataError:
        raise RecordContractError(
            f"{path.name}: no header row (the file holds only blank lines)"
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as error:
        raise RecordContractError(
            f"{path.name}: not a valid {shown}-delimited CSV file: {_parser_problem(error)}. "
            "Check for a quote that is never closed or a row with more fields than the header"
        ) from None
    names = [str(v).replace("\ufeff", "").strip() for v in header.iloc[0].tolist()]
    repeated = _repeated(names)
    if repeated:
        # pandas renames a repeated header to name.1, which would hide the second column.
        raise RecordContractError(
            f"{path.name}: column(s) {repeated} appear more than once in the header row; "
            "rename or drop the extra column"
        )
    if _physical_lines(path) == len(frame) + 1:
        return frame  # one line per record and the header: no field holds a line break
    return _mark_swallowed_records(frame, sep)


def _physical_lines(path: Path) -> int:
    """Lines in the file (LF, CRLF or CR-only ends), counted in 16 MB chunks."""
    newlines = carriage_returns = 0
    last = b""
    with path.open("rb") as f:
        while chunk := f.read(16 * 2**20):
            newlines += chunk.count(b"\n")
            carriage_returns += chunk.count(b"\r")
            last = chunk[-1:]
    breaks = newlines or carriage_returns
    return breaks + (0 if last in (b"\n", b"\r", b"") else 1)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _mark_swallowed_records(frame: pd.DataFrame, sep: str) -> pd.DataFrame:
    """Count the records a runaway quote swallowed, and mark them and the row that holds them.

    A quote opened in a field and closed lines later makes the parser read the next records as
    part of that field, and the file's records silently become fewer rows. A field holding a line
    break followed by a line with at least half the header's delimiters holds records, not a
    name. Such a row is marked, and each line break in that field becomes a marked row of its
    own (fields taken from the line, so it keeps the record_id it starts with) right after it:
    the frame then has one row per physical record, and standardize rejects the marked ones.
    Only cells with a line break are looked at one by one."""
    needed = max(1, (len(frame.columns) - 1) // 2)
    swallowed: dict[int, list[tuple[str, list[str]]]] = {}
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        has_break = values.str.contains(r"[\r\n]", regex=True, na=False).astype(bool)
        if not has_break.any():
            continue
        for position_in_file in np.flatnonzero(has_break.to_numpy()):
            lines = _LINE_BREAK.split(values.iloc[position_in_file])
            if any(line.count(sep) >= needed for line in lines[1:]):
                cells = swallowed.setdefault(int(position_in_file), [])
                cells.append((str(column), lines[1:]))
    if not swallowed:
        return frame

    order = pd.Series(np.arange(len(frame), dtype=float), index=frame.index)
    extra_rows, extra_order, holders = [], [], []
    for row, cells in swallowed.items():
        lines = [line for _, cell_lines in cells for line in cell_lines]
        holders.append((row, ", ".join(f"'{c}'" for c, _ in cells), len(lines)))
        for k, line in enumerate(lines, start=1):
            fields: list[str | None] = list(next(csv.reader([line], delimiter=sep), []))
            fields = (fields + [None] * len(frame.columns))[: len(frame.columns)]
            extra_rows.append([f if f != "" else None for f in fields])
            extra_order.append(row + k / (len(lines) + 1))
    extra = pd.DataFrame(extra_rows, columns=frame.columns, dtype="str")
    combined = pd.concat([frame, extra], ignore_index=True)
    key = np.concatenate([order.to_numpy(), np.array(extra_order)])
    combined = combined.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    source_row = np.arange(1, len(combined) + 1)
    sorted_key = np.sort(key, kind="stable")

    problem = pd.Series(None, index=combined.index, dtype=object)
    for row, columns, count in holders:
        at = int(np.searchsorted(sorted_key, row))
        problem.iloc[at] = (
            f"a quote opened in column {columns} runs over {count} line break(s) and swallowed "
            f"what look like the next {count} record(s) (rejected with it): close or remove "
            "the quote and send these records again"
        )
        problem.iloc[at + 1 : at + 1 + count] = (
            f"this record was read inside a quoted field of data row {source_row[at]} (a "
            "quote that is not closed on its line): send it again once the quote is fixed"
        )
    combined[READ_PROBLEM_COLUMN] = problem.astype("str")
    return combined


_UTF8_BOM = b"\xef\xbb\xbf"


def _read_csv_after_bom(path: Path, options: dict) -> pd.DataFrame:
    """read_csv from just after a UTF-8 byte-order mark, whatever the encoding tried. A file
    that starts with a BOM but holds cp1252 rows further down (edited in two programs) is read
    as cp1252, which would turn the BOM into 'ï»¿' glued to the first column name."""
    with path.open("rb") as handle:
        if handle.read(len(_UTF8_BOM)) != _UTF8_BOM:
            handle.seek(0)
        return pd.read_csv(handle, **options)


def _parser_problem(error: Exception) -> str:
    """The row number from a pandas parser message, without quoting any data."""
    message = str(error)
    line = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if line:
        expected, number, saw = (int(g) for g in line.groups())
        return f"data row {number - 1} has {saw} fields, the header has {expected}"
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return f"a quote opened in data row {int(quote.group(1))} is never closed"
    if isinstance(error, pd.errors.ParserWarning):
        return "data row 1 has more fields than the header"
    return "the parser stopped (" + re.sub(r"['\"].*", "", message)[:80] + ")"


def _read_duckdb(conn: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """Every column cast to VARCHAR inside DuckDB (dates come out as ISO text)."""
    try:
        relation = conn.table(table)
    except duckdb.Error as error:
        raise RecordContractError(f"DuckDB table '{table}' cannot be read: {error}") from None
    casts = [
        duckdb.ColumnExpression(column).cast(duckdb.sqltype("VARCHAR")).alias(column)
        for column in relation.columns
    ]
    return relation.select(*casts).df()


def _frame_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A caller's DataFrame as text, through Arrow so that every dtype is written the same way
    as from Parquet (nullable integers, decimals, dates, bytes). Text columns are kept as they
    are; a column Arrow cannot take (mixed Python objects) is written with str() instead."""
    columns: list[pd.Series] = []
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if pd.api.types.is_string_dtype(values) and values.dtype != object:
            columns.append(values)
            continue
        try:
            array = pa.chunked_array([pa.Array.from_pandas(values)])
        except (pa.ArrowException, TypeError):
            columns.append(values.astype("str").where(values.notna()))
            continue
        text = _column_as_text(array, str(name), "dataframe").to_pandas()
        columns.append(pd.Series(text.to_numpy(), index=frame.index, dtype="str"))
    out = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=frame.index)
    out.columns = frame.columns  # the names as given (repeats too): _as_text checks them
    return out


def _arrow_as_text(table: pa.Table, label: str = "arrow table") -> pd.DataFrame:
    """Every column of an Arrow table as text, converted inside Arrow (see _column_as_text)."""
    _check_column_count(table.num_columns, label)
    texts = [
        _column_as_text(table.column(i), name, label) for i, name in enumerate(table.column_names)
    ]
    return pa.Table.from_arrays(texts, names=table.column_names).to_pandas()


def _column_as_text(array: pa.ChunkedArray, name: str, label: str) -> pa.ChunkedArray:
    """One column as Arrow strings holding what a person reads in the cell: integers (also
    those with nulls, as Arrow, DuckDB and Spark write them) and decimals as their digits,
    whole-number floats as digits, dates as ISO dates, UTF-8 bytes as text. Nested values and
    bytes that are not text are refused: no reading of them would be the value the state sent.
    """
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array.cast(pa.string())
    if pa.types.is_nested(kind):
        raise RecordContractError(
            f"{label}: column '{name}' holds nested values ({kind}), not text; flatten it into "
            "plain columns or drop it"
        )
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
    ):
        try:
            return array.cast(pa.string())
        except pa.ArrowInvalid:
            raise RecordContractError(
                f"{label}: column '{name}' holds bytes that are not UTF-8 text; export it as a "
                "text column"
            ) from None
    if pa.types.is_timestamp(kind):
        array = array.cast(pa.date32())  # a birth date exported as midnight of that day
    if pa.types.is_floating(kind):
        return _float_as_text(array, name, label)
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(array), pa.string())])
    try:
        return array.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise RecordContractError(
            f"{label}: column '{name}' has type {kind}, which cannot be read as text; export "
            "it as a text column"
        ) from None


def _float_as_text(array: pa.ChunkedArray, name: str, label: str) -> pa.ChunkedArray:
    """Floats as text. A column of whole numbers is written as their digits (an MSIX ID read by
    pandas' default dtypes arrives as 123456789012.0); digits beyond 2^53 are already lost, so
    such a column gets a warning naming it."""
    values = array.to_numpy()
    present = values[~np.isnan(values)]
    whole = bool(np.all(np.isfinite(present) & (np.floor(present) == present)))
    if not whole:
        return array.cast(pa.string())
    largest = float(np.max(np.abs(present))) if present.size else 0.0
    if largest > _FLOAT_EXACT_LIMIT:
        warnings.warn(
            f"{label}: column '{name}' holds whole numbers stored as floating point above 2^53, "
            "whose last digits are lost; read the file with dtype=str so identifiers stay exact",
            UserWarning,
            stacklevel=4,
        )
    if largest >= 2.0**63:  # beyond int64: no integer reading is closer than the float's own
        return array.cast(pa.string())
    digits = pa.array(values, mask=np.isnan(values)).cast(pa.int64())
    return pa.chunked_array([digits.cast(pa.string())])


def _as_text(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Every column as pandas text; empty strings become missing, nothing else does. Header
    names are trimmed (and a stray byte-order mark removed) so ' state' still matches."""
    columns = {}
    for position, column in enumerate(frame.columns):
        name = str(column).replace("\ufeff", "").strip()
        if _CONTROL_CHARACTER.search(name):
            # A NUL or an escape code is never part of a name; echoing it would reach the
            # terminal, so the column is named by its position.
            raise RecordContractError(
                f"{label}: header column {position + 1} holds a control character (NUL, an "
                "escape code or a line break); rename the column to plain text"
            )
        if name in columns:
            raise RecordContractError(
                f"{label}: column '{name}' appears twice (after trimming spaces); "
                "rename or drop one of them"
            )
        values = frame.iloc[:, position]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        text = values.astype("str")
        columns[name] = text.mask(text == "")
    return pd.DataFrame(columns, index=frame.index)


def _apply_column_map(
    frame: pd.DataFrame, column_map: Mapping[str, str], label: str
) -> pd.DataFrame:
    absent = [theirs for theirs in column_map if theirs not in frame.columns]
    if absent:
        raise RecordContractError(
            f"{label}: column_map names column(s) {absent} that the input does not have "
            f"({_found(frame.columns)}). Fix the map's left-hand names."
        )
    renamed = frame.rename(columns=dict(column_map))
    duplicated = _repeated(renamed.columns)
    if duplicated:
        raise RecordContractError(
            f"{label}: after the column map, column(s) {duplicated} appear twice. Map only one "
            "input column to each contract column, or drop the other."
        )
    return renamed


def _repeated(names: Iterable[object]) -> list[str]:
    """The names that occur more than once, counted in one pass (a header can hold 100,000
    columns; counting each name again per column took minutes)."""
    return sorted(str(name) for name, n in Counter(names).items() if n > 1)


def _found(columns: pd.Index) -> str:
    """The header names for an error message, unless the "header" is really a record.

    A file exported without its header row has a child's name and birth date where the column
    names should be; echoing them would put student data into logs (FERPA). Names are shown
    only when at least one of them is a record-contract column."""
    names = [str(c) for c in columns]
    if not names:
        return "found no columns"
    if any(n in INPUT_COLUMNS for n in names):
        return "found: " + ", ".join(names)
    return (
        f"found {len(names)} column(s), none of them a record-contract column; names not shown "
        "in case the header row is missing and the first row is a record"
    )


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix an apostrophe to text cells that a spreadsheet would run as a formula (cells
    starting with = + - @ tab or carriage return). Spreadsheets show the apostrophe-led text
    as plain text. Only text columns are touched; numbers keep their sign."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
            continue
        text = values.astype("str")
        risky = text.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        if risky.any():
            safe[column] = text.where(~risky, "'" + text)
    return safe


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file (JSON, HTML) through `db.atomic_file`: whole or not at all, 0600."""
    from migrant_linkage.db import atomic_file

    target = Path(path)
    with atomic_file(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    """Whether a text cell or a column name of `frame` holds a carriage return."""
    if any("\r" in str(name) for name in frame.columns):
        return True
    for column in frame.columns:
        values = frame[column]
        is_text = pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
        if is_text and values.astype("string").str.contains("\r", regex=False).fillna(False).any():
            return True
    return False


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write CSV or Parquet (by extension) through `db.atomic_file`: readers never see a
    half-written file, and the file is 0600. CSV output is formula-neutralised (see
    `neutralise_formulas`)."""
    from migrant_linkage.db import atomic_file

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise RecordContractError(f"{target.name}: write_table writes .csv or .parquet only")
    with atomic_file(target) as temporary:
        if suffix == ".csv":
            safe = neutralise_formulas(frame)
            # The csv module quotes a field holding the line terminator (\n) but not a bare
            # carriage return, which readers take for a line end: a hostile record id "\r"
            # became two rows of rejects.csv. Such a table is written with every text quoted.
            if _has_carriage_return(safe):
                safe.to_csv(temporary, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
            else:
                safe.to_csv(temporary, index=False, encoding="utf-8", quoting=csv.QUOTE_MINIMAL)
        else:
            frame.to_parquet(temporary, index=False)
    return target
