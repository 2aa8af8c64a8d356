"""The weight histogram and the non-match sample: what a run keeps of the pairs nobody reads.

At national size nearly every scored pair is a non-match (7 of 7.3 million at 1M records), and
writing them all was a third of the run. By default a run writes the match and near-match
pairs, this histogram, and a small seeded sample of non-match pairs; the report, the tuning
helpers and the notebook draw their tables and charts from the histogram
(migrant_linkage.report.pair_stats reads it). `all_pairs=True` still writes every pair.

The histogram has one row per (zone, weight bin) with

- `pairs`: scored pairs in the zone whose weight falls in [bin_low, bin_high);
- `expected_matches`: the sum of those pairs' match probabilities;
- `records`: records whose best zone (the best zone any of their pairs reaches) is `zone` and
  whose strongest pair's weight falls in the bin (so records are counted once);
- `true_pairs`: when the records carry the synthetic truth (`true_student_id`), the pairs
  among `pairs` whose two records are one child; null otherwise.

Bins are HISTOGRAM_BIN_WIDTH wide and start at multiples of it, so every count at or above a
threshold on a bin edge (the sweep's quarter steps) is exact.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from migrant_linkage.db import execute
from migrant_linkage.schema import TRUTH_COLUMNS
from migrant_linkage.zones import NON_MATCH_ZONE, ZONES

__all__ = [
    "HISTOGRAM_BIN_WIDTH",
    "HISTOGRAM_COLUMNS",
    "HISTOGRAM_FILE",
    "HISTOGRAM_TABLE",
    "NON_MATCH_SAMPLE_PER_BIN",
    "SAMPLE_SEED",
    "bin_low_sql",
    "build_histogram",
    "empty_histogram",
    "kept_pairs_sql",
]

HISTOGRAM_BIN_WIDTH = 0.25
HISTOGRAM_TABLE = "ml_weight_histogram"
#: The file a run writes the histogram to (beside pairs.parquet).
HISTOGRAM_FILE = "weight_histogram.parquet"
HISTOGRAM_COLUMNS = (
    "zone",
    "bin_low",
    "bin_high",
    "pairs",
    "expected_matches",
    "records",
    "true_pairs",
)
#: Non-match pairs kept per weight bin: enough to read a few pairs just below any threshold
#: (tuning.sample_near_threshold), a few thousand rows in all whatever the population.
NON_MATCH_SAMPLE_PER_BIN = 25
#: The sample is drawn by a hash of the pair's record ids and this seed: the same run gives
#: the same sample, on any number of threads.
SAMPLE_SEED = 20


def bin_low_sql(weight: str = "match_weight") -> str:
    return f"floor({weight} / {HISTOGRAM_BIN_WIDTH!r}) * {HISTOGRAM_BIN_WIDTH!r}"


def _truth_column(con: duckdb.DuckDBPyConnection, records_table: str) -> str | None:
    """The records' true_student_id column when it is there and filled (synthetic data)."""
    present = {r[0] for r in con.execute(f"DESCRIBE {records_table}").fetchall()}
    column = TRUTH_COLUMNS[0]
    if column not in present:
        return None
    filled = con.execute(f"SELECT count({column}) FROM {records_table}").fetchall()[0][0]
    return column if filled else None


def build_histogram(
    con: duckdb.DuckDBPyConnection, pairs_table: str, records_table: str
) -> pd.DataFrame:
    """HISTOGRAM_TABLE from the routed pairs: one scan for the pair counts (joined to the truth
    when the records carry it) and one for the records' best zone and weight. Probabilities
    are summed as decimals: a float sum depends on the order the threads add in, and the
    same run must write the same file."""
    truth = _truth_column(con, records_table)
    if truth:
        true_pair = f"count(*) FILTER (WHERE tl.{truth} = tr.{truth})"
        truth_join = (
            f"LEFT JOIN {records_table} tl ON tl.record_id = p.record_id_l "
            f"LEFT JOIN {records_table} tr ON tr.record_id = p.record_id_r"
        )
    else:
        true_pair, truth_join = "CAST(NULL AS BIGINT)", ""
    rank = " ".join(f"WHEN '{z}' THEN {i}" for i, z in enumerate(ZONES))
    zone_of_rank = " ".join(f"WHEN {i} THEN '{z}'" for i, z in enumerate(ZONES))
    width = HISTOGRAM_BIN_WIDTH
    execute(
        con,
        f"""CREATE OR REPLACE TABLE {HISTOGRAM_TABLE} AS
        WITH pair_bins AS (
            SELECT p.zone, {bin_low_sql("p.match_weight")} AS bin_low, count(*) AS pairs,
                   CAST(sum(CAST(p.match_probability AS DECIMAL(18, 15))) AS DOUBLE)
                       AS expected_matches, {true_pair} AS true_pairs
            FROM {pairs_table} p {truth_join}
            GROUP BY ALL
        ), sides AS (
            SELECT record_id_l AS record_id, match_weight,
                   CASE zone {rank} END AS zone_rank FROM {pairs_table}
            UNION ALL
            SELECT record_id_r, match_weight, CASE zone {rank} END FROM {pairs_table}
        ), best AS (
            SELECT record_id, max(match_weight) AS weight, min(zone_rank) AS zone_rank
            FROM sides GROUP BY record_id
        ), record_bins AS (
            SELECT CASE zone_rank {zone_of_rank} END AS zone, {bin_low_sql("weight")} AS bin_low,
                   count(*) AS records
            FROM best GROUP BY ALL
        )
        SELECT zone, bin_low, bin_low + {width!r} AS bin_high,
               coalesce(pairs, 0) AS pairs, coalesce(expected_matches, 0.0) AS expected_matches,
               coalesce(records, 0) AS records, true_pairs
        FROM pair_bins FULL OUTER JOIN record_bins USING (zone, bin_low)
        ORDER BY zone, bin_low""",
    )
    table = con.execute(f"SELECT * FROM {HISTOGRAM_TABLE}").df()
    if not truth:
        table["true_pairs"] = pd.array([pd.NA] * len(table), dtype="Int64")
    else:
        table["true_pairs"] = table["true_pairs"].fillna(0).astype("int64")
    return table[list(HISTOGRAM_COLUMNS)]


def kept_pairs_sql(pairs_table: str) -> str:
    """SQL selecting the pairs a run writes by default: every pair outside the non-match zone,
    and up to NON_MATCH_SAMPLE_PER_BIN non-match pairs per weight bin, drawn by a seeded hash
    of the record ids."""
    draw = f"hash(record_id_l, record_id_r, {SAMPLE_SEED})"
    return f"""
        SELECT * FROM {pairs_table} WHERE zone <> '{NON_MATCH_ZONE}'
        UNION ALL
        SELECT * FROM {pairs_table} WHERE zone = '{NON_MATCH_ZONE}'
        QUALIFY row_number() OVER (
            PARTITION BY {bin_low_sql()} ORDER BY {draw}, record_id_l, record_id_r
        ) <= {NON_MATCH_SAMPLE_PER_BIN}"""


def empty_histogram() -> pd.DataFrame:
    """The histogram of a run with no pairs."""
    return pd.DataFrame(
        {
            "zone": pd.Series(dtype=str),
            "bin_low": pd.Series(dtype=float),
            "bin_high": pd.Series(dtype=float),
            "pairs": pd.Series(dtype="int64"),
            "expected_matches": pd.Series(dtype=float),
            "records": pd.Series(dtype="int64"),
            "true_pairs": pd.Series(dtype="Int64"),
        }
    )
