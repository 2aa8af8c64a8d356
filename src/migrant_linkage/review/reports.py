"""Reports for data administrators: birth-date conflicts between states, possible duplicates
per state, worklist backlog, and the duplicate rate (the usual MPI measure).

Definitions:

* possible duplicate: an undecided worklist item (open, skipped, pending or waiting);
* duplicate rate of a state: possible duplicates with both records in that state / the state's
  active records (a state's own MPI measure; the target is usually at most 1%);
* cross-state possible duplicates are counted separately, once for each state involved.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from migrant_linkage.review.store import first_row

UNDECIDED_SQL = "('open', 'skipped', 'pending', 'waiting')"


def birth_date_conflicts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Students whose records from two or more states disagree on the birth date: what the
    sending and receiving states must settle. One row per student: states, the distinct dates
    with the states that sent each, the states holding a certificate-verified date."""
    return con.execute(
        """
        WITH per_date AS (
            SELECT student_id, birth_date_std,
                   string_agg(DISTINCT submitting_state, ',' ORDER BY submitting_state) AS states,
                   bool_or(coalesce(birth_date_verified, FALSE)) AS verified
            FROM records WHERE active AND birth_date_std IS NOT NULL
            GROUP BY ALL
        ),
        per_student AS (
            SELECT student_id FROM records WHERE active AND birth_date_std IS NOT NULL
            GROUP BY student_id
            HAVING count(DISTINCT birth_date_std) > 1 AND count(DISTINCT submitting_state) > 1
        )
        SELECT p.student_id,
               (SELECT string_agg(DISTINCT submitting_state, ',' ORDER BY submitting_state)
                  FROM records x WHERE x.active AND x.student_id = p.student_id) AS states,
               count(*) AS n_birth_dates,
               string_agg(d.birth_date_std || ' (' || d.states || ')', ' | '
                          ORDER BY d.birth_date_std) AS birth_dates,
               string_agg(CASE WHEN d.verified THEN d.states END, ',') AS verified_in
        FROM per_student p JOIN per_date d USING (student_id)
        GROUP BY p.student_id ORDER BY p.student_id
        """
    ).df()


def duplicates_by_state(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per submitting state: active records, possible duplicates within the state, cross-state
    possible duplicates, and the duplicate rate."""
    return con.execute(
        f"""
        WITH items AS (
            SELECT l.submitting_state AS sl, r.submitting_state AS sr
            FROM worklist w
            JOIN records l ON l.record_key = w.record_key_l AND l.active
            JOIN records r ON r.record_key = w.record_key_r AND r.active
            WHERE w.status IN {UNDECIDED_SQL}
        ),
        within AS (SELECT sl AS state, count(*) AS n FROM items WHERE sl = sr GROUP BY 1),
        across AS (
            SELECT state, count(*) AS n FROM (
                SELECT sl AS state FROM items WHERE sl <> sr
                UNION ALL SELECT sr FROM items WHERE sl <> sr) GROUP BY 1
        ),
        recs AS (SELECT submitting_state AS state, count(*) AS records
                 FROM records WHERE active GROUP BY 1)
        SELECT recs.state, recs.records,
               coalesce(within.n, 0) AS possible_duplicates,
               coalesce(across.n, 0) AS cross_state_possible_duplicates,
               coalesce(within.n, 0) / recs.records AS duplicate_rate
        FROM recs LEFT JOIN within USING (state) LEFT JOIN across USING (state)
        ORDER BY recs.state
        """
    ).df()


def duplicate_rate(con: duckdb.DuckDBPyConnection) -> float:
    """Possible duplicates (undecided worklist items) / active records, over the whole index."""
    items, records = first_row(
        con.execute(
            f"""SELECT (SELECT count(*) FROM worklist WHERE status IN {UNDECIDED_SQL}),
                   (SELECT count(*) FROM records WHERE active)"""
        )
    )
    return items / records if records else 0.0


def backlog(con: duckdb.DuckDBPyConnection, *, now: datetime) -> pd.DataFrame:
    """Undecided items by status and age (days): counts per bucket, oldest age."""
    return con.execute(
        f"""
        WITH w AS (
            SELECT status, date_diff('day', created_at, ?::TIMESTAMP) AS age
            FROM worklist WHERE status IN {UNDECIDED_SQL}
        )
        SELECT status, count(*) AS items,
               count(*) FILTER (WHERE age <= 7) AS up_to_7_days,
               count(*) FILTER (WHERE age > 7 AND age <= 30) AS days_8_to_30,
               count(*) FILTER (WHERE age > 30) AS over_30_days,
               max(age) AS oldest_days
        FROM w GROUP BY status ORDER BY status
        """,
        [now],
    ).df()
