"""`Result`: what a run produced, and how it is written to a folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from migrant_linkage.io import write_table, write_text_atomic
from migrant_linkage.pipeline.histogram import HISTOGRAM_FILE, empty_histogram
from migrant_linkage.profile import NAMING_PROFILE_FILE, PROFILED_COLUMNS, naming_profile


@dataclass
class Result:
    """What a dedupe or link run produced. `pairs` is read from disk on first use when the run
    wrote an out_dir. It holds the match and near-match pairs and a sample of the non-match
    pairs unless the run was asked for all pairs (summary["pairs_written"] says which);
    `weight_histogram` counts every scored pair per zone and weight bin (pipeline.histogram).
    """

    standardized: pd.DataFrame
    rejects: pd.DataFrame
    clusters: pd.DataFrame
    worklist: pd.DataFrame
    summary: dict[str, Any]
    model: Any  # migrant_linkage.model.Model
    weight_histogram: pd.DataFrame = field(default_factory=empty_histogram)
    _pairs: pd.DataFrame | None = field(default=None, repr=False)
    _pairs_path: Path | None = field(default=None, repr=False)

    @property
    def pairs(self) -> pd.DataFrame:
        if self._pairs is None:
            if self._pairs_path is None:
                raise RuntimeError("this result holds no pairs")
            self._pairs = pd.read_parquet(self._pairs_path)
        return self._pairs

    def write(self, out_dir: str | Path, *, pairs_csv: bool = True) -> None:
        """Write every output to `out_dir` (atomic writes): pairs.parquet, pairs.csv (unless
        pairs_csv=False), weight_histogram.parquet, clusters.csv, clusters.parquet, worklist.csv, rejects.csv, model.json,
        summary.json."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if (
            self._pairs_path is None
            or self._pairs_path.resolve() != (out / "pairs.parquet").resolve()
        ):
            write_table(self.pairs, out / "pairs.parquet")
            if pairs_csv:
                write_table(self.pairs, out / "pairs.csv")
        if not pairs_csv:
            (out / "pairs.csv").unlink(missing_ok=True)
        self.write_small_outputs(out)

    def write_small_outputs(self, out: Path) -> None:
        """Everything but the pairs; summary.json last (it marks a finished run)."""
        write_table(self.weight_histogram, out / HISTOGRAM_FILE)
        write_table(self.clusters, out / "clusters.csv")
        write_table(self.clusters, out / "clusters.parquet")
        write_table(self.worklist, out / "worklist.csv")
        write_table(self.rejects, out / "rejects.csv")
        if set(PROFILED_COLUMNS) <= set(self.standardized.columns) and len(self.standardized):
            # Counts per state and district only: the report's naming-convention section
            # reads it, so `report RUN_DIR` needs no standardized records.
            write_table(naming_profile(self.standardized), out / NAMING_PROFILE_FILE)
        self.model.save(out / "model.json")
        write_text_atomic(out / "summary.json", json.dumps(self.summary, indent=2, default=str))
