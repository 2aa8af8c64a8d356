"""The cultural cheat sheet (shipped in migrant_linkage/data/cheatsheet/) is executable: every
row is a test.

Each row holds two raw values as a state would send them. The two records go through the real
standardizer, then through the real comparison SQL on DuckDB (migrant_linkage.cheatsheet), and
the level the pair lands in must be the row's expected_level. A failure names the file, the row
and its note.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pytest

from migrant_linkage.cheatsheet import Row, landed_levels, shipped_rows
from migrant_linkage.comparisons import COMPARISON_NAMES, comparison_levels

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "comparisons.md"

ROWS: list[Row] = shipped_rows()


@cache
def _landed_levels() -> dict[tuple[str, str], str]:
    """Every row standardized and scored once for the whole module."""
    return landed_levels(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.key for r in ROWS])
def test_cheat_sheet_row_lands_in_expected_level(row: Row) -> None:
    landed = _landed_levels()[row.key, "ab"]
    assert landed == row.expected_level, (
        f"cheat sheet {row.comparison}.csv line {row.line} ({row.note}): "
        f"{row.value_a!r} vs {row.value_b!r} landed in {landed!r}, "
        f"expected {row.expected_level!r}"
    )


def test_comparisons_do_not_depend_on_which_record_is_left() -> None:
    landed = _landed_levels()
    one_sided = [
        f"{r.key} ({landed[r.key, 'ab']} vs {landed[r.key, 'ba']})"
        for r in ROWS
        if landed[r.key, "ab"] != landed[r.key, "ba"]
    ]
    assert not one_sided, f"rows whose level changes when A and B swap sides: {one_sided}"


@pytest.mark.parametrize("name", COMPARISON_NAMES)
def test_every_level_has_a_cheat_sheet_row(name: str) -> None:
    covered = {r.expected_level for r in ROWS if r.comparison == name}
    missing = [lv.label for lv in comparison_levels(name) if lv.label not in covered]
    assert not missing, f"cheat sheet {name}.csv has no row for level(s) {missing}"


def test_expected_levels_are_known_labels() -> None:
    unknown = [
        r.key
        for r in ROWS
        if r.expected_level not in {lv.label for lv in comparison_levels(r.comparison)}
    ]
    assert not unknown, f"rows naming a level that does not exist: {unknown}"


def test_cheat_sheet_has_at_least_250_rows() -> None:
    assert len(ROWS) >= 250


def test_docs_show_the_current_cheat_sheet() -> None:
    spec = importlib.util.spec_from_file_location(
        "render_docs", REPO / "comparisons" / "render_docs.py"
    )
    assert spec is not None and spec.loader is not None
    render_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_docs)
    assert DOCS.read_text(encoding="utf-8") == render_docs.render(DOCS.read_text("utf-8")), (
        "docs/comparisons.md is out of date: run python3 comparisons/render_docs.py"
    )
