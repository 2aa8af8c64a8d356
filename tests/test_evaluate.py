"""Scoring proposed students and the worklist against synthetic truth.

Small cases are worked out by hand in each test; the property tests compare the contingency-table
counting with brute-force enumeration of every pair on small random inputs.
"""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrant_linkage.evaluate import (
    evaluate,
    false_merge_clusters,
    score_clusters,
    score_worklist,
)


def make_truth(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "true_student_id", "true_family_id"])


def make_clusters(groups: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(rid, f"c{i}") for i, group in enumerate(groups) for rid in group],
        columns=["record_id", "cluster_id"],
    )


def make_pairs(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id_l", "record_id_r", "zone"])


# Two children of one family (Ana twice, her twin Beto once) and an unrelated child (Carla).
FAMILY_TRUTH = make_truth(
    [
        ("ana-tx", "ana", "fam1"),
        ("ana-ca", "ana", "fam1"),
        ("beto-tx", "beto", "fam1"),
        ("carla-tx", "carla", "fam2"),
    ]
)


def test_one_wrong_record_in_a_cluster_of_three_gives_precision_one_third():
    # Cluster {ana-tx, ana-ca, carla-tx}: 3 predicted pairs, of which only (ana-tx, ana-ca) is true.
    clusters = make_clusters([["ana-tx", "ana-ca", "carla-tx"], ["beto-tx"]])
    scores = score_clusters(FAMILY_TRUTH, clusters)
    assert scores.predicted_pairs == 3
    assert scores.true_pairs == 1
    assert scores.true_positive_pairs == 1
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.recall == 1.0
    assert scores.f1 == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))  # = 0.5
    # Carla is from another family: both wrong pairs are "other" false merges.
    assert scores.false_merge_pairs == 2
    assert scores.other_false_merges == 2
    assert scores.twin_sibling_false_merges == 0


def test_twin_merged_into_sibling_counts_as_family_false_merge():
    # Beto joins Ana's cluster: (ana-tx, beto-tx) and (ana-ca, beto-tx) are same-family overlays.
    clusters = make_clusters([["ana-tx", "ana-ca", "beto-tx"], ["carla-tx"]])
    scores = score_clusters(FAMILY_TRUTH, clusters)
    assert scores.twin_sibling_false_merges == 2
    assert scores.other_false_merges == 0
    assert scores.n_students == 3
    assert scores.twin_sibling_false_merges_per_10k_children == pytest.approx(2 / 3 * 10_000)


def test_child_split_across_states_lowers_recall_only():
    truth = make_truth([("a1", "a", "f"), ("a2", "a", "f"), ("a3", "a", "f")])
    scores = score_clusters(truth, make_clusters([["a1", "a2"], ["a3"]]))
    assert scores.true_pairs == 3
    assert scores.true_positive_pairs == 1
    assert scores.missed_true_pairs == 2
    assert scores.recall == pytest.approx(1 / 3)
    assert scores.precision == 1.0
    assert scores.false_merge_pairs == 0


def test_rejected_record_is_scored_as_a_singleton():
    # ana-ca never reached the clusters (rejected upstream): her true pair is missed, not lost.
    clusters = make_clusters([["ana-tx"], ["beto-tx"], ["carla-tx"]])
    scores = score_clusters(FAMILY_TRUTH, clusters)
    assert scores.records_not_clustered == 1
    assert scores.true_pairs == 1
    assert scores.recall == 0.0
    assert math.isnan(scores.precision)  # nothing merged: precision is undefined, not perfect
    assert scores.f1 == 0.0


def test_false_merge_clusters_lists_the_overlays_worst_first():
    truth = make_truth(
        [
            ("ana-tx", "ana", "fam1"),
            ("ana-ca", "ana", "fam1"),
            ("beto-tx", "beto", "fam1"),
            ("carla-tx", "carla", "fam2"),
            ("dora-tx", "dora", "fam3"),
        ]
    )
    clusters = make_clusters([["ana-tx", "ana-ca", "beto-tx"], ["carla-tx", "dora-tx"]])
    report = false_merge_clusters(truth, clusters)
    assert report["cluster_id"].tolist() == ["c0", "c1"]
    assert report["records"].tolist() == [3, 2]
    assert report["children"].tolist() == [2, 2]
    assert report["twin_sibling_pairs"].tolist() == [2, 0]
    assert report["other_pairs"].tolist() == [0, 1]


