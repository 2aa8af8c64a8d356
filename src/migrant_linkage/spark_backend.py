"""The Spark path of a linkage job: blocking and scoring on Splink's SparkAPI.

Why only those stages. Blocking and scoring are the heavy part of a job (every candidate pair of
a national population is built and scored there); what follows (zones, family guard, clustering,
the worklist) reads only the scored pairs, a few per record. So a Spark job

1. writes the standardized records to Parquet in `work_dir` and reads them into Spark;
2. runs Splink's predict on Spark (same model, same blocking rules but for the parents'
   no-conflict filter, the comparisons rendered for Spark from the same dialect-free creators
   in comparisons.py);
3. writes the scored pairs to Parquet and hands them back to the DuckDB connection of the job,
   which drops the pairs the parents' filter would not have blocked
   (blocking.without_parents_filter), and where the engine's own SQL zones, guards and
   clusters them exactly as on the DuckDB path.

On a cluster `work_dir` must be a path both the driver's DuckDB and the Spark executors see
(on Databricks a /dbfs/... path, on a YARN/Kubernetes cluster a shared mount); see docs/scale.md.

Spark needs Java 17+ and the `spark` extra (`pip install 'migrant-linkage[spark]'`). Splink's
string-similarity functions (jaro_winkler, damerau_levenshtein) are Scala UDFs in a jar shipped
with Splink: `spark_session()` puts it on the classpath; a session you build yourself needs
`spark.jars` set to `splink.backends.spark.similarity_jar_location()` (Databricks: Splink
registers it itself).
"""

from __future__ import annotations

import copy
import logging
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd  # module level: pyspark resolves the pandas UDF's type hints here

from migrant_linkage import blocking

logger = logging.getLogger(__name__)

__all__ = [
    "SparkUnavailableError",
    "predict_on_spark",
    "register_duckdb_similarity_functions",
    "spark_available",
    "spark_scoring_settings",
    "spark_session",
]

#: Shuffle partitions for a local session: Spark's default of 200 is for clusters; on a few
#: cores it spends more time scheduling empty tasks than working.
LOCAL_SHUFFLE_PARTITIONS = 8


class SparkUnavailableError(RuntimeError):
    """pyspark or Java is missing, so backend='spark' cannot run."""


def spark_available() -> str | None:
    """None when a Spark job can run here, else the reason it cannot (for skips and errors)."""
    import importlib.util

    for package in ("pyspark", "rapidfuzz"):
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed (pip install 'migrant-linkage[spark]')"
    java_home = _java_home()
    if java_home is None:
        return "Java is not installed (Debian: apt-get install -y openjdk-17-jre-headless)"
    return None


