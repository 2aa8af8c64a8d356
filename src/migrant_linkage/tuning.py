"""Threshold tuning helpers for notebooks.

Two thresholds split the scored pairs into three zones: at or above the *match* weight a pair
is merged automatically; at or above the *review* weight it goes to a data administrator's
worklist (near match); below, it is a non-match. These helpers show what a choice of thresholds
does, with or without labels:

- `weight_histogram`: where the scored pairs fall, coloured by zone.
- `threshold_sweep` / `sweep_chart` (no labels needed): pairs, records and *expected* true
  matches (the sum of the model's match probabilities) at or above every candidate threshold.
- `zone_counts`: pairs and records in each zone for one pair of thresholds.
  (zone_counts, weight_bins and threshold_sweep live in migrant_linkage.report.pair_stats,
  shared with the run report; they are re-exported here.)
- `sample_near_threshold`: a few pairs just above and just below a threshold, to read.
- `accuracy_by_threshold` / `accuracy_chart` (labels needed: reviewed pairs or synthetic
  truth): precision, recall and F1 at every threshold, drawn with Splink's accuracy chart.
- `waterfall`: how one pair's match weight adds up; `weights_chart`: the model's weights.

The counting functions (zone_counts, weight_histogram, threshold_sweep, sweep_chart and, with
`truth`, accuracy_by_threshold) take a run's weight histogram (`Result.weight_histogram`, or
`weight_histogram.parquet` in a run folder), which counts every scored pair, or a pairs table.
The functions that show pairs one by one (sample_near_threshold, waterfall, pair_evidence, and
accuracy_by_threshold with reviewed `labels`) take the pairs (`Result.pairs`, or
`pairs.parquet`): by default the match and near-match pairs and a sample of non-matches,
every pair with `all_pairs=True`. Everything works a column at a time; nothing loops over
pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from migrant_linkage.report import charts, evidence
from migrant_linkage.report.charts import Chart
from migrant_linkage.report.pair_stats import (
    LEFT,
    RIGHT,
    WEIGHT,
    as_weights,
    at_or_above,
    histogram_grid,
    is_histogram,
    threshold_sweep,
    weight_bins,
    zone_counts,
    zone_of,
)
from migrant_linkage.report.pair_stats import require_columns as _require
from migrant_linkage.report.pair_stats import threshold_grid as _grid
from migrant_linkage.schema import UNIQUE_ID_COLUMN

__all__ = [
    "Chart",
    "accuracy_by_threshold",
    "accuracy_chart",
    "labels_from_truth",
    "sample_near_threshold",
    "suggest_thresholds",
    "sweep_chart",
    "threshold_sweep",
    "waterfall",
    "weight_bins",
    "weight_histogram",
    "weights_chart",
    "zone_counts",
    "zone_of",
]


# ---------------------------------------------------------------------------------------------
# Thresholds and zones
# ---------------------------------------------------------------------------------------------


def _marks(thresholds: Any) -> dict[str, float] | None:
    if thresholds is None:
        return None
    return charts.threshold_marks(*as_weights(thresholds))


# ---------------------------------------------------------------------------------------------
# Without labels
# ---------------------------------------------------------------------------------------------


def weight_histogram(
    pairs: pd.DataFrame, thresholds: Any = None, *, bin_width: float = 0.5, log_scale: bool = True
) -> Chart:
    """Histogram of the pairs' match weights, coloured by zone, thresholds drawn."""
    bins = weight_bins(pairs, thresholds, bin_width=bin_width)
    return charts.histogram_chart(bins, _marks(thresholds), log_scale=log_scale)


def sweep_chart(pairs_or_sweep: pd.DataFrame, thresholds: Any = None) -> Chart:
    """Chart of threshold_sweep (pass the pairs or a sweep table), thresholds drawn."""
    sweep = pairs_or_sweep
    if "threshold" not in sweep.columns:
        sweep = threshold_sweep(pairs_or_sweep)
    return charts.sweep_chart(sweep, _marks(thresholds))


def sample_near_threshold(
    pairs: pd.DataFrame, threshold: float, *, n: int = 5, window: float = 1.0, seed: int = 0
) -> pd.DataFrame:
    """Up to `n` pairs drawn at random from just above the threshold (weight in
    [t, t + window)) and `n` from just below ([t - window, t)), with a `side` column, sorted by
    weight. Reading them is the quickest way to see what moving the threshold changes."""
    _require(pairs, WEIGHT)
    w = pd.to_numeric(pairs[WEIGHT])
    above = pairs[(w >= threshold) & (w < threshold + window)]
    below = pairs[(w < threshold) & (w >= threshold - window)]
    parts = []
    for side, part in (("above", above), ("below", below)):
        picked = part.sample(n=min(n, len(part)), random_state=seed)
        parts.append(picked.assign(side=side))
    out = pd.concat(parts) if parts else pairs.head(0).assign(side=pd.Series(dtype=str))
    return out.sort_values(WEIGHT, ascending=False).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# With labels
# ---------------------------------------------------------------------------------------------


