"""The linkage model: Splink settings plus trained parameters, training, priors, save/load.

A Model holds a Splink settings dictionary (the same JSON Splink saves). Building one does no
work (scikit-learn style); `train` does the estimation and returns a trained copy.

Unsupervised training has a trap on migrant data: siblings share surnames, parents and birth
place, so expectation maximisation (EM) over a naive block learns "same family" instead of
"same child". Training here therefore

1. estimates the prior (probability two random records match) from deterministic rules that
   always include the given name (twins share everything else);
2. estimates u-probabilities from random pairs (random pairs are almost never the same child);
3. runs EM only on blocks that keep families apart (same given name and birth date; same
   surname set and given name), and never on the given name itself;
4. fixes the given-name m-probabilities at priors (data/model_priors.csv): no block that leaves
   the given name free also keeps twins apart, so EM cannot learn them;
5. checks the result (`check_weights`): an exact birth date must be strong evidence for, and a
   different given name strong evidence against.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
from collections.abc import Collection, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from migrant_linkage import blocking
from migrant_linkage.levels import short_label
from migrant_linkage.schema import (
    RAW_COLUMNS_COMPARED,
    STANDARDIZED_COLUMN_NAMES,
    UNIQUE_ID_COLUMN,
)

logger = logging.getLogger(__name__)

#: Columns carried into the pairs table besides those the comparisons use.
RETAINED_COLUMNS: tuple[str, ...] = ("source_name", "state_std")

#: Smallest m-probability a trained level keeps (see `floor_m_probabilities`).
M_PROBABILITY_FLOOR = 0.001

#: Random pairs the u-probabilities are estimated from (step 2 of the module docstring), and
#: Splink's chunks for them (it stops a comparison early once each level has 100 pairs). The
#: u sample costs the same at any population (each comparison over the pairs of a random
#: sample of records, on one thread each: settings_with_u): 5 of the 7 s of training at 200k
#: records, the surname comparison alone 3.5 s of it.
#: Fewer pairs were tried and not kept: at 3e5 four levels moved by more than a quarter bit
#: and by more than they move between seeds at 1e6 (the placeholder birth date by 8.9 bits),
#: and twin and sibling false merges rose (benchmarks/u_sample.py; docs/scale.md, issue 20).
U_SAMPLE_PAIRS = 1e6
U_SAMPLE_CHUNKS = 10

#: Weight limits the trained model must respect (see `check_weights`).
MIN_EXACT_BIRTH_DATE_WEIGHT = 4.0
#: "Given names share nothing" must count clearly against. EM that learnt "same family" puts
#: this level near 0; true records of one child do carry unrelated given names now and then (a
#: name used at home, a placeholder, a nickname the tables lack: 5-8% of true pairs in labelled
#: data, about -3.7), so the bound says "at most a quarter of the chance rate", not "almost
#: never" (it was -4.0, which a labelled model trained on realistic errors fails).
MAX_GIVEN_NAME_ELSE_WEIGHT = -2.0


class ModelNotTrainedError(RuntimeError):
    """The model has no trained parameters yet; train it or load a trained one."""


class ModelCheckError(RuntimeError):
    """Training produced weights that contradict what we know about identity evidence."""


def quiet_splink() -> None:
    """Splink logs every SQL statement at INFO/DEBUG and training notes at WARNING (levels
    not observed, ...). Keep it at ERROR unless the caller configured the 'splink' logger
    themselves (an explicit level on it). Our own logger reports what matters, ids only."""
    splink_logger = logging.getLogger("splink")
    if splink_logger.level == logging.NOTSET:
        splink_logger.setLevel(logging.ERROR)


def read_priors() -> list[dict[str, str]]:
    """Fixed m-probabilities, one row per (comparison, level label), from data/model_priors.csv."""
    text = resources.files("migrant_linkage.data").joinpath("model_priors.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _comparisons() -> list[Any]:
    from migrant_linkage.comparisons import migrant_comparisons

    return migrant_comparisons()


def _retained_columns() -> list[str]:
    from migrant_linkage.comparisons import FAMILY_GUARD_COLUMNS

    return list(dict.fromkeys([*RETAINED_COLUMNS, *FAMILY_GUARD_COLUMNS]))


def untrained_settings(
    comparisons: Sequence[Any] | None = None, *, absent_levels: Collection[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The Splink settings dictionary before training: our comparisons, blocking rules and
    column names, with the prior m-probabilities applied and fixed. `absent_levels`
    ((comparison, label) pairs) names levels the given comparisons lack on purpose (the
    encoded model's, privacy.LEVELS_NOT_ENCODED): their priors are skipped."""
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID_COLUMN,
        comparisons=list(comparisons) if comparisons is not None else _comparisons(),
        blocking_rules_to_generate_predictions=blocking.prediction_blocking_rules(),
        additional_columns_to_retain=_retained_columns(),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        em_convergence=0.0001,
        max_iterations=25,
    )
    settings = creator.create_settings_dict("duckdb")
    absent = set(absent_levels)
    apply_priors(
        settings, [r for r in read_priors() if (r["comparison"], r["level_label"]) not in absent]
    )
    return settings


