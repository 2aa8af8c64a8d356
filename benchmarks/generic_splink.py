"""The generic Splink 5 baseline: what a careful analyst builds without migrant-specific knowledge.

This is the model issue 4 describes and the quality bar of issue 5 is measured against. It is
deliberately *generic but careful*, so that the comparison with our engine is fair:

- preprocessing of the raw fields only: upper case, trim and accent folding; one surname string
  made by joining last_name_1 and last_name_2 with a space; the birth date parsed as ISO
  (YYYY-MM-DD) or, failing that, as US MM/DD/YYYY, else null; sex reduced to its first letter
  (F/M). No nickname table, no surname units, no transposed dates, no family guard;
- comparisons: NameComparison on the first name and on the joined surname (both term-frequency
  adjusted on the exact level, as NameComparison does by default), DateOfBirthComparison,
  ExactMatch on sex, JaroWinklerAtThresholds on each parent's first name;
- blocking: first name + birth date, surname + birth date, first name + surname;
- training without labels: the prior from a deterministic rule (first name, surname and birth
  date equal, assumed recall 0.7), u by random sampling, m by EM on two blocks (first name +
  surname, then birth date) so every comparison is estimated once with its own column free;
- clustering: connected components of the pairs at match probability >= 0.95 (Splink's usual
  example threshold). Pairs in [0.50, 0.95) whose records did not end in one cluster form the
  worklist (`generic_worklist`), so the generic model is scored on review load like ours.

`run_generic(raw)` returns (pairs, clusters, timings) for the benchmarks.

Outside data sets (benchmarks/external.py) use the same model, generalised only as a Splink user
would for their file: `date_format=` names the file's birth-date format, comparisons are made only
for the columns the data has (FEBRL has no sex and no parents), `middle_initial=True` adds an
exact match on the middle initial when the data has one, and `right=` links two files
(link_only) instead of deduplicating one. With none of these, the model is the one above.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

MATCH_THRESHOLD = 0.95
NEAR_MATCH_THRESHOLD = 0.50
U_SAMPLE_PAIRS = 1e7
SEED = 42

COMBINING_MARKS = "[\u0300-\u036f]"

PREDICTION_BLOCKS = (
    block_on("first_name", "dob"),
    block_on("surname", "dob"),
    block_on("first_name", "surname"),
)


@dataclass(frozen=True)
class GenericThresholds:
    match: float = MATCH_THRESHOLD
    near_match: float = NEAR_MATCH_THRESHOLD


def prepare(raw: pd.DataFrame, date_format: str | None = None) -> pd.DataFrame:
    """Generic preprocessing of the raw contract columns (one column at a time, no row loops).

    date_format: the strptime format of the file's birth dates when the user knows it (an outside
    data set documents its own); without it, ISO and then US MM/DD/YYYY are tried."""

    def clean(column: str) -> pd.Series:
        if column not in raw.columns:
            return pd.Series(pd.NA, index=raw.index, dtype="string")
        text = raw[column].astype("string").str.upper().str.strip()
        # Accent folding is generic text hygiene (JOSÉ == JOSE), not migrant-specific logic.
        text = text.str.normalize("NFKD").str.replace(COMBINING_MARKS, "", regex=True)
        return text.mask(text == "")

    last_1, last_2 = clean("last_name_1"), clean("last_name_2")
    surname = (last_1.fillna("") + " " + last_2.fillna("")).str.strip()
    dob_text = clean("birth_date")
    if date_format is not None:
        dob = pd.to_datetime(dob_text, format=date_format, errors="coerce")
    else:
        dob = pd.to_datetime(dob_text, format="%Y-%m-%d", errors="coerce")
        dob = dob.fillna(pd.to_datetime(dob_text, format="%m/%d/%Y", errors="coerce"))
    return pd.DataFrame(
        {
            "record_id": raw["record_id"].astype("string"),
            "first_name": clean("first_name"),
            "middle_initial": clean("middle_name").str[0],
            "surname": surname.mask(surname == ""),
            "dob": dob.dt.strftime("%Y-%m-%d").astype("string"),
            "sex": clean("sex").str[0],
            "parent1_first": clean("parent1_first"),
            "parent2_first": clean("parent2_first"),
        }
    )


def comparisons(table: pd.DataFrame, middle_initial: bool = False) -> list:
    """The generic comparisons, for the columns `table` (a prepared frame) really holds: a
    comparison on a column that is empty throughout could only be estimated from nothing."""
    has = {column for column in table.columns if table[column].notna().any()}
    chosen = [
        cl.NameComparison("first_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("dob", input_is_string=True),
    ]
    if middle_initial and "middle_initial" in has:
        chosen.append(cl.ExactMatch("middle_initial"))
    if "sex" in has:
        chosen.append(cl.ExactMatch("sex"))
    chosen += [
        cl.JaroWinklerAtThresholds(c) for c in ("parent1_first", "parent2_first") if c in has
    ]
    return chosen


def settings(
    table: pd.DataFrame, link_type: str = "dedupe_only", middle_initial: bool = False
) -> SettingsCreator:
    """Splink settings for the prepared `table` (both sides concatenated when linking)."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_id",
        comparisons=comparisons(table, middle_initial),
        blocking_rules_to_generate_predictions=list(PREDICTION_BLOCKS),
        retain_intermediate_calculation_columns=False,
    )


