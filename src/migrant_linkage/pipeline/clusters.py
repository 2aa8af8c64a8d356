"""Proposed students: connected components over match-zone pairs, split where they hold a conflict.

Stage after routing (zones.Routing). Components are taken over match-zone, unguarded pairs
(Splink's connected components). Every pair inside a component that blocking did not score is
scored (Splink), a component holding a guarded or strongly negative pair is "unclean", and the
few unclean components are split in Python (clustering.py: constrained single linkage). Each
student's cluster_id is the smallest record_id of its records.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.clustering import split_unclean_components
from migrant_linkage.db import execute
from migrant_linkage.pipeline.scoring import predict
from migrant_linkage.schema import UNIQUE_ID_COLUMN
from migrant_linkage.zones import GUARD_FAMILY, MATCH_ZONE, Routing

#: Components (records joined by match-zone pairs) up to this size have every pair inside them
#: scored before clustering decides whether to split them; a larger one is a chain through
#: several children (no child has this many records), and only its pairs two edges apart are
#: scored (see _score_pairs_two_edges_apart).
MAX_COMPONENT_FULLY_SCORED = 200

PAIRS_TABLE = "ml_pairs"
COMPONENTS_TABLE = "ml_components"


def _score_pairs_two_edges_apart(con: duckdb.DuckDBPyConnection, db_api: Any, linker: Any) -> Any:
    """Score, in the oversized components, the unscored pairs of records that share a match-edge
    neighbour (A-B and B-C matched, A-C not compared). Where a chain joins two children, the
    records either side of the joint are such pairs; scoring every pair of a component instead
    is quadratic (a 10,000-record chain holds 50 million pairs: at 5M records that ran DuckDB out
    of memory). The pairs go to Splink as registered blocked pairs (the main predict is done)."""
    execute(
        con,
        f"""CREATE OR REPLACE TABLE ml_two_apart AS
        WITH oversized AS (
            SELECT c.record_id FROM ml_components c JOIN ml_component_sizes USING (cluster_id)
            WHERE records > {MAX_COMPONENT_FULLY_SCORED}),
        edge AS (
            SELECT record_id_l AS a, record_id_r AS b FROM ml_match_edges
            WHERE record_id_l IN (SELECT record_id FROM oversized)
            UNION ALL
            SELECT record_id_r, record_id_l FROM ml_match_edges
            WHERE record_id_l IN (SELECT record_id FROM oversized))
        SELECT DISTINCT '0' AS match_key, x.b AS join_key_l, y.b AS join_key_r
        FROM edge x JOIN edge y ON x.a = y.a AND x.b < y.b
        WHERE NOT EXISTS (
            SELECT 1 FROM ml_pairs p WHERE p.record_id_l = least(x.b, y.b)
              AND p.record_id_r = greatest(x.b, y.b))""",
    )
    linker.table_management.register_blocked_pairs_for_predict(
        db_api.register("ml_two_apart", dataset_display_name="pairs_two_edges_apart")
    )
    return predict(linker)


def cluster(
    con: duckdb.DuckDBPyConnection,
    db_api: Any,
    linker: Any,
    predictions: Any,
    routing: Routing,
    summary: dict[str, Any],
) -> pd.DataFrame:
    """Connected components over match-zone, unguarded pairs; then split every component that
    holds a guarded or strongly negative pair (scoring the within-component pairs blocking did
    not produce), and give each student the smallest record_id of its records as cluster_id."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    execute(
        con,
        f"""CREATE OR REPLACE TABLE ml_match_edges AS
        SELECT record_id_l, record_id_r, match_weight, match_probability
        FROM ml_pairs WHERE zone = '{MATCH_ZONE}' AND NOT guarded""",
    )
    nodes = db_api.register("ml_records", dataset_display_name="ml_nodes")
    edges = db_api.register("ml_match_edges", dataset_display_name="ml_edges")
    components = cluster_pairwise_predictions_at_threshold(
        nodes, edges, db_api=db_api, node_id_column_name=UNIQUE_ID_COLUMN
    )
    execute(
        con,
        f"""CREATE OR REPLACE TABLE ml_components AS
        SELECT record_id, min(record_id) OVER (PARTITION BY cluster_id) AS cluster_id
        FROM {components.physical_name}""",
    )

    # Every within-component pair that blocking did not score, scored now (components of 3+).
    execute(
        con,
        """CREATE OR REPLACE TABLE ml_component_sizes AS
        SELECT cluster_id, count(*) AS records FROM ml_components GROUP BY 1""",
    )
    execute(
        con,
        f"""CREATE OR REPLACE TABLE ml_big_components AS
        SELECT c.record_id, c.cluster_id FROM ml_components c JOIN ml_component_sizes USING (cluster_id)
        WHERE records BETWEEN 3 AND {MAX_COMPONENT_FULLY_SCORED}""",
    )
    n_big = con.execute("SELECT count(*) FROM ml_big_components").fetchall()[0][0]
    # A pair inside one component has both records in a component of 2 or more: probing the
    # scored pairs against those few records, not against every record, keeps the join small.
    execute(
        con,
        """CREATE OR REPLACE TABLE ml_joined AS
        SELECT c.record_id, c.cluster_id FROM ml_components c JOIN ml_component_sizes USING (cluster_id)
        WHERE records > 1""",
    )
    execute(
        con,
        """CREATE OR REPLACE TABLE ml_edge_ends AS
        SELECT record_id_l AS a, record_id_r AS b FROM ml_match_edges
        UNION ALL SELECT record_id_r, record_id_l FROM ml_match_edges""",
    )
    # A family conflict that a whole compound name explains splits nothing (see the function).
    explained = explained_by_a_compound_name_sql("p", f"p.guard_reason = '{GUARD_FAMILY}'", routing)
    conflict_sources = [
        f"""SELECT p.record_id_l, p.record_id_r FROM ml_pairs p
            JOIN ml_joined a ON a.record_id = p.record_id_l
            JOIN ml_joined b ON b.record_id = p.record_id_r
            WHERE a.cluster_id = b.cluster_id
              AND (p.guarded OR p.match_weight < {routing.thresholds.strong_disagreement_weight!r})
              AND NOT {explained}"""
    ]
    missing_tables = []
    if n_big:
        big = db_api.register("ml_big_components", dataset_display_name="ml_big_components")
        missing_tables.append(_score_missing_edges(linker, big, predictions))
    summary["oversized_components"] = int(
        con.execute(
            f"SELECT count(*) FROM ml_component_sizes WHERE records > {MAX_COMPONENT_FULLY_SCORED}"
        ).fetchall()[0][0]
    )
    if summary["oversized_components"]:
        missing_tables.append(_score_pairs_two_edges_apart(con, db_api, linker))
    for missing in missing_tables:
        conflict_sources.append(
            f"""SELECT record_id_l, record_id_r FROM {missing.physical_name} m
                WHERE ({routing.guarded_sql()} OR match_weight < {routing.thresholds.strong_disagreement_weight!r})
                  AND NOT {explained_by_a_compound_name_sql("m", routing.family_sql(), routing)}"""
        )
    execute(con, "CREATE OR REPLACE TABLE ml_conflicts AS " + " UNION ".join(conflict_sources))
    unclean = con.execute(
        """SELECT c.record_id, c.cluster_id FROM ml_components c
        WHERE c.cluster_id IN (
            SELECT a.cluster_id FROM ml_conflicts k JOIN ml_components a ON a.record_id = k.record_id_l)
        ORDER BY c.cluster_id, c.record_id"""
    ).df()
    summary["components_split"] = int(unclean["cluster_id"].nunique()) if len(unclean) else 0
    if len(unclean):
        ids = "SELECT record_id FROM ml_components WHERE cluster_id IN (SELECT cluster_id FROM unclean)"
        con.register("unclean", unclean)
        edges_df = con.execute(
            f"""SELECT * FROM ml_match_edges
            WHERE record_id_l IN ({ids}) AND record_id_r IN ({ids})"""
        ).df()
        conflicts_df = con.execute(f"SELECT * FROM ml_conflicts WHERE record_id_l IN ({ids})").df()
        con.unregister("unclean")
        resplit = split_unclean_components(unclean, edges_df, conflicts_df)
        con.register("resplit", resplit)
        execute(
            con,
            """UPDATE ml_components SET cluster_id = r.cluster_id
            FROM resplit r WHERE ml_components.record_id = r.record_id""",
        )
        con.unregister("resplit")

    return con.execute(
        """
        WITH c AS (
            SELECT c.record_id, c.cluster_id, r.state_std, r.source_name
            FROM ml_components c JOIN ml_records r USING (record_id)
        ),
        per_cluster AS (
            SELECT cluster_id, count(*) AS cluster_size,
                   string_agg(DISTINCT state_std, ',' ORDER BY state_std) AS cluster_states
            FROM c GROUP BY cluster_id
        ),
        evidence AS (  -- the strongest merged pair each record takes part in
            SELECT record_id, max(match_weight) AS strongest_link_weight FROM (
                SELECT e.record_id_l AS record_id, e.match_weight FROM ml_match_edges e
                JOIN ml_components a ON a.record_id = e.record_id_l
                JOIN ml_components b ON b.record_id = e.record_id_r WHERE a.cluster_id = b.cluster_id
                UNION ALL
                SELECT e.record_id_r, e.match_weight FROM ml_match_edges e
                JOIN ml_components a ON a.record_id = e.record_id_l
                JOIN ml_components b ON b.record_id = e.record_id_r WHERE a.cluster_id = b.cluster_id
            ) GROUP BY record_id
        )
        SELECT c.record_id, c.cluster_id, p.cluster_size, p.cluster_states,
               c.source_name, c.state_std, e.strongest_link_weight
        FROM c JOIN per_cluster p USING (cluster_id) LEFT JOIN evidence e USING (record_id)
        ORDER BY c.cluster_id, c.record_id
        """
    ).df()


