"""The worklist: the pairs of students a person should decide, each with one reason, in one set
of words.

Near matches (including strong pairs whose birth dates differ, and guarded pairs a record says
are not twins) and match-zone pairs that did not merge, minus pairs whose records ended in one
student anyway. The engine, encoded linkage and index uploads all word their reasons from
REASONS, so a reviewer reads the same reason for the same situation everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from migrant_linkage.db import quote_literal
from migrant_linkage.pipeline.clusters import COMPONENTS_TABLE, PAIRS_TABLE
from migrant_linkage.zones import (
    GUARD_DATE_MISSING_IN_FAMILY,
    GUARD_DATES,
    GUARD_DATES_UNSETTLED,
    GUARD_FAMILY,
    GUARD_NAMES_UNRELATED,
    GUARD_NAMESAKE,
    MATCH_ZONE,
    NEAR_MATCH_ZONE,
)

#: Why a pair is on the worklist.
REASON_KEPT_APART = "match kept apart: a strong disagreement within the student"
REASON_KEPT_APART_EXISTING = (
    "match kept apart: it would merge existing students or holds a conflict"
)
REASON_DATES_DIFFER = "strong match but the birth dates differ"
REASON_FAMILY = "given names share nothing but a record says not a multiple birth"
REASON_NAMES_UNRELATED = (
    "family evidence but the given names do not settle it (one missing, a name the tables "
    "lack, or two real names an edit apart)"
)
REASON_NAMESAKE = (
    "strong match on a common name and birth date only: a namesake is likely in a population "
    "this size"
)
REASON_DATES_UNSETTLED = (
    "strong match but the birth dates disagree (another day of the same month, or days apart) "
    "and no parents are recorded to settle it"
)
REASON_DATE_MISSING_IN_FAMILY = (
    "strong match within one family but a birth date is missing and the given names agree "
    "only in part: a sibling looks the same"
)
REASON_NEAR_MATCH = "near match"
REASONS = (
    REASON_NAMESAKE,
    REASON_NAMES_UNRELATED,
    REASON_KEPT_APART,
    REASON_KEPT_APART_EXISTING,
    REASON_DATES_DIFFER,
    REASON_DATES_UNSETTLED,
    REASON_DATE_MISSING_IN_FAMILY,
    REASON_FAMILY,
    REASON_NEAR_MATCH,
)


def reason_sql(kept_apart: str = REASON_KEPT_APART, pairs: str = "p") -> str:
    """SQL CASE over a routed pair (`pairs`.zone, .guard_reason): why it is on the worklist."""
    return (
        f"CASE WHEN {pairs}.zone = '{MATCH_ZONE}' THEN {quote_literal(kept_apart)} "
        f"WHEN {pairs}.guard_reason = '{GUARD_DATES}' THEN {quote_literal(REASON_DATES_DIFFER)} "
        f"WHEN {pairs}.guard_reason = '{GUARD_FAMILY}' THEN {quote_literal(REASON_FAMILY)} "
        f"WHEN {pairs}.guard_reason = '{GUARD_NAMES_UNRELATED}' "
        f"THEN {quote_literal(REASON_NAMES_UNRELATED)} "
        f"WHEN {pairs}.guard_reason = '{GUARD_DATES_UNSETTLED}' "
        f"THEN {quote_literal(REASON_DATES_UNSETTLED)} "
        f"WHEN {pairs}.guard_reason = '{GUARD_DATE_MISSING_IN_FAMILY}' "
        f"THEN {quote_literal(REASON_DATE_MISSING_IN_FAMILY)} "
        f"WHEN {pairs}.guard_reason = '{GUARD_NAMESAKE}' THEN {quote_literal(REASON_NAMESAKE)} "
        f"ELSE {quote_literal(REASON_NEAR_MATCH)} END"
    )


def reasons(zone: pd.Series, guard_reason: pd.Series, kept_apart: str) -> pd.Series:
    """The same reasons for a frame of routed pairs (index uploads plan in pandas), through the
    same SQL as the run's worklist."""
    pairs = pd.DataFrame(
        {
            "zone": zone.astype(object).to_numpy(),
            "guard_reason": guard_reason.astype(object).to_numpy(),
        }
    )
    con = duckdb.connect()
    try:
        con.register("p", pairs)
        out = con.execute(f"SELECT {reason_sql(kept_apart)} FROM p").fetchall()
    finally:
        con.close()
    return pd.Series([r[0] for r in out], index=zone.index, dtype=object)


def worklist(
    con: duckdb.DuckDBPyConnection, records_table: str, shown_columns: Sequence[str]
) -> pd.DataFrame:
    """The worklist of a run: one item per two proposed students that a match or near-match
    pair joins, strongest first. A reviewer decides whether two students are one child, so the
    item is the strongest pair between them, with both records' `shown_columns` side by side
    (suffixed _l and _r; none for encoded linkage, whose worklist names record ids only), the
    two students (`cluster_id_l`, `cluster_id_r`) and how many such pairs join them
    (`pairs_between`): one child's record split from the others by a conflict is one decision,
    not one per record of the other part."""
    side = "".join(f", l.{c} AS {c}_l, r.{c} AS {c}_r" for c in shown_columns)
    return con.execute(
        f"""
        WITH between_students AS (
            SELECT p.*, a.cluster_id AS cluster_id_l, b.cluster_id AS cluster_id_r,
                   count(*) OVER students AS pairs_between,
                   row_number() OVER (students ORDER BY p.match_weight DESC, p.record_id_l,
                                      p.record_id_r) AS strength_rank
            FROM {PAIRS_TABLE} p
            JOIN {COMPONENTS_TABLE} a ON a.record_id = p.record_id_l
            JOIN {COMPONENTS_TABLE} b ON b.record_id = p.record_id_r
            WHERE p.zone IN ('{NEAR_MATCH_ZONE}', '{MATCH_ZONE}') AND a.cluster_id <> b.cluster_id
            WINDOW students AS (
                PARTITION BY least(a.cluster_id, b.cluster_id), greatest(a.cluster_id, b.cluster_id))
        )
        SELECT p.record_id_l, p.record_id_r, p.match_weight, p.match_probability, p.zone, p.grade,
               {reason_sql()} AS reason, p.cluster_id_l, p.cluster_id_r, p.pairs_between{side}
        FROM between_students p
        JOIN {records_table} l ON l.record_id = p.record_id_l
        JOIN {records_table} r ON r.record_id = p.record_id_r
        WHERE p.strength_rank = 1
        ORDER BY p.match_weight DESC, p.record_id_l, p.record_id_r
        """
    ).df()