def test_record_without_family_is_never_a_sibling():
    truth = make_truth([("x", "s1", None), ("y", "s2", None)])
    scores = score_clusters(truth, make_clusters([["x", "y"]]))
    assert scores.twin_sibling_false_merges == 0
    assert scores.other_false_merges == 1


def test_worklist_holding_the_missed_pair_has_full_cluster_recall():
    truth = make_truth(
        [("a1", "a", "f"), ("a2", "a", "f"), ("a3", "a", "f"), ("b1", "b", "g"), ("c1", "c", "h")]
    )
    clusters = make_clusters([["a1", "a2"], ["a3"], ["b1"], ["c1"]])
    pairs = make_pairs(
        [
            ("a1", "a2", "match"),
            ("a3", "a1", "near_match"),  # the missed child, on the worklist (reversed order)
            ("a1", "a3", "near_match"),  # the same pair again from a second blocking rule
            ("b1", "a2", "near_match"),  # a different child on the worklist
            ("b1", "c1", "non_match"),
        ]
    )
    scores = score_worklist(truth, clusters, pairs)
    assert scores.worklist_pairs == 2
    assert scores.worklist_records == 4  # a1, a2, a3, b1
    assert scores.worklist_share_of_records == pytest.approx(2 / 5)
    assert scores.worklist_true_pairs == 1
    assert scores.worklist_precision == pytest.approx(1 / 2)
    # Missed: (a1, a3) and (a2, a3). Only (a1, a3) itself is listed ...
    assert scores.missed_true_pairs == 2
    assert scores.missed_pairs_on_worklist == 1
    assert scores.worklist_recall == pytest.approx(1 / 2)
    # ... but it joins the two clusters, so a reviewer reunites the whole child.
    assert scores.missed_pairs_reachable == 2
    assert scores.worklist_cluster_recall == 1.0
    # True pairs scored at all: (a1, a2) and (a1, a3); (a2, a3) was never compared.
    assert scores.true_pairs_scored == 2


def test_evaluation_headline_figures_come_from_clusters_and_worklist():
    truth = make_truth([("a1", "a", "f"), ("a2", "a", "f"), ("b1", "b", "f")])
    clusters = make_clusters([["a1", "b1"], ["a2"]])  # the sibling merged, the child split
    result = evaluate(truth, clusters, make_pairs([("a1", "a2", "near_match")]))
    assert result.precision == 0.0
    assert result.recall == 0.0
    assert result.twin_sibling_false_merges == result.family_false_merges == 1
    assert result.worklist_share_of_records == pytest.approx(1 / 3)
    assert result.worklist_recall == 1.0
    assert evaluate(truth, clusters).worklist is None


def test_engine_worklist_replaces_the_near_match_zone():
    # The engine drops near matches already merged through other records and adds match-zone
    # pairs a split kept apart; the evaluation takes its list as given.
    truth = make_truth([("a1", "a", "f"), ("a2", "a", "f"), ("b1", "b", "g")])
    clusters = make_clusters([["a1"], ["a2"], ["b1"]])
    pairs = make_pairs([("a1", "a2", "match"), ("a1", "b1", "near_match")])
    worklist = pd.DataFrame({"record_id_l": ["a2"], "record_id_r": ["a1"]})
    scores = score_worklist(truth, clusters, pairs, worklist=worklist)
    assert scores.worklist_pairs == 1  # (a1, b1) was near match but is not on the engine's list
    assert scores.missed_pairs_on_worklist == 1
    assert scores.worklist_recall == 1.0
    assert scores.true_pairs_scored == 1


def test_empty_worklist_finds_nothing_missed():
    truth = make_truth([("a1", "a", "f"), ("a2", "a", "f")])
    clusters = make_clusters([["a1"], ["a2"]])
    scores = score_worklist(truth, clusters, make_pairs([("a1", "a2", "non_match")]))
    assert scores.worklist_pairs == 0
    assert scores.worklist_recall == 0.0
    assert math.isnan(scores.worklist_precision)


def test_cluster_with_unknown_record_id_is_a_clear_error():
    clusters = make_clusters([["ana-tx", "not-in-truth"]])
    with pytest.raises(ValueError, match="not in the truth"):
        score_clusters(FAMILY_TRUTH, clusters)


def test_record_in_two_clusters_is_a_clear_error():
    clusters = make_clusters([["ana-tx"], ["ana-tx", "ana-ca"]])
    with pytest.raises(ValueError, match="more than once"):
        score_clusters(FAMILY_TRUTH, clusters)


