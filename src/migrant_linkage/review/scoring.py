"""Score an upload against the master index, and within itself, with Splink.

The engine's `link` and `dedupe` standardize files and cluster a whole population; an upload
needs something narrower: pairs between the incoming records and the index, and between incoming
records, but never index-vs-index pairs (those were decided earlier). So this module runs one
Splink dedupe over index + upload with every blocking rule narrowed to "at least one side is
incoming" (the same trick the engine uses for link-only). Term frequencies are therefore computed
over index and upload together, the population the pairs come from.

Everything else is the pipeline's: the scoring settings (pipeline.scoring, even prior odds),
the connection (db.py) and the routing of each pair (zones.Routing: the same guards and zones
as dedupe, derived from the model's level labels).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from migrant_linkage import blocking
from migrant_linkage.blocking import with_block_sizes_sql
from migrant_linkage.db import make_db_api
from migrant_linkage.levels import ModelLevels
from migrant_linkage.model import Model, quiet_splink
from migrant_linkage.pipeline.clusters import explained_by_a_compound_name_sql
from migrant_linkage.pipeline.scoring import add_frequency_columns, scoring_settings
from migrant_linkage.schema import SCORED_COLUMN_NAMES, UNIQUE_ID_COLUMN
from migrant_linkage.zones import GUARD_FAMILY, Routing, Thresholds

#: Column marking incoming records (1) against index records (0) in the scoring table.
SIDE = "_incoming"


def _settings(model: Model) -> dict[str, Any]:
    rules = [
        f"({blocking.rule_sql(r)}) AND (l.{SIDE} = 1 OR r.{SIDE} = 1)"
        for r in blocking.prediction_blocking_rules()
    ]
    settings = scoring_settings(model, rules, lean=False)
    settings["retain_intermediate_calculation_columns"] = True  # mw_ columns: the evidence
    return settings


def level_labels(model: Model) -> dict[str, dict[int, str]]:
    """{comparison: {gamma value: level label}} of a model (levels.ModelLevels)."""
    levels = ModelLevels.of_model(model)
    return {name: levels.descriptions(name) for name in levels.names}


class SplinkScorer:
    """Scores one upload with Splink, keeping the Splink session open so the upload can ask,
    after clustering, for the pairs inside each proposed student that blocking did not produce
    (`score_within`, as the engine does before it splits a component).

    Build with `SplinkScorer(model=..., thresholds=...)`; `score` once, `score_within` as needed,
    then `close`. Pairs carry record_id_l, record_id_r, match_weight, match_probability, zone,
    guarded, and per comparison `gamma_<name>` and `weight_<name>` (log2 Bayes factor, term
    frequency adjustment included)."""

    def __init__(self, *, model: Model, thresholds: Thresholds):
        self.model = model
        self.thresholds = thresholds
        self.routing = Routing(ModelLevels.of_model(model), thresholds)
        self.names = self.routing.levels.names
        self._con = None
        self._linker = None
        self._predictions = None

    def empty(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "record_id_l": pd.Series(dtype=str),
                "record_id_r": pd.Series(dtype=str),
                "match_weight": pd.Series(dtype=float),
                "match_probability": pd.Series(dtype=float),
                "zone": pd.Series(dtype=str),
                "guarded": pd.Series(dtype=bool),
                **{f"gamma_{n}": pd.Series(dtype="int64") for n in self.names},
                **{f"weight_{n}": pd.Series(dtype=float) for n in self.names},
            }
        )

    def load(self, incoming: pd.DataFrame, existing: Any) -> None:
        """Copy the records to score into this session: `incoming` a frame, `existing` a frame
        or an Arrow record-batch stream (the index); both carry `record_id` (unique across both)
        and the standardized columns. After this the index is no longer needed."""
        quiet_splink()
        columns = [
            UNIQUE_ID_COLUMN,
            *[c for c in SCORED_COLUMN_NAMES if c != UNIQUE_ID_COLUMN],
        ]
        self.db_api, self._con = make_db_api()
        con = self._con
        selected = ", ".join(columns)
        con.register("_existing", existing)
        con.execute(
            f"CREATE TABLE ml_review_records AS SELECT {selected}, 0 AS {SIDE} FROM _existing"
        )
        con.unregister("_existing")
        con.register("_incoming", incoming.reindex(columns=columns))
        con.execute(f"INSERT INTO ml_review_records SELECT {selected}, 1 FROM _incoming")
        con.unregister("_incoming")

    def predict(self) -> pd.DataFrame:
        """Pairs (incoming, index) and (incoming, incoming) of the loaded records."""
        from splink import Linker

        if self._con is None:
            raise RuntimeError("load() the records before predict()")
        (n_incoming, n_all) = self._con.execute(
            f"SELECT count(*) FILTER (WHERE {SIDE} = 1), count(*) FROM ml_review_records"
        ).fetchall()[0]
        if n_incoming == 0 or n_all < 2:
            return self.empty()
        # The population the pairs come from is index + upload: the namesake check counts it.
        add_frequency_columns(
            self._con, "ml_review_records", self.routing.levels.term_frequency_columns()
        )
        self.routing = replace(self.routing, population=int(n_all))
        # Splink blocks on this table: it needs the block sizes the capped rules read.
        sized = with_block_sizes_sql("ml_review_records")
        self._con.execute(f"CREATE OR REPLACE TABLE ml_review_blocking AS {sized}").fetchall()
        records = self.db_api.register("ml_review_blocking", dataset_display_name="review_records")
        self._linker = Linker(records, _settings(self.model), log_level=None)
        self._predictions = self._linker.inference.predict(warning_mode="never")
        return self._pairs(self._predictions.physical_name)

    def score(self, incoming: pd.DataFrame, existing: Any) -> pd.DataFrame:
        """load + predict in one call."""
        self.load(incoming, existing)
        return self.predict()

    def score_within(self, clusters: pd.DataFrame) -> pd.DataFrame:
        """Score every pair inside each cluster (record_id, cluster_id) that `score` did not."""
        if self._linker is None or clusters.empty:
            return self.empty()
        self._con.register("_clusters_frame", clusters[["record_id", "cluster_id"]])
        self._con.execute(
            "CREATE OR REPLACE TABLE ml_review_clusters AS SELECT * FROM _clusters_frame"
        )
        self._con.unregister("_clusters_frame")
        table = self.db_api.register("ml_review_clusters", dataset_display_name="clusters")
        missing = self._linker.inference._score_missing_cluster_edges(table, self._predictions)
        return self._pairs(missing.physical_name)

    def explained_by_a_compound_name(
        self, pairs: pd.DataFrame, match_edges: pd.DataFrame
    ) -> pd.Series:
        """For each of `pairs` (routed pairs of this session: record_id_l, record_id_r,
        match_weight, guard_reason, gamma_<name>), whether it is a family conflict that a whole
        compound name explains, as the engine's clustering decides it
        (pipeline.clusters.explained_by_a_compound_name_sql); `match_edges` (l, r: record ids)
        are the pairs that would join students."""
        if self._con is None or pairs.empty or match_edges.empty:
            return pd.Series(False, index=pairs.index)
        con = self._con
        shown = ["record_id_l", "record_id_r", "match_weight", "guard_reason"]
        gammas = [c for c in self.routing.levels.gamma_columns() if c in pairs]
        frame = pairs[shown + gammas].reset_index(drop=True).assign(_row=lambda f: f.index)
        con.register("_explain_pairs", frame)
        con.register("_explain_edges", match_edges[["l", "r"]].astype(str))
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE ml_review_edge_ends AS "
                "SELECT l AS a, r AS b FROM _explain_edges UNION ALL SELECT r, l FROM _explain_edges"
            )
            condition = explained_by_a_compound_name_sql(
                "p",
                f"p.guard_reason = '{GUARD_FAMILY}'",
                self.routing,
                edge_ends="ml_review_edge_ends",
                records="ml_review_records",
            )
            out = con.execute(
                f"SELECT _row, coalesce({condition}, false) FROM _explain_pairs p ORDER BY _row"
            ).fetchall()
        finally:
            con.unregister("_explain_pairs")
            con.unregister("_explain_edges")
        return pd.Series([bool(v) for _, v in out], index=pairs.index)

    def _pairs(self, table: str) -> pd.DataFrame:
        available = set(self._con.execute(f"SELECT * FROM {table} LIMIT 0").df().columns)
        weights = []
        for n in self.names:  # Splink 5 writes per-comparison match weights (log2 factors)
            parts = [f"mw_{n}"] + ([f"mw_tf_adj_{n}"] if f"mw_tf_adj_{n}" in available else [])
            total = " + ".join(f"coalesce({p}, 0.0)" for p in parts)
            weights.append(f"{total} AS weight_{n}")
        extra = [*self.routing.levels.gamma_columns(), *weights]
        pairs = self._con.execute(
            f"SELECT * EXCLUDE (grade) FROM ({self.routing.routed_pairs_sql(table, extra)}) "
            "ORDER BY record_id_l, record_id_r"
        ).df()
        return pairs if len(pairs) else self.empty()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
        self._con = self._linker = self._predictions = None


def score_upload(
    incoming: pd.DataFrame, existing: pd.DataFrame, *, model: Model, thresholds: Thresholds
) -> pd.DataFrame:
    """One-shot scoring of an upload against the index (see SplinkScorer.score)."""
    scorer = SplinkScorer(model=model, thresholds=thresholds)
    try:
        return scorer.score(incoming, existing)
    finally:
        scorer.close()
