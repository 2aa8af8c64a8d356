"""The reconciliation report: one HTML page of a `reconcile` folder's counts (summary.json and
by_district.csv), in the run report's template. Counts only, never a name or birth date, so
the page can go to district staff and program directors as it is."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from migrant_linkage.io import write_text_atomic
from migrant_linkage.reconcile import INCONSISTENT, Category
from migrant_linkage.report.page import _e, _section, _table, _template

__all__ = ["write_reconcile_report"]

MEANINGS: dict[str, str] = {
    Category.ID_REUSED: "same State ID, clearly a different child",
    Category.TWO_IDS: "same child, a different State ID in each system",
    Category.FLAGGED_IN_BOTH: "in both systems, flagged migrant in both",
    Category.FLAGGED_MIGRANT_ONLY: "in both; the state system lacks the migrant flag",
    Category.FLAGGED_STATE_ONLY: "in both; the migrant database marks the child not migrant",
    Category.FLAGGED_IN_NEITHER: "in both, flagged in neither",
    Category.POSSIBLE_MATCH: "only a near match in the other system: a person decides",
    Category.MIGRANT_SYSTEM_ONLY: "in the migrant database, not found in the state system",
    Category.STATE_SYSTEM_ONLY_FLAGGED: "flagged by the state system, unknown to the migrant database",
    Category.STATE_SYSTEM_ONLY_NOT_FLAGGED: "an ordinary student of the state system",
    Category.REJECTED: "could not be standardized (rejects.csv)",
}


def _counts(summary: dict) -> str:
    systems = summary["systems"]
    rows = [
        {
            "category": "records in",
            "meaning": "",
            "migrant system": systems["migrant"]["records_in"],
            "state system": systems["state"]["records_in"],
        },
        {
            "category": "flagged migrant",
            "meaning": "",
            "migrant system": systems["migrant"]["flagged_migrant"],
            "state system": systems["state"]["flagged_migrant"],
        },
    ]
    for category in Category:
        rows.append(
            {
                "category": category.value + (" *" if category in INCONSISTENT else ""),
                "meaning": MEANINGS[category],
                "migrant system": systems["migrant"]["categories"][category.value],
                "state system": systems["state"]["categories"][category.value],
            }
        )
    formats = {"migrant system": "int", "state system": "int"}
    return _table(pd.DataFrame(rows), formats) + "<p class=note>* an inconsistency to correct</p>"


def _districts(folder: Path) -> str:
    by_district = pd.read_csv(folder / "by_district.csv", dtype={"district_id": str})
    wide = by_district.pivot_table(
        index="district_id",
        columns="category",
        values=["migrant_system_records", "state_system_records"],
        aggfunc="sum",
        fill_value=0,
    )
    shown = pd.DataFrame(index=wide.index)
    for category in INCONSISTENT:
        for side, label in (("migrant_system_records", "M"), ("state_system_records", "S")):
            if (side, category.value) in wide.columns:
                shown[f"{category.value} ({label})"] = wide[(side, category.value)]
    shown = shown.loc[:, (shown != 0).any()].reset_index()
    return _table(shown, {c: "int" for c in shown.columns if c != "district_id"})


def write_reconcile_report(folder: str | Path, out_path: str | Path | None = None) -> Path:
    """Write FOLDER/reconcile.html (or `out_path`) from a reconcile output folder."""
    folder = Path(folder)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    flagged = pd.DataFrame(
        [{"district_id": d, **v} for d, v in summary["flagged_migrant_by_district"].items()]
    )
    sections = [
        _section(
            "counts",
            "Categories",
            _counts(summary),
            "Every record of either system is in exactly one category (docs/reconcile.md).",
        ),
        _section(
            "flagged",
            "Students flagged migrant, per district",
            _table(flagged, {c: "int" for c in flagged.columns if c != "district_id"}),
            "The migrant database's count beside the state system's.",
        ),
        _section(
            "districts",
            "Inconsistencies per district",
            _districts(folder),
            "Records per district; M: migrant system, S: state system. Each district's master "
            "list (docs/districts.md) names the students.",
        ),
    ]
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = _template().substitute(
        title=_e(f"migrant-linkage reconciliation: {folder.name}"),
        heading=_e(folder.name),
        subtitle="reconcile · migrant database against the state student system",
        generated=_e(generated),
        banner='<p class="banner">Counts only: no names or birth dates.</p>',
        libraries="",
        body="".join(sections),
    )
    target = Path(out_path) if out_path is not None else folder / "reconcile.html"
    return write_text_atomic(target, page)