def test_truth_without_student_id_is_a_clear_error():
    truth = make_truth([("x", None, "f")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="true_student_id"):
        score_clusters(truth, make_clusters([["x"]]))


def test_huge_cluster_is_counted_without_enumerating_pairs():
    # 200,000 records in one cluster hold ~2e10 pairs; enumerating them would never finish.
    n = 200_000
    truth = pd.DataFrame(
        {
            "record_id": range(n),
            "true_student_id": [i // 2 for i in range(n)],
            "true_family_id": [i // 4 for i in range(n)],
        }
    )
    clusters = pd.DataFrame({"record_id": range(n), "cluster_id": 0})
    scores = score_clusters(truth, clusters)
    assert scores.predicted_pairs == n * (n - 1) // 2
    assert scores.true_positive_pairs == n // 2
    # Each family of 4 records = 2 children x 2 records: 4 cross-child pairs per family.
    assert scores.twin_sibling_false_merges == (n // 4) * 4


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

# A random population: each record gets a child; each child a family (child // 2), so families
# hold one or two children.
population = st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=25)


def truth_for(students: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(len(students))],
            "true_student_id": students,
            "true_family_id": [s // 2 for s in students],
        }
    )


@settings(deadline=None)  # timing varies on a shared machine; this is not a speed test
@given(population)
def test_perfect_clusters_score_one(students):
    truth = truth_for(students)
    clusters = truth.rename(columns={"true_student_id": "cluster_id"})[["record_id", "cluster_id"]]
    scores = score_clusters(truth, clusters)
    assert scores.false_merge_pairs == 0
    if scores.true_pairs > 0:
        assert scores.precision == scores.recall == scores.f1 == 1.0


@settings(deadline=None)
@given(population)
def test_all_singletons_have_zero_recall(students):
    truth = truth_for(students)
    clusters = pd.DataFrame({"record_id": truth["record_id"], "cluster_id": range(len(truth))})
    scores = score_clusters(truth, clusters)
    assert scores.predicted_pairs == 0
    if scores.true_pairs > 0:
        assert scores.recall == 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 5)),  # (child, proposed cluster) per record
        min_size=1,
        max_size=25,
    ),
    st.data(),
)
def test_pair_counts_equal_brute_force(records, data):
    students = [s for s, _ in records]
    truth = truth_for(students)
    clusters = pd.DataFrame(
        {"record_id": truth["record_id"], "cluster_id": [c for _, c in records]}
    )
    n = len(records)
    all_pairs = list(itertools.combinations(range(n), 2))
    zones = data.draw(
        st.lists(
            st.sampled_from(["match", "near_match", "non_match", None]),
            min_size=len(all_pairs),
            max_size=len(all_pairs),
        )
    )
    scored = [(i, j, z) for (i, j), z in zip(all_pairs, zones, strict=True) if z is not None]
    pairs = make_pairs([(f"r{i}", f"r{j}", z) for i, j, z in scored])

    result = evaluate(truth, clusters, pairs)

    def same_child(i, j):
        return records[i][0] == records[j][0]

    def same_cluster(i, j):
        return records[i][1] == records[j][1]

    def same_family(i, j):
        return records[i][0] // 2 == records[j][0] // 2

    brute_true = sum(same_child(i, j) for i, j in all_pairs)
    brute_predicted = sum(same_cluster(i, j) for i, j in all_pairs)
    brute_tp = sum(same_child(i, j) and same_cluster(i, j) for i, j in all_pairs)
    brute_twin = sum(
        same_cluster(i, j) and same_family(i, j) and not same_child(i, j) for i, j in all_pairs
    )
    c = result.clusters
    assert c.true_pairs == brute_true
    assert c.predicted_pairs == brute_predicted
    assert c.true_positive_pairs == brute_tp
    assert c.twin_sibling_false_merges == brute_twin
    assert c.other_false_merges == brute_predicted - brute_tp - brute_twin

    near = [(i, j) for i, j, z in scored if z == "near_match"]
    missed = [(i, j) for i, j in all_pairs if same_child(i, j) and not same_cluster(i, j)]
    joined = {frozenset((records[i][1], records[j][1])) for i, j in near}
    w = result.worklist
    assert w is not None
    assert w.worklist_pairs == len(near)
    assert w.worklist_true_pairs == sum(same_child(i, j) for i, j in near)
    assert w.missed_true_pairs == len(missed)
    assert w.missed_pairs_on_worklist == len(set(missed) & set(near))
    assert w.missed_pairs_reachable == sum(
        frozenset((records[i][1], records[j][1])) in joined for i, j in missed
    )
    assert w.true_pairs_scored == sum(same_child(i, j) for i, j, _ in scored)