def apply_priors(settings: dict[str, Any], priors: list[dict[str, str]]) -> None:
    """Set and fix m-probabilities from `priors` (rows: comparison, level_label, m_probability,
    and u_probability where the u must be fixed too).

    Raises ValueError naming the comparison and the labels on offer when a prior row matches
    nothing, so a renamed comparison level cannot silently drop its prior."""
    by_name = {c["output_column_name"]: c for c in settings["comparisons"]}
    for row in priors:
        comparison = by_name.get(row["comparison"])
        if comparison is None:
            raise ValueError(
                f"model_priors.csv names comparison {row['comparison']!r}, which the model does "
                f"not have (it has {sorted(by_name)})"
            )
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        matching = [lv for lv in levels if short_label(lv) == row["level_label"]]
        if not matching:
            labels = [short_label(lv) for lv in levels]
            raise ValueError(
                f"model_priors.csv names level {row['level_label']!r} of {row['comparison']!r}; "
                f"the levels are {labels}"
            )
        for level in matching:
            level["m_probability"] = float(row["m_probability"])
            level["fix_m_probability"] = True
            if row.get("u_probability"):
                level["u_probability"] = float(row["u_probability"])
                level["fix_u_probability"] = True


def _is_trained(settings: dict[str, Any]) -> bool:
    """Trained = u-probabilities were estimated (a level never seen in the training data keeps
    Splink's default m, which `weights()` reports as it will be used)."""
    levels = [lv for c in settings.get("comparisons", []) for lv in c["comparison_levels"]]
    return any("u_probability" in lv for lv in levels)


