"""Why a pair scored what it scored: comparison levels and their weights.

A scored pair carries one `gamma_<comparison>` column per comparison: the Splink comparison
vector value, i.e. which level of that comparison the pair fell into. The model (Splink settings
JSON) knows each level's label and weight. Joining the two explains the pair, and the sum of the
prior and the level weights is the pair's match weight (up to term-frequency adjustments, which
are shown as their own bar when present).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from migrant_linkage.schema import UNIQUE_ID_COLUMN

PAIR_ID_COLUMNS = (f"{UNIQUE_ID_COLUMN}_l", f"{UNIQUE_ID_COLUMN}_r")
GAMMA_PREFIX = "gamma_"

#: Columns whose values may be shown in a redacted report: they do not identify a child.
SHAREABLE_VALUE_COLUMNS = frozenset(
    {
        "state_std",
        "source_name",
        "sex_std",
        "surname_form",
        "surname_count",
        "multiple_birth_std",
        "birth_date_verified",
        "birth_date_is_default",
    }
)
REDACTED = "[redacted]"


def settings_of(model: Any) -> dict[str, Any]:
    """The Splink settings dict of a Model, a settings dict, or a model JSON file."""
    if isinstance(model, Mapping):
        return copy.deepcopy(dict(model))
    if isinstance(model, str | Path):
        return json.loads(Path(model).read_text(encoding="utf-8"))
    trained = getattr(model, "trained_settings", None)
    if callable(trained):
        return trained()
    raise TypeError(
        f"expected a Model, a Splink settings dict or a model JSON path, not {type(model).__name__}"
    )


def _splink_settings(settings: Mapping[str, Any]) -> Any:
    from splink import SettingsCreator

    # Reading a trained model, Splink re-validates it and warns about choices made at training
    # time (e.g. a comparison without a null level); here they are noise.
    validation_log = logging.getLogger("splink.internals.settings")
    level = validation_log.level
    validation_log.setLevel(logging.ERROR)
    try:
        creator = SettingsCreator.from_path_or_dict(copy.deepcopy(dict(settings)))
        return creator.get_settings("duckdb")
    finally:
        validation_log.setLevel(level)


def level_table(model: Any) -> pd.DataFrame:
    """One row per comparison level: comparison, gamma_column, gamma, level, match_weight,
    m_probability, u_probability, is_null_level, input_columns (the columns it reads)."""
    return _level_table(json.dumps(settings_of(model), sort_keys=True)).copy()


@functools.lru_cache(maxsize=8)
def _level_table(settings_json: str) -> pd.DataFrame:
    # Parsing settings with Splink takes a moment; a report asks for the same model often.
    splink_settings = _splink_settings(json.loads(settings_json))
    rows = []
    for comparison in splink_settings.comparisons:
        inputs = [ic.unquote().name for ic in comparison._input_columns_used_by_case_statement]
        for level in comparison.comparison_levels:
            null = bool(level.is_null_level)
            weight = level._log2_bayes_factor if level._bayes_factor is not None else math.nan
            rows.append(
                {
                    "comparison": comparison.output_column_name,
                    "gamma_column": comparison._gamma_column_name,
                    "gamma": int(level.comparison_vector_value),
                    "level": level.label_for_charts,
                    "match_weight": float(weight),
                    "m_probability": None if null else level.m_probability,
                    "u_probability": None if null else level.u_probability,
                    "is_null_level": null,
                    "input_columns": inputs,
                }
            )
    return pd.DataFrame(rows)


def prior_weight(model: Any) -> float:
    """log2 of the prior odds that two random records are the same child."""
    p = float(settings_of(model)["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


def _value_text(pairs: pd.DataFrame, columns: list[str], side: str, redact: bool) -> pd.Series:
    """The compared values of one side as text, ', '-joined; redacted unless shareable."""
    parts = []
    for name in columns:
        col = f"{name}_{side}"
        if col not in pairs.columns:
            continue
        if redact and name not in SHAREABLE_VALUE_COLUMNS:
            parts.append(pd.Series(REDACTED, index=pairs.index))
        else:
            parts.append(pairs[col].astype("string").fillna("(missing)"))
    if not parts:
        return pd.Series("", index=pairs.index, dtype="string")
    text = parts[0]
    for part in parts[1:]:
        text = text + ", " + part
    # Several redacted columns read as one redaction.
    return text.str.replace(f"{REDACTED}, {REDACTED}", REDACTED, regex=False) if redact else text


def pair_evidence(pairs: pd.DataFrame, model: Any, *, redact: bool = False) -> pd.DataFrame:
    """Long table, one row per (pair, comparison): record_id_l, record_id_r, comparison, level,
    match_weight, value_l, value_r. Pairs without gamma columns raise ValueError (score them
    with the engine, which keeps the comparison vector)."""
    levels = level_table(model)
    gamma_columns = [c for c in levels["gamma_column"].unique() if c in pairs.columns]
    if not gamma_columns:
        raise ValueError(
            "the pairs have no gamma_<comparison> columns, so their evidence cannot be shown; "
            "use pairs scored by migrant_linkage.engine with the same model"
        )
    frames = []
    for gamma_column in gamma_columns:
        of_comparison = levels[levels["gamma_column"] == gamma_column]
        inputs = list(of_comparison["input_columns"].iloc[0])
        part = pd.DataFrame(
            {
                PAIR_ID_COLUMNS[0]: pairs[PAIR_ID_COLUMNS[0]].to_numpy(),
                PAIR_ID_COLUMNS[1]: pairs[PAIR_ID_COLUMNS[1]].to_numpy(),
                "pair_order": range(len(pairs)),
                "gamma_column": gamma_column,
                "gamma": pd.to_numeric(pairs[gamma_column]).astype("Int64").to_numpy(),
                "value_l": _value_text(pairs, inputs, "l", redact).to_numpy(),
                "value_r": _value_text(pairs, inputs, "r", redact).to_numpy(),
            }
        )
        frames.append(part)
    long = pd.concat(frames, ignore_index=True)
    long = long.merge(
        levels[["gamma_column", "gamma", "comparison", "level", "match_weight"]],
        on=["gamma_column", "gamma"],
        how="left",
    )
    long["level"] = long["level"].fillna("(unknown level: model and pairs differ)")
    comparison_order = {c: i for i, c in enumerate(levels["gamma_column"].unique())}
    long["comparison_order"] = long["gamma_column"].map(comparison_order)
    long = long.sort_values(["pair_order", "comparison_order"], kind="stable")
    return long[
        [*PAIR_ID_COLUMNS, "comparison", "level", "match_weight", "value_l", "value_r"]
    ].reset_index(drop=True)


def waterfall_records(
    pair: Mapping[str, Any] | pd.Series,
    model: Any,
    *,
    redact: bool = False,
    prior: float = 0.0,
) -> list[dict[str, Any]]:
    """Records for Splink's waterfall chart: the prior, one bar per comparison, a bar for any
    remainder (term-frequency adjustments) and the final score.

    `prior` is the starting weight. The engine scores at even prior odds (see zones.py), so its
    match_weight is the evidence alone and the prior is 0; pass prior_weight(model) for pairs
    scored by Splink with the model's own prior."""
    row = pd.DataFrame([dict(pair)])
    evidence = pair_evidence(row, model, redact=redact)
    records: list[dict[str, Any]] = [
        _bar("Prior match weight", "Starting match weight (prior odds)", prior, "", "")
    ]
    for item in evidence.to_dict("records"):  # one row per comparison, not per record
        records.append(
            _bar(
                item["comparison"],
                item["level"],
                item["match_weight"],
                item["value_l"],
                item["value_r"],
            )
        )
    explained = prior + float(evidence["match_weight"].fillna(0).sum())
    final = row["match_weight"].iloc[0] if "match_weight" in row.columns else explained
    final = float(final)
    if abs(final - explained) > 1e-6:
        records.append(
            _bar("adjustments", "Term-frequency and other adjustments", final - explained, "", "")
        )
    records.append(_bar("Final score", "Final score", final, "", ""))
    for i, record in enumerate(records):
        record["bar_sort_order"] = i
        record["record_number"] = 0
    return records


