"""Training and running the encoded model: encoded linkage as a front end of the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from migrant_linkage.privacy.comparisons import encoded_comparisons
from migrant_linkage.privacy.encoding import (
    BLOOM_COLUMNS,
    CLEAR_COLUMNS,
    HASHED_COLUMNS,
    LEVELS_NOT_ENCODED,
    bloom_word_columns,
)
from migrant_linkage.privacy.keys import ENCODING_VERSION, EncodingError
from migrant_linkage.schema import REJECT_COLUMNS, UNIQUE_ID_COLUMN

__all__ = ["check_encoded", "dedupe_encoded", "link_encoded", "train_encoded"]


def _bloom_word_columns() -> list[str]:
    return [w for c in BLOOM_COLUMNS for w in bloom_word_columns(c)]


def check_encoded(frames: Sequence[pd.DataFrame]) -> None:
    """All frames are encoded tables of this encoding version and of one secret; EncodingError
    (naming what to do) otherwise."""
    for frame in frames:
        for column in ("encoding_version", "encoding_key", *HASHED_COLUMNS):
            if column not in frame.columns:
                raise EncodingError(
                    f"an input is not an encoded table (column {column!r} is missing); "
                    "run migrant_linkage.privacy.encode on the standardized records first"
                )
    versions = {v for f in frames for v in f["encoding_version"].dropna().unique()}
    keys = {k for f in frames for k in f["encoding_key"].dropna().unique()}
    if versions != {ENCODING_VERSION}:
        old = sorted(str(v) for v in versions - {ENCODING_VERSION})
        raise EncodingError(
            f"an input was encoded with encoding version {', '.join(old) or 'none'}; this "
            f"library links {ENCODING_VERSION} only (older versions accepted weak secrets and "
            "unsalted Bloom filters): each state re-encodes its standardized records with this "
            "version and a secrets.token_hex(32) secret"
        )
    if len(keys) > 1:
        raise EncodingError(
            f"the inputs were encoded with different secrets (key fingerprints {sorted(keys)}); "
            "hashes from different secrets never match, so linking them would find nothing"
        )


def _model_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Only what the encoded model reads (no truth or extra columns reach Splink)."""
    keep = [
        c
        for c in (*CLEAR_COLUMNS, *HASHED_COLUMNS, *_bloom_word_columns(), "_link_side")
        if c in frame.columns
    ]
    return frame[keep]


def train_encoded(
    encoded: pd.DataFrame,
    *,
    seed: int = 42,
    max_u_pairs: float = 1e6,
    deterministic_recall: float = 0.7,
):
    """Train the encoded model without labels, the way model.Model.train trains the plain one:
    prior from deterministic rules, u from random pairs, EM on family-safe blocks, given-name
    m-probabilities fixed at the priors. Blocking keys are hashed, and equality of hashes is
    equality of values, so the plain rules (blocking.py) are used unchanged. Returns a trained
    migrant_linkage.model.Model holding the encoded comparisons."""

    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import (
        Model,
        estimate_m_without_labels,
        estimate_prior,
        floor_m_probabilities,
        quiet_splink,
        training_linker,
        untrained_settings,
    )

    quiet_splink()
    check_encoded([encoded])
    if len(encoded) < 2:
        raise ValueError("train_encoded() needs at least two encoded records")
    settings = untrained_settings(encoded_comparisons(), absent_levels=LEVELS_NOT_ENCODED)
    db_api, con = make_db_api()
    try:
        # The training-block sizes count hashed keys: equal hashes are equal values.
        linker = training_linker(
            db_api,
            _model_columns(encoded),
            settings,
            "encoded_train",
            seed=seed,
            max_u_pairs=max_u_pairs,
        )
        estimate_prior(linker.training, deterministic_recall=deterministic_recall)
        estimate_m_without_labels(linker.training)
        trained = linker.misc.save_model_to_json()
    finally:
        con.close()
    trained["link_type"] = "dedupe_only"
    floor_m_probabilities(trained)
    return Model(trained)


