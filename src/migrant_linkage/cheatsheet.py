"""The cultural cheat sheet, run: which level each pair of raw values lands in.

The sheet ships in the package (`migrant_linkage/data/cheatsheet/`, one CSV per comparison,
plus `fields.csv` naming the raw fields a value fills). Each row is two raw values as states
send them and the level the pair must land in. `landed_levels` puts both records of every row
through the real standardizer and every pair through the real comparison SQL on DuckDB, in one
call each; `misses` lists the rows that land elsewhere. tests/test_cheat_sheet.py runs the
shipped sheet; `migrant-linkage cheatsheet check FILE` runs a data specialist's own rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from migrant_linkage.comparisons import COMPARISON_NAMES, comparison_levels, gamma_case_sql
from migrant_linkage.levels import gamma_value
from migrant_linkage.schema import INPUT_COLUMNS

__all__ = [
    "BASE_RECORD",
    "CheatSheetError",
    "Row",
    "fields",
    "landed_levels",
    "misses",
    "read_rows",
    "shipped_files",
    "shipped_rows",
]

#: Every record starts from this; a row's value overrides the fields its comparison names.
BASE_RECORD = {"state": "TX", "first_name": "ANA", "last_name_1": "PEREZ"}

ROW_COLUMNS = ("value_a", "value_b", "expected_level", "note")


class CheatSheetError(ValueError):
    """A cheat-sheet file cannot be read; the message names the file, line and what to fix."""


@dataclass(frozen=True)
class Row:
    comparison: str
    line: int  # line number in the CSV, the header is line 1
    value_a: str
    value_b: str
    expected_level: str
    note: str
    file: str = ""

    @property
    def key(self) -> str:
        return f"{self.comparison}:{self.line}" if not self.file else f"{self.file}:{self.line}"


def _sheet():
    return resources.files("migrant_linkage.data").joinpath("cheatsheet")


def shipped_files() -> list[str]:
    """The file names of the shipped sheet: fields.csv and one CSV per comparison."""
    return ["fields.csv", *(f"{name}.csv" for name in COMPARISON_NAMES)]


@cache
def fields() -> dict[str, tuple[str, ...]]:
    """comparison -> the raw fields a '|'-separated value fills, in order (fields.csv)."""
    text = _sheet().joinpath("fields.csv").read_text(encoding="utf-8")
    return {
        r["comparison"]: tuple(r["fields"].split("|")) for r in csv.DictReader(text.splitlines())
    }


def _rows_of(text: str, comparison: str | None, file: str) -> list[Row]:
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in ROW_COLUMNS if c not in header]
    if comparison is None and "comparison" not in header:
        missing.insert(0, "comparison")
    if missing:
        raise CheatSheetError(
            f"{file}: column(s) {missing} missing; the header must be "
            "value_a,value_b,expected_level,note (and comparison, unless the file is named "
            "after one: surname.csv, given_name.csv, ...)"
        )
    rows = []
    for line, r in enumerate(reader, start=2):
        name = comparison or (r.get("comparison") or "").strip()
        if name not in COMPARISON_NAMES:
            raise CheatSheetError(
                f"{file} line {line}: unknown comparison {name!r}; use one of "
                f"{', '.join(COMPARISON_NAMES)}"
            )
        level = (r["expected_level"] or "").strip()
        labels = [lv.label for lv in comparison_levels(name)]
        if level not in labels:
            raise CheatSheetError(
                f"{file} line {line}: {name} has no level {level!r}; its levels: "
                f"{', '.join(labels)}"
            )
        values = (r["value_a"] or "", r["value_b"] or "")
        for value in values:
            if len(value.split("|")) > len(fields()[name]):
                raise CheatSheetError(
                    f"{file} line {line}: more '|'-parts than {name}'s fields "
                    f"{'|'.join(fields()[name])}"
                )
        rows.append(Row(name, line, *values, level, r["note"] or "", file))
    return rows


def shipped_rows() -> list[Row]:
    """Every row of the shipped sheet, comparison by comparison."""
    rows = []
    for name in COMPARISON_NAMES:
        text = _sheet().joinpath(f"{name}.csv").read_text(encoding="utf-8")
        rows.extend(_rows_of(text, name, ""))
    return rows


def read_rows(path: str | Path) -> list[Row]:
    """A data specialist's rows: a CSV named after a comparison (surname.csv) with the sheet's
    columns, or any CSV with an extra `comparison` column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CheatSheetError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise CheatSheetError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    comparison = path.stem if path.stem in COMPARISON_NAMES else None
    return _rows_of(text, comparison, path.name)


