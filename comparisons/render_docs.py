"""Regenerate the generated parts of docs/comparisons.md from the code and the cheat sheet.

    python3 comparisons/render_docs.py

The hand-written text of docs/comparisons.md stays as it is; only the blocks between
``<!-- generated:NAME:start -->`` and ``<!-- generated:NAME:end -->`` markers are rewritten:
``levels:<comparison>`` (the level table of one comparison, from migrant_linkage.comparisons) and
``cheat-sheet`` (every row of every CSV of the cheat sheet, shipped in
src/migrant_linkage/data/cheatsheet/). tests/test_cheat_sheet.py fails when the
docs are out of date.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from migrant_linkage.comparisons import COMPARISON_NAMES, comparison_levels
from migrant_linkage.levels import gamma_value

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs" / "comparisons.md"
SHEET = HERE.parent / "src" / "migrant_linkage" / "data" / "cheatsheet"

_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[\w:-]+):start -->\n).*?(<!-- generated:(?P=name):end -->)",
    re.DOTALL,
)


def _cell(text: str) -> str:
    """A value as a Markdown table cell: pipes escaped, blanks shown as (blank)."""
    return text.replace("|", "\\|") if text != "" else "*(blank)*"


def _levels_table(name: str) -> str:
    lines = ["| level | gamma | meaning |", "|---|---|---|"]
    for level in comparison_levels(name):
        lines.append(f"| `{level.label}` | {gamma_value(name, level.label)} | {level.meaning} |")
    return "\n".join(lines) + "\n"


def _fields() -> dict[str, str]:
    with open(SHEET / "fields.csv", newline="", encoding="utf-8") as f:
        return {r["comparison"]: r["fields"] for r in csv.DictReader(f)}


def _cheat_sheet() -> str:
    fields = _fields()
    out = []
    total = 0
    for name in COMPARISON_NAMES:
        with open(SHEET / f"{name}.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        total += len(rows)
        out.append(f"### {name} ({len(rows)} rows)\n")
        out.append(
            f"Values are `{fields[name]}` (file `src/migrant_linkage/data/cheatsheet/{name}.csv`).\n"
        )
        out.append("| value A | value B | level | note |")
        out.append("|---|---|---|---|")
        for r in rows:
            out.append(
                f"| {_cell(r['value_a'])} | {_cell(r['value_b'])} | `{r['expected_level']}` "
                f"| {r['note']} |"
            )
        out.append("")
    return f"{total} rows in all.\n\n" + "\n".join(out)


def _block(name: str) -> str:
    if name == "cheat-sheet":
        return _cheat_sheet()
    if name.startswith("levels:"):
        return _levels_table(name.split(":", 1)[1])
    raise ValueError(f"docs/comparisons.md has an unknown generated block {name!r}")


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    return _BLOCK.sub(lambda m: m.group(1) + _block(m.group("name")) + m.group(3), text)


def main() -> int:
    text = DOCS.read_text(encoding="utf-8")
    DOCS.write_text(render(text), encoding="utf-8")
    print(f"rewrote the generated blocks of {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