# ------------------------------------------------------------------------------------ running
def _run_encoded(
    frames: Sequence[pd.DataFrame],
    sides: Sequence[int],
    *,
    link_type: str,
    model: Any,
    thresholds: Any,
    out_dir: Any,
):
    """Encoded linkage as a front end of the pipeline: the same blocking, scoring, routing
    (guards derived from the encoded model's level labels), clustering and worklist as the
    plain engine; the worklist names record ids only (each state looks its own records up)."""
    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import Model, quiet_splink
    from migrant_linkage.pipeline import Stages, run_stages
    from migrant_linkage.pipeline.run import empty_result, prepare_out_dir
    from migrant_linkage.zones import Thresholds

    quiet_splink()
    check_encoded(frames)
    # Before any work: a run killed in training must not leave an older run's summary.json
    # (the finished marker) beside this run's files.
    out = prepare_out_dir(out_dir)
    thresholds = thresholds or Thresholds()
    records = pd.concat(
        [f.assign(_link_side=side) for f, side in zip(frames, sides, strict=True)],
        ignore_index=True,
    )
    records[UNIQUE_ID_COLUMN] = records[UNIQUE_ID_COLUMN].astype("str")
    duplicated = records[UNIQUE_ID_COLUMN].duplicated()
    if duplicated.any():
        raise EncodingError(
            f"{int(duplicated.sum())} record_id(s) appear more than once across the inputs "
            f"(first: {records.loc[duplicated, UNIQUE_ID_COLUMN].iloc[0]}); record ids must be "
            "unique across all inputs of one run"
        )
    chosen = model if isinstance(model, Model) else train_encoded(records)
    thresholds = thresholds.given_prior(chosen.prior_weight())
    summary: dict[str, Any] = {
        "job": f"{link_type} (encoded)",
        "encoding_version": ENCODING_VERSION,
        "encoding_key": str(records["encoding_key"].iloc[0]) if len(records) else None,
        "records_in": len(records),
        "rejected": 0,
        "standardized": len(records),
        "thresholds": {
            "match_weight": thresholds.match_weight,
            "review_weight": thresholds.review_weight,
            "strong_disagreement_weight": thresholds.strong_disagreement_weight,
            "match_posterior_weight": thresholds.match_posterior_weight,
        },
    }
    rejects = pd.DataFrame({c: pd.Series(dtype="str") for c in REJECT_COLUMNS})
    stages = Stages(None)
    if len(records) == 0:
        return empty_result(records, rejects, chosen, summary, stages, out)
    db_api, con = make_db_api()
    return run_stages(
        con,
        db_api,
        _model_columns(records),
        model=chosen,
        link_type=link_type,
        thresholds=thresholds,
        summary=summary,
        stages=stages,
        rejects=rejects,
        column_types={},
        worklist_columns=(),
        out=out,
    )


def dedupe_encoded(
    *encoded: pd.DataFrame, model: Any = None, thresholds: Any = None, out_dir: Any = None
):
    """Find records of the same child among encoded files (one population). Trains the encoded
    model on the data unless a trained `model` (from `train_encoded`) is given. Returns an
    engine.Result whose tables hold record ids, hashes and scores only."""
    if not encoded:
        raise ValueError("dedupe_encoded() needs at least one encoded input")
    return _run_encoded(
        encoded,
        [0] * len(encoded),
        link_type="dedupe_only",
        model=model,
        thresholds=thresholds,
        out_dir=out_dir,
    )


def link_encoded(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    model: Any = None,
    thresholds: Any = None,
    out_dir: Any = None,
):
    """Link two states' encoded files: only pairs with one record from each side are scored."""
    return _run_encoded(
        [left, right],
        [0, 1],
        link_type="link_only",
        model=model,
        thresholds=thresholds,
        out_dir=out_dir,
    )
