"""The linkage jobs: dedupe, link and explain.

One pipeline, each stage a function (read+standardize -> train -> predict -> zone -> cluster ->
worklist -> write). The heavy data stays in the database (DuckDB by default): the scored pairs
are a database table, zone counts are SQL, and with `out_dir` the pairs are streamed to Parquet
and CSV by the database, never pulled into Python whole.

Logs name record ids and counts only, never names or birth dates (FERPA).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage import blocking
from migrant_linkage.clustering import split_unclean_components
from migrant_linkage.io import describe_source, write_table, write_text_atomic
from migrant_linkage.model import Model, quiet_splink
from migrant_linkage.schema import (
    INPUT_COLUMNS,
    REJECT_COLUMNS,
    STANDARDIZED_COLUMNS,
    TRUTH_COLUMNS,
    UNIQUE_ID_COLUMN,
    RejectCode,
)
from migrant_linkage.zones import (
    MATCH_ZONE,
    NEAR_MATCH_ZONE,
    NON_MATCH_ZONE,
    ZONES,
    Thresholds,
)

__all__ = ["Result", "Thresholds", "dedupe", "explain", "link", "make_db_api"]

logger = logging.getLogger(__name__)

#: Below this many standardized records, `train=None` scores with the shipped default model
#: instead of training: EM needs enough pairs per training block to be stable.
MIN_RECORDS_TO_TRAIN = 2000

#: Prior odds used when scoring: even, so match_weight is the evidence (see zones.py).
SCORING_PRIOR = 0.5
#: Components (records joined by match-zone pairs) up to this size have every pair inside them
#: scored before clustering decides whether to split them; a larger one is a chain through
#: several children (no child has this many records), and only its pairs two edges apart are
#: scored (see _score_pairs_two_edges_apart).
MAX_COMPONENT_FULLY_SCORED = 200

#: Standardized columns shown beside the raw ones in the worklist.
WORKLIST_STANDARDIZED_COLUMNS: tuple[str, ...] = (
    "source_name",
    "source_row",
    "given_name_full",
    "surname_full",
    "birth_date_std",
    "sex_std",
    "parent_given_a",
    "parent_given_b",
    "parent_surnames_key",
)

Progress = Callable[[str], None]
Source = Any  # anything migrant_linkage.standardize accepts


# ------------------------------------------------------------------------------- database
def make_db_api(backend: str = "duckdb", database: str | Path | None = None):
    """The one place that builds a Splink database API. Returns (db_api, connection).

    DuckDB runs in memory, or in an on-disk database file when `database` is given (useful
    when the data does not fit in memory: DuckDB spills to the file).

    backend="spark": blocking and scoring run on Spark (spark_backend.py, the active
    SparkSession or a local one); the DuckDB API returned here is where the scored pairs land
    and where zones, guards and clustering run, as on the DuckDB path."""
    if backend not in ("duckdb", "spark"):
        raise ValueError(f"unknown backend {backend!r}: use 'duckdb' or 'spark'")
    if backend == "spark":
        from migrant_linkage.spark_backend import SparkUnavailableError, spark_available

        reason = spark_available()
        if reason is not None:
            raise SparkUnavailableError(f"backend='spark' cannot run: {reason}")
    from splink import DuckDBAPI

    connection = duckdb.connect(str(database) if database is not None else ":memory:")
    _limit_duckdb_memory(connection)
    return DuckDBAPI(connection=connection), connection


#: Environment variables that bound DuckDB's memory on every connection the engine opens (the
#: job's and training's). DuckDB's own default is 80% of RAM per connection, which an in-memory
#: 1M-record job uses (about 20 GB); with a limit DuckDB spills to disk instead (docs/scale.md).
MEMORY_LIMIT_ENV = "MIGRANT_LINKAGE_DUCKDB_MEMORY_LIMIT"  # e.g. "4GB"
TEMP_DIRECTORY_ENV = "MIGRANT_LINKAGE_DUCKDB_TEMP_DIRECTORY"  # default: a new temporary dir

#: Without MEMORY_LIMIT_ENV, DuckDB may use this share of the machine's RAM (4 GB on a 24 GB
#: machine). The limit covers DuckDB only: the engine also holds the standardized records in
#: pandas, so a 1M-record job peaks at about 1.5-2x the limit (docs/scale.md).
DEFAULT_MEMORY_SHARE = 1 / 6
#: The default limit never goes below this, however small the machine (DuckDB needs room).
MIN_DEFAULT_MEMORY_LIMIT_MB = 1024

_spill_directory: str | None = None


def default_memory_limit() -> str | None:
    """DuckDB's memory limit when the environment names none: DEFAULT_MEMORY_SHARE of the
    machine's physical RAM, in MB; None when the platform does not say how much RAM it has."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    if ram <= 0:
        return None
    megabytes = max(int(ram * DEFAULT_MEMORY_SHARE) // 2**20, MIN_DEFAULT_MEMORY_LIMIT_MB)
    return f"{megabytes}MB"


def _spill_dir() -> str:
    """Where DuckDB spills beyond its memory limit: TEMP_DIRECTORY_ENV, else one temporary
    directory per process (removed when the process ends), not DuckDB's `.tmp` in the current
    directory."""
    global _spill_directory
    chosen = os.environ.get(TEMP_DIRECTORY_ENV)
    if chosen:
        return chosen
    if _spill_directory is None:
        import atexit
        import shutil

        _spill_directory = tempfile.mkdtemp(prefix="migrant-linkage-duckdb-")
        atexit.register(shutil.rmtree, _spill_directory, ignore_errors=True)
    return _spill_directory


def is_memory_size(text: str) -> bool:
    """Whether `text` is a size DuckDB's memory_limit accepts, such as 4GB or 500MB."""
    import re

    return bool(re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text, re.I))


