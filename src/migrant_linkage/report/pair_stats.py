"""Counts over a run's scored pairs: zones, weight bins and the threshold sweep.

The run report (page.py) and the notebook helpers (migrant_linkage.tuning) draw the same
tables; they live here, below both, so the report does not depend on the notebook helpers.
Each function takes either a pairs table (one row per pair) or a run's weight histogram
(`Result.weight_histogram`, weight_histogram.parquet: one row per zone and weight bin, see
migrant_linkage.pipeline.histogram), which counts every scored pair however few of them the
run wrote. From the histogram, counts at a threshold are exact when the threshold is on a bin
edge (a multiple of HISTOGRAM_BIN_WIDTH, as every default grid is).
Every function works a column at a time; nothing loops over pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from migrant_linkage.pipeline.histogram import HISTOGRAM_BIN_WIDTH, HISTOGRAM_COLUMNS
from migrant_linkage.schema import UNIQUE_ID_COLUMN

__all__ = [
    "LEFT",
    "PROBABILITY",
    "RIGHT",
    "WEIGHT",
    "ZONES",
    "as_weights",
    "count_at_or_above",
    "at_or_above",
    "histogram_grid",
    "histogram_of_pairs",
    "is_histogram",
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


def is_histogram(table: pd.DataFrame) -> bool:
    """True for a weight histogram (bin_low, pairs, ...), false for a pairs table."""
    return {"bin_low", "pairs"} <= set(table.columns) and LEFT not in table.columns


def histogram_of_pairs(
    pairs: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    *,
    bin_width: float = HISTOGRAM_BIN_WIDTH,
) -> pd.DataFrame:
    """The weight histogram of a pairs table (the same table a run writes beside its pairs,
    pipeline.histogram): for pairs held in memory, or an older run folder without one.
    `truth` (record_id, true_student_id) fills true_pairs."""
    require_columns(pairs, LEFT, RIGHT, WEIGHT, "zone")
    w = pd.to_numeric(pairs[WEIGHT]).to_numpy(dtype=float)
    low = np.floor(w / bin_width) * bin_width
    zone = pairs["zone"].astype(str).to_numpy()
    per_pair = pd.DataFrame({"zone": zone, "bin_low": low})
    per_pair["expected_matches"] = (
        pd.to_numeric(pairs[PROBABILITY]).to_numpy(dtype=float)
        if PROBABILITY in pairs.columns
        else np.nan
    )
    if truth is not None:
        student = truth.drop_duplicates(UNIQUE_ID_COLUMN).set_index(
            truth[UNIQUE_ID_COLUMN].drop_duplicates().astype(str)
        )["true_student_id"]
        left = pairs[LEFT].astype(str).map(student).to_numpy()
        right = pairs[RIGHT].astype(str).map(student).to_numpy()
        per_pair["true_pairs"] = (left == right) & pd.notna(left)
    grouped = per_pair.groupby(["zone", "bin_low"])
    pair_bins = grouped.agg(pairs=("bin_low", "size"), expected_matches=("expected_matches", "sum"))
    if truth is not None:
        pair_bins["true_pairs"] = grouped["true_pairs"].sum().astype("int64")
    rank = pd.Series(zone).map({z: i for i, z in enumerate(ZONES)}).to_numpy()
    sides = pd.DataFrame(
        {
            "record": np.concatenate([pairs[LEFT].to_numpy(), pairs[RIGHT].to_numpy()]),
            "w": np.concatenate([w, w]),
            "rank": np.concatenate([rank, rank]),
        }
    )
    best = sides.groupby("record").agg(w=("w", "max"), rank=("rank", "min"))
    record_bins = (
        pd.DataFrame(
            {
                "zone": np.asarray(ZONES, dtype=object)[best["rank"].to_numpy(dtype=int)],
                "bin_low": np.floor(best["w"].to_numpy() / bin_width) * bin_width,
            }
        )
        .groupby(["zone", "bin_low"])
        .size()
        .rename("records")
    )
    table = pair_bins.join(record_bins, how="outer").reset_index()
    table["pairs"] = table["pairs"].fillna(0).astype("int64")
    table["expected_matches"] = table["expected_matches"].fillna(0.0)
    table["records"] = table["records"].fillna(0).astype("int64")
    if truth is not None:
        table["true_pairs"] = table["true_pairs"].fillna(0).astype("int64")
    else:
        table["true_pairs"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table["bin_high"] = table["bin_low"] + bin_width
    return table[list(HISTOGRAM_COLUMNS)].sort_values(["zone", "bin_low"], ignore_index=True)


def _histogram_width(histogram: pd.DataFrame) -> float:
    widths = (histogram["bin_high"] - histogram["bin_low"]).to_numpy(dtype=float)
    return float(widths[0]) if widths.size else HISTOGRAM_BIN_WIDTH


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
    with anything are added to non_match. expected_matches is the sum of match probabilities.
    `pairs` may be a weight histogram."""
    if is_histogram(pairs):
        return _zone_counts_of_histogram(pairs, thresholds, n_records)
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


