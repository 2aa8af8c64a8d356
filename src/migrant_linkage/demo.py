"""`migrant-linkage demo`: the README's main job, end to end on synthetic data.

It draws a few thousand children moving between states, writes one file per state as that
state's system would send it, dedupes the files as one national pool (training the model on
the data, without labels), writes every output, and scores the result against the synthetic
truth the linkage never saw.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from migrant_linkage.schema import TRUTH_COLUMNS

DEMO_STATES = ("TX", "CA", "FL", "MI", "WA", "NC")


def write_state_files(records: pd.DataFrame, folder: Path) -> list[Path]:
    """One CSV per submitting state, without the truth columns (states do not have them)."""
    from migrant_linkage.io import write_table

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for state, part in records.groupby("state", sort=True, dropna=False):
        path = folder / f"{state}.csv"
        write_table(part.drop(columns=list(TRUTH_COLUMNS), errors="ignore"), path)
        paths.append(path)
    return paths


def run_demo(out_dir: Path, students: int = 2000, seed: int = 7, quiet: bool = False) -> int:
    from migrant_linkage import synthetic
    from migrant_linkage.engine import dedupe
    from migrant_linkage.evaluate import evaluate
    from migrant_linkage.io import write_table

    started = time.perf_counter()

    def progress(stage: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {stage}", file=sys.stderr, flush=True)

    progress(f"synthesizing {students} children across {len(DEMO_STATES)} states")
    records = synthetic.generate(students, seed=seed, states=list(DEMO_STATES))
    inputs = write_state_files(records, out_dir / "input")
    truth_path = out_dir / "truth.csv"
    write_table(records[["record_id", *TRUTH_COLUMNS]], truth_path)

    result = dedupe(*inputs, train=True, out_dir=out_dir / "run", progress=progress)
    evaluation = evaluate(
        truth=records[["record_id", *TRUTH_COLUMNS]],
        clusters=result.clusters,
        worklist=result.worklist,
    )
    scores, review = evaluation.clusters, evaluation.worklist
    assert review is not None  # evaluate() was given the worklist

    summary = result.summary
    zones = summary.get("pairs_per_zone", {})
    print("migrant-linkage demo")
    print(f"  input files        : {len(inputs)} states ({', '.join(p.stem for p in inputs)})")
    print(f"  records in         : {summary['records_in']}")
    print(f"  standardized       : {summary['standardized']}   rejected: {summary['rejected']}")
    print(f"  pairs compared     : {summary.get('comparisons', 'n/a')}")
    print(
        f"  pairs by zone      : match {zones.get('match', 0)}, "
        f"near match {zones.get('near_match', 0)}, non-match {zones.get('non_match', 0)}"
    )
    print(
        f"  proposed students  : {summary.get('clusters', result.clusters['cluster_id'].nunique())}"
    )
    print(f"  true students      : {records['true_student_id'].nunique()}")
    print("  accuracy of auto-merge against the synthetic truth (pairwise):")
    print(f"    precision {scores.precision:.4f}   recall {scores.recall:.4f}   F1 {scores.f1:.4f}")
    print(
        f"    twin/sibling pairs wrongly merged: {scores.twin_sibling_false_merges}, "
        f"other wrong merges: {scores.other_false_merges}"
    )
    print(
        f"  worklist           : {len(result.worklist)} items for review "
        f"({review.worklist_share_of_records:.1%} of records), joining the two students of "
        f"{review.worklist_cluster_recall:.0%} of the true pairs auto-merge missed"
    )
    print(f"  outputs            : {out_dir / 'run'}  (truth: {truth_path})")
    print(f"  time               : {time.perf_counter() - started:.1f}s")
    return 0