def _limit_duckdb_memory(connection: duckdb.DuckDBPyConnection) -> None:
    limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if limit and not is_memory_size(limit):
        raise ValueError(f"{MEMORY_LIMIT_ENV}={limit!r}: give a size such as 4GB or 500MB")
    limit = limit or default_memory_limit()
    if limit is None:
        return
    spill = _spill_dir()
    _exec(connection, f"SET memory_limit = '{limit}'")
    _exec(connection, f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")


# ------------------------------------------------------------------------------- result
@dataclass
class Result:
    """What a dedupe or link run produced. `pairs` is read from disk on first use when the run
    wrote an out_dir (it can be large)."""

    standardized: pd.DataFrame
    rejects: pd.DataFrame
    clusters: pd.DataFrame
    worklist: pd.DataFrame
    summary: dict[str, Any]
    model: Model
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
        pairs_csv=False), clusters.csv, clusters.parquet, worklist.csv, rejects.csv, model.json,
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
        _write_small_outputs(self, out)


def _write_small_outputs(result: Result, out: Path) -> None:
    write_table(result.clusters, out / "clusters.csv")
    write_table(result.clusters, out / "clusters.parquet")
    write_table(result.worklist, out / "worklist.csv")
    write_table(result.rejects, out / "rejects.csv")
    result.model.save(out / "model.json")
    write_text_atomic(out / "summary.json", json.dumps(result.summary, indent=2, default=str))


# ------------------------------------------------------------------------------- stages
class _Stages:
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


def _unpack_source(source: Source) -> tuple[Any, str | None]:
    """A source as standardize takes it: a DuckDB relation becomes a DataFrame; a
    (database path, table name) pair becomes the path plus table=."""
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source.df(), None
    if isinstance(source, tuple) and len(source) == 2:
        return source[0], str(source[1])
    return source, None


def _source_names(sources: Sequence[Source]) -> list[str]:
    """A distinct readable label per source: the file name, or input1, input2, ..."""
    names: list[str] = []
    for index, source in enumerate(sources, start=1):
        if isinstance(source, pd.DataFrame | duckdb.DuckDBPyRelation):
            name = f"input{index}"
        elif isinstance(source, tuple) and len(source) == 2:
            name = describe_source(source[0], str(source[1]))
        else:
            name = describe_source(source)
        base, n = name, 2
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.append(name)
    return names


@dataclass
class _Standardized:
    records: pd.DataFrame
    rejects: pd.DataFrame
    records_in: int
    counts: dict[str, Any]


def _standardize_all(
    sources: Sequence[Source],
    names: Sequence[str],
    column_map: Mapping[str, str] | None,
    date_format: str | None,
) -> _Standardized:
    """Standardize each source; then reject a record_id seen in an earlier source."""
    from migrant_linkage.standardize import standardize

    frames, rejects, records_in, per_source = [], [], 0, {}
    for source, name in zip(sources, names, strict=True):
        source, table = _unpack_source(source)
        result = standardize(
            source, column_map=column_map, date_format=date_format, source_name=name, table=table
        )
        n_in = len(result.standardized) + len(result.rejects)
        records_in += n_in
        per_source[name] = {"records_in": n_in, **{k: v for k, v in result.counts.items()}}
        frames.append(result.standardized)
        rejects.append(result.rejects)
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    records[UNIQUE_ID_COLUMN] = records[UNIQUE_ID_COLUMN].astype(str)
    duplicated = records.duplicated(UNIQUE_ID_COLUMN, keep="first")
    if duplicated.any():
        first_source = records.drop_duplicates(UNIQUE_ID_COLUMN).set_index(UNIQUE_ID_COLUMN)[
            "source_name"
        ]
        dups = records.loc[duplicated]
        rejects.append(
            pd.DataFrame(
                {
                    "source_name": dups["source_name"].to_numpy(),
                    "source_row": dups["source_row"].to_numpy(),
                    "record_id": dups[UNIQUE_ID_COLUMN].to_numpy(),
                    "reason": str(RejectCode.DUPLICATE_RECORD_ID),
                    "message": [
                        f"record_id {rid} in {src} was already used in {first_source[rid]}; "
                        "record ids must be unique across all inputs of one run"
                        for rid, src in zip(
                            dups[UNIQUE_ID_COLUMN], dups["source_name"], strict=True
                        )
                    ],
                }
            )
        )
        records = records.loc[~duplicated].reset_index(drop=True)
    all_rejects = [r for r in rejects if len(r)]
    reject_frame = (
        pd.concat(all_rejects, ignore_index=True)[list(REJECT_COLUMNS)]
        if all_rejects
        else pd.DataFrame({c: pd.Series(dtype=str) for c in REJECT_COLUMNS})
    )
    return _Standardized(records, reject_frame, records_in, per_source)