def _zone_counts_of_histogram(
    histogram: pd.DataFrame, thresholds: Any, n_records: int | None
) -> pd.DataFrame:
    """zone_counts from a histogram: a record's row is its best zone and strongest weight,
    so under other thresholds its zone is that of its strongest weight (as for pairs)."""
    if thresholds is None:
        zone = histogram["zone"].astype(str)
    else:
        zone = zone_of(histogram["bin_low"], thresholds)
    out = pd.DataFrame({"zone": list(ZONES)})
    out["pairs"] = [int(histogram["pairs"][zone == z].sum()) for z in ZONES]
    out["records"] = [int(histogram["records"][zone == z].sum()) for z in ZONES]
    if n_records is not None:
        counted = int(histogram["records"].sum())
        out.loc[out["zone"] == "non_match", "records"] += max(n_records - counted, 0)
    out["expected_matches"] = [float(histogram["expected_matches"][zone == z].sum()) for z in ZONES]
    return out


def weight_bins(
    pairs: pd.DataFrame, thresholds: Any = None, *, bin_width: float = 0.5
) -> pd.DataFrame:
    """Pair counts per match-weight bin and zone: bin_low, bin_high, zone, pairs. `pairs` may
    be a weight histogram (bin_width then a multiple of its bins' width)."""
    if bin_width <= 0:
        raise ValueError("bin_width must be positive")
    if is_histogram(pairs):
        return _weight_bins_of_histogram(pairs, thresholds, bin_width)
    require_columns(pairs, WEIGHT)
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


def _weight_bins_of_histogram(
    histogram: pd.DataFrame, thresholds: Any, bin_width: float
) -> pd.DataFrame:
    width = _histogram_width(histogram)
    ratio = bin_width / width
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ValueError(
            f"the histogram's bins are {width:g} wide; bin_width must be a multiple of that"
        )
    rows = histogram[histogram["pairs"] > 0]
    zone = rows["zone"].astype(str) if thresholds is None else zone_of(rows["bin_low"], thresholds)
    low = np.floor(rows["bin_low"].to_numpy(dtype=float) / bin_width + 1e-9) * bin_width
    per_bin = pd.DataFrame(
        {"bin_low": low, "zone": zone.to_numpy(), "pairs": rows["pairs"].to_numpy()}
    )
    table = per_bin.groupby(["bin_low", "zone"], as_index=False).agg(pairs=("pairs", "sum"))
    table["bin_high"] = table["bin_low"] + bin_width
    return table[["bin_low", "bin_high", "zone", "pairs"]]


def histogram_grid(histogram: pd.DataFrame, step: float) -> np.ndarray:
    """The default threshold grid over a histogram's populated bins (as threshold_grid over
    the pairs' weights)."""
    rows = histogram[(histogram["pairs"] > 0) | (histogram["records"] > 0)]
    low = rows["bin_low"].to_numpy(dtype=float)
    high = np.nextafter(rows["bin_high"].to_numpy(dtype=float), -np.inf)
    return threshold_grid(np.concatenate([low, high]), step)


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
    calibration; with labels, prefer accuracy_by_threshold. `pairs` may be a weight
    histogram."""
    if is_histogram(pairs):
        return _sweep_of_histogram(pairs, grid, step)
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


def at_or_above(histogram: pd.DataFrame, column: str, grid: np.ndarray) -> np.ndarray:
    """Sum of a histogram column over the bins at or above each threshold of `grid`."""
    lows = histogram["bin_low"].to_numpy(dtype=float)
    values = pd.to_numeric(histogram[column]).to_numpy(dtype=float)
    order = np.argsort(lows, kind="stable")
    lows, values = lows[order], values[order]
    suffix = np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])
    # A bin counts when it starts at or above the threshold (a hair of float slack).
    return suffix[np.searchsorted(lows, np.asarray(grid, dtype=float) - 1e-9, side="left")]


def _sweep_of_histogram(
    histogram: pd.DataFrame, grid: Sequence[float] | None, step: float
) -> pd.DataFrame:
    grid_values = (
        np.asarray(grid, dtype=float) if grid is not None else histogram_grid(histogram, step)
    )
    out = pd.DataFrame(
        {
            "threshold": grid_values,
            "pairs": at_or_above(histogram, "pairs", grid_values).astype("int64"),
            "records": at_or_above(histogram, "records", grid_values).astype("int64"),
        }
    )
    out["expected_matches"] = at_or_above(histogram, "expected_matches", grid_values)
    out["expected_false_matches"] = out["pairs"] - out["expected_matches"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["expected_precision"] = out["expected_matches"] / out["pairs"]
    return out
