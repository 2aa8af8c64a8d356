"""Counts over a run's scored pairs table: zones, weight bins and the threshold sweep.

The run report (page.py) and the notebook helpers (migrant_linkage.tuning) draw the same
tables; they live here, below both, so the report does not depend on the notebook helpers.
Every function works a column at a time; nothing loops over pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from migrant_linkage.schema import UNIQUE_ID_COLUMN

__all__ = [
    "LEFT",
    "PROBABILITY",
    "RIGHT",
    "WEIGHT",
    "ZONES",
    "as_weights",
    "count_at_or_above",
    "require_columns",
    "threshold_grid",
    "threshold_sweep",
    "weight_bins",
    "zone_counts",
    "zone_of",
    "zones_of_pairs",
]

LEFT, RIGHT = f"{UNIQUE_ID_COLUMN}_l", f"{UNIQUE_ID_COLUMN}_r"
WEIGHT = "match_weight"
PROBABILITY = "match_probability"
ZONES = ("match", "near_match", "non_match")


def as_weights(thresholds: Any) -> tuple[float, float]:
    """(match_weight, review_weight) from an engine Thresholds, a mapping or a pair."""
    if hasattr(thresholds, "match_weight") and hasattr(thresholds, "review_weight"):
        match, review = thresholds.match_weight, thresholds.review_weight
    elif isinstance(thresholds, Mapping):
        match, review = thresholds["match_weight"], thresholds["review_weight"]
    else:
        match, review = thresholds
    match, review = float(match), float(review)
    if review > match:
        raise ValueError(
            f"the review weight ({review:g}) must not be above the match weight ({match:g})"
        )
    return match, review


def require_columns(pairs: pd.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in pairs.columns]
    if missing:
        raise ValueError(f"the pairs table needs columns {missing}; it has {list(pairs.columns)}")


def zone_of(weights: pd.Series, thresholds: Any) -> pd.Series:
    """The zone each weight falls in under `thresholds` (before any guard demotes a pair)."""
    match, review = as_weights(thresholds)
    w = pd.to_numeric(weights).to_numpy(dtype=float)
    zone = np.where(w >= match, "match", np.where(w >= review, "near_match", "non_match"))
    return pd.Series(zone, index=weights.index, name="zone")


def zones_of_pairs(pairs: pd.DataFrame, thresholds: Any) -> pd.Series:
    """Zones from thresholds when given, else the run's own `zone` column."""
    if thresholds is not None:
        return zone_of(pairs[WEIGHT], thresholds)
    if "zone" in pairs.columns:
        return pairs["zone"].astype(str)
    raise ValueError("give thresholds, or pairs with a `zone` column")


def zone_counts(
    pairs: pd.DataFrame, thresholds: Any = None, *, n_records: int | None = None
) -> pd.DataFrame:
    """Pairs and records per zone: zone, pairs, records, expected_matches.

    A record counts in the best zone any of its pairs reaches (so records are split, not
    double-counted). With `n_records` (all standardized records) the records never compared
    with anything are added to non_match. expected_matches is the sum of match probabilities."""
    require_columns(pairs, LEFT, RIGHT, WEIGHT)
    zone = zones_of_pairs(pairs, thresholds)
    rank = zone.map({z: i for i, z in enumerate(ZONES)}).to_numpy()
    out = pd.DataFrame({"zone": list(ZONES)})
    out["pairs"] = [int((zone == z).sum()) for z in ZONES]
    both = pd.DataFrame(
        {
            "record": np.concatenate([pairs[LEFT].to_numpy(), pairs[RIGHT].to_numpy()]),
            "rank": np.concatenate([rank, rank]),
        }
    )
    best = both.groupby("record")["rank"].min()
    out["records"] = [int((best == i).sum()) for i in range(len(ZONES))]
    if n_records is not None:
        out.loc[out["zone"] == "non_match", "records"] += max(n_records - len(best), 0)
    if PROBABILITY in pairs.columns:
        p = pd.to_numeric(pairs[PROBABILITY])
        out["expected_matches"] = [float(p[zone == z].sum()) for z in ZONES]
    return out


def weight_bins(
    pairs: pd.DataFrame, thresholds: Any = None, *, bin_width: float = 0.5
) -> pd.DataFrame:
    """Pair counts per match-weight bin and zone: bin_low, bin_high, zone, pairs."""
    require_columns(pairs, WEIGHT)
    if bin_width <= 0:
        raise ValueError("bin_width must be positive")
    w = pd.to_numeric(pairs[WEIGHT]).astype(float)
    low = np.floor(w / bin_width) * bin_width
    table = (
        pd.DataFrame({"bin_low": low, "zone": zones_of_pairs(pairs, thresholds).to_numpy()})
        .groupby(["bin_low", "zone"], as_index=False)
        .size()
        .rename(columns={"size": "pairs"})
    )
    table["bin_high"] = table["bin_low"] + bin_width
    return table[["bin_low", "bin_high", "zone", "pairs"]]


def threshold_grid(weights: np.ndarray, step: float) -> np.ndarray:
    finite = weights[np.isfinite(weights)]
    if finite.size == 0:
        return np.array([0.0])
    lo, hi = math.floor(finite.min()), math.ceil(finite.max())
    return np.arange(lo, hi + step, step)


def count_at_or_above(sorted_values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return sorted_values.size - np.searchsorted(sorted_values, grid, side="left")


def threshold_sweep(
    pairs: pd.DataFrame, grid: Sequence[float] | None = None, *, step: float = 0.25
) -> pd.DataFrame:
    """What each candidate threshold would take in, without labels.

    One row per threshold: pairs at or above it, records with at least one such pair, and
    the *expected* number of true and false matches among those pairs (sums of the model's
    match probabilities, p and 1-p). Expected counts are only as good as the model's
    calibration; with labels, prefer accuracy_by_threshold."""
    require_columns(pairs, LEFT, RIGHT, WEIGHT)
    w = pd.to_numeric(pairs[WEIGHT]).to_numpy(dtype=float)
    grid_values = np.asarray(grid, dtype=float) if grid is not None else threshold_grid(w, step)
    order = np.argsort(w, kind="stable")
    w_sorted = w[order]
    pair_counts = count_at_or_above(w_sorted, grid_values)

    both = pd.DataFrame(
        {
            "record": np.concatenate([pairs[LEFT].to_numpy(), pairs[RIGHT].to_numpy()]),
            "w": np.concatenate([w, w]),
        }
    )
    best = np.sort(both.groupby("record")["w"].max().to_numpy())
    out = pd.DataFrame(
        {
            "threshold": grid_values,
            "pairs": pair_counts,
            "records": count_at_or_above(best, grid_values),
        }
    )
    if PROBABILITY in pairs.columns:
        p = pd.to_numeric(pairs[PROBABILITY]).to_numpy(dtype=float)[order]
        # Sum of p over the pairs at or above: a suffix sum read at each cut.
        suffix = np.concatenate([np.cumsum(p[::-1])[::-1], [0.0]])
        cut = np.searchsorted(w_sorted, grid_values, side="left")
        out["expected_matches"] = suffix[cut]
        out["expected_false_matches"] = out["pairs"] - out["expected_matches"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["expected_precision"] = out["expected_matches"] / out["pairs"]
    return out