def _resolve_model(
    model: Model | str | Path | None, train: bool | None, n_records: int
) -> tuple[Model, bool]:
    """Which model to score with, and whether to train it on the data first."""
    if isinstance(model, str | Path):
        model = Model.load(model)
    if train is None:
        train = model is None and n_records >= MIN_RECORDS_TO_TRAIN
    if model is None and not train:
        model = Model.default()
    return (model or Model()), train


def _scoring_settings(model: Model, rules: Sequence[Any]) -> dict[str, Any]:
    settings = model.trained_settings()
    settings["link_type"] = "dedupe_only"
    settings["probability_two_random_records_match"] = SCORING_PRIOR
    settings["blocking_rules_to_generate_predictions"] = list(rules)
    settings.update(lean_output_settings())
    return settings


def _scoring_linker(con: duckdb.DuckDBPyConnection, db_api: Any, settings: dict[str, Any]) -> Any:
    """The Linker that scores ml_records, reading them through a view of only the columns the
    model's comparisons and the family guard read. Splink copies its input table for the
    records in the candidate pairs and joins that copy to every pair, so the raw input columns
    and blocking keys cost time there and are never used (at 1M records predict 5.7 -> 4.6 s).
    The columns come from the model's own settings (a model file may compare other columns
    than the shipped one), parsed by Splink."""
    from splink import Linker

    from migrant_linkage.comparisons import FAMILY_GUARD_COLUMNS

    probe = Linker(db_api.register("ml_records"), settings, log_level=None)
    compared = [c.unquote().name for c in probe._settings_obj._columns_used_by_comparisons]
    table_columns = {r[0] for r in con.execute("DESCRIBE ml_records").fetchall()}
    wanted = dict.fromkeys([UNIQUE_ID_COLUMN, *compared, *FAMILY_GUARD_COLUMNS, "_link_side"])
    columns = ", ".join(f'"{c}"' for c in wanted if c in table_columns)
    _exec(con, f"CREATE OR REPLACE VIEW ml_scoring_records AS SELECT {columns} FROM ml_records")
    records = db_api.register("ml_scoring_records", dataset_display_name="records")
    return Linker(records, settings, log_level=None)


def lean_output_settings() -> dict[str, Any]:
    """Splink settings that keep only what the engine reads from the scored pairs: ids, weight,
    probability, match_key, gamma_* (always kept) and the columns the family guard reads as
    <col>_l / <col>_r (FAMILY_GUARD_COLUMNS). Every other compared column stays in ml_records,
    where the worklist and clustering join it back. Carrying the compared columns of both
    records in every pair cost 22% of scoring time and half the memory at 1M records."""
    from migrant_linkage.comparisons import FAMILY_GUARD_COLUMNS

    return {
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": list(FAMILY_GUARD_COLUMNS),
    }


@contextlib.contextmanager
def gamma_columns_kept() -> Iterator[None]:
    """While open, Splink's predict keeps the gamma_* columns with lean_output_settings.

    Splink 5 writes gamma_<comparison> into the predict output only when
    retain_matching_columns is on, or when it builds the SQL for its own EM training
    (splink/internals/comparison.py, `_columns_to_select_for_predict`). The engine needs the
    gammas (zones, guards, level labels) without the matching columns, so here predict builds
    its SQL in training mode, whose only effect is to keep the gammas. Scoped: other linkers in
    the process are untouched once the block ends."""
    from splink.internals import predict as splink_predict
    from splink.internals.duckdb import pruned_prediction
    from splink.internals.linker_components import inference

    name = "predict_from_comparison_vectors_sqls_using_settings"
    patched_modules = (inference, pruned_prediction)
    originals = [getattr(module, name) for module in patched_modules]

    def with_gammas(
        settings_obj: Any,
        threshold_match_probability: float | None = None,
        threshold_match_weight: float | None = None,
        include_clerical_match_score: bool = False,
    ) -> list[dict[str, str]]:
        from splink.internals.dialects import SplinkDialect

        return splink_predict.predict_from_comparison_vectors_sqls(
            unique_id_input_columns=settings_obj.column_info_settings.unique_id_input_columns,
            core_model_settings=settings_obj.core_model_settings,
            sql_dialect=SplinkDialect.from_string(settings_obj._sql_dialect_str),
            threshold_match_probability=threshold_match_probability,
            threshold_match_weight=threshold_match_weight,
            retain_matching_columns=settings_obj._retain_matching_columns,
            retain_intermediate_calculation_columns=settings_obj._retain_intermediate_calculation_columns,
            training_mode=True,
            additional_columns_to_retain=settings_obj._additional_columns_to_retain,
            include_clerical_match_score=include_clerical_match_score,
        )

    for module in patched_modules:
        setattr(module, name, with_gammas)
    try:
        yield
    finally:
        for module, original in zip(patched_modules, originals, strict=True):
            setattr(module, name, original)


def _rules_for(link_type: str) -> list[Any]:
    """Prediction rules; for link_only each rule also requires the two records to come from
    different sides (plain SQL, portable across dialects)."""
    rules = blocking.prediction_blocking_rules()
    if link_type == "dedupe_only" or link_type == "link_and_dedupe":
        return rules
    return [f"{blocking.rule_sql(r)} AND l._link_side <> r._link_side" for r in rules]


