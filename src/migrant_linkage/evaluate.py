"""Score proposed students (clusters) and the near-match worklist against a known truth.

Used by the benchmarks and the demo on synthetic data, where every record carries the child it
belongs to (`true_student_id`) and that child's family (`true_family_id`).

Everything is counted in *pairs of records*, the usual yardstick in record linkage:

- a **true pair** is two records of the same child;
- a **predicted pair** is two records placed in the same proposed student (cluster);
- a **false merge** is a predicted pair of two different children. False merges of two children
  of the same family (twins, siblings) are counted apart: they are the overlays the family guard
  exists to prevent, and the hardest negatives in migrant data.

Pairs are never enumerated. A cluster of n records holds n*(n-1)/2 pairs, so every count comes
from group sizes of a contingency table (cluster x student, cluster x family, ...). A cluster of a
million records costs one row, not half a trillion pairs.

The worklist is what a data administrator reviews: by default the scored pairs in the near-match
zone, or the worklist exactly as the engine built it. It is useful when it holds the true pairs the
auto-merge missed, and affordable when it stays small against the number of records.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from migrant_linkage.schema import UNIQUE_ID_COLUMN

TRUTH_STUDENT = "true_student_id"
TRUTH_FAMILY = "true_family_id"
CLUSTER_ID = "cluster_id"
PAIR_LEFT = f"{UNIQUE_ID_COLUMN}_l"
PAIR_RIGHT = f"{UNIQUE_ID_COLUMN}_r"
ZONE = "zone"
NEAR_MATCH_ZONE = "near_match"


@dataclass(frozen=True)
class ClusterScores:
    """Pairwise quality of the auto-merge clusters against the truth."""

    n_records: int
    n_students: int
    #: records present in the truth but absent from the clusters (e.g. rejected); scored as
    #: singletons, so their true pairs count as missed.
    records_not_clustered: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    false_merge_pairs: int
    #: false merges of two different children of the same family (twins, siblings)
    twin_sibling_false_merges: int
    #: false merges of children of different families
    other_false_merges: int
    missed_true_pairs: int
    precision: float  # nan when nothing was merged
    recall: float  # nan when the truth holds no pair
    f1: float  # nan when there are neither true nor predicted pairs

    @property
    def twin_sibling_false_merges_per_10k_children(self) -> float:
        return _per_10k(self.twin_sibling_false_merges, self.n_students)

    @property
    def other_false_merges_per_10k_children(self) -> float:
        return _per_10k(self.other_false_merges, self.n_students)


@dataclass(frozen=True)
class WorklistScores:
    """How useful the near-match worklist is to a data administrator."""

    worklist_pairs: int
    #: distinct records appearing in at least one worklist pair
    worklist_records: int
    #: worklist pairs per record: the review load, compared with the 5% bar
    worklist_share_of_records: float
    worklist_records_share: float
    worklist_true_pairs: int
    worklist_precision: float  # nan when the worklist is empty
    #: true pairs split across clusters by the auto-merge
    missed_true_pairs: int
    #: ... of which the very pair is on the worklist
    missed_pairs_on_worklist: int
    #: share of missed true pairs that are on the worklist (nan when nothing was missed)
    worklist_recall: float
    #: missed true pairs whose two clusters are joined by some worklist pair, so that a reviewer
    #: looking at the worklist would bring the two parts of the child together
    missed_pairs_reachable: int
    worklist_cluster_recall: float
    #: true pairs that were scored at all (any zone): what blocking let through
    true_pairs_scored: int
    true_pairs: int


@dataclass(frozen=True)
class Evaluation:
    clusters: ClusterScores
    worklist: WorklistScores | None

    # The headline figures, for one-line summaries (the demo, the benchmarks).
    @property
    def precision(self) -> float:
        return self.clusters.precision

    @property
    def recall(self) -> float:
        return self.clusters.recall

    @property
    def f1(self) -> float:
        return self.clusters.f1

    @property
    def twin_sibling_false_merges(self) -> int:
        return self.clusters.twin_sibling_false_merges

    @property
    def family_false_merges(self) -> int:
        """Same as twin_sibling_false_merges: merged pairs of two children of one family."""
        return self.clusters.twin_sibling_false_merges

    @property
    def worklist_share_of_records(self) -> float:
        return self.worklist.worklist_share_of_records if self.worklist else math.nan

    @property
    def worklist_recall(self) -> float:
        return self.worklist.worklist_recall if self.worklist else math.nan

    def to_dict(self) -> dict[str, object]:
        """Plain dict for JSON, with the per-10,000-children rates included."""
        out: dict[str, object] = {"clusters": asdict(self.clusters)}
        out["clusters"]["twin_sibling_false_merges_per_10k_children"] = (  # type: ignore[index]
            self.clusters.twin_sibling_false_merges_per_10k_children
        )
        out["clusters"]["other_false_merges_per_10k_children"] = (  # type: ignore[index]
            self.clusters.other_false_merges_per_10k_children
        )
        out["worklist"] = asdict(self.worklist) if self.worklist is not None else None
        return out


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def truth_from_records(records: pd.DataFrame) -> pd.DataFrame:
    """The truth frame (record_id, true_student_id, true_family_id) from synthetic records."""
    _require_columns(records, (UNIQUE_ID_COLUMN, TRUTH_STUDENT, TRUTH_FAMILY), "records")
    return records[[UNIQUE_ID_COLUMN, TRUTH_STUDENT, TRUTH_FAMILY]].reset_index(drop=True)


def score_clusters(truth: pd.DataFrame, clusters: pd.DataFrame) -> ClusterScores:
    """Pairwise precision, recall and F1 of `clusters` (record_id, cluster_id) against `truth`
    (record_id, true_student_id, true_family_id), with false merges split by family."""
    codes = _TruthCodes.build(truth)
    cluster, not_clustered = codes.cluster_codes(clusters)
    return _score_cluster_codes(codes, cluster, not_clustered)


def score_worklist(
    truth: pd.DataFrame,
    clusters: pd.DataFrame,
    pairs: pd.DataFrame | None = None,
    worklist: pd.DataFrame | None = None,
    near_match_zone: str = NEAR_MATCH_ZONE,
) -> WorklistScores:
    """Score the worklist against the true pairs the `clusters` missed.

    pairs: every scored pair (record_id_l, record_id_r, zone). Without `worklist`, the worklist
        is the pairs whose zone is `near_match_zone`.
    worklist: the worklist as the engine built it (record_id_l, record_id_r), when it is not
        simply the near-match zone (e.g. minus pairs already merged through other records).
    """
    if pairs is None and worklist is None:
        raise ValueError("score_worklist needs the scored pairs, the worklist, or both")
    codes = _TruthCodes.build(truth)
    cluster, _ = codes.cluster_codes(clusters)
    return _score_worklist_codes(codes, cluster, pairs, worklist, near_match_zone)


def false_merge_clusters(truth: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """The proposed students holding more than one child, worst first: cluster_id, records,
    children, families, twin_sibling_pairs, other_pairs (false-merge pairs in that cluster).
    Record ids and counts only, so it is safe to print (FERPA)."""
    codes = _TruthCodes.build(truth)
    cluster, _ = codes.cluster_codes(clusters)
    frame = pd.DataFrame({"cluster": cluster, "family": codes.family, "student": codes.student})

    def pairs_by_cluster(keys: list[str]) -> pd.Series:
        n = frame.groupby(keys).size().astype(np.int64)
        return (n * (n - 1) // 2).groupby(level="cluster").sum()

    per_cluster = pd.DataFrame(
        {
            "records": frame.groupby("cluster").size(),
            "children": frame.groupby("cluster")["student"].nunique(),
            "families": frame.groupby("cluster")["family"].nunique(),
        }
    )
    predicted = pairs_by_cluster(["cluster"])
    true_positive = pairs_by_cluster(["cluster", "student"])
    same_family = pairs_by_cluster(["cluster", "family"]) - pairs_by_cluster(
        ["cluster", "family", "student"]
    )
    per_cluster["twin_sibling_pairs"] = same_family
    per_cluster["other_pairs"] = predicted - true_positive - same_family
    per_cluster = per_cluster[per_cluster["children"] > 1]
    # Report the caller's cluster ids (clustered records only; added singletons never merge).
    given = pd.Series(
        clusters[CLUSTER_ID].to_numpy(),
        index=cluster[codes.lookup(clusters[UNIQUE_ID_COLUMN], "clusters")],
    )
    given = given[~given.index.duplicated()]
    per_cluster.insert(0, CLUSTER_ID, given.reindex(per_cluster.index).to_numpy())
    per_cluster = per_cluster.sort_values(
        ["twin_sibling_pairs", "other_pairs"], ascending=False
    ).reset_index(drop=True)
    return per_cluster


def evaluate(
    truth: pd.DataFrame,
    clusters: pd.DataFrame,
    pairs: pd.DataFrame | None = None,
    worklist: pd.DataFrame | None = None,
    near_match_zone: str = NEAR_MATCH_ZONE,
) -> Evaluation:
    """Score the clusters and, when scored `pairs` and/or a `worklist` are given, the worklist
    (see score_worklist)."""
    codes = _TruthCodes.build(truth)
    cluster, not_clustered = codes.cluster_codes(clusters)
    cluster_scores = _score_cluster_codes(codes, cluster, not_clustered)
    worklist_scores = (
        None
        if pairs is None and worklist is None
        else _score_worklist_codes(codes, cluster, pairs, worklist, near_match_zone)
    )
    return Evaluation(clusters=cluster_scores, worklist=worklist_scores)


# ---------------------------------------------------------------------------------------------
# Internals: every id is turned into a dense integer code once, then counting is numpy/pandas.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TruthCodes:
    record_index: pd.Index
    student: np.ndarray
    family: np.ndarray

    @classmethod
    def build(cls, truth: pd.DataFrame) -> _TruthCodes:
        _require_columns(truth, (UNIQUE_ID_COLUMN, TRUTH_STUDENT, TRUTH_FAMILY), "truth")
        record_index = pd.Index(truth[UNIQUE_ID_COLUMN])
        if record_index.hasnans:
            raise ValueError("truth: record_id has missing values")
        if not record_index.is_unique:
            raise ValueError("truth: record_id is not unique")
        if truth[TRUTH_STUDENT].isna().any():
            raise ValueError("truth: true_student_id has missing values; every record needs one")
        student, _ = pd.factorize(truth[TRUTH_STUDENT])
        family, family_uniques = pd.factorize(truth[TRUTH_FAMILY])
        # A record without a known family is a family of its own: it can never be a sibling.
        no_family = family < 0
        family = family.copy()
        family[no_family] = len(family_uniques) + np.arange(int(no_family.sum()))
        return cls(record_index=record_index, student=student, family=family)

    @property
    def n_records(self) -> int:
        return len(self.record_index)

    def lookup(self, record_ids: pd.Series, what: str) -> np.ndarray:
        positions = self.record_index.get_indexer(record_ids)
        unknown = positions < 0
        if unknown.any():
            examples = list(pd.Series(record_ids)[unknown].astype(str).head(5))
            raise ValueError(
                f"{what}: {int(unknown.sum())} record ids are not in the truth, e.g. {examples}"
            )
        return positions

    def cluster_codes(self, clusters: pd.DataFrame) -> tuple[np.ndarray, int]:
        """A dense cluster code per truth record, and how many truth records were absent from
        `clusters`: each of those gets a cluster of its own."""
        _require_columns(clusters, (UNIQUE_ID_COLUMN, CLUSTER_ID), "clusters")
        positions = self.lookup(clusters[UNIQUE_ID_COLUMN], "clusters")
        if len(np.unique(positions)) != len(positions):
            raise ValueError("clusters: a record_id appears more than once")
        if clusters[CLUSTER_ID].isna().any():
            raise ValueError("clusters: cluster_id has missing values")
        given, _ = pd.factorize(clusters[CLUSTER_ID])
        cluster = np.full(self.n_records, -1, dtype=np.int64)
        cluster[positions] = given
        unclustered = cluster < 0
        start = int(given.max()) + 1 if len(given) else 0
        cluster[unclustered] = start + np.arange(int(unclustered.sum()))
        return cluster, int(unclustered.sum())


def _pairs_within_groups(*keys: np.ndarray) -> int:
    """Number of record pairs sharing every key: sum of n*(n-1)/2 over the groups."""
    if len(keys[0]) == 0:
        return 0
    sizes = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)}).value_counts().to_numpy()
    sizes = sizes.astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _score_cluster_codes(
    codes: _TruthCodes, cluster: np.ndarray, records_not_clustered: int
) -> ClusterScores:
    predicted = _pairs_within_groups(cluster)
    true = _pairs_within_groups(codes.student)
    true_positive = _pairs_within_groups(cluster, codes.student)
    same_cluster_same_family = _pairs_within_groups(cluster, codes.family)
    same_cluster_family_student = _pairs_within_groups(cluster, codes.family, codes.student)
    twin_sibling = same_cluster_same_family - same_cluster_family_student
    false_merges = predicted - true_positive
    return ClusterScores(
        n_records=codes.n_records,
        n_students=int(len(np.unique(codes.student))),
        records_not_clustered=records_not_clustered,
        true_pairs=true,
        predicted_pairs=predicted,
        true_positive_pairs=true_positive,
        false_merge_pairs=false_merges,
        twin_sibling_false_merges=twin_sibling,
        other_false_merges=false_merges - twin_sibling,
        missed_true_pairs=true - true_positive,
        precision=_ratio(true_positive, predicted),
        recall=_ratio(true_positive, true),
        f1=_ratio(2 * true_positive, predicted + true),
    )


def _score_worklist_codes(
    codes: _TruthCodes,
    cluster: np.ndarray,
    pairs: pd.DataFrame | None,
    worklist: pd.DataFrame | None,
    near_match_zone: str,
) -> WorklistScores:
    parts = []
    if pairs is not None:
        columns = (PAIR_LEFT, PAIR_RIGHT) if worklist is not None else (PAIR_LEFT, PAIR_RIGHT, ZONE)
        _require_columns(pairs, columns, "pairs")
        # With an explicit worklist, the pairs only tell which true pairs were scored at all.
        on_list = (
            np.zeros(len(pairs), dtype=bool)
            if worklist is not None
            else (pairs[ZONE] == near_match_zone).to_numpy()
        )
        parts.append(_coded_pairs(codes, pairs, on_list, "pairs"))
    if worklist is not None:
        _require_columns(worklist, (PAIR_LEFT, PAIR_RIGHT), "worklist")
        parts.append(_coded_pairs(codes, worklist, np.ones(len(worklist), dtype=bool), "worklist"))
    scored = pd.concat(parts, ignore_index=True)
    # The same two records may come out of two blocking rules or in either order: count once,
    # as a worklist pair if any copy is on the worklist.
    scored = scored[scored["lo"] != scored["hi"]]
    scored = scored.sort_values("near", ascending=False, kind="stable")
    scored = scored.drop_duplicates(["lo", "hi"])
    lo, hi, near = scored["lo"].to_numpy(), scored["hi"].to_numpy(), scored["near"].to_numpy()

    same_student = codes.student[lo] == codes.student[hi]
    split_apart = cluster[lo] != cluster[hi]

    true = _pairs_within_groups(codes.student)
    missed = true - _pairs_within_groups(cluster, codes.student)
    worklist_pairs = int(near.sum())
    worklist_true = int((near & same_student).sum())
    missed_on_worklist = int((near & same_student & split_apart).sum())
    worklist_records = int(len(np.unique(np.concatenate([lo[near], hi[near]]))))
    reachable = _missed_pairs_reachable(codes, cluster, cluster[lo[near]], cluster[hi[near]])

    return WorklistScores(
        worklist_pairs=worklist_pairs,
        worklist_records=worklist_records,
        worklist_share_of_records=_ratio(worklist_pairs, codes.n_records),
        worklist_records_share=_ratio(worklist_records, codes.n_records),
        worklist_true_pairs=worklist_true,
        worklist_precision=_ratio(worklist_true, worklist_pairs),
        missed_true_pairs=missed,
        missed_pairs_on_worklist=missed_on_worklist,
        worklist_recall=_ratio(missed_on_worklist, missed),
        missed_pairs_reachable=reachable,
        worklist_cluster_recall=_ratio(reachable, missed),
        true_pairs_scored=int(same_student.sum()),
        true_pairs=true,
    )


def _coded_pairs(
    codes: _TruthCodes, pairs: pd.DataFrame, on_worklist: np.ndarray, what: str
) -> pd.DataFrame:
    left = codes.lookup(pairs[PAIR_LEFT], f"{what} (record_id_l)")
    right = codes.lookup(pairs[PAIR_RIGHT], f"{what} (record_id_r)")
    return pd.DataFrame(
        {"lo": np.minimum(left, right), "hi": np.maximum(left, right), "near": on_worklist}
    )


def _missed_pairs_reachable(
    codes: _TruthCodes,
    cluster: np.ndarray,
    worklist_cluster_l: np.ndarray,
    worklist_cluster_r: np.ndarray,
) -> int:
    """Missed true pairs whose two clusters are joined by at least one worklist pair.

    For each child, the clusters holding its records are few, so the cluster x cluster pairs per
    child (n_a * n_b missed pairs each) are enumerated from the contingency table, not per record.
    """
    parts = (
        pd.DataFrame({"student": codes.student, "cluster": cluster})
        .value_counts()
        .rename("n")
        .reset_index()
    )
    split_students = parts["student"].duplicated(keep=False)
    parts = parts[split_students]
    if parts.empty or len(worklist_cluster_l) == 0:
        return 0
    cross = parts.merge(parts, on="student", suffixes=("_a", "_b"))
    cross = cross[cross["cluster_a"] < cross["cluster_b"]]
    joined = pd.DataFrame(
        {
            "cluster_a": np.minimum(worklist_cluster_l, worklist_cluster_r),
            "cluster_b": np.maximum(worklist_cluster_l, worklist_cluster_r),
        }
    ).drop_duplicates()
    reachable = cross.merge(joined, on=["cluster_a", "cluster_b"], how="inner")
    return int((reachable["n_a"].astype(np.int64) * reachable["n_b"].astype(np.int64)).sum())


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def _per_10k(count: int, n_students: int) -> float:
    return count / n_students * 10_000 if n_students else math.nan


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; expected {list(columns)}")
