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
import pyarrow as pa

from migrant_linkage import blocking
from migrant_linkage.db import copy_atomic, execute, load_frame, quote_literal
from migrant_linkage.io import write_text_atomic
from migrant_linkage.levels import ModelLevels
from migrant_linkage.pipeline import clusters as clustering_stage
from migrant_linkage.pipeline import scoring
from migrant_linkage.pipeline.clusters import PAIRS_TABLE
from migrant_linkage.pipeline.histogram import (
    NON_MATCH_SAMPLE_PER_BIN,
    build_histogram,
    empty_histogram,
    kept_pairs_sql,
)
from migrant_linkage.pipeline.parked import ParkedFrame
from migrant_linkage.pipeline.result import Result
from migrant_linkage.pipeline.worklist import worklist
from migrant_linkage.profile import NAMING_PROFILE_FILE
from migrant_linkage.zones import ZONES, Routing, Thresholds

Progress = Callable[[str], None]


class Stages:
    """Times each stage and reports it to the caller's progress callback. A stage run in
    several steps one after another (the engine parks the records, run_stages loads them: both
    `load`) is reported once, its time summed."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._last: str | None = None

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress is not None and name != self._last:
            self.progress(name)
        self._last = name
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[name] = round(
                self.timings.get(name, 0.0) + time.perf_counter() - started, 3
            )


def route_pairs(con: duckdb.DuckDBPyConnection, routing: Routing, predict_table: str) -> None:
    """ml_pairs: one row per scored pair with zone, grade, guard and comparison levels (gamma
    values; the level labels are added to the pairs that are written, see _labelled_pairs)."""
    extra = [
        "CAST(match_key AS INTEGER) AS blocking_rule",
        ", ".join(routing.levels.gamma_columns()),
    ]
    execute(
        con,
        f"CREATE OR REPLACE TABLE {PAIRS_TABLE} AS "
        + routing.routed_pairs_sql(predict_table, extra),
    )


def _pair_counts(con: duckdb.DuckDBPyConnection, n_records: int) -> dict[str, Any]:
    """Comparisons in all, per zone, per blocking rule (the rule that found the pair first,
    Splink's match_key) and guarded: one scan of the scored pairs."""
    rows = con.execute(
        f"SELECT zone, blocking_rule, guarded, count(*) FROM {PAIRS_TABLE} GROUP BY ALL"
    ).fetchall()
    per_zone = dict.fromkeys(ZONES, 0)
    per_rule: dict[int, int] = {}
    guarded = 0
    for zone, rule, is_guarded, n in rows:
        per_zone[zone] = per_zone.get(zone, 0) + int(n)
        per_rule[rule] = per_rule.get(rule, 0) + int(n)
        guarded += int(n) if is_guarded else 0
    comparisons = sum(per_zone.values())
    return {
        "comparisons": comparisons,
        "comparisons_per_rule": [
            {"rule": i, "sql": sql, "comparisons": per_rule.get(i, 0)}
            for i, sql in enumerate(blocking.rule_descriptions())
        ],
        "comparisons_per_record": round(comparisons / n_records, 2),
        "pairs_per_zone": per_zone,
        "guarded_pairs": guarded,
    }


def _csv_safe(column: str) -> str:
    """SQL neutralising spreadsheet formulas in a text column (as io.neutralise_formulas)."""
    return (
        f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN '''' || {column} ELSE {column} END AS {column}"
    )


def _labelled_pairs(levels: ModelLevels, all_pairs: bool) -> str:
    """The pairs a run hands back: every pair with `all_pairs`, else the match and near-match
    pairs and a sample of non-match pairs (pipeline.histogram); with each level's label."""
    source = PAIRS_TABLE if all_pairs else f"({kept_pairs_sql(PAIRS_TABLE)})"
    labels = ", ".join(levels.label_columns_sql())
    # Sorted, then labelled: the sort carries each pair's numbers, not its eight label texts
    # (at 1M records those made the sort the run's peak of memory).
    return f"SELECT *, {labels} FROM (SELECT * FROM {source} ORDER BY record_id_l, record_id_r)"


def _write_pairs(
    con: duckdb.DuckDBPyConnection, out: Path, pairs_select: str, pairs_csv: bool
) -> None:
    parquet = out / "pairs.parquet"
    copy_atomic(con, pairs_select, parquet, "parquet")
    if not pairs_csv:  # no stale pairs.csv from an earlier run beside this run's outputs
        (out / "pairs.csv").unlink(missing_ok=True)
        return
    # The CSV is written from the Parquet file just written: the pairs are not selected,
    # labelled and sorted a second time (at 1M records 1.2M pairs).
    written = f"read_parquet({quote_literal(str(parquet))})"
    text_cols = ["record_id_l", "record_id_r"]
    columns = con.execute(f"SELECT * FROM {written} LIMIT 0").df().columns
    others = [c for c in columns if c not in text_cols]
    csv_select = (
        f"SELECT {', '.join(_csv_safe(c) for c in text_cols)}, {', '.join(others)} FROM {written}"
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
        weight_histogram=empty_histogram(),
        _pairs=empty_pairs,
    )
    if out is not None:
        result.write(out)
    return result


def run_stages(
    con: duckdb.DuckDBPyConnection,
    db_api: Any,
    records: pd.DataFrame | ParkedFrame,
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
    all_pairs: bool = False,
) -> Result:
    """Block, predict, zone, cluster, build the worklist and write: `records` (one row per
    record, with `_link_side`) scored with `model`; `summary` gains the counts. The result's
    pairs (and pairs.parquet) are the match and near-match pairs and a sample of non-match
    pairs, with the weight histogram beside them; `all_pairs` keeps every scored pair.
    `records` may be parked (pipeline.parked, as the engine does): the database loads them from
    the file and the frame is read back for `Result.standardized` once `con` is closed, so it
    is not in memory beside the database while it works. Closes `con`."""
    rules = scoring.rules_for(link_type)
    settings = scoring.scoring_settings(model, rules)
    levels = ModelLevels(settings)
    n_records = len(records)

    def load() -> Any:
        frame = records.table() if isinstance(records, ParkedFrame) else records
        load_frame(con, scoring.RECORDS_TABLE, frame, column_types)
        del frame  # a parked file's mapping is released
        # The table's buffers (about 1 GB at 1M records) go back to Arrow's allocator, which
        # keeps freed memory for reuse: handed back to the system here, they are not held beside
        # the database at its peak (1M records: 4.6 GB peak before, 3.5-3.6 after).
        pa.default_memory_pool().release_unused()
        scoring.add_frequency_columns(con, scoring.RECORDS_TABLE, levels.term_frequency_columns())
        return scoring.scoring_linker(con, db_api, settings, scoring.RECORDS_TABLE)

    linker = stages.run("load", load)
    routing = Routing(levels, thresholds, population=n_records)

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
    summary.update(stages.run("count", lambda: _pair_counts(con, n_records)))
    histogram = stages.run(
        "histogram", lambda: build_histogram(con, PAIRS_TABLE, scoring.RECORDS_TABLE)
    )
    clusters = stages.run(
        "cluster",
        lambda: clustering_stage.cluster(con, db_api, linker, predictions, routing, summary),
    )
    pairs_worklist = stages.run(
        "worklist", lambda: worklist(con, scoring.RECORDS_TABLE, worklist_columns)
    )
    # Splink's own tables (the predictions, the scores inside components) are read no more:
    # dropped, their memory holds the sort of the written pairs instead of growing the process.
    linker.table_management.delete_tables_created_by_splink_from_db()
    summary["clusters"] = int(clusters["cluster_id"].nunique())
    summary["records_in_multi_record_clusters"] = int((clusters["cluster_size"] > 1).sum())
    summary["worklist_pairs"] = len(pairs_worklist)
    summary["counts_reconcile"] = (
        summary["records_in"] == summary["standardized"] + summary["rejected"]
    )

    summary["pairs_written"] = (
        "all"
        if all_pairs
        else f"match and near_match, and up to {NON_MATCH_SAMPLE_PER_BIN} non_match per weight bin"
    )
    pairs_select = _labelled_pairs(levels, all_pairs)

    def finish() -> Result:
        # The pairs come from the database; then it is closed (an on-disk database keeps its
        # tables, ml_records, ml_pairs, ..., for inspection) and only then are parked records
        # read back: never both in memory at once.
        pairs = con.execute(pairs_select).df() if out is None else None
        if out is not None:
            _write_pairs(con, out, pairs_select, pairs_csv)
        con.close()
        standardized = records.restore() if isinstance(records, ParkedFrame) else records
        result = Result(
            standardized=standardized.drop(columns=[scoring.LINK_SIDE]),
            rejects=rejects,
            clusters=clusters,
            worklist=pairs_worklist,
            summary=summary,
            model=model,
            weight_histogram=histogram,
            _pairs=pairs,
        )
        if out is not None:
            summary["timings"] = dict(stages.timings)
            result.write_small_outputs(out)
            result._pairs_path = out / "pairs.parquet"
        return result

    result = stages.run("write", finish) if out is not None else finish()
    summary["timings"] = dict(stages.timings)
    if out is not None:  # rewrite summary with the write timing included
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str))
    return result
