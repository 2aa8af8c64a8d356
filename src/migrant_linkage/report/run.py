"""Read a run folder (what `Result.write` / `--out` leaves behind) for the report.

The report's counts and charts come from weight_histogram.parquet, which counts every scored
pair; pairs.parquet (the match and near-match pairs, and a sample of non-matches, unless the
run wrote all pairs) gives the pairs the report shows one by one. A folder from before the
histogram existed holds every pair, and its histogram is built from them.

Only summary.json is required. Every other output is optional, so a report can be made of a
partial or older run and says which part it could not show rather than failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from migrant_linkage.pipeline.histogram import HISTOGRAM_FILE
from migrant_linkage.report.pair_stats import histogram_of_pairs
from migrant_linkage.schema import FLAG_SEPARATOR

SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.json"
REPORT_FILE = "report.html"


class NotARunFolderError(FileNotFoundError):
    """The folder holds no summary.json: it is not the output folder of a dedupe or link run."""


@dataclass
class Run:
    """The outputs of one run. Tables are None when the run folder does not hold them."""

    folder: Path
    summary: dict[str, Any]
    pairs: pd.DataFrame | None = None
    #: counts of every scored pair per zone and weight bin (pipeline.histogram)
    histogram: pd.DataFrame | None = None
    clusters: pd.DataFrame | None = None
    worklist: pd.DataFrame | None = None
    rejects: pd.DataFrame | None = None
    model_settings: dict[str, Any] | None = None
    standardized: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _read_table(folder: Path, stem: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    """`stem`.parquet, else `stem`.csv (all text, as written), else None."""
    parquet, csv = folder / f"{stem}.parquet", folder / f"{stem}.csv"
    if parquet.is_file():
        return pd.read_parquet(parquet, columns=columns)
    if csv.is_file():
        return pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""], usecols=columns)
    return None


#: Pair columns the report reads; the level-label text columns are left on disk (they are the
#: bulk of the file and the model gives the same labels).
PAIR_COLUMNS = ("record_id_l", "record_id_r", "match_weight", "match_probability", "zone")


def _read_pairs(folder: Path) -> pd.DataFrame | None:
    parquet = folder / "pairs.parquet"
    if parquet.is_file():
        import pyarrow.parquet as pq

        names = pq.read_schema(parquet).names
        wanted = [c for c in names if c in PAIR_COLUMNS or c.startswith(("gamma_", "guard"))]
        return pd.read_parquet(parquet, columns=wanted)
    table = _read_table(folder, "pairs")
    if table is not None:
        for column in ("match_weight", "match_probability"):
            if column in table.columns:
                table[column] = pd.to_numeric(table[column])
    return table


def _read_histogram(folder: Path, pairs: pd.DataFrame | None) -> pd.DataFrame | None:
    path = folder / HISTOGRAM_FILE
    if path.is_file():
        return pd.read_parquet(path)
    if pairs is not None and {"zone", "match_weight"} <= set(pairs.columns):
        return histogram_of_pairs(pairs)  # an older run: its pairs file holds every pair
    return None


def load_run(folder: str | Path, *, standardized: pd.DataFrame | None = None) -> Run:
    """Read the outputs in `folder`. `standardized` (e.g. Result.standardized) supplies the
    quality flags when neither the summary nor the folder holds them."""
    folder = Path(folder)
    summary_path = folder / SUMMARY_FILE
    if not folder.is_dir():
        raise NotARunFolderError(f"{folder}: no such folder")
    if not summary_path.is_file():
        raise NotARunFolderError(
            f"{folder}: no {SUMMARY_FILE} here; give the --out folder of a dedupe or link run"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{summary_path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    run = Run(folder=folder, summary=summary, standardized=standardized)
    run.pairs = _read_pairs(folder)
    run.histogram = _read_histogram(folder, run.pairs)
    run.clusters = _read_table(folder, "clusters")
    run.worklist = _read_table(folder, "worklist")
    run.rejects = _read_table(folder, "rejects")
    if run.standardized is None:
        # Only what the report shows: flags, and birth dates for the conflicts list.
        run.standardized = _read_table(
            folder, "standardized", columns=["record_id", "birth_date_std", "quality_flags"]
        )
    model_path = folder / MODEL_FILE
    if model_path.is_file():
        run.model_settings = json.loads(model_path.read_text(encoding="utf-8"))
    for name, table in (("pairs", run.pairs), ("worklist", run.worklist)):
        if table is None:
            run.notes.append(f"no {name} table in the run folder")
    if run.model_settings is None:
        run.notes.append(f"no {MODEL_FILE} in the run folder")
    return run


def quality_flag_counts(run: Run) -> pd.DataFrame | None:
    """Records per quality flag: flag, records. From the summary when it counts them (per
    source, as every run since issue 17 does, or in total), else from the standardized table's
    quality_flags column; None when neither is available."""
    flags = run.summary.get("quality_flags")
    sources = run.summary.get("sources")
    per_source = [
        v["quality_flags"]
        for v in (sources.values() if isinstance(sources, dict) else [])
        if isinstance(v, dict) and isinstance(v.get("quality_flags"), dict)
    ]
    if not isinstance(flags, dict) and per_source:
        flags = {}
        for counts in per_source:
            for flag, n in counts.items():
                flags[flag] = flags.get(flag, 0) + int(n)
    if isinstance(flags, dict):
        table = pd.DataFrame({"flag": list(flags), "records": [int(v) for v in flags.values()]})
        return table.sort_values(["records", "flag"], ascending=[False, True], ignore_index=True)
    if run.standardized is None or "quality_flags" not in run.standardized.columns:
        return None
    exploded = (
        run.standardized["quality_flags"].fillna("").astype(str).str.split(FLAG_SEPARATOR).explode()
    )
    exploded = exploded[exploded.str.len() > 0]
    counts = exploded.value_counts()
    table = pd.DataFrame({"flag": counts.index.astype(str), "records": counts.to_numpy()})
    return table.sort_values(["records", "flag"], ascending=[False, True], ignore_index=True)


def thresholds_of(run: Run) -> tuple[float, float] | None:
    """(match_weight, review_weight) the run used, from its summary."""
    t = run.summary.get("thresholds")
    if isinstance(t, dict) and "match_weight" in t and "review_weight" in t:
        return float(t["match_weight"]), float(t["review_weight"])
    return None
