"""The stages after the records are ready, chained: block -> predict -> zone -> cluster ->
worklist -> write. `engine` (dedupe, link) and `privacy` (encoded linkage) are front ends that
prepare the records and the model and call `run_stages`; everything from the candidate pairs
to the written folder happens here, once.

The heavy data stays in the database: the scored pairs are a table (`ml_pairs`), zone counts
are SQL, and with `out_dir` the pairs are streamed to Parquet and CSV by the database, never
pulled into Python whole.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage import blocking
from migrant_linkage.db import copy_atomic, execute, load_frame, scalar
from migrant_linkage.io import write_text_atomic
from migrant_linkage.levels import ModelLevels
from migrant_linkage.pipeline import clusters as clustering_stage
from migrant_linkage.pipeline import scoring
from migrant_linkage.pipeline.clusters import PAIRS_TABLE
from migrant_linkage.pipeline.result import Result
from migrant_linkage.pipeline.worklist import worklist
from migrant_linkage.profile import NAMING_PROFILE_FILE
from migrant_linkage.zones import ZONES, Routing, Thresholds

Progress = Callable[[str], None]


class Stages:
    """Times each stage and reports it to the caller's progress callback."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress is not None:
            self.progress(name)
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[name] = round(
                self.timings.get(name, 0.0) + time.perf_counter() - started, 3
            )


def route_pairs(con: duckdb.DuckDBPyConnection, routing: Routing, predict_table: str) -> None:
    """ml_pairs: one row per scored pair with zone, grade, guard and comparison levels."""
    extra = [
        "CAST(match_key AS INTEGER) AS blocking_rule",
        ", ".join(routing.levels.gamma_columns()),
        ", ".join(routing.levels.label_columns_sql()),
    ]
    execute(
        con,
        f"CREATE OR REPLACE TABLE {PAIRS_TABLE} AS "
        + routing.routed_pairs_sql(predict_table, extra),
    )


