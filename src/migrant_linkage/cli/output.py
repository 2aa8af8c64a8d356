"""How listing commands print: `--format table` (for people), `json` or `csv` (for scripts).

One place, so `validate`, `index worklist`, `index pending`, `index audit` and `index report`
print the same three ways.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

FORMATS: tuple[str, ...] = ("table", "json", "csv")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="print a table (default), JSON (a list of objects) or CSV",
    )


def strip_controls(text: str) -> str:
    """`text` with control and format characters (terminal escapes, bidi overrides, zero-width
    characters) replaced by U+FFFD, so nothing stored in the index can drive the terminal."""
    import unicodedata

    return "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)


def _lookup(mapping: dict[str, str]):
    def one(value: object) -> object:
        return mapping.get(value, value) if isinstance(value, str) else value

    return one


def printable(frame: Any) -> Any:
    """A copy of `frame` whose text cells are safe to print (strip_controls); one pass per
    distinct value."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            values = out[col].dropna().unique()
            mapping = {v: strip_controls(v) for v in values if isinstance(v, str)}
            out[col] = out[col].map(_lookup(mapping))
    return out


def print_frame(frame: Any, fmt: str = "table") -> None:
    """A pandas frame on stdout in the chosen format."""
    if fmt == "json":
        print(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        return
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False, lineterminator="\n")
        return
    if frame.empty:
        print("(none)")
        return
    import pandas as pd

    with pd.option_context(
        "display.max_rows", 500, "display.max_columns", 50, "display.width", 200
    ):
        print(frame.to_string(index=False))


def print_rows(rows: Sequence[dict[str, Any]], fmt: str = "table") -> None:
    """Rows of counts (dicts, possibly with different keys) in the chosen format. The table
    form puts one row per key and one column per row, which reads well for a few sources."""
    if fmt == "json":
        print(json.dumps(list(rows), default=str))
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if not rows:
        print("(none)")
        return
    width = max(len(k) for k in keys)
    columns = [[str(row.get(k, 0)) for k in keys] for row in rows]
    cell = [max(len(v) for v in column) for column in columns]
    for i, key in enumerate(keys):
        values = "  ".join(column[i].rjust(w) for column, w in zip(columns, cell, strict=True))
        print(f"{key:>{width}}: {values}")
