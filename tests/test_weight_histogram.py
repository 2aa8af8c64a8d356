"""The weight histogram a run writes instead of every non-match pair: nothing it counts is lost.

A default run writes the match and near-match pairs, a bounded sample of non-matches and the
histogram (migrant_linkage.pipeline.histogram); the report and the tuning helpers read the
histogram. These tests check that every count they draw from it equals the count drawn from
every pair, on a real run and on random pairs tables (hypothesis).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrant_linkage import synthetic, tuning
from migrant_linkage.engine import dedupe
from migrant_linkage.pipeline.histogram import NON_MATCH_SAMPLE_PER_BIN
from migrant_linkage.report import load_run
from migrant_linkage.report.pair_stats import (
    histogram_of_pairs,
    threshold_sweep,
    weight_bins,
    zone_counts,
)

QUARTERS = np.arange(-20.0, 40.0, 0.25)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """One population run twice with the shipped model: by default, and with all_pairs."""
    records = synthetic.generate(600, seed=11)
    truth = records[["record_id", "true_student_id"]]
    folder = tmp_path_factory.mktemp("histogram")
    default = dedupe(records, train=False, out_dir=folder / "default")
    everything = dedupe(records, train=False, all_pairs=True, out_dir=folder / "all")
    return default, everything, truth, folder


def _key(pairs: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(pairs["record_id_l"], pairs["record_id_r"], strict=True))


def test_default_run_keeps_every_match_and_near_match_pair(runs) -> None:
    default, everything, _, _ = runs
    wanted = everything.pairs[everything.pairs["zone"] != "non_match"]
    kept = default.pairs[default.pairs["zone"] != "non_match"]
    assert _key(kept) == _key(wanted)
    assert len(everything.pairs) == everything.summary["comparisons"]


def test_non_match_pairs_are_a_bounded_sample_of_the_scored_ones(runs) -> None:
    default, everything, _, _ = runs
    sample = default.pairs[default.pairs["zone"] == "non_match"]
    assert _key(sample) <= _key(everything.pairs[everything.pairs["zone"] == "non_match"])
    per_bin = np.floor(sample["match_weight"] / 0.25).value_counts()
    assert per_bin.max() <= NON_MATCH_SAMPLE_PER_BIN
    assert len(sample) > 0


def test_written_histogram_counts_every_scored_pair_and_the_true_ones(runs) -> None:
    default, everything, truth, _ = runs
    from_all_pairs = histogram_of_pairs(everything.pairs, truth)
    written = default.weight_histogram
    pd.testing.assert_frame_equal(
        written.reset_index(drop=True),
        from_all_pairs.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        atol=1e-6,
    )
    assert written["pairs"].sum() == default.summary["comparisons"]


def test_report_counts_from_the_histogram_equal_those_from_every_pair(runs) -> None:
    default, everything, truth, folder = runs
    run = load_run(folder / "default")
    n = default.summary["standardized"]
    pd.testing.assert_frame_equal(
        zone_counts(run.histogram, n_records=n), zone_counts(everything.pairs, n_records=n)
    )
    pd.testing.assert_frame_equal(
        weight_bins(run.histogram).reset_index(drop=True),
        weight_bins(everything.pairs).reset_index(drop=True),
        check_dtype=False,
    )
    pd.testing.assert_frame_equal(
        threshold_sweep(run.histogram, QUARTERS),
        threshold_sweep(everything.pairs, QUARTERS),
        check_dtype=False,
    )
    pd.testing.assert_frame_equal(
        tuning.accuracy_by_threshold(run.histogram, truth=truth, grid=QUARTERS),
        tuning.accuracy_by_threshold(everything.pairs, truth=truth, grid=QUARTERS),
        check_dtype=False,
    )


def test_accuracy_from_a_histogram_without_truth_says_what_to_pass(runs) -> None:
    default, _, truth, _ = runs
    unlabelled = default.weight_histogram.assign(true_pairs=pd.NA)
    with pytest.raises(ValueError, match="all_pairs=True"):
        tuning.accuracy_by_threshold(unlabelled, truth=truth)


pair_rows = st.lists(
    st.tuples(
        st.integers(0, 12),
        st.integers(0, 12),
        st.floats(-15, 30, allow_nan=False),
        st.sampled_from(["match", "near_match", "non_match"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=pair_rows, thresholds=st.tuples(st.integers(-8, 40), st.integers(-8, 40)))
def test_counts_from_a_histogram_of_any_pairs_equal_the_counts_from_the_pairs(
    rows, thresholds
) -> None:
    pairs = pd.DataFrame(
        [(f"r{min(a, b)}", f"r{max(a, b)}x", w, z) for a, b, w, z in rows],
        columns=["record_id_l", "record_id_r", "match_weight", "zone"],
    )
    pairs["match_probability"] = 1 / (1 + 2.0 ** -pairs["match_weight"])
    histogram = histogram_of_pairs(pairs)
    chosen = (max(thresholds) / 4, min(thresholds) / 4)  # on bin edges
    for given_thresholds in (None, chosen):
        pd.testing.assert_frame_equal(
            zone_counts(histogram, given_thresholds, n_records=30),
            zone_counts(pairs, given_thresholds, n_records=30),
            check_exact=False,
        )
    pd.testing.assert_frame_equal(
        threshold_sweep(histogram, QUARTERS),
        threshold_sweep(pairs, QUARTERS),
        check_dtype=False,
        check_exact=False,
    )