def _training_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The standardized columns Splink needs (plus id and the raw fields a comparison reads),
    without the other raw columns or truth."""
    keep = list(dict.fromkeys((UNIQUE_ID_COLUMN, *STANDARDIZED_COLUMN_NAMES)))
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise ValueError(
            f"train() needs a standardized table (migrant_linkage.standardize); "
            f"missing columns: {missing}"
        )
    columns = frame[keep]
    # A table standardized elsewhere may lack a raw field: its level then never applies.
    absent = pd.Series(pd.NA, index=frame.index, dtype="string")
    raw = {c: frame[c] if c in frame.columns else absent for c in RAW_COLUMNS_COMPARED}
    return columns.assign(**raw)


def training_linker(
    db_api: Any,
    frame: pd.DataFrame,
    settings: dict[str, Any],
    name: str,
    *,
    seed: int,
    max_u_pairs: float,
) -> Any:
    """A Linker over training records, with u-probabilities estimated from random pairs
    (step 2 of the module docstring). The records carry the sizes of their training blocks
    (the EM rules leave out blocks crowded with namesakes: blocking.TRAINING_BLOCK_MAX_RECORDS)."""
    from splink import Linker

    records = blocking.training_block_sizes(frame)
    with_u = settings_with_u(db_api, records, settings, seed=seed, max_pairs=max_u_pairs)
    registered = db_api.register(records, dataset_display_name=name)
    return Linker(registered, with_u, log_level=None)


def compared_columns(settings: dict[str, Any]) -> list[str]:
    """The input columns the comparisons of `settings` read, as Splink parses them from the
    settings alone (a model file may compare other columns than the shipped one), and the
    columns their levels adjust by term frequency (a level may adjust on a column its
    condition does not read: exact_with_second)."""
    from splink import SettingsCreator

    parsed = SettingsCreator.from_path_or_dict(copy.deepcopy(settings)).get_settings("duckdb")
    read = [c.unquote().name for c in parsed._columns_used_by_comparisons]
    adjusted = [
        level["tf_adjustment_column"]
        for comparison in settings.get("comparisons", [])
        for level in comparison["comparison_levels"]
        if level.get("tf_adjustment_column")
    ]
    return list(dict.fromkeys([*read, *adjusted]))


def settings_with_u(
    db_api: Any, records: pd.DataFrame, settings: dict[str, Any], *, seed: int, max_pairs: float
) -> dict[str, Any]:
    """A copy of `settings` with the u-probabilities Splink's estimate_u_using_random_sampling
    gives, one comparison at a time, side by side on DuckDB's threads.

    Splink estimates u over every pair of a sample of about 1,400 records, one comparison after
    another; DuckDB runs each of those queries on one thread (the sample is a single row group),
    so on its own it used one core for most of training. Each comparison here gets its own
    Linker over a cursor of the same database: the sample is the same (a hash of the ids and
    the seed, sized by the record count), the SQL is the same, so each comparison's u is the
    one Splink's own call gives (tests/test_model.py checks it)."""
    from concurrent.futures import ThreadPoolExecutor

    from splink import DuckDBAPI, Linker

    from migrant_linkage.db import scalar

    comparisons = settings["comparisons"]

    def estimate(index: int) -> list[dict[str, Any]]:
        # One comparison and the columns it reads: Splink's sample query scans every column
        # of the table it is given, so each of the nine scans reads only what it compares.
        alone = {
            **settings,
            "comparisons": [comparisons[index]],
            "blocking_rules_to_generate_predictions": [],
            "additional_columns_to_retain": [],
        }
        columns = list(dict.fromkeys([UNIQUE_ID_COLUMN, *compared_columns(alone)]))
        cursor = db_api.duckdb_con.cursor()
        try:
            table = DuckDBAPI(connection=cursor).register(
                records[columns], dataset_display_name="u_sample"
            )
            # The training linker validates these settings, every comparison at once.
            linker = Linker(table, alone, log_level=None, validate_settings=False)
            linker.training.estimate_u_using_random_sampling(
                max_pairs=max_pairs, seed=seed, num_chunks=U_SAMPLE_CHUNKS
            )
            return linker.misc.save_model_to_json()["comparisons"][0]["comparison_levels"]
        finally:
            cursor.close()

    # The comparisons with most levels (the slowest SQL) first, so none is left to run alone.
    order = sorted(range(len(comparisons)), key=lambda i: -len(comparisons[i]["comparison_levels"]))
    threads = max(1, int(scalar(db_api.duckdb_con, "SELECT current_setting('threads')")))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        estimated = dict(zip(order, pool.map(estimate, order), strict=True))
    out = copy.deepcopy(settings)
    for index, comparison in enumerate(out["comparisons"]):
        for level, trained in zip(comparison["comparison_levels"], estimated[index], strict=True):
            if "u_probability" in trained:
                level["u_probability"] = trained["u_probability"]
    return out


def estimate_prior(training: Any, *, deterministic_recall: float) -> None:
    """Step 1 of the module docstring: the prior from deterministic rules that always include
    the given name."""
    training.estimate_probability_two_random_records_match(
        blocking.deterministic_match_rules(), recall=deterministic_recall
    )


def estimate_m_without_labels(training: Any) -> None:
    """Step 3: EM on the family-safe training blocks (m of the blocked columns stays as is)."""
    for rule in (blocking.training_rule_names_and_place(), blocking.training_rule_birth_date()):
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )


class Model:
    """A Splink model for migrant-student records. No work happens in the constructor.

    >>> model = Model().train(standardized)      # unsupervised
    >>> model.save("model.json"); Model.load("model.json").weights()
    """

    def __init__(self, settings: dict[str, Any] | None = None):
        self.settings = settings

    # ---------------------------------------------------------------- construction, I/O
    @classmethod
    def default(cls) -> Model:
        """The model shipped with the package (trained on synthetic records by
        benchmarks/tools/build_default_model.py)."""
        text = (
            resources.files("migrant_linkage.data")
            .joinpath("default_model.json")
            .read_text("utf-8")
        )
        return cls(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> Model:
        path = Path(path)
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"model file not found: {path}") from None
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path} is not a JSON model file ({err.msg}, line {err.lineno})"
            ) from None
        if not isinstance(settings, dict) or "comparisons" not in settings:
            raise ValueError(f"{path} is not a Splink model: no 'comparisons' key")
        return cls(settings)

    def save(self, path: str | Path) -> None:
        """Write the model as Splink JSON (atomically: a hidden temporary file, then a rename)."""
        from migrant_linkage.io import write_text_atomic

        write_text_atomic(path, json.dumps(self.trained_settings(), indent=2))

    @property
    def is_trained(self) -> bool:
        return self.settings is not None and _is_trained(self.settings)

    def trained_settings(self) -> dict[str, Any]:
        if self.settings is None or not self.is_trained:
            raise ModelNotTrainedError(
                "this model has no trained parameters: call Model().train(standardized), "
                "Model.default() or Model.load(path)"
            )
        return copy.deepcopy(self.settings)

    # ---------------------------------------------------------------- training
    def train(
        self,
        standardized: pd.DataFrame,
        *,
        labels: pd.DataFrame | None = None,
        seed: int = 42,
        max_u_pairs: float = U_SAMPLE_PAIRS,
        deterministic_recall: float = 0.7,
        check: bool = True,
    ) -> Model:
        """Estimate the parameters on `standardized` records and return a new trained Model.

        Without `labels` the training is unsupervised (see the module docstring). With `labels`
        (columns record_id_l, record_id_r, is_match) the m-probabilities come from the pairs
        marked as matches (Splink's estimate_m_from_pairwise_labels) and no prior is fixed."""

        from migrant_linkage.db import make_db_api

        quiet_splink()
        frame = _training_columns(standardized)
        if len(frame) < 2:
            raise ValueError("train() needs at least two standardized records")
        label_table = (
            _label_table(labels, set(frame[UNIQUE_ID_COLUMN].astype(str)))
            if labels is not None
            else None
        )
        settings = untrained_settings()
        if labels is not None:
            for comparison in settings["comparisons"]:
                for level in comparison["comparison_levels"]:
                    level["fix_m_probability"] = False

        # Training's own in-memory database: closed when the model is read off it, so its
        # tables and buffer pool (up to the memory limit) are not held through the run.
        db_api, con = make_db_api()
        try:
            linker = training_linker(
                db_api, frame, settings, "training_records", seed=seed, max_u_pairs=max_u_pairs
            )
            training = linker.training
            estimate_prior(training, deterministic_recall=deterministic_recall)
            if labels is None:
                estimate_m_without_labels(training)
            else:
                registered = db_api.register(label_table, dataset_display_name="training_labels")
                training.estimate_m_from_pairwise_labels(registered)
            saved = linker.misc.save_model_to_json()
        finally:
            con.close()
        trained = Model(saved)
        trained.settings["link_type"] = "dedupe_only"
        # Splink's random cache id would make identical trainings save different JSON; without
        # it each linker that loads the model draws its own, so nothing is shared by accident.
        trained.settings.pop("linker_uid", None)
        floor_m_probabilities(trained.settings)
        _round_probabilities(trained.settings)
        if check:
            check_weights(trained)
        return trained

    # ---------------------------------------------------------------- inspection
    def weights(self) -> pd.DataFrame:
        """One row per comparison level: comparison, level, m, u, match_weight (log2 m/u).
        Null levels (a value missing on either side) have no weight and are left out."""
        from splink import SettingsCreator

        quiet_splink()
        settings = SettingsCreator.from_path_or_dict(self.trained_settings()).get_settings("duckdb")
        rows = []
        for comparison in settings.comparisons:
            for level in comparison.comparison_levels:
                if level.is_null_level:
                    continue
                label = level.label_for_charts or ""
                rows.append(
                    {
                        "comparison": comparison.output_column_name,
                        "level": label.split(":", 1)[0].strip(),
                        "description": label.split(":", 1)[-1].strip(),
                        "m_probability": level.m_probability,
                        "u_probability": level.u_probability,
                        "match_weight": level._log2_bayes_factor,
                    }
                )
        return pd.DataFrame(rows)

    def prior_weight(self) -> float:
        """log2 prior odds that two random records are the same child."""
        p = self.trained_settings()["probability_two_random_records_match"]
        return math.log2(p / (1 - p))

    def __repr__(self) -> str:
        state = "trained" if self.is_trained else "untrained"
        return f"Model({state})"