def _raw_record(row: Row, value: str, record_id: str) -> dict[str, str]:
    record = dict.fromkeys(INPUT_COLUMNS, "")
    record.update(BASE_RECORD)
    record.update(dict(zip(fields()[row.comparison], value.split("|"), strict=False)))
    record["record_id"] = record_id
    return record


def landed_levels(rows: Sequence[Row]) -> dict[tuple[str, str], str]:
    """The level each row's pair lands in, keyed by (row key, order): "ab" puts record A on
    the left of the pair, "ba" on the right. A record the standardizer rejects gives
    "rejected by the standardizer: REASON" for its row only."""
    from migrant_linkage.standardize import standardize

    records = []
    for row in rows:
        records.append(_raw_record(row, row.value_a, f"{row.key}:a"))
        records.append(_raw_record(row, row.value_b, f"{row.key}:b"))
    result = standardize(pd.DataFrame(records, columns=list(INPUT_COLUMNS)))
    rejected = {
        record_id.rsplit(":", 1)[0]: f"rejected by the standardizer: {reason}"
        for record_id, reason in zip(
            result.rejects["record_id"], result.rejects["reason"], strict=True
        )
    }
    with duckdb.connect() as con:
        con.register("records", result.standardized)
        # Our own column names (the standardized contract), quoted; no value enters the SQL.
        columns = [c for c in result.standardized.columns if c != "record_id"]
        select_l = ", ".join(f'l."{c}" AS "{c}_l"' for c in columns)
        select_r = ", ".join(f'r."{c}" AS "{c}_r"' for c in columns)
        con.execute(
            f"""CREATE TABLE pairs AS
            SELECT substr(l.record_id, 1, length(l.record_id) - 2) AS key,
                   right(l.record_id, 1) || right(r.record_id, 1) AS side_order,
                   {select_l}, {select_r}
            FROM records l JOIN records r
              ON l.record_id <> r.record_id
             AND substr(l.record_id, 1, length(l.record_id) - 2)
               = substr(r.record_id, 1, length(r.record_id) - 2)"""
        )
        cases = ", ".join(gamma_case_sql(name, "duckdb") for name in COMPARISON_NAMES)
        scored = con.execute(f"SELECT key, side_order, {cases} FROM pairs").df()
    scored = scored.set_index(["key", "side_order"])
    label_of = {
        name: {gamma_value(name, lv.label): lv.label for lv in comparison_levels(name)}
        for name in COMPARISON_NAMES
    }
    landed = {}
    for row in rows:
        for order in ("ab", "ba"):
            if row.key in rejected:
                landed[row.key, order] = rejected[row.key]
                continue
            gamma = int(scored.at[(row.key, order), f"gamma_{row.comparison}"])  # type: ignore[arg-type]
            landed[row.key, order] = label_of[row.comparison][gamma]
    return landed


def misses(rows: Iterable[Row]) -> pd.DataFrame:
    """The rows whose pair lands elsewhere than expected (in either order), with where it
    landed: file, line, comparison, value_a, value_b, expected_level, landed, landed_swapped,
    note."""
    rows = list(rows)
    landed = landed_levels(rows) if rows else {}
    out = [
        {
            "file": row.file or f"{row.comparison}.csv",
            "line": row.line,
            "comparison": row.comparison,
            "value_a": row.value_a,
            "value_b": row.value_b,
            "expected_level": row.expected_level,
            "landed": landed[row.key, "ab"],
            "landed_swapped": landed[row.key, "ba"],
            "note": row.note,
        }
        for row in rows
        if landed[row.key, "ab"] != row.expected_level
        or landed[row.key, "ba"] != row.expected_level
    ]
    columns = ["file", "line", "comparison", "value_a", "value_b", "expected_level"]
    return pd.DataFrame(out, columns=[*columns, "landed", "landed_swapped", "note"])
