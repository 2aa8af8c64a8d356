"""The linkage jobs: dedupe, link and explain, front ends over the pipeline.

A job reads and standardizes its inputs, chooses or trains the model, and hands the records to
`pipeline.run_stages` (block -> predict -> zone -> cluster -> worklist -> write). `explain`
scores one pair through the same settings and routes it through the same zone SQL, so it
reports the zone the job would give the pair, guards included.

Logs name record ids and counts only, never names or birth dates (FERPA).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from migrant_linkage.db import make_db_api
from migrant_linkage.model import Model, ModelCheckError, quiet_splink
from migrant_linkage.pipeline import Progress, Result, Stages, run_stages
from migrant_linkage.pipeline.parked import ParkedFrame, park
from migrant_linkage.schema import (
    INPUT_COLUMNS,
    STANDARDIZED_COLUMNS,
    TRUTH_COLUMNS,
    UNIQUE_ID_COLUMN,
)
from migrant_linkage.sources import Source, source_names, standardize_all
from migrant_linkage.zones import Thresholds

__all__ = ["Result", "Thresholds", "dedupe", "explain", "link"]

logger = logging.getLogger(__name__)

#: Below this many standardized records, `train=None` scores with the shipped default model
#: instead of training: EM needs enough pairs per training block to be stable. The shipped
#: model was trained on our synthetic records, so it carries their world (two surnames, their
#: name frequencies); on files from elsewhere a model trained on the file itself does far better
#: down to a few hundred records (docs/benchmarks.md: FEBRL samples of 300 to 1,500 records, F1
#: +0.09 to +0.31 trained; our own records within 0.01 at 679, 0.065 worse at 250).
MIN_RECORDS_TO_TRAIN = 500

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


def column_types() -> dict[str, str]:
    """SQL type of every contract column (raw input columns and truth stay text)."""
    types = {c.name: c.sql_type for c in STANDARDIZED_COLUMNS}
    types.update({c: "VARCHAR" for c in (*INPUT_COLUMNS, *TRUTH_COLUMNS)})
    return types


def _worklist_columns() -> list[str]:
    shown = [c for c in (*INPUT_COLUMNS, *WORKLIST_STANDARDIZED_COLUMNS) if c != UNIQUE_ID_COLUMN]
    return list(dict.fromkeys(shown))


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


def _check_backend(backend: str) -> None:
    if backend not in ("duckdb", "spark"):
        raise ValueError(f"unknown backend {backend!r}: use 'duckdb' or 'spark'")
    if backend == "spark":
        from migrant_linkage.spark_backend import SparkUnavailableError, spark_available

        reason = spark_available()
        if reason is not None:
            raise SparkUnavailableError(f"backend='spark' cannot run: {reason}")


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
    all_pairs: bool,
) -> Result:
    from migrant_linkage.pipeline.run import empty_result, prepare_out_dir

    quiet_splink()
    thresholds = thresholds or Thresholds()
    stages = Stages(progress)
    _check_backend(backend)  # fail fast on a bad backend, before reading
    # The previous run's finished marker goes before any work: a run killed while standardizing
    # or training must not leave the folder looking finished.
    out = prepare_out_dir(out_dir)
    db_api, con = make_db_api(database)

    std = stages.run(
        "standardize", lambda: standardize_all(sources, names, column_map, date_format)
    )
    records = std.records
    side_of = dict(zip(names, sides, strict=True))
    records["_link_side"] = records["source_name"].map(side_of).astype("int64")
    logger.info("standardized %d records, rejected %d", len(records), len(std.rejects))

    chosen, do_train = _resolve_model(model, train, len(records))
    model_note = None
    if do_train:
        try:
            chosen = stages.run("train", partial(chosen.train, records))
        except ModelCheckError as err:
            if train is not None:  # training was asked for: its failure is the answer
                raise
            # Chosen by size alone: a small file whose training fails the weight check is
            # scored with the shipped model, and the summary says so.
            do_train, chosen = False, Model.default()
            model_note = f"default (training on this data failed its check: {err})"
            logger.warning("training failed its weight check; scored with the default model")
    else:
        stages.timings["train"] = 0.0
    # The trained prior says how common duplicates are in these records (zones.Thresholds).
    thresholds = thresholds.given_prior(chosen.prior_weight())

    summary: dict[str, Any] = {
        "job": link_type,
        "records_in": std.records_in,
        "rejected": len(std.rejects),
        "rejected_by_reason": {
            str(k): int(v) for k, v in std.rejects["reason"].value_counts().sort_index().items()
        },
        "standardized": len(records),
        "sources": std.counts,
        "model": model_note
        or ("trained on this data" if do_train else "given" if model is not None else "default"),
        "thresholds": {
            "match_weight": thresholds.match_weight,
            "review_weight": thresholds.review_weight,
            "strong_disagreement_weight": thresholds.strong_disagreement_weight,
            "chance_weight": thresholds.chance_weight,
            "match_posterior_weight": thresholds.match_posterior_weight,
            "prior_weight": chosen.prior_weight(),
        },
    }
    if len(records) == 0:
        con.close()
        return empty_result(std.records, std.rejects, chosen, summary, stages, out)
    # The records are parked on disk while the database works (pipeline.parked: about 1 GB at
    # 1M records, beside the database at its peak). Neither this function nor `std` keeps the
    # frame, so its memory is freed; run_stages reads it back once the database is closed.
    rejects = std.rejects
    parked = stages.run("load", partial(park, records))
    del std, records
    try:
        return run_stages(
            con,
            db_api,
            parked,
            model=chosen,
            link_type=link_type,
            thresholds=thresholds,
            summary=summary,
            stages=stages,
            rejects=rejects,
            column_types=column_types(),
            worklist_columns=_worklist_columns(),
            backend=backend,
            out=out,
            pairs_csv=pairs_csv,
            all_pairs=all_pairs,
        )
    finally:
        if isinstance(parked, ParkedFrame):
            parked.discard()  # a run that failed before reading them back


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
    all_pairs: bool = False,
) -> Result:
    """Find records of the same child in one or more inputs, treated as one population.

    sources: pandas DataFrames, CSV/Parquet paths, DuckDB relations, or (database path, table)
        pairs for a table in a DuckDB file.
    model: a Model, a model JSON path, or None. With None and `train` None, the model is trained
        on the data when there are at least MIN_RECORDS_TO_TRAIN records, else the shipped
        default model is used. train=False always scores with the given or default model.
    out_dir: when given, every output is written there (pairs streamed from the database).
    pairs_csv: False leaves out pairs.csv (pairs.parquet holds the same rows).
    all_pairs: the result's pairs (and pairs.parquet) hold every scored pair; by default they
        hold the match and near-match pairs and a sample of the non-match pairs, and
        `Result.weight_histogram` (weight_histogram.parquet) counts every pair per zone and
        weight bin, which the report and the tuning helpers read (at 1M records 7 of the 7.3M
        scored pairs are non-matches, and writing them all was a third of the run).
    """
    if not sources:
        raise ValueError("dedupe() needs at least one input")
    names = source_names(sources)
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
        all_pairs=all_pairs,
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
    all_pairs: bool = False,
) -> Result:
    """Link a receiving state's records (`left`) with a sending state's or an index (`right`).

    link_type "link_only" pairs only records from different sides; "link_and_dedupe" also
    pairs records within each side. Record ids must be unique across both sides."""
    if link_type not in ("link_only", "link_and_dedupe"):
        raise ValueError(f"link_type must be 'link_only' or 'link_and_dedupe', got {link_type!r}")
    names = source_names([left, right])
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
        all_pairs=all_pairs,
    )


def explain(
    record_a: Mapping[str, Any],
    record_b: Mapping[str, Any],
    model: Model | str | Path | None = None,
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """Score one pair of raw records (contract columns) and explain it: one row per comparison
    with the level reached and its weight, then a TOTAL row with the weight, probability, and
    the zone and grade a dedupe would give the pair (the same routing: the family guard and
    different birth dates included; `guard_reason` says which guard held it back).
    Term-frequency adjustments are not applied (there is no population to count)."""
    from splink import Linker

    from migrant_linkage.db import execute, load_frame
    from migrant_linkage.levels import ModelLevels
    from migrant_linkage.pipeline import scoring
    from migrant_linkage.standardize import standardize
    from migrant_linkage.zones import Routing

    quiet_splink()
    thresholds = thresholds or Thresholds()
    chosen = Model.load(model) if isinstance(model, str | Path) else (model or Model.default())
    thresholds = thresholds.given_prior(chosen.prior_weight())
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
    settings = scoring.scoring_settings(chosen, ["l.record_id <> r.record_id"], frequencies=False)
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)
    db_api, con = make_db_api()
    try:
        frame = std.standardized.drop(columns=[c for c in TRUTH_COLUMNS if c in std.standardized])
        load_frame(con, "explain_pair", frame, column_types())
        linker = Linker(db_api.register("explain_pair"), settings, log_level=None)
        predictions = scoring.predict(linker)
        routing = Routing(ModelLevels(settings), thresholds)
        execute(
            con,
            "CREATE TABLE explain_routed AS "
            + routing.routed_pairs_sql(predictions.physical_name, routing.levels.gamma_columns()),
        )
        row = con.execute("SELECT * FROM explain_routed").df().iloc[0]
    finally:
        con.close()
    rows = []
    for comparison in linker._settings_obj.comparisons:
        name = comparison.output_column_name
        gamma = int(row[f"gamma_{name}"])
        level = next(
            lv for lv in comparison.comparison_levels if lv._comparison_vector_value == gamma
        )
        weight = 0.0 if level.is_null_level else float(level._log2_bayes_factor)
        rows.append({"comparison": name, "level": level.label_for_charts, "match_weight": weight})
    grade = row["grade"]
    verdict = f"{row['zone']} ({grade})" if isinstance(grade, str) else str(row["zone"])
    guard = row["guard_reason"] if isinstance(row["guard_reason"], str) else None
    if guard:
        verdict += f", held back by the {guard.replace('_', ' ')} guard"
    rows.append(
        {"comparison": "TOTAL", "level": verdict, "match_weight": float(row["match_weight"])}
    )
    out = pd.DataFrame(rows)
    out["match_probability"] = [None] * (len(out) - 1) + [float(row["match_probability"])]
    out["guard_reason"] = [None] * (len(out) - 1) + [guard]
    return out
