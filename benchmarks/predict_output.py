"""Predict stage A/B (issue 6), three variants on the same records, model and rules:

* full: Splink's own blocking and its default output, every compared column of both records
  (`retain_matching_columns=True`);
* lean: Splink's own blocking, the engine's lean output (ids, weights, match_key, gamma_* and
  the family-guard columns: pipeline.scoring.lean_output_settings);
* engine: what the engine runs: the candidate pairs built by blocking.candidate_pairs_sql (one
  join per rule and a GROUP BY, registered with Splink), scored through the view of the compared
  columns (pipeline.scoring.scoring_linker), lean output. Same pairs as the other two.

    flock /tmp/heavy.lock python3 benchmarks/predict_output.py \\
        --population /tmp/ml-scale/population_1000000.parquet \\
        --model /tmp/ml-scale/model_1000000.json

The population and model are what `benchmarks/scale.py --incremental` keeps for its largest
size (standardized records, trained model). Each variant runs in its own process, one after the
other, on the engine's DuckDB connection (default memory limit); the table gives predict seconds
(blocking + scoring, the predictions materialised as a DuckDB table), comparisons per second per
core (os.cpu_count() cores) and the process's peak RSS. Counts only in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

VARIANTS = ("full", "lean", "engine")


def _child(variant: str, population: str, model_path: str) -> dict[str, Any]:
    from splink import Linker

    from migrant_linkage import blocking
    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import Model, quiet_splink
    from migrant_linkage.pipeline.scoring import (
        gamma_columns_kept,
        rules_for,
        scoring_linker,
        scoring_settings,
    )

    quiet_splink()
    db_api, con = make_db_api()
    quoted = population.replace("'", "''")
    con.execute(f"CREATE TABLE ml_records AS SELECT * FROM read_parquet('{quoted}')").fetchall()
    records = con.execute("SELECT count(*) FROM ml_records").fetchall()[0][0]
    rules = rules_for("dedupe_only")
    settings = scoring_settings(Model.load(model_path), rules)
    if variant == "full":
        for key in ("retain_matching_columns", "additional_columns_to_retain"):
            settings.pop(key, None)
        settings["retain_matching_columns"] = True
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    started = time.perf_counter()
    block_seconds = 0.0
    if variant == "engine":
        linker = scoring_linker(con, db_api, settings, "ml_records")
        sql = blocking.candidate_pairs_sql("ml_records", rules)
        con.execute(f"CREATE TABLE ml_candidate_pairs AS {sql}").fetchall()
        linker.table_management.register_blocked_pairs_for_predict(
            db_api.register("ml_candidate_pairs")
        )
        block_seconds = time.perf_counter() - started
    else:
        linker = Linker(db_api.register("ml_records"), settings, log_level=None)
    with gamma_columns_kept():
        predictions = linker.inference.predict(warning_mode="never")
    seconds = time.perf_counter() - started
    comparisons = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]
    columns = len(con.execute(f"SELECT * FROM {predictions.physical_name} LIMIT 0").description)
    return {
        "variant": variant,
        "records": records,
        "comparisons": comparisons,
        "columns": columns,
        "block_seconds": round(block_seconds, 1),
        "predict_seconds": round(seconds, 1),
        "peak_rss_gb_before_predict": round(rss_before, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.population, args.model)))
        return
    cores = os.cpu_count() or 1
    rows = []
    for variant in VARIANTS:
        command = [sys.executable, __file__, "--child", variant]
        command += ["--population", args.population, "--model", args.model]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"Command: `python3 {' '.join(sys.argv)}`, {cores} cores\n")
    print(
        "| variant | columns | comparisons | blocking built by us (s) | blocking + scoring (s) "
        "| comparisons/s/core | peak RSS (GB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = r["comparisons"] / r["predict_seconds"] / cores
        print(
            f"| {r['variant']} | {r['columns']} | {r['comparisons']:,} | {r['block_seconds']} "
            f"| {r['predict_seconds']} | {rate:,.0f} | {r['peak_rss_gb']} |"
        )


if __name__ == "__main__":
    main()