def explained_by_a_compound_name_sql(
    pair: str,
    family: str,
    routing: Routing,
    edge_ends: str = "ml_edge_ends",
    records: str = "ml_records",
) -> str:
    """True for a conflict that only the family guard makes (`family`: its condition on
    `pair`), with birth dates that do not differ and no strong disagreement, between two
    records carrying the two halves of one compound given name (MARIA / GUADALUPE, neither
    with a second given name), while a third record of the component carries the whole name
    (MARIA GUADALUPE) and is matched to both: DOMAIN.md's compound name cut to its first part
    in one state and to its second in another. The third record explains the conflict, so it
    does not split the student. (Twins MARIA and GUADALUPE are not both matched to a MARIA
    GUADALUPE: the one whose first name is the other's second is second_as_first, guarded
    under a multiple-birth flag.)

    `edge_ends` (columns a, b) holds every match-zone pair both ways round; `records` the
    records' standardized given names by record_id (internal table names). The engine's
    clustering and an index upload (review.scoring) ask the same question with this SQL."""
    strong = routing.thresholds.strong_disagreement_weight
    return f"""({family} AND NOT {routing.dates_differ_sql()}
        AND {pair}.match_weight >= {strong!r} AND EXISTS (
        SELECT 1 FROM {edge_ends} x JOIN {edge_ends} y ON y.a = x.a
        JOIN {records} w ON w.record_id = x.a
        JOIN {records} l ON l.record_id = x.b
        JOIN {records} r ON r.record_id = y.b
        WHERE x.b = {pair}.record_id_l AND y.b = {pair}.record_id_r
          AND l.given_name_2 IS NULL AND r.given_name_2 IS NULL
          AND ((w.given_name_1_canonical = l.given_name_1_canonical
                AND w.given_name_2_canonical = r.given_name_1_canonical)
            OR (w.given_name_1_canonical = r.given_name_1_canonical
                AND w.given_name_2_canonical = l.given_name_1_canonical))))"""


def _score_missing_edges(linker: Any, components: Any, predictions: Any) -> Any:
    """Splink's scores for the pairs inside `components` (record_id, cluster_id) that
    `predictions` lacks (gammas kept)."""
    from migrant_linkage.pipeline.scoring import gamma_columns_kept

    with gamma_columns_kept():
        return linker.inference._score_missing_cluster_edges(components, predictions)