def _comparisons_per_rule(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Pairs each blocking rule found first (Splink's match_key), with the rule's SQL."""
    counts = dict(
        con.execute(f"SELECT blocking_rule, count(*) FROM {PAIRS_TABLE} GROUP BY 1").fetchall()
    )
    return [
        {"rule": i, "sql": sql, "comparisons": int(counts.get(i, 0))}
        for i, sql in enumerate(blocking.rule_descriptions())
    ]


def _pair_counts(con: duckdb.DuckDBPyConnection, n_records: int) -> dict[str, Any]:
    comparisons = int(scalar(con, f"SELECT count(*) FROM {PAIRS_TABLE}"))
    per_zone = {
        zone: int(n)
        for zone, n in dict(
            con.execute(f"SELECT zone, count(*) FROM {PAIRS_TABLE} GROUP BY zone").fetchall()
        ).items()
    }
    for zone in ZONES:
        per_zone.setdefault(zone, 0)
    return {
        "comparisons": comparisons,
        "comparisons_per_rule": _comparisons_per_rule(con),
        "comparisons_per_record": round(comparisons / n_records, 2),
        "pairs_per_zone": per_zone,
        "guarded_pairs": int(scalar(con, f"SELECT count(*) FROM {PAIRS_TABLE} WHERE guarded")),
    }


def _csv_safe(column: str) -> str:
    """SQL neutralising spreadsheet formulas in a text column (as io.neutralise_formulas)."""
    return (
        f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN '''' || {column} ELSE {column} END AS {column}"
    )


def _write_pairs(con: duckdb.DuckDBPyConnection, out: Path, pairs_csv: bool) -> None:
    select = f"SELECT * FROM {PAIRS_TABLE} ORDER BY record_id_l, record_id_r"
    copy_atomic(con, select, out / "pairs.parquet", "parquet")
    if not pairs_csv:  # no stale pairs.csv from an earlier run beside this run's outputs
        (out / "pairs.csv").unlink(missing_ok=True)
        return
    text_cols = ["record_id_l", "record_id_r"]
    columns = con.execute(f"SELECT * FROM {PAIRS_TABLE} LIMIT 0").df().columns
    others = [c for c in columns if c not in text_cols]
    csv_select = (
        f"SELECT {', '.join(_csv_safe(c) for c in text_cols)}, {', '.join(others)} "
        f"FROM {PAIRS_TABLE} ORDER BY record_id_l, record_id_r"
    )
    copy_atomic(con, csv_select, out / "pairs.csv", "csv")


#: The file whose presence means "this run finished": written last, removed first.
FINISHED_MARKER = "summary.json"


def prepare_out_dir(out_dir: str | Path | None) -> Path | None:
    """The output folder, created; the previous run's finished marker (summary.json) and
    its reports removed, so a re-run into a used folder never leaves them beside half of
    this run's files. Call it before any work starts. Hidden temporary folders a killed
    run left behind are removed."""
    if out_dir is None:
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (FINISHED_MARKER, "report.html", "report-redacted.html", NAMING_PROFILE_FILE):
        (out / stale).unlink(missing_ok=True)
    for leftover in out.glob(".*.*"):
        if _is_interrupted_write(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
    return out


def _is_interrupted_write(path: Path) -> bool:
    """A hidden folder db.atomic_file made (`.<name>.<8 random characters>`) holding nothing
    but files of that name: what a killed write leaves. Anything else is the user's."""
    found = re.fullmatch(r"\.(.+)\.[a-z0-9_]{8}", path.name)
    if not found or path.is_symlink() or not path.is_dir():
        return False
    name = found.group(1)
    return all(p.name in (name, f"tmp_{name}") and p.is_file() for p in path.iterdir())


def empty_result(
    standardized: pd.DataFrame,
    rejects: pd.DataFrame,
    model: Any,
    summary: dict[str, Any],
    stages: Stages,
    out: Path | None,
) -> Result:
    """The result of a run with no record left to link."""
    summary.update(
        comparisons=0,
        comparisons_per_rule=[],
        pairs_per_zone=dict.fromkeys(ZONES, 0),
        clusters=0,
        worklist_pairs=0,
        timings=dict(stages.timings),
        counts_reconcile=summary["records_in"] == summary["standardized"] + summary["rejected"],
    )
    empty_pairs = pd.DataFrame(
        {c: pd.Series(dtype=str) for c in ("record_id_l", "record_id_r", "zone", "grade")}
    )
    result = Result(
        standardized=standardized,
        rejects=rejects,
        clusters=pd.DataFrame(
            {"record_id": pd.Series(dtype=str), "cluster_id": pd.Series(dtype=str)}
        ),
        worklist=pd.DataFrame(),
        summary=summary,
        model=model,
        _pairs=empty_pairs,
    )
    if out is not None:
        result.write(out)
    return result


def run_stages(
    con: duckdb.DuckDBPyConnection,
    db_api: Any,
    records: pd.DataFrame,
    *,
    model: Any,
    link_type: str,
    thresholds: Thresholds,
    summary: dict[str, Any],
    stages: Stages,
    rejects: pd.DataFrame,
    column_types: Mapping[str, str],
    worklist_columns: Sequence[str],
    backend: str = "duckdb",
    out: Path | None = None,
    pairs_csv: bool = True,
) -> Result:
    """Block, predict, zone, cluster, build the worklist and write: `records` (one row per
    record, with `_link_side`) scored with `model`; `summary` gains the counts. Closes `con`."""
    load_frame(con, scoring.RECORDS_TABLE, records, column_types)
    rules = scoring.rules_for(link_type)
    settings = scoring.scoring_settings(model, rules)
    levels = ModelLevels(settings)
    scoring.add_frequency_columns(con, scoring.RECORDS_TABLE, levels.term_frequency_columns())
    linker = scoring.scoring_linker(con, db_api, settings, scoring.RECORDS_TABLE)
    routing = Routing(levels, thresholds, population=len(records))

    if backend == "spark":
        from migrant_linkage.spark_backend import predict_on_spark

        def predict() -> Any:
            with scoring.gamma_columns_kept():
                return predict_on_spark(con, db_api, scoring.RECORDS_TABLE, settings)
    else:
        stages.run(
            "block", lambda: scoring.block(con, db_api, linker, rules, scoring.RECORDS_TABLE)
        )

        def predict() -> Any:
            return scoring.predict(linker)

    predictions = stages.run("predict", predict)
    stages.run("zone", lambda: route_pairs(con, routing, predictions.physical_name))
    summary.update(_pair_counts(con, len(records)))
    clusters = stages.run(
        "cluster",
        lambda: clustering_stage.cluster(con, db_api, linker, predictions, routing, summary),
    )
    pairs_worklist = stages.run(
        "worklist", lambda: worklist(con, scoring.RECORDS_TABLE, worklist_columns)
    )
    summary["clusters"] = int(clusters["cluster_id"].nunique())
    summary["records_in_multi_record_clusters"] = int((clusters["cluster_size"] > 1).sum())
    summary["worklist_pairs"] = len(pairs_worklist)
    summary["counts_reconcile"] = (
        summary["records_in"] == summary["standardized"] + summary["rejected"]
    )

    result = Result(
        standardized=records.drop(columns=[scoring.LINK_SIDE]),
        rejects=rejects,
        clusters=clusters,
        worklist=pairs_worklist,
        summary=summary,
        model=model,
    )
    if out is None:
        result._pairs = con.execute(
            f"SELECT * FROM {PAIRS_TABLE} ORDER BY record_id_l, record_id_r"
        ).df()
    else:

        def write() -> None:
            _write_pairs(con, out, pairs_csv)
            summary["timings"] = dict(stages.timings)
            result.write_small_outputs(out)

        stages.run("write", write)
        result._pairs_path = out / "pairs.parquet"
    summary["timings"] = dict(stages.timings)
    if out is not None:  # rewrite summary with the write timing included
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str))
    con.close()  # an on-disk database keeps its tables (ml_records, ml_pairs, ...) for inspection
    return result
