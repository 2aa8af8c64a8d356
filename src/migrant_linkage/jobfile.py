"""The job file: one TOML file that says, per input, where it is and how it is laid out.

    [[source]]
    path = "tx_2026.csv"
    state = "TX"
    date_format = "MM/DD/YYYY"
    encoding = "cp1252"
    column_map = { StudentID = "record_id", DOB = "birth_date", FName = "first_name" }

    [[source]]
    path = "all_states.duckdb"
    table = "california"
    state = "CA"
    date_format = "YYYY-MM-DD"
    column_map = "ca_map.json"

Paths are relative to the job file. `validate`, `dedupe`, `link` (first source = receiving
state, second = sending state) and `index upload` all take `--job FILE`; their
--column-map / --date-format / --encoding / --table flags are shortcuts for a single file.

This module also holds the one column-map parser: `THEIRS=OURS` pairs, a JSON file of
{theirs: ours}, or (in the job file) a TOML table.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from migrant_linkage.sources import SourceSpec

__all__ = ["JobFileError", "parse_column_map", "read_job_file"]

#: The keys a [[source]] may hold; anything else is a typo and refused, not ignored.
SOURCE_KEYS: tuple[str, ...] = (
    "path",
    "table",
    "name",
    "state",
    "column_map",
    "date_format",
    "encoding",
)


class JobFileError(ValueError):
    """The job file or a column map cannot be used; the message says which key and how to fix
    it."""


def parse_column_map(
    items: Iterable[str] | Mapping[str, Any] | str | None,
    *,
    where: str = "--column-map",
    base: Path | None = None,
) -> dict[str, str] | None:
    """A column map {their column: contract column} from `THEIRS=OURS` strings and JSON file
    paths (the command line), a mapping (a job file's table) or one JSON file path. Relative
    file paths are taken from `base` (the job file's folder) when given."""
    if items is None:
        return None
    if isinstance(items, Mapping):
        return _checked(items, where)
    if isinstance(items, str):
        items = [items]
    mapping: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            raise JobFileError(f"{where}: expected THEIR_COLUMN=CONTRACT_COLUMN or a JSON file")
        if "=" in item:
            theirs, ours = item.split("=", 1)
            mapping.update(_checked({theirs.strip(): ours.strip()}, where))
            continue
        path = Path(item)
        if base is not None and not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise JobFileError(
                f"{where} {item!r}: expected THEIR_COLUMN=CONTRACT_COLUMN or a JSON file"
            )
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = (
                f"{exc.msg}, line {exc.lineno}"
                if isinstance(exc, json.JSONDecodeError)
                else "not UTF-8"
            )
            raise JobFileError(f"{where} {item}: not valid JSON ({reason})") from None
        if not isinstance(loaded, dict):
            raise JobFileError(f"{where} {item}: the JSON must be an object {{theirs: ours}}")
        mapping.update(_checked(loaded, f"{where} {item}"))
    return mapping or None


def _checked(mapping: Mapping[Any, Any], where: str) -> dict[str, str]:
    checked: dict[str, str] = {}
    for theirs, ours in mapping.items():
        if not isinstance(ours, str) or not str(theirs).strip() or not ours.strip():
            raise JobFileError(
                f"{where}: every entry must map a column name to a contract column name, "
                f'e.g. DOB = "birth_date" (entry for {str(theirs)!r} is not)'
            )
        checked[str(theirs).strip()] = ours.strip()
    return checked


def read_job_file(path: str | Path) -> list[SourceSpec]:
    """The sources of a job file, in order, as SourceSpecs (see the module docstring)."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobFileError(f"{path}: job file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JobFileError(f"{path}: not a valid TOML job file ({exc})") from None
    unknown = sorted(set(document) - {"source"})
    if unknown:
        raise JobFileError(
            f"{path}: unknown top-level key(s) {unknown}; a job file holds [[source]] tables"
        )
    tables = document.get("source")
    if not isinstance(tables, list) or not tables:
        raise JobFileError(f"{path}: no [[source]] tables; add one per input file")
    return [_source(table, path, n) for n, table in enumerate(tables, start=1)]


def _source(table: dict[str, Any], job: Path, n: int) -> SourceSpec:
    where = f"{job.name} [[source]] {n}"
    for key in table:
        if key not in SOURCE_KEYS:
            close = difflib.get_close_matches(key, SOURCE_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise JobFileError(
                f"{where}: unknown key '{key}'{hint}; keys: {', '.join(SOURCE_KEYS)}"
            )
    if "path" not in table:
        raise JobFileError(f'{where}: needs path = "FILE" (a CSV, Parquet or DuckDB file)')
    for key in ("path", "table", "name", "state", "encoding"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise JobFileError(f"{where}: {key} must be a non-empty text value")
    date_format = table.get("date_format")
    if date_format is not None and not (
        isinstance(date_format, str)
        or (isinstance(date_format, dict) and all(isinstance(v, str) for v in date_format.values()))
    ):
        raise JobFileError(
            f'{where}: date_format must be text like "DD/MM/YYYY" or a table '
            '{ birth_date = "...", enrollment_date = "..." }'
        )
    column_map = table.get("column_map")
    if column_map is not None and not isinstance(column_map, str | dict):
        raise JobFileError(
            f'{where}: column_map must be a table {{ THEIRS = "ours" }} or a JSON file'
        )
    source = Path(table["path"])
    if not source.is_absolute():
        source = job.parent / source
    return SourceSpec(
        source=str(source),
        name=table.get("name"),
        table=table.get("table"),
        state=table["state"].strip().upper() if "state" in table else None,
        column_map=parse_column_map(column_map, where=f"{where} column_map", base=job.parent),
        date_format=date_format,
        encoding=table.get("encoding"),
    )