def labels_from_truth(pairs: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """True where both records of a pair belong to the same child in `truth` (columns record_id
    and true_student_id, e.g. the synthetic generator's output)."""
    _require(pairs, LEFT, RIGHT)
    student = truth.drop_duplicates(UNIQUE_ID_COLUMN).set_index(
        truth[UNIQUE_ID_COLUMN].drop_duplicates().astype(str)
    )["true_student_id"]
    left = pairs[LEFT].astype(str).map(student)
    right = pairs[RIGHT].astype(str).map(student)
    return pd.Series((left == right) & left.notna(), index=pairs.index, name="is_match")


def true_pair_count(truth: pd.DataFrame) -> int:
    """Pairs of records of the same child in `truth` (whether compared or not)."""
    sizes = truth.drop_duplicates(UNIQUE_ID_COLUMN)["true_student_id"].value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def _labels_for_pairs(pairs: pd.DataFrame, labels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(weights, is_match) of the labelled pairs. Labels may name a pair in either order; a
    labelled pair the run never scored counts as scored below every threshold."""
    _require(labels, LEFT, RIGHT, "is_match")

    def key(a: pd.Series, b: pd.Series) -> pd.Series:
        a, b = a.astype(str), b.astype(str)
        return a.where(a < b, b) + "\x1f" + b.where(a < b, a)

    scored = pd.Series(
        pd.to_numeric(pairs[WEIGHT]).to_numpy(dtype=float), index=key(pairs[LEFT], pairs[RIGHT])
    )
    scored = scored[~scored.index.duplicated()]
    label_keys = key(labels[LEFT], labels[RIGHT])
    weights = scored.reindex(label_keys).to_numpy(dtype=float)
    weights = np.where(np.isnan(weights), -np.inf, weights)
    return weights, labels["is_match"].astype(bool).to_numpy()


def accuracy_by_threshold(
    pairs: pd.DataFrame,
    *,
    labels: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    total_true_pairs: int | None = None,
    grid: Sequence[float] | None = None,
    step: float = 0.25,
) -> pd.DataFrame:
    """Precision, recall and F1 of "merge at or above t" for every threshold t.

    Give either `labels` (reviewed pairs: record_id_l, record_id_r, is_match; only those pairs
    are scored) or `truth` (record_id, true_student_id for every record: every scored pair is
    labelled, and true pairs the blocking never compared count as missed, so recall is honest
    about blocking; pass total_true_pairs to override that count, e.g. for a link job).

    `pairs` may be a run's weight histogram when the run's records carried the synthetic truth
    (its true_pairs column); give `truth` or total_true_pairs for the count of true pairs.

    Columns: threshold, match_probability, tp, fp, fn, tn, precision, recall, f1."""
    if is_histogram(pairs):
        return _accuracy_of_histogram(pairs, truth, total_true_pairs, grid, step)
    _require(pairs, WEIGHT)
    if (labels is None) == (truth is None):
        raise ValueError("give either labels (reviewed pairs) or truth (true_student_id)")
    if truth is not None:
        is_match = labels_from_truth(pairs, truth).to_numpy()
        w = pd.to_numeric(pairs[WEIGHT]).to_numpy(dtype=float)
        positives = true_pair_count(truth) if total_true_pairs is None else total_true_pairs
    elif labels is not None:  # always, after the check above; said again for the type checker
        w, is_match = _labels_for_pairs(pairs, labels)
        positives = int(is_match.sum()) if total_true_pairs is None else total_true_pairs
    negatives = int((~is_match).sum())
    grid_values = np.asarray(grid, dtype=float) if grid is not None else _grid(w, step)

    order = np.argsort(w, kind="stable")
    w_sorted, match_sorted = w[order], is_match[order]
    # True matches at or above each cut: suffix sums of is_match in weight order.
    suffix = np.concatenate([np.cumsum(match_sorted[::-1])[::-1], [0]])
    cut = np.searchsorted(w_sorted, grid_values, side="left")
    above = w_sorted.size - cut
    tp = suffix[cut].astype(int)
    return _accuracy_table(grid_values, above, tp, positives, negatives)


def _accuracy_of_histogram(
    histogram: pd.DataFrame,
    truth: pd.DataFrame | None,
    total_true_pairs: int | None,
    grid: Sequence[float] | None,
    step: float,
) -> pd.DataFrame:
    if "true_pairs" not in histogram.columns or histogram["true_pairs"].isna().any():
        raise ValueError(
            "this histogram has no true_pairs (the run's records carried no true_student_id); "
            "pass the pairs of a run with all_pairs=True instead, with truth= or labels="
        )
    if total_true_pairs is None:
        if truth is None:
            raise ValueError("give truth= or total_true_pairs= (the count of true pairs)")
        total_true_pairs = true_pair_count(truth)
    grid_values = (
        np.asarray(grid, dtype=float) if grid is not None else histogram_grid(histogram, step)
    )
    above = at_or_above(histogram, "pairs", grid_values).astype(int)
    tp = at_or_above(histogram, "true_pairs", grid_values).astype(int)
    total = int(histogram["pairs"].sum())
    negatives = total - int(histogram["true_pairs"].sum())
    return _accuracy_table(grid_values, above, tp, total_true_pairs, negatives)


def _accuracy_table(
    grid_values: np.ndarray, above: np.ndarray, tp: np.ndarray, positives: int, negatives: int
) -> pd.DataFrame:
    fp = above - tp
    fn = positives - tp
    tn = negatives - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(above > 0, tp / np.maximum(above, 1), np.nan)
        recall = np.where(positives > 0, tp / max(positives, 1), np.nan)
        f1 = 2 * precision * recall / (precision + recall)
    return pd.DataFrame(
        {
            "threshold": grid_values,
            "match_probability": 1.0 / (1.0 + np.power(2.0, -grid_values)),
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    )


def accuracy_chart(
    pairs_or_table: pd.DataFrame,
    thresholds: Any = None,
    *,
    labels: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    min_recall: float = 0.5,
) -> Chart:
    """Splink's accuracy chart (precision, recall, F1 against threshold), thresholds drawn.
    Pass accuracy_by_threshold's table, or the pairs with labels or truth. Thresholds that
    keep less than `min_recall` of the true pairs are left off, to show the useful range."""
    table = pairs_or_table
    if "precision" not in table.columns:
        table = accuracy_by_threshold(pairs_or_table, labels=labels, truth=truth)
    # Thresholds where nothing is merged have no precision; Splink's chart needs numbers.
    table = table.dropna(subset=["precision", "recall"])
    useful = table[table["recall"] >= min_recall]
    return charts.accuracy_chart(useful if len(useful) else table, _marks(thresholds))


def suggest_thresholds(
    table: pd.DataFrame,
    *,
    match_precision: float = 0.995,
    review_precision: float = 0.2,
    window: float = 2.0,
) -> tuple[float, float]:
    """(match_weight, review_weight) read off accuracy_by_threshold's table.

    match_weight: the lowest threshold from which the pairs at or above it are at least
    `match_precision` true matches (auto-merge must be very precise: an overlay of two children
    is worse than a missed link). review_weight: going down from match_weight, the last
    threshold t at which the pairs just above it (weights in [t, t + window)) are still at least
    `review_precision` true matches, so a reviewer's time is not spent mostly on non-matches.
    A starting point for judgment, not a rule: read samples near both before using them."""
    t = table.sort_values("threshold").reset_index(drop=True)
    grid = t["threshold"].to_numpy(dtype=float)
    merged = (t["tp"] + t["fp"]).to_numpy()
    tp = t["tp"].to_numpy()
    precision = t["precision"].to_numpy(dtype=float)
    failing = (merged > 0) & ~(precision >= match_precision)
    last_fail = grid[failing].max() if failing.any() else -np.inf
    candidates = grid[(merged > 0) & (grid > last_fail)]
    if candidates.size == 0:
        raise ValueError(f"precision does not stay at or above {match_precision} at any threshold")
    match = float(candidates.min())

    # Pairs in [g, g + window): counts at or above g minus counts at or above g + window.
    upper = np.searchsorted(grid, grid + window, side="left")
    inside = np.append(merged, 0)[upper]
    band_pairs = merged - inside
    band_tp = tp - np.append(tp, 0)[upper]
    review = match
    for i in np.flatnonzero(grid < match)[::-1]:  # one step per grid point, not per pair
        if band_pairs[i] == 0:
            continue
        if band_tp[i] / band_pairs[i] < review_precision:
            break
        review = float(grid[i])
    return match, review


# ---------------------------------------------------------------------------------------------
# One pair, and the model
# ---------------------------------------------------------------------------------------------


def waterfall(
    pair: Mapping[str, Any] | pd.Series | pd.DataFrame,
    model: Any = None,
    *,
    redact: bool = False,
    prior: float = 0.0,
) -> Chart:
    """Splink's waterfall chart of one pair's evidence, adding up to its match weight.

    `pair` is either a row of the pairs table (with its gamma_<comparison> columns; give the
    `model`), or the table engine.explain returns for two records (no model needed). The engine
    scores at even prior odds, so the prior bar is 0 unless `prior` is given."""
    if isinstance(pair, pd.DataFrame) and "comparison" in pair.columns:
        return charts.waterfall_chart(evidence.waterfall_records_from_explanation(pair))
    if isinstance(pair, pd.DataFrame):
        if len(pair) != 1:
            raise ValueError(f"waterfall() draws one pair; got {len(pair)} rows")
        pair = pair.iloc[0]
    if model is None:
        raise ValueError("give the model that scored the pair (Model, settings dict or path)")
    return charts.waterfall_chart(
        evidence.waterfall_records(pair, model, redact=redact, prior=prior)
    )


def pair_evidence(pairs: pd.DataFrame, model: Any, *, redact: bool = False) -> pd.DataFrame:
    """One row per (pair, comparison): the level the pair fell into, its weight and the values
    compared. See migrant_linkage.report.evidence."""
    return evidence.pair_evidence(pairs, model, redact=redact)


def weights_chart(model: Any) -> Chart:
    """Splink's chart of the model's match weights, one bar per comparison level."""
    return charts.model_weights_chart(evidence.settings_of(model))
