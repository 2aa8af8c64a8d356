"""Threshold tuning helpers: zones, sweeps, accuracy by threshold, samples, waterfall, charts.

Counts are checked against a plain recount on small tables (the helpers themselves work a
column at a time with sorted arrays, so the recount is an independent computation).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_report import toy_settings

from migrant_linkage import tuning
from migrant_linkage.levels import gamma_value
from migrant_linkage.report import evidence


def make_pairs(weights: list[float], ids: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    if ids is None:
        ids = [(f"a{i}", f"b{i}") for i in range(len(weights))]
    w = np.asarray(weights, dtype=float)
    return pd.DataFrame(
        {
            "record_id_l": [a for a, _ in ids],
            "record_id_r": [b for _, b in ids],
            "match_weight": w,
            "match_probability": 1 / (1 + 2.0**-w),
        }
    )


# ---------------------------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------------------------


def test_a_weight_exactly_at_a_threshold_falls_in_the_higher_zone() -> None:
    pairs = make_pairs([20.0, 19.99, 8.0, 7.99])
    zones = tuning.zone_of(pairs["match_weight"], (20, 8)).tolist()
    assert zones == ["match", "near_match", "near_match", "non_match"]


def test_review_threshold_above_match_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="review weight"):
        tuning.zone_of(pd.Series([1.0]), (5, 10))


def test_thresholds_object_from_the_engine_is_accepted() -> None:
    from migrant_linkage.zones import Thresholds

    assert tuning.as_weights(Thresholds(match_weight=15, review_weight=5)) == (15.0, 5.0)


def test_a_record_counts_once_in_the_best_zone_its_pairs_reach() -> None:
    # r1 has a match pair and a near pair: it counts as match only.
    pairs = make_pairs([25.0, 10.0, -5.0], ids=[("r1", "r2"), ("r1", "r3"), ("r4", "r5")])
    counts = tuning.zone_counts(pairs, (20, 8)).set_index("zone")
    assert counts.loc["match", "records"] == 2  # r1, r2
    assert counts.loc["near_match", "records"] == 1  # r3
    assert counts.loc["non_match", "records"] == 2  # r4, r5
    assert counts["pairs"].sum() == 3


def test_records_never_compared_count_as_non_match_when_the_total_is_given() -> None:
    pairs = make_pairs([25.0], ids=[("r1", "r2")])
    counts = tuning.zone_counts(pairs, (20, 8), n_records=10).set_index("zone")
    assert counts.loc["non_match", "records"] == 8
    assert counts["records"].sum() == 10


def test_zone_counts_use_the_runs_own_zones_without_thresholds() -> None:
    pairs = make_pairs([25.0, 25.0]).assign(zone=["match", "near_match"])  # e.g. a guard
    counts = tuning.zone_counts(pairs).set_index("zone")
    assert counts.loc["near_match", "pairs"] == 1


# ---------------------------------------------------------------------------------------------
# Without labels: sweep, bins, samples
# ---------------------------------------------------------------------------------------------

small_weights = st.lists(
    st.floats(min_value=-30, max_value=30, allow_nan=False).map(lambda x: round(x, 1)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(weights=small_weights, seed=st.integers(0, 1000))
def test_sweep_counts_equal_a_plain_recount(weights: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [(f"r{rng.integers(0, 15)}", f"r{rng.integers(15, 30)}") for _ in weights]
    pairs = make_pairs(weights, ids)
    grid = [-10.0, 0.0, 0.1, 5.0, 12.3]
    sweep = tuning.threshold_sweep(pairs, grid).set_index("threshold")
    for t in grid:
        above = pairs[pairs["match_weight"] >= t]
        assert sweep.loc[t, "pairs"] == len(above)
        records = set(above["record_id_l"]) | set(above["record_id_r"])
        assert sweep.loc[t, "records"] == len(records)
        assert sweep.loc[t, "expected_matches"] == pytest.approx(
            above["match_probability"].sum(), abs=1e-9
        )


def test_expected_false_matches_shrink_as_the_threshold_rises() -> None:
    pairs = make_pairs(list(np.linspace(-20, 30, 200)))
    sweep = tuning.threshold_sweep(pairs)
    assert sweep["expected_false_matches"].is_monotonic_decreasing
    assert sweep["expected_precision"].dropna().is_monotonic_increasing


def test_histogram_bins_hold_every_pair_once() -> None:
    pairs = make_pairs([-3.2, -3.1, 0.0, 7.9, 8.0, 21.5])
    bins = tuning.weight_bins(pairs, (20, 8), bin_width=1.0)
    assert bins["pairs"].sum() == len(pairs)
    row = bins[(bins["bin_low"] == 8.0)]
    assert row["zone"].tolist() == ["near_match"] and row["pairs"].tolist() == [1]


def test_samples_near_a_threshold_come_from_the_window_on_each_side() -> None:
    pairs = make_pairs(list(np.arange(-10, 30, 0.1)))
    sample = tuning.sample_near_threshold(pairs, 8.0, n=4, window=1.0, seed=3)
    above = sample[sample["side"] == "above"]["match_weight"]
    below = sample[sample["side"] == "below"]["match_weight"]
    assert len(above) == 4 and len(below) == 4
    assert ((above >= 8.0) & (above < 9.0)).all()
    assert ((below < 8.0) & (below >= 7.0 - 1e-9)).all()


def test_samples_near_a_threshold_return_what_there_is_when_few_pairs_are_close() -> None:
    pairs = make_pairs([8.5, -40.0])
    sample = tuning.sample_near_threshold(pairs, 8.0, n=5)
    assert sample["side"].tolist() == ["above"]


# ---------------------------------------------------------------------------------------------
# With labels
# ---------------------------------------------------------------------------------------------


def _brute_force(pairs: pd.DataFrame, truth: pd.DataFrame, t: float) -> tuple[int, int, int]:
    student = dict(zip(truth["record_id"], truth["true_student_id"], strict=True))
    true_pairs = {
        frozenset(p)
        for _, group in truth.groupby("true_student_id")
        for p in itertools.combinations(group["record_id"], 2)
    }
    merged = pairs[pairs["match_weight"] >= t]
    tp = sum(
        student[a] == student[b]
        for a, b in zip(merged["record_id_l"], merged["record_id_r"], strict=True)
    )
    return tp, len(merged) - tp, len(true_pairs) - tp


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_records=st.integers(2, 25))
def test_precision_and_recall_by_threshold_equal_a_plain_recount(seed: int, n_records: int) -> None:
    rng = np.random.default_rng(seed)
    truth = pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n_records)],
            "true_student_id": rng.integers(0, max(n_records // 2, 1), n_records),
        }
    )
    all_pairs = list(itertools.combinations(truth["record_id"], 2))
    # Blocking compares only some pairs: true pairs left out must count as missed.
    keep = [p for p in all_pairs if rng.random() < 0.6]
    if not keep:
        return
    pairs = make_pairs(list(rng.normal(0, 10, len(keep)).round(1)), keep)
    grid = [-5.0, 0.0, 8.0]
    table = tuning.accuracy_by_threshold(pairs, truth=truth, grid=grid).set_index("threshold")
    for t in grid:
        tp, fp, fn = _brute_force(pairs, truth, t)
        assert (table.loc[t, "tp"], table.loc[t, "fp"], table.loc[t, "fn"]) == (tp, fp, fn)
        if tp + fp:
            assert table.loc[t, "precision"] == pytest.approx(tp / (tp + fp))
        if tp + fn:
            assert table.loc[t, "recall"] == pytest.approx(tp / (tp + fn))


def test_reviewed_labels_match_pairs_in_either_order_and_unscored_ones_are_missed() -> None:
    pairs = make_pairs([30.0, 15.0, -2.0], ids=[("a", "b"), ("c", "d"), ("e", "f")])
    labels = pd.DataFrame(
        {
            "record_id_l": ["b", "c", "e", "x"],  # (b, a) is (a, b) reversed; (x, y) unscored
            "record_id_r": ["a", "d", "f", "y"],
            "is_match": [True, False, True, True],
        }
    )
    table = tuning.accuracy_by_threshold(pairs, labels=labels, grid=[10.0]).iloc[0]
    assert (table["tp"], table["fp"], table["fn"], table["tn"]) == (1, 1, 2, 0)
    assert table["precision"] == pytest.approx(0.5)
    assert table["recall"] == pytest.approx(1 / 3)


def test_accuracy_needs_exactly_one_kind_of_label() -> None:
    with pytest.raises(ValueError, match="either labels"):
        tuning.accuracy_by_threshold(make_pairs([1.0]))


def test_twins_scored_high_lower_precision_at_that_threshold() -> None:
    # Two twins (different children) scored 25; one true pair scored 22.
    truth = pd.DataFrame(
        {"record_id": ["t1", "t2", "x1", "x2"], "true_student_id": ["T1", "T2", "X", "X"]}
    )
    pairs = make_pairs([25.0, 22.0], ids=[("t1", "t2"), ("x1", "x2")])
    table = tuning.accuracy_by_threshold(pairs, truth=truth, grid=[24.0, 20.0])
    assert table["precision"].tolist() == [0.0, 0.5]
    assert table["recall"].tolist() == [0.0, 1.0]


# ---------------------------------------------------------------------------------------------
# One pair, the model, and the charts
# ---------------------------------------------------------------------------------------------


def _one_scored_pair(model: dict, birth_date_level: str = "exact") -> pd.Series:
    levels = evidence.level_table(model)
    row = {"record_id_l": "a", "record_id_r": "b"}
    total = 0.0
    for comparison, of_c in levels.groupby("comparison", sort=False):
        top = of_c[~of_c["is_null_level"]].iloc[0]
        gamma = int(top["gamma"])
        weight = float(top["match_weight"])
        if comparison == "birth_date":
            gamma = gamma_value("birth_date", birth_date_level)
            weight = float(of_c.loc[of_c["gamma"] == gamma, "match_weight"].iloc[0])
        row[f"gamma_{comparison}"] = gamma
        total += weight
    row["match_weight"] = total
    return pd.Series(row)


def test_waterfall_bars_add_up_to_the_pairs_match_weight() -> None:
    model = toy_settings()
    pair = _one_scored_pair(model, "transposed")
    records = evidence.waterfall_records(pair, model)
    names = [r["column_name"] for r in records]
    assert "adjustments" not in names  # the levels explain the whole weight
    bars = [r for r in records if r["column_name"] != "Final score"]
    assert sum(r["log2_bayes_factor"] for r in bars) == pytest.approx(pair["match_weight"], 1e-3)
    assert records[-1]["log2_bayes_factor"] == pytest.approx(pair["match_weight"], 1e-3)
    labels = {r["column_name"]: r["label_for_charts"] for r in records}
    assert labels["birth_date"].startswith("transposed")


def test_waterfall_shows_an_adjustment_bar_when_the_weight_has_more_than_the_levels() -> None:
    model = toy_settings()
    pair = _one_scored_pair(model)
    pair["match_weight"] += 1.5  # e.g. a term-frequency adjustment
    records = evidence.waterfall_records(pair, model)
    adjustment = [r for r in records if r["column_name"] == "adjustments"]
    assert len(adjustment) == 1 and adjustment[0]["log2_bayes_factor"] == pytest.approx(1.5)


def test_evidence_redacts_compared_names_but_keeps_the_state() -> None:
    model = toy_settings()
    pair = _one_scored_pair(model).to_dict()
    pair.update(state_std_l="TX", state_std_r="CA")
    pair.update({"surname_units_key_l": "GARCIA LOPEZ", "surname_units_key_r": "GARCIA"})
    ev = evidence.pair_evidence(pd.DataFrame([pair]), model, redact=True)
    shown = " ".join(ev["value_l"].tolist() + ev["value_r"].tolist())
    assert "GARCIA" not in shown
    assert evidence.REDACTED in shown
    open_ev = evidence.pair_evidence(pd.DataFrame([pair]), model)
    assert "GARCIA LOPEZ" in " ".join(open_ev["value_l"])


def test_evidence_needs_the_comparison_vector() -> None:
    with pytest.raises(ValueError, match="gamma_"):
        evidence.pair_evidence(make_pairs([1.0]), toy_settings())


def test_weights_chart_has_a_bar_for_every_level_of_the_model() -> None:
    model = toy_settings()
    chart = tuning.weights_chart(model)
    levels = evidence.level_table(model)
    drawn = {(r["comparison_name"], r["label_for_charts"]) for r in chart.spec["data"]["values"]}
    expected = {
        (r.comparison, r.level) for r in levels[~levels["is_null_level"]].itertuples(index=False)
    }
    assert expected <= drawn


def test_notebook_display_offers_vega_lite_and_an_offline_html_fallback() -> None:
    chart = tuning.weight_histogram(make_pairs([1.0, 9.0, 25.0]), (20, 8))
    bundle = chart._repr_mimebundle_()
    assert bundle["application/vnd.vegalite.v5+json"]["layer"]
    html = bundle["text/html"]
    assert "vegaEmbed" in html and "cdn.jsdelivr" not in html
    assert len(html) > 500_000  # the libraries are inline


def test_threshold_lines_are_drawn_where_the_thresholds_are() -> None:
    chart = tuning.sweep_chart(make_pairs([1.0, 9.0, 25.0]), (20, 8))
    rules = [layer for layer in chart.spec["layer"] if layer.get("mark", {}).get("type") == "rule"]
    assert [v["value"] for v in rules[0]["data"]["values"]] == [20.0, 8.0]


def test_accuracy_chart_is_splinks_chart_with_f1_added() -> None:
    truth = pd.DataFrame({"record_id": ["a0", "b0", "a1", "b1"], "true_student_id": [1, 1, 2, 3]})
    chart = tuning.accuracy_chart(make_pairs([25.0, 10.0]), (20, 8), truth=truth)
    assert chart.spec["transform"][0]["fold"] == ["precision", "recall", "f1"]


# ---------------------------------------------------------------------------------------------
# Suggested thresholds
# ---------------------------------------------------------------------------------------------


def _labelled(true_weights: list[float], false_weights: list[float]) -> tuple:
    """Pairs of the same child scored true_weights, pairs of two different children (e.g.
    siblings) scored false_weights, and the truth that says which is which."""
    true_ids = [(f"t{i}a", f"t{i}b") for i in range(len(true_weights))]
    false_ids = [(f"f{i}a", f"f{i}b") for i in range(len(false_weights))]
    pairs = make_pairs(true_weights + false_weights, true_ids + false_ids)
    rows = [(a, f"child-t{i}") for i, (a, _) in enumerate(true_ids)]
    rows += [(b, f"child-t{i}") for i, (_, b) in enumerate(true_ids)]
    rows += [(x, f"child-{x}") for pair in false_ids for x in pair]  # each its own child
    truth = pd.DataFrame(rows, columns=["record_id", "true_student_id"])
    return pairs, truth


def test_suggested_match_threshold_is_the_lowest_that_stays_precise() -> None:
    # 200 true pairs from 10 to 30; siblings (false pairs) from 5 to 14.
    rng = np.random.default_rng(0)
    pairs, truth = _labelled(
        list(rng.uniform(10, 30, 200).round(2)), list(rng.uniform(5, 14, 40).round(2))
    )
    table = tuning.accuracy_by_threshold(pairs, truth=truth, step=0.25)
    match, review = tuning.suggest_thresholds(table, match_precision=0.995)
    merged = pairs[pairs["match_weight"] >= match]
    assert tuning.labels_from_truth(merged, truth).mean() >= 0.995
    # One step lower is no longer precise enough.
    lower = pairs[pairs["match_weight"] >= match - 0.25]
    assert tuning.labels_from_truth(lower, truth).mean() < 0.995
    assert review <= match


def test_suggested_review_threshold_stops_where_the_worklist_would_be_mostly_non_matches() -> None:
    # True pairs only above 10; below 10 nothing but false pairs: review must not go below ~10.
    rng = np.random.default_rng(1)
    pairs, truth = _labelled(
        list(rng.uniform(10, 30, 300).round(2)), list(rng.uniform(-10, 10, 300).round(2))
    )
    table = tuning.accuracy_by_threshold(pairs, truth=truth, step=0.25)
    match, review = tuning.suggest_thresholds(table, review_precision=0.2, window=2.0)
    assert 8.0 <= review <= 10.0 <= match


def test_no_threshold_precise_enough_is_reported() -> None:
    pairs, truth = _labelled([1.0], [5.0])
    table = tuning.accuracy_by_threshold(pairs, truth=truth)
    with pytest.raises(ValueError, match="precision"):
        tuning.suggest_thresholds(table, match_precision=0.999)


def test_waterfall_of_an_explanation_adds_up_to_its_total() -> None:
    explanation = pd.DataFrame(
        {
            "comparison": ["surname", "given_name", "birth_date", "TOTAL"],
            "level": ["exact_set: ...", "nickname: ...", "transposed: ...", "near_match"],
            "match_weight": [8.5, 4.0, 3.25, 15.75],
        }
    )
    chart = tuning.waterfall(explanation)
    bars = chart.spec["data"]["values"]
    assert [b["column_name"] for b in bars] == [
        "Prior match weight",
        "surname",
        "given_name",
        "birth_date",
        "Final score",
    ]
    assert bars[-1]["log2_bayes_factor"] == pytest.approx(15.75)
    assert sum(b["log2_bayes_factor"] for b in bars[:-1]) == pytest.approx(15.75)
