"""Proposed students from match-zone pairs, without chaining.

Connected components over match-zone pairs (Splink's cluster_pairwise_predictions_at_threshold,
run by the engine in the database) can chain: A matches B, B matches C, yet A and C are twins.
A component is *clean* when no two of its records form a *conflict*: a pair the family guard
flags, or a pair whose weight is below the strong-disagreement threshold. This module splits
unclean components.

The split is a constrained single-linkage: take the component's match edges strongest first and
join the two groups an edge connects unless that would put a conflicting pair in one group.
Strong evidence is kept, the weakest links give way, and every resulting group is clean. Only the
(few, small) unclean components pass through here, so a Python loop per component is fine.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

RECORD_ID = "record_id"
CLUSTER_ID = "cluster_id"


def _find(parent: dict[str, str], node: str) -> str:
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def split_component(
    records: Iterable[str],
    match_edges: Iterable[tuple[str, str, float]],
    conflicts: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """Split one component into clean groups. Returns record_id -> group id, where the group id
    is the smallest record_id of the group (deterministic).

    match_edges: (record_id_l, record_id_r, weight) for the component's match-zone pairs.
    conflicts: record pairs that must not end in one group.
    """
    parent = {r: r for r in records}
    members = {r: {r} for r in parent}
    blocked: dict[str, set[str]] = {r: set() for r in parent}
    for a, b in conflicts:
        if a in blocked and b in blocked:
            blocked[a].add(b)
            blocked[b].add(a)
    # Strongest first; ties broken by ids so the result never depends on input order.
    for a, b, _weight in sorted(
        match_edges, key=lambda e: (-e[2], min(e[0], e[1]), max(e[0], e[1]))
    ):
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a == root_b:
            continue
        group_a, group_b = members[root_a], members[root_b]
        if any(blocked[x] & group_b for x in group_a):
            continue
        parent[root_b] = root_a
        members[root_a] = group_a | group_b
        del members[root_b]
    return {r: min(members[_find(parent, r)]) for r in parent}


def split_unclean_components(
    components: pd.DataFrame, match_edges: pd.DataFrame, conflicts: pd.DataFrame
) -> pd.DataFrame:
    """Split every component that holds a conflict.

    components: record_id, cluster_id for the records of the unclean components.
    match_edges: record_id_l, record_id_r, match_weight (match zone, not guarded).
    conflicts: record_id_l, record_id_r of the conflicting pairs within those components.
    Returns record_id, cluster_id with the new (smallest record_id) cluster ids.
    """
    if components.empty:
        return pd.DataFrame({RECORD_ID: pd.Series(dtype=str), CLUSTER_ID: pd.Series(dtype=str)})
    cluster_of = components.set_index(RECORD_ID)[CLUSTER_ID]
    edges_by_cluster = _pairs_within_clusters(
        match_edges.assign(match_weight=match_edges["match_weight"].astype(float)),
        cluster_of,
        ["record_id_l", "record_id_r", "match_weight"],
    )
    conflicts_by_cluster = _pairs_within_clusters(
        conflicts, cluster_of, ["record_id_l", "record_id_r"]
    )
    out: dict[str, str] = {}
    for cluster_id, group in components.groupby(CLUSTER_ID, sort=True):
        out.update(
            split_component(
                group[RECORD_ID],
                edges_by_cluster.get(cluster_id, []),
                conflicts_by_cluster.get(cluster_id, []),
            )
        )
    return pd.DataFrame({RECORD_ID: list(out), CLUSTER_ID: list(out.values())})


def _pairs_within_clusters(
    pairs: pd.DataFrame, cluster_of: pd.Series, columns: list[str]
) -> dict[str, list[tuple]]:
    """The pairs whose two records sit in the same component, as tuples grouped by component
    (a column-wise filter; only the few unclean components' pairs become Python tuples)."""
    left = pairs["record_id_l"].map(cluster_of)
    inside = pairs.loc[left.notna() & (left == pairs["record_id_r"].map(cluster_of)), columns]
    groups = inside.groupby(left[inside.index], sort=False)
    return {key: list(group.itertuples(index=False, name=None)) for key, group in groups}