def _level_label_sql(linker: Any) -> list[str]:
    """`<comparison>_level` columns: the label of each pair's comparison level."""
    columns = []
    for comparison in linker._settings_obj.comparisons:
        gamma = f"gamma_{comparison.output_column_name}"
        whens = " ".join(
            f"WHEN {level._comparison_vector_value} THEN "
            f"'{(level.label_for_charts or '').replace(chr(39), chr(39) * 2)}'"
            for level in comparison.comparison_levels
        )
        columns.append(f"CASE {gamma} {whens} END AS {comparison.output_column_name}_level")
    return columns


def _family_guard_sql() -> str:
    """True for a pair that looks like two children of one family (comparisons.py)."""
    from migrant_linkage.comparisons import family_guard_sql

    return f"COALESCE(({family_guard_sql()}), FALSE)"


def _birth_dates_differ_sql() -> str:
    """True when the birth dates are both known and clearly different (the 'else' level)."""
    from migrant_linkage.comparisons import gamma_value

    return f"(gamma_birth_date = {gamma_value('birth_date', 'else')})"


def _family_review_sql() -> str:
    """True for a guarded pair a person should still see (comparisons.py)."""
    from migrant_linkage.comparisons import family_review_sql

    return f"COALESCE(({family_review_sql()}), FALSE)"


def _guarded_sql() -> str:
    """A pair that must never be auto-merged nor held inside one proposed student."""
    return f"({_family_guard_sql()} OR {_birth_dates_differ_sql()})"


def _gamma_columns(linker: Any) -> list[str]:
    return [f"gamma_{c.output_column_name}" for c in linker._settings_obj.comparisons]


def _load_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Copy a frame into a database table with the contract's column types. A column that is
    empty in every row (no state sent birth cities) would otherwise arrive untyped and break
    the string comparisons."""
    types = {c.name: c.sql_type for c in STANDARDIZED_COLUMNS}
    types.update({c: "VARCHAR" for c in (*INPUT_COLUMNS, *TRUTH_COLUMNS)})
    select = ", ".join(
        f'CAST("{c}" AS {types[c]}) AS "{c}"' if c in types else f'"{c}"' for c in frame.columns
    )
    con.register("_ml_frame", frame)
    try:
        _exec(con, f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM _ml_frame")
    finally:
        con.unregister("_ml_frame")


def _exec(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run a statement and drain its result: Splink shares the connection, and DuckDB refuses
    new work while a result is unfinished."""
    con.execute(sql).fetchall()