def waterfall_records_from_explanation(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Records for Splink's waterfall chart from engine.explain's table (one row per comparison:
    comparison, level, match_weight; then a TOTAL row)."""
    missing = {"comparison", "level", "match_weight"} - set(table.columns)
    if missing:
        raise ValueError(f"expected engine.explain's table; missing columns {sorted(missing)}")
    is_total = table["comparison"].astype(str).str.upper() == "TOTAL"
    rows = table[~is_total]
    records = [_bar("Prior match weight", "Starting match weight (prior odds)", 0.0, "", "")]
    records += [
        _bar(str(c), str(lv), float(w), "", "")
        for c, lv, w in zip(rows["comparison"], rows["level"], rows["match_weight"], strict=True)
    ]
    total = (
        float(table.loc[is_total, "match_weight"].iloc[0])
        if is_total.any()
        else float(rows["match_weight"].sum())
    )
    explained = float(rows["match_weight"].fillna(0).sum())
    if abs(total - explained) > 1e-6:
        records.append(_bar("adjustments", "Other adjustments", total - explained, "", ""))
    records.append(_bar("Final score", "Final score", total, "", ""))
    for i, record in enumerate(records):
        record["bar_sort_order"] = i
        record["record_number"] = 0
    return records


def _bar(column: str, label: str, weight: float, value_l: str, value_r: str) -> dict[str, Any]:
    weight = 0.0 if weight is None or (isinstance(weight, float) and math.isnan(weight)) else weight
    return {
        "column_name": column,
        "label_for_charts": label,
        "sql_condition": None,
        "log2_bayes_factor": round(float(weight), 4),
        "bayes_factor": 2.0 ** float(weight),
        "comparison_vector_value": None,
        "m_probability": None,
        "u_probability": None,
        "bayes_factor_description": None,
        "value_l": value_l,
        "value_r": value_r,
        "term_frequency_adjustment": None,
    }