def run_generic(
    raw: pd.DataFrame,
    thresholds: GenericThresholds | None = None,
    keep_pairs_above: float | None = None,
    *,
    right: pd.DataFrame | None = None,
    date_format: str | None = None,
    middle_initial: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Train the generic model on `raw` (no labels), score, zone and cluster.

    With `right`, links `raw` (left) with `right` (link_only: pairs across the two only); record
    ids must be unique across both. `date_format` and `middle_initial`: see the module docstring.

    Returns pairs (record_id_l, record_id_r, match_weight, match_probability, zone, gamma_*),
    clusters (record_id, cluster_id; every record once) and wall-clock seconds per stage.
    By default every blocked pair is returned, so a benchmark can tell pairs blocking never
    generated from pairs scored low; `keep_pairs_above` drops low pairs on large inputs.
    """
    thresholds = thresholds or GenericThresholds()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    tables = [prepare(raw, date_format)]
    if right is not None:
        tables.append(prepare(right, date_format))
    link_type = "dedupe_only" if right is None else "link_only"
    lap("prepare")

    db_api = DuckDBAPI()
    model = settings(pd.concat(tables, ignore_index=True), link_type, middle_initial)
    registered = [db_api.register(table) for table in tables]
    linker = Linker(registered[0] if right is None else registered, model, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    lap("train")

    predictions = linker.inference.predict(threshold_match_probability=keep_pairs_above)
    lap("predict")

    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=thresholds.match
    )
    clusters = clustered.as_pandas_dataframe()[["record_id", "cluster_id"]]
    lap("cluster")

    pairs = predictions.as_pandas_dataframe()
    keep = ["record_id_l", "record_id_r", "match_weight", "match_probability"]
    keep += [c for c in pairs.columns if c.startswith("gamma_")]
    pairs = pairs[keep].copy()
    probability = pairs["match_probability"]
    pairs["zone"] = "non_match"
    pairs.loc[probability >= thresholds.near_match, "zone"] = "near_match"
    pairs.loc[probability >= thresholds.match, "zone"] = "match"
    lap("collect")
    timings["total"] = sum(timings.values())
    return pairs, clusters, timings


def generic_worklist(pairs: pd.DataFrame, clusters: pd.DataFrame) -> pd.DataFrame:
    """Near-match pairs whose two records the auto-merge left in different clusters."""
    cluster_of = clusters.set_index("record_id")["cluster_id"]
    near = pairs[pairs["zone"] == "near_match"]
    apart = near["record_id_l"].map(cluster_of).to_numpy() != (
        near["record_id_r"].map(cluster_of).to_numpy()
    )
    return near[apart].reset_index(drop=True)


def cluster_at(record_ids: pd.Series, pairs: pd.DataFrame, match_threshold: float) -> pd.DataFrame:
    """Connected components of `pairs` at match probability >= `match_threshold` (Splink's own
    clustering), every record once: to see how the generic model trades precision for recall."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    nodes = pd.DataFrame({"record_id": record_ids.astype("string")})
    edges = pairs[["record_id_l", "record_id_r", "match_probability"]]
    clustered = cluster_pairwise_predictions_at_threshold(
        nodes,
        edges,
        DuckDBAPI(),
        node_id_column_name="record_id",
        threshold_match_probability=match_threshold,
    )
    return clustered.as_pandas_dataframe()[["record_id", "cluster_id"]]