def _csv_safe(column: str) -> str:
    """SQL neutralising spreadsheet formulas in a text column (as io.neutralise_formulas)."""
    return (
        f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN '''' || {column} ELSE {column} END AS {column}"
    )


def _copy_atomic(con: duckdb.DuckDBPyConnection, select_sql: str, target: Path, fmt: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    options = "FORMAT PARQUET" if fmt == "parquet" else "FORMAT CSV, HEADER"
    try:
        # The path is a SQL string literal: double any quote (an out folder like O'Brien).
        quoted_path = temporary.replace("'", "''")
        _exec(con, f"COPY ({select_sql}) TO '{quoted_path}' ({options})")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------- the run
def _run(
    sources: Sequence[Source],
    names: Sequence[str],
    *,
    link_type: str,
    sides: Sequence[int],
    model: Model | str | Path | None,
    train: bool | None,
    thresholds: Thresholds | None,
    column_map: Mapping[str, str] | None,
    date_format: str | None,
    backend: str,
    database: str | Path | None,
    out_dir: str | Path | None,
    progress: Progress | None,
    pairs_csv: bool,
) -> Result:

    quiet_splink()
    thresholds = thresholds or Thresholds()
    stages = _Stages(progress)
    db_api, con = make_db_api(backend, database)  # fail fast on a bad backend, before reading

    std = stages.run(
        "standardize", lambda: _standardize_all(sources, names, column_map, date_format)
    )
    records = std.records
    side_of = dict(zip(names, sides, strict=True))
    records["_link_side"] = records["source_name"].map(side_of).astype("int64")
    logger.info("standardized %d records, rejected %d", len(records), len(std.rejects))

    chosen, do_train = _resolve_model(model, train, len(records))
    if do_train:
        chosen = stages.run("train", lambda: chosen.train(records))
    else:
        stages.timings["train"] = 0.0

    summary: dict[str, Any] = {
        "job": link_type,
        "records_in": std.records_in,
        "rejected": len(std.rejects),
        "rejected_by_reason": {
            str(k): int(v) for k, v in std.rejects["reason"].value_counts().sort_index().items()
        },
        "standardized": len(records),
        "sources": std.counts,
        "model": "trained on this data"
        if do_train
        else "given"
        if model is not None
        else "default",
        "thresholds": {
            "match_weight": thresholds.match_weight,
            "review_weight": thresholds.review_weight,
            "strong_disagreement_weight": thresholds.strong_disagreement_weight,
        },
    }

    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        # summary.json is written last and marks a finished run: a re-run into a used folder
        # must not leave the previous run's marker beside half of this run's files.
        (out / "summary.json").unlink(missing_ok=True)

    if len(records) == 0:
        return _empty_result(std, chosen, summary, stages, out)

    _load_table(con, "ml_records", records)
    rules = _rules_for(link_type)
    scoring_settings = _scoring_settings(chosen, rules)
    linker = _scoring_linker(con, db_api, scoring_settings)

    if backend == "spark":
        from migrant_linkage.spark_backend import predict_on_spark

        def predict() -> Any:
            return predict_on_spark(con, db_api, "ml_records", scoring_settings)
    else:

        def block() -> None:
            # The same pairs as Splink's own blocking in half the time (see
            # blocking.candidate_pairs_sql); Splink then scores exactly these.
            _exec(
                con,
                "CREATE OR REPLACE TABLE ml_candidate_pairs AS "
                + blocking.candidate_pairs_sql("ml_records", rules),
            )
            linker.table_management.register_blocked_pairs_for_predict(
                db_api.register("ml_candidate_pairs", dataset_display_name="candidate_pairs")
            )

        stages.run("block", block)

        def predict() -> Any:
            return linker.inference.predict(warning_mode="never")

    with gamma_columns_kept():
        predictions = stages.run("predict", predict)
    stages.run("zone", lambda: _zone_pairs(con, linker, predictions.physical_name, thresholds))
    summary["comparisons"] = int(con.execute("SELECT count(*) FROM ml_pairs").fetchall()[0][0])
    summary["comparisons_per_rule"] = _comparisons_per_rule(con)
    summary["comparisons_per_record"] = round(summary["comparisons"] / len(records), 2)
    summary["pairs_per_zone"] = {
        zone: int(n)
        for zone, n in dict(
            con.execute("SELECT zone, count(*) FROM ml_pairs GROUP BY zone").fetchall()
        ).items()
    }
    for zone in ZONES:
        summary["pairs_per_zone"].setdefault(zone, 0)
    summary["guarded_pairs"] = int(
        con.execute("SELECT count(*) FROM ml_pairs WHERE guarded").fetchall()[0][0]
    )

    with gamma_columns_kept():  # the cluster stage scores the pairs blocking did not produce
        clusters = stages.run(
            "cluster", lambda: _cluster(con, db_api, linker, predictions, thresholds, summary)
        )
    worklist = stages.run("worklist", lambda: _worklist(con))
    summary["clusters"] = int(clusters["cluster_id"].nunique())
    summary["records_in_multi_record_clusters"] = int((clusters["cluster_size"] > 1).sum())
    summary["worklist_pairs"] = len(worklist)
    summary["counts_reconcile"] = (
        summary["records_in"] == summary["standardized"] + summary["rejected"]
    )

    standardized = records.drop(columns=["_link_side"])
    result = Result(
        standardized=standardized,
        rejects=std.rejects,
        clusters=clusters,
        worklist=worklist,
        summary=summary,
        model=chosen,
    )
    if out is None:
        result._pairs = con.execute("SELECT * FROM ml_pairs ORDER BY record_id_l, record_id_r").df()
    else:

        def write() -> None:
            select = "SELECT * FROM ml_pairs ORDER BY record_id_l, record_id_r"
            _copy_atomic(con, select, out / "pairs.parquet", "parquet")
            text_cols = ["record_id_l", "record_id_r"]
            others = [
                c
                for c in con.execute("SELECT * FROM ml_pairs LIMIT 0").df().columns
                if c not in text_cols
            ]
            csv_select = (
                f"SELECT {', '.join(_csv_safe(c) for c in text_cols)}, {', '.join(others)} "
                "FROM ml_pairs ORDER BY record_id_l, record_id_r"
            )
            if pairs_csv:
                _copy_atomic(con, csv_select, out / "pairs.csv", "csv")
            else:  # no stale pairs.csv from an earlier run beside this run's outputs
                (out / "pairs.csv").unlink(missing_ok=True)
            summary["timings"] = dict(stages.timings)
            _write_small_outputs(result, out)

        stages.run("write", write)
        result._pairs_path = out / "pairs.parquet"
    summary["timings"] = dict(stages.timings)
    if out is not None:  # rewrite summary with the write timing included
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str))
    con.close()  # an on-disk database keeps its tables (ml_records, ml_pairs, ...) for inspection
    return result


def _empty_result(
    std: _Standardized, model: Model, summary: dict[str, Any], stages: _Stages, out: Path | None
) -> Result:
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
        standardized=std.records,
        rejects=std.rejects,
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


def _zone_pairs(
    con: duckdb.DuckDBPyConnection, linker: Any, predict_table: str, t: Thresholds
) -> None:
    """ml_pairs: one row per scored pair with zone, grade, guard and comparison levels."""
    gammas = ", ".join(_gamma_columns(linker))
    labels = ", ".join(_level_label_sql(linker))
    _exec(
        con,
        f"""
        CREATE OR REPLACE TABLE ml_pairs AS
        WITH scored AS (
            SELECT *,
                {_family_guard_sql()} AS _family,
                {_birth_dates_differ_sql()} AS _dates_differ,
                {_family_review_sql()} AS _family_review
            FROM {predict_table}
        ), zoned AS (
            SELECT *,
                {t.zone_sql("match_weight", "_family", "_dates_differ", "_family_review")} AS zone
            FROM scored
        )
        SELECT
            record_id_l, record_id_r, match_weight, match_probability,
            zone,
            {t.grade_sql()} AS grade,
            (_family OR _dates_differ) AS guarded,
            CASE WHEN _family THEN 'family' WHEN _dates_differ THEN 'birth_dates_differ'
                 END AS guard_reason,
            CAST(match_key AS INTEGER) AS blocking_rule,
            {gammas}, {labels}
        FROM zoned
        """,
    )


def _comparisons_per_rule(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Pairs each blocking rule found first (Splink's match_key), with the rule's SQL."""
    counts = dict(con.execute("SELECT blocking_rule, count(*) FROM ml_pairs GROUP BY 1").fetchall())
    return [
        {"rule": i, "sql": sql, "comparisons": int(counts.get(i, 0))}
        for i, sql in enumerate(blocking.rule_descriptions())
    ]


def _score_pairs_two_edges_apart(con: duckdb.DuckDBPyConnection, db_api: Any, linker: Any) -> Any:
    """Score, in the oversized components, the unscored pairs of records that share a match-edge
    neighbour (A-B and B-C matched, A-C not compared). Where a chain joins two children, the
    records either side of the joint are such pairs; scoring every pair of a component instead
    is quadratic (a 10,000-record chain holds 50 million pairs: at 5M records that ran DuckDB out
    of memory). The pairs go to Splink as registered blocked pairs (the main predict is done)."""
    _exec(
        con,
        f"""CREATE OR REPLACE TABLE ml_two_apart AS
        WITH oversized AS (
            SELECT c.record_id FROM ml_components c JOIN ml_component_sizes USING (cluster_id)
            WHERE records > {MAX_COMPONENT_FULLY_SCORED}),
        edge AS (
            SELECT record_id_l AS a, record_id_r AS b FROM ml_match_edges
            WHERE record_id_l IN (SELECT record_id FROM oversized)
            UNION ALL
            SELECT record_id_r, record_id_l FROM ml_match_edges
            WHERE record_id_l IN (SELECT record_id FROM oversized))
        SELECT DISTINCT '0' AS match_key, x.b AS join_key_l, y.b AS join_key_r
        FROM edge x JOIN edge y ON x.a = y.a AND x.b < y.b
        WHERE NOT EXISTS (
            SELECT 1 FROM ml_pairs p WHERE p.record_id_l = least(x.b, y.b)
              AND p.record_id_r = greatest(x.b, y.b))""",
    )
    linker.table_management.register_blocked_pairs_for_predict(
        db_api.register("ml_two_apart", dataset_display_name="pairs_two_edges_apart")
    )
    return linker.inference.predict(warning_mode="never")


def _cluster(
    con: duckdb.DuckDBPyConnection,
    db_api: Any,
    linker: Any,
    predictions: Any,
    t: Thresholds,
    summary: dict[str, Any],
) -> pd.DataFrame:
    """Connected components over match-zone, unguarded pairs; then split every component that
    holds a guarded or strongly negative pair (scoring the within-component pairs blocking did
    not produce), and give each student the smallest record_id of its records as cluster_id."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    _exec(
        con,
        f"""CREATE OR REPLACE TABLE ml_match_edges AS
        SELECT record_id_l, record_id_r, match_weight, match_probability
        FROM ml_pairs WHERE zone = '{MATCH_ZONE}' AND NOT guarded""",
    )
    nodes = db_api.register("ml_records", dataset_display_name="ml_nodes")
    edges = db_api.register("ml_match_edges", dataset_display_name="ml_edges")
    components = cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api=db_api, node_id_column_name=UNIQUE_ID_COLUMN
    )
    _exec(
        con,
        f"""CREATE OR REPLACE TABLE ml_components AS
        SELECT record_id, min(record_id) OVER (PARTITION BY cluster_id) AS cluster_id
        FROM {components.physical_name}""",
    )

    # Every within-component pair that blocking did not score, scored now (components of 3+).
    _exec(
        con,
        """CREATE OR REPLACE TABLE ml_component_sizes AS
        SELECT cluster_id, count(*) AS records FROM ml_components GROUP BY 1""",
    )
    _exec(
        con,
        f"""CREATE OR REPLACE TABLE ml_big_components AS
        SELECT c.record_id, c.cluster_id FROM ml_components c JOIN ml_component_sizes USING (cluster_id)
        WHERE records BETWEEN 3 AND {MAX_COMPONENT_FULLY_SCORED}""",
    )
    n_big = con.execute("SELECT count(*) FROM ml_big_components").fetchall()[0][0]
    conflict_sources = [
        f"""SELECT p.record_id_l, p.record_id_r FROM ml_pairs p
            JOIN ml_components a ON a.record_id = p.record_id_l
            JOIN ml_components b ON b.record_id = p.record_id_r
            WHERE a.cluster_id = b.cluster_id
              AND (p.guarded OR p.match_weight < {t.strong_disagreement_weight!r})"""
    ]
    missing_tables = []
    if n_big:
        big = db_api.register("ml_big_components", dataset_display_name="ml_big_components")
        missing_tables.append(linker.inference._score_missing_cluster_edges(big, predictions))
    summary["oversized_components"] = int(
        con.execute(
            f"SELECT count(*) FROM ml_component_sizes WHERE records > {MAX_COMPONENT_FULLY_SCORED}"
        ).fetchall()[0][0]
    )
    if summary["oversized_components"]:
        missing_tables.append(_score_pairs_two_edges_apart(con, db_api, linker))
    for missing in missing_tables:
        conflict_sources.append(
            f"""SELECT record_id_l, record_id_r FROM {missing.physical_name}
                WHERE {_guarded_sql()} OR match_weight < {t.strong_disagreement_weight!r}"""
        )
    _exec(con, "CREATE OR REPLACE TABLE ml_conflicts AS " + " UNION ".join(conflict_sources))
    unclean = con.execute(
        """SELECT c.record_id, c.cluster_id FROM ml_components c
        WHERE c.cluster_id IN (
            SELECT a.cluster_id FROM ml_conflicts k JOIN ml_components a ON a.record_id = k.record_id_l)
        ORDER BY c.cluster_id, c.record_id"""
    ).df()
    summary["components_split"] = int(unclean["cluster_id"].nunique()) if len(unclean) else 0
    if len(unclean):
        ids = "SELECT record_id FROM ml_components WHERE cluster_id IN (SELECT cluster_id FROM unclean)"
        con.register("unclean", unclean)
        edges_df = con.execute(
            f"""SELECT * FROM ml_match_edges
            WHERE record_id_l IN ({ids}) AND record_id_r IN ({ids})"""
        ).df()
        conflicts_df = con.execute(f"SELECT * FROM ml_conflicts WHERE record_id_l IN ({ids})").df()
        con.unregister("unclean")
        resplit = split_unclean_components(unclean, edges_df, conflicts_df)
        con.register("resplit", resplit)
        _exec(
            con,
            """UPDATE ml_components SET cluster_id = r.cluster_id
            FROM resplit r WHERE ml_components.record_id = r.record_id""",
        )
        con.unregister("resplit")

    return con.execute(
        """
        WITH c AS (
            SELECT c.record_id, c.cluster_id, r.state_std, r.source_name
            FROM ml_components c JOIN ml_records r USING (record_id)
        ),
        per_cluster AS (
            SELECT cluster_id, count(*) AS cluster_size,
                   string_agg(DISTINCT state_std, ',' ORDER BY state_std) AS cluster_states
            FROM c GROUP BY cluster_id
        ),
        evidence AS (  -- the strongest merged pair each record takes part in
            SELECT record_id, max(match_weight) AS strongest_link_weight FROM (
                SELECT e.record_id_l AS record_id, e.match_weight FROM ml_match_edges e
                JOIN ml_components a ON a.record_id = e.record_id_l
                JOIN ml_components b ON b.record_id = e.record_id_r WHERE a.cluster_id = b.cluster_id
                UNION ALL
                SELECT e.record_id_r, e.match_weight FROM ml_match_edges e
                JOIN ml_components a ON a.record_id = e.record_id_l
                JOIN ml_components b ON b.record_id = e.record_id_r WHERE a.cluster_id = b.cluster_id
            ) GROUP BY record_id
        )
        SELECT c.record_id, c.cluster_id, p.cluster_size, p.cluster_states,
               c.source_name, c.state_std, e.strongest_link_weight
        FROM c JOIN per_cluster p USING (cluster_id) LEFT JOIN evidence e USING (record_id)
        ORDER BY c.cluster_id, c.record_id
        """
    ).df()


def _worklist(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pairs a person should decide: near matches (including strong pairs whose birth dates
    differ) and match-zone pairs a split kept apart; minus pairs whose records ended in one
    student anyway. Both records side by
    side (raw contract columns and key standardized columns, suffixed _l and _r)."""
    shown = [c for c in (*INPUT_COLUMNS, *WORKLIST_STANDARDIZED_COLUMNS) if c != UNIQUE_ID_COLUMN]
    shown = list(dict.fromkeys(shown))
    side = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in shown)
    return con.execute(
        f"""
        SELECT p.record_id_l, p.record_id_r, p.match_weight, p.match_probability, p.zone, p.grade,
               CASE WHEN p.zone = '{MATCH_ZONE}'
                        THEN 'match kept apart: a strong disagreement within the student'
                    WHEN p.guard_reason = 'birth_dates_differ'
                        THEN 'strong match but the birth dates differ'
                    WHEN p.guard_reason = 'family'
                        THEN 'given names share nothing but a record says not a multiple birth'
                    ELSE 'near match' END AS reason,
               {side}
        FROM ml_pairs p
        JOIN ml_components a ON a.record_id = p.record_id_l
        JOIN ml_components b ON b.record_id = p.record_id_r
        JOIN ml_records l ON l.record_id = p.record_id_l
        JOIN ml_records r ON r.record_id = p.record_id_r
        WHERE p.zone IN ('{NEAR_MATCH_ZONE}', '{MATCH_ZONE}') AND a.cluster_id <> b.cluster_id
        ORDER BY p.match_weight DESC, p.record_id_l, p.record_id_r
        """
    ).df()


# ------------------------------------------------------------------------------- public jobs
def dedupe(
    *sources: Source,
    model: Model | str | Path | None = None,
    train: bool | None = None,
    thresholds: Thresholds | None = None,
    column_map: Mapping[str, str] | None = None,
    date_format: str | None = None,
    backend: str = "duckdb",
    database: str | Path | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    pairs_csv: bool = True,
) -> Result:
    """Find records of the same child in one or more inputs, treated as one population.

    sources: pandas DataFrames, CSV/Parquet paths, DuckDB relations, or (database path, table)
        pairs for a table in a DuckDB file.
    model: a Model, a model JSON path, or None. With None and `train` None, the model is trained
        on the data when there are at least MIN_RECORDS_TO_TRAIN records, else the shipped
        default model is used. train=False always scores with the given or default model.
    out_dir: when given, every output is written there (pairs streamed from the database).
    pairs_csv: False leaves out pairs.csv (pairs.parquet holds the same rows); at national size
        the CSV is the largest file and its write the slowest stage.
    """
    if not sources:
        raise ValueError("dedupe() needs at least one input")
    names = _source_names(sources)
    return _run(
        sources,
        names,
        link_type="dedupe_only",
        sides=[0] * len(sources),
        model=model,
        train=train,
        thresholds=thresholds,
        column_map=column_map,
        date_format=date_format,
        backend=backend,
        database=database,
        out_dir=out_dir,
        progress=progress,
        pairs_csv=pairs_csv,
    )


def link(
    left: Source,
    right: Source,
    *,
    link_type: str = "link_only",
    model: Model | str | Path | None = None,
    train: bool | None = None,
    thresholds: Thresholds | None = None,
    column_map: Mapping[str, str] | None = None,
    date_format: str | None = None,
    backend: str = "duckdb",
    database: str | Path | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    pairs_csv: bool = True,
) -> Result:
    """Link a receiving state's records (`left`) with a sending state's or an index (`right`).

    link_type "link_only" pairs only records from different sides; "link_and_dedupe" also
    pairs records within each side. Record ids must be unique across both sides."""
    if link_type not in ("link_only", "link_and_dedupe"):
        raise ValueError(f"link_type must be 'link_only' or 'link_and_dedupe', got {link_type!r}")
    names = _source_names([left, right])
    return _run(
        [left, right],
        names,
        link_type=link_type,
        sides=[0, 1],
        model=model,
        train=train,
        thresholds=thresholds,
        column_map=column_map,
        date_format=date_format,
        backend=backend,
        database=database,
        out_dir=out_dir,
        progress=progress,
        pairs_csv=pairs_csv,
    )


def explain(
    record_a: Mapping[str, Any],
    record_b: Mapping[str, Any],
    model: Model | str | Path | None = None,
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """Score one pair of raw records (contract columns) and explain it: one row per comparison
    with the level reached and its weight, then a TOTAL row with the weight, probability, zone
    and grade. Term-frequency adjustments are not applied (there is no population to count)."""
    from splink import Linker

    from migrant_linkage.standardize import standardize

    quiet_splink()
    thresholds = thresholds or Thresholds()
    chosen = Model.load(model) if isinstance(model, str | Path) else (model or Model.default())
    raw = pd.DataFrame([dict(record_a), dict(record_b)])
    for column in ("record_id", "state"):
        if column not in raw.columns:
            raw[column] = None
    raw["record_id"] = raw["record_id"].fillna(pd.Series(["a", "b"])).astype(str)
    if raw["record_id"].iloc[0] == raw["record_id"].iloc[1]:
        raw["record_id"] = ["a", "b"]
    std = standardize(raw, source_name="explain")
    if len(std.standardized) != 2:
        reasons = "; ".join(f"{r.record_id}: {r.reason}" for r in std.rejects.itertuples())
        raise ValueError(f"cannot explain: a record was rejected ({reasons})")
    # Score the one pair through the ordinary predict path, with a rule that admits it.
    settings = _scoring_settings(chosen, ["l.record_id <> r.record_id"])
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
    db_api, con = make_db_api("duckdb")
    frame = std.standardized.drop(columns=[c for c in TRUTH_COLUMNS if c in std.standardized])
    _load_table(con, "explain_pair", frame)
    linker = Linker(db_api.register("explain_pair"), settings, log_level=None)
    with gamma_columns_kept():
        scored = linker.inference.predict(warning_mode="never").as_pandas_dataframe()
    row = scored.iloc[0]
    rows = []
    for comparison in linker._settings_obj.comparisons:
        name = comparison.output_column_name
        gamma = int(row[f"gamma_{name}"])
        level = next(
            lv for lv in comparison.comparison_levels if lv._comparison_vector_value == gamma
        )
        weight = 0.0 if level.is_null_level else float(level._log2_bayes_factor)
        rows.append({"comparison": name, "level": level.label_for_charts, "match_weight": weight})
    total = float(row["match_weight"])
    rows.append(
        {
            "comparison": "TOTAL",
            "level": _zone_of(total, thresholds),
            "match_weight": total,
        }
    )
    out = pd.DataFrame(rows)
    out["match_probability"] = [None] * (len(out) - 1) + [float(row["match_probability"])]
    con.close()
    return out


def _zone_of(weight: float, t: Thresholds) -> str:
    if weight >= t.match_weight:
        return f"{MATCH_ZONE} (certain)"
    if weight >= t.review_weight:
        grade = "probable" if weight >= t.probable_weight else "possible"
        return f"{NEAR_MATCH_ZONE} ({grade})"
    return NON_MATCH_ZONE