def floor_m_probabilities(settings: dict[str, Any]) -> None:
    """Raise every estimated m-probability to at least M_PROBABILITY_FLOOR.

    EM drives m towards zero for a level it never sees among matches in the training blocks
    (e.g. parents disagreeing), which would give a weight near -100: one disagreement would veto
    any amount of agreement. Real records of one child do disagree occasionally on anything, so
    the floor caps the evidence of a single comparison at about log2(floor / u)."""
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            m = level.get("m_probability")
            if isinstance(m, int | float) and m < M_PROBABILITY_FLOOR:
                level["m_probability"] = M_PROBABILITY_FLOOR


#: Significant digits kept of each trained probability. DuckDB sums in parallel, so EM's last
#: bits vary between identical runs; rounding far below any meaningful precision makes the same
#: data train the same model, byte for byte (and so the same scores and students).
PROBABILITY_SIGNIFICANT_DIGITS = 9


def _round_probabilities(settings: dict[str, Any]) -> None:
    def rounded(value: float) -> float:
        return float(f"{value:.{PROBABILITY_SIGNIFICANT_DIGITS}g}")

    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                value = level.get(key)
                if isinstance(value, float):
                    level[key] = rounded(value)
    prior = settings.get("probability_two_random_records_match")
    if isinstance(prior, float):
        settings["probability_two_random_records_match"] = rounded(prior)


def _label_table(labels: pd.DataFrame, known_ids: set[str]) -> pd.DataFrame:
    needed = ("record_id_l", "record_id_r", "is_match")
    missing = [c for c in needed if c not in labels.columns]
    if missing:
        raise ValueError(f"labels need columns {list(needed)}; missing {missing}")
    matches = labels.loc[labels["is_match"].astype(bool), ["record_id_l", "record_id_r"]].astype(
        str
    )
    unknown = ~(matches["record_id_l"].isin(known_ids) & matches["record_id_r"].isin(known_ids))
    if unknown.any():
        first = matches.loc[unknown].iloc[0]
        raise ValueError(
            f"{int(unknown.sum())} labelled pairs name record ids not in the training records "
            f"(first: {first['record_id_l']}, {first['record_id_r']})"
        )
    if matches.empty:
        raise ValueError("labels hold no pair with is_match true; m cannot be estimated")
    return matches.reset_index(drop=True)


def check_weights(model: Model) -> None:
    """Raise ModelCheckError if the model contradicts basic identity evidence: an exact birth
    date must weigh at least MIN_EXACT_BIRTH_DATE_WEIGHT, the given-name 'else' level at most
    MAX_GIVEN_NAME_ELSE_WEIGHT. Guards against EM having learnt "same family"."""
    weights = model.weights().set_index(["comparison", "level"])["match_weight"]
    dob = weights.get(("birth_date", "exact"))
    given = weights.get(("given_name", "else"))
    problems = []
    if dob is not None and not dob >= MIN_EXACT_BIRTH_DATE_WEIGHT:
        problems.append(f"exact birth date weighs {dob:+.1f}")
    if given is not None and not given <= MAX_GIVEN_NAME_ELSE_WEIGHT:
        problems.append(f"different given names weigh {given:+.1f}")
    if problems:
        raise ModelCheckError(
            "training produced implausible weights (" + "; ".join(problems) + "). The training "
            "records may be too few or mostly one family; train on more records or use "
            "Model.default()."
        )