def _java_home() -> str | None:
    import os

    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return home
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def spark_session(
    master: str = "local[*]",
    app_name: str = "migrant-linkage",
    config: Mapping[str, str] | None = None,
) -> Any:
    """A SparkSession with Splink's similarity UDF jar on the classpath.

    Returns the active session when one exists (Spark allows one per process; options that can
    only be set at start-up, such as driver memory, are then the existing session's). `config`
    adds or overrides Spark settings, e.g. {"spark.driver.memory": "8g"}."""
    reason = spark_available()
    if reason is not None:
        raise SparkUnavailableError(f"backend='spark' cannot run: {reason}")
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    settings = {
        "spark.jars": similarity_jar_location(),
        "spark.sql.shuffle.partitions": str(LOCAL_SHUFFLE_PARTITIONS),
        "spark.default.parallelism": str(LOCAL_SHUFFLE_PARTITIONS),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.driver.memory": "4g",
        **(config or {}),
    }
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_scoring_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The model's scoring settings with every SQL condition rendered for Spark.

    A saved model holds DuckDB SQL (Splink saves rendered settings). Each level whose SQL is
    what a creator in comparisons.py renders for DuckDB takes that creator's Spark rendering (so
    DuckDB's jaro_winkler_similarity becomes the Spark UDF jaro_winkler); any other level (a
    model saved by an older version) is translated by sqlglot, as Splink translates a
    CustomLevel, with the similarity functions renamed to Splink's Spark UDFs. The trained
    parameters (m, u, term-frequency columns) stay the model's own. Plain-SQL blocking rules are
    translated by Splink (CustomRule with sql_dialect='duckdb')."""
    from splink.blocking_rule_library import CustomRule

    out = copy.deepcopy(dict(settings))
    known = _duckdb_to_spark_levels()
    for comparison in out["comparisons"]:
        for level in comparison["comparison_levels"]:
            sql = level["sql_condition"]
            level["sql_condition"] = known.get(sql) or _translate_condition(sql)
    out["blocking_rules_to_generate_predictions"] = [
        CustomRule(blocking.without_parents_filter(rule), sql_dialect="duckdb")
        if isinstance(rule, str)
        else rule
        for rule in out["blocking_rules_to_generate_predictions"]
    ]
    out.pop("sql_dialect", None)
    return out


def _duckdb_to_spark_levels() -> dict[str, str]:
    """DuckDB SQL -> Spark SQL of every level of this package's comparisons (both spellings of
    the term-frequency option)."""
    from migrant_linkage.comparisons import migrant_comparisons

    mapping: dict[str, str] = {}
    for term_frequency in (True, False):
        for creator in migrant_comparisons(term_frequency=term_frequency):
            duck = creator.create_comparison_dict("duckdb")["comparison_levels"]
            spark = creator.create_comparison_dict("spark")["comparison_levels"]
            for d, s in zip(duck, spark, strict=True):
                mapping[d["sql_condition"]] = s["sql_condition"]
    return mapping


#: DuckDB function -> Spark function where sqlglot's Spark spelling is not Splink's UDF.
_SPARK_FUNCTIONS = {
    "JAROWINKLER_SIMILARITY": "jaro_winkler",
    "JARO_WINKLER_SIMILARITY": "jaro_winkler",
    "JARO_SIMILARITY": "jaro_sim",
}


def _translate_condition(sql: str) -> str:
    import re

    from splink.internals.comparison_level_library import _translate_sql_string

    if sql.strip().upper() == "ELSE":
        return sql
    spark_sql = _translate_sql_string(sql, "spark", "duckdb")
    for duck, spark in _SPARK_FUNCTIONS.items():
        spark_sql = re.sub(rf"\b{duck}\(", f"{spark}(", spark_sql, flags=re.IGNORECASE)
    return spark_sql


def predict_on_spark(
    con: duckdb.DuckDBPyConnection,
    db_api: Any,
    records_table: str,
    settings: Mapping[str, Any],
    *,
    spark: Any = None,
    work_dir: str | Path | None = None,
    output_table: str = "ml_spark_predictions",
) -> Any:
    """Score the records of DuckDB table `records_table` on Spark; return the scored pairs as a
    Splink table of `db_api` (the job's DuckDB), named `output_table`.

    settings: the scoring settings in DuckDB SQL (as the engine builds them).
    spark: a SparkSession (default: `spark_session()`).
    work_dir: where records and pairs pass as Parquet (default: a temporary directory, removed
        afterwards); on a cluster, a path the driver and the executors share."""
    from splink import Linker, SparkAPI

    spark = spark if spark is not None else spark_session()
    owns_dir = work_dir is None
    base = Path(tempfile.mkdtemp(prefix="ml-spark-")) if owns_dir else Path(work_dir)
    run_dir = base / f"run-{uuid.uuid4().hex[:12]}"
    run_dir.mkdir(parents=True)
    try:
        records_path = run_dir / "records.parquet"
        # The records with the block sizes the frequency-capped rules read (Splink blocks here).
        records = blocking.with_block_sizes_sql(records_table)
        con.execute(f"COPY ({records}) TO '{records_path}' (FORMAT PARQUET)").fetchall()
        spark_api = SparkAPI(spark_session=spark, break_lineage_method="persist")
        register_duckdb_similarity_functions(spark)
        frame = spark.read.parquet(str(records_path))
        linker = Linker(spark_api.register(frame), spark_scoring_settings(settings), log_level=None)
        predictions = linker.inference.predict(warning_mode="never")
        pairs_path = run_dir / "pairs"
        predictions.as_spark_dataframe().write.mode("overwrite").parquet(str(pairs_path))
        # The parents' no-conflict filter, left out of the Spark rules, on the scored pairs
        # (blocking.without_parents_filter); a pair with the same MSIX ID stays, as its rule
        # has no such filter.
        con.execute(
            f"CREATE OR REPLACE TABLE {output_table} AS "
            f"SELECT p.* FROM read_parquet('{pairs_path}/*.parquet') p "
            f"JOIN {records_table} l ON l.record_id = p.record_id_l "
            f"JOIN {records_table} r ON r.record_id = p.record_id_r "
            f"WHERE {blocking.PARENTS_NOT_CONFLICTING} "
            "OR coalesce(l.msix_id_std = r.msix_id_std, false)"
        ).fetchall()
        _drop_spark_tables(spark)
    finally:
        shutil.rmtree(run_dir if not owns_dir else base, ignore_errors=True)
    return db_api.register(output_table, dataset_display_name="predictions")


def register_duckdb_similarity_functions(spark: Any) -> None:
    """Register jaro_winkler and damerau_levenshtein on `spark` with DuckDB's results.

    Splink's Scala UDF jar computes Jaro-Winkler differently from DuckDB (CARLA / CAARLA: 0.876
    on Spark, 0.902 on DuckDB), which moves pairs across a 0.9 threshold: the same model would
    give different students on the two backends. DuckDB's implementation comes from RapidFuzz,
    so these Arrow (pandas) UDFs call RapidFuzz on whole batches (vectorised in C++) and return
    the same values, NULL when either side is NULL, as DuckDB does. They replace the jar's
    functions of the same names for this session; executors need rapidfuzz installed (the
    `spark` extra)."""
    from pyspark.sql.functions import pandas_udf

    spark.udf.register(
        "jaro_winkler", pandas_udf(_pairwise("JaroWinkler", "normalized_similarity"), "double")
    )
    spark.udf.register(
        "damerau_levenshtein", pandas_udf(_pairwise("DamerauLevenshtein", "distance"), "double")
    )


def _pairwise(metric: str, method: str) -> Any:
    """A pandas UDF body: rapidfuzz.distance.<metric>.<method> of each row's two strings, NULL
    if either is NULL. Named, not passed: the UDF is pickled to the executors, and RapidFuzz's
    compiled functions cannot be."""
    import numpy as np

    def score(left: pd.Series, right: pd.Series) -> pd.Series:
        import rapidfuzz.distance
        from rapidfuzz.process import cpdist

        scorer = getattr(getattr(rapidfuzz.distance, metric), method)

        known = (left.notna() & right.notna()).to_numpy()
        out = pd.Series(pd.NA, index=left.index, dtype="Float64")
        if known.any():
            values = cpdist(
                left[known].tolist(), right[known].tolist(), scorer=scorer, dtype=np.float64
            )
            out[known] = values
        return out

    return score


def _drop_spark_tables(spark: Any) -> None:
    """Unpersist and drop the temporary views Splink made (names start with __splink__), so a
    long-lived session does not fill up; the caller's own cached tables are left alone. Run one
    Splink job per session at a time: a concurrent one would lose its views too."""
    for table in spark.catalog.listTables():
        if table.isTemporary and table.name.startswith("__splink__"):
            spark.table(table.name).unpersist()
            spark.catalog.dropTempView(table.name)
