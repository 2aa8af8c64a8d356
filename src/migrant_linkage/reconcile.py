"""Migrant-flag reconciliation: the state migrant database against the state student record
system (SIS) of the same state, by State Student ID first and the comparison model where the
IDs are missing or disagree (seed guide §2.2.1-2.2.2).

    from migrant_linkage.reconcile import reconcile
    result = reconcile("mep.csv", "sis.csv", out_dir="reconcile-out")
    result.records      # one row per input record of either system, with its category
    result.summary      # counts per category, system and district

How a record gets its category (docs/reconcile.md):

1. Both systems are standardized (a record that cannot be is REJECTED) and scored together with
   the ordinary blocking rules plus one on the State ID, so every pair sharing an ID is scored.
2. A pair sharing a State ID is the same child unless the evidence *other than the ID* is below
   the strong-disagreement weight (the weight that splits a proposed student): then it is
   ID_REUSED, one ID on two children.
3. A record with no same-ID partner is linked by the model: a match-zone pair is the same
   child, a near-match pair a POSSIBLE_MATCH for a person to decide.
4. A linked pair whose two State IDs both exist and differ is TWO_IDS; any other linked pair is
   categorised by the two migrant flags (FLAGGED_IN_BOTH, FLAGGED_MIGRANT_ONLY, ...).
5. A record takes the first category of `Category` among its pairs; a record with no pair is
   MIGRANT_SYSTEM_ONLY, or STATE_SYSTEM_ONLY_FLAGGED / _NOT_FLAGGED by its flag.

So every input record appears in exactly one category; `summary["counts_reconcile"]` checks it.
In the migrant system a record without a migrant flag counts as flagged (the database lists
migrant children); in the state system it counts as not flagged.

Logs and messages name record ids and counts only (FERPA); the lists hold names and birth dates
and are written owner-only (0600), like every table the package writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migrant_linkage.db import load_frame, make_db_api
from migrant_linkage.enrolment import flagged, standardize_enrolment
from migrant_linkage.io import write_table, write_text_atomic
from migrant_linkage.levels import ModelLevels
from migrant_linkage.model import Model, quiet_splink
from migrant_linkage.pipeline import scoring
from migrant_linkage.pipeline.clusters import PAIRS_TABLE
from migrant_linkage.pipeline.run import route_pairs
from migrant_linkage.schema import (
    ENROLMENT_STANDARDIZED_COLUMNS,
    INPUT_COLUMNS,
    STANDARDIZED_COLUMNS,
    UNIQUE_ID_COLUMN,
)
from migrant_linkage.standardize import standardize
from migrant_linkage.zones import MATCH_ZONE, NEAR_MATCH_ZONE, Routing, Thresholds

__all__ = ["INCONSISTENT", "NO_DISTRICT", "Category", "Reconciliation", "reconcile"]

logger = logging.getLogger(__name__)

MIGRANT_SYSTEM = "migrant"
STATE_SYSTEM = "state"
#: Internal record keys are "<system letter>|<record_id>", so the two systems may use the same
#: record ids, and a migrant key sorts before every state key (pairs come out migrant-left).
_PREFIX = {MIGRANT_SYSTEM: "M|", STATE_SYSTEM: "S|"}
#: Name of the comparison holding the ID evidence (comparisons.py), subtracted for step 2.
ID_COMPARISON = "state_student_id"
NO_DISTRICT = "(no district)"


class Category(StrEnum):
    """Reconciliation categories, in priority order: a record with several pairs takes the
    first that applies. REJECTED records never reach the pairs."""

    ID_REUSED = "ID_REUSED"  # same State ID, clearly a different child
    TWO_IDS = "TWO_IDS"  # same child, a different State ID in each system
    FLAGGED_IN_BOTH = "FLAGGED_IN_BOTH"
    FLAGGED_MIGRANT_ONLY = "FLAGGED_MIGRANT_ONLY"  # in both; migrant flag off in the SIS
    FLAGGED_STATE_ONLY = "FLAGGED_STATE_ONLY"  # in both; the migrant system marks it N
    FLAGGED_IN_NEITHER = "FLAGGED_IN_NEITHER"  # in both; neither flags it (no longer migrant)
    POSSIBLE_MATCH = "POSSIBLE_MATCH"  # only a near match in the other system: a person decides
    MIGRANT_SYSTEM_ONLY = "MIGRANT_SYSTEM_ONLY"  # not found in the state system
    STATE_SYSTEM_ONLY_FLAGGED = "STATE_SYSTEM_ONLY_FLAGGED"  # flagged, unknown to the MEP
    STATE_SYSTEM_ONLY_NOT_FLAGGED = "STATE_SYSTEM_ONLY_NOT_FLAGGED"  # an ordinary student
    REJECTED = "REJECTED"  # could not be standardized (see rejects.csv for the reason)


#: The categories that are an inconsistency to correct (the rest agree).
INCONSISTENT: tuple[Category, ...] = (
    Category.ID_REUSED,
    Category.TWO_IDS,
    Category.FLAGGED_MIGRANT_ONLY,
    Category.FLAGGED_STATE_ONLY,
    Category.POSSIBLE_MATCH,
    Category.MIGRANT_SYSTEM_ONLY,
    Category.STATE_SYSTEM_ONLY_FLAGGED,
)

#: Columns of the record lists, beside system, record_id and category.
LIST_COLUMNS: tuple[str, ...] = (
    "source_row",
    "district_id_std",
    "school_id_std",
    "state_student_id_std",
    "migrant_flag_std",
    "flagged",
    "first_name",
    "middle_name",
    "last_name_1",
    "last_name_2",
    "birth_date_std",
    "enrollment_date_std",
    "enrollment_end_date_std",
    "active_std",
    "enrolment_flags",
)


class ReconcileInternalError(RuntimeError):
    """A bug: a record was lost or counted twice. Never caused by bad input."""


@dataclass
class Reconciliation:
    """What `reconcile` found. `records`: every input record of both systems, one row each,
    with `category` and its deciding partner; `pairs`: the linked, reused and possible pairs;
    `by_district`: records per district, category and system; `summary`: the counts."""

    records: pd.DataFrame
    pairs: pd.DataFrame
    by_district: pd.DataFrame
    rejects: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> Path:
        """records.csv, one <category>.csv per category (lower case), pairs.csv,
        by_district.csv, rejects.csv, then summary.json (the marker of a finished run)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").unlink(missing_ok=True)
        write_table(self.records, out / "records.csv")
        for category in Category:
            rows = self.records[self.records["category"] == category.value]
            write_table(rows, out / f"{category.value.lower()}.csv")
        write_table(self.pairs, out / "pairs.csv")
        write_table(self.by_district, out / "by_district.csv")
        write_table(self.rejects, out / "rejects.csv")
        write_text_atomic(out / "summary.json", json.dumps(self.summary, indent=2, default=str))
        return out


def _standardized(
    source: Any,
    system: str,
    column_map: Mapping[str, str] | None,
    date_format: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    result = standardize(source, column_map=column_map, date_format=date_format, source_name=system)
    records = standardize_enrolment(result.standardized, date_format=date_format)
    records.insert(0, "system", system)
    records.insert(1, "system_record_id", records[UNIQUE_ID_COLUMN].astype(str))
    records[UNIQUE_ID_COLUMN] = _PREFIX[system] + records["system_record_id"]
    records[scoring.LINK_SIDE] = 0 if system == MIGRANT_SYSTEM else 1
    records["flagged"] = flagged(
        records["migrant_flag_std"], migrant_system=system == MIGRANT_SYSTEM
    )
    rejects = result.rejects.assign(system=system, source_name=system)
    return records, rejects, result.counts["records_in"]


def _column_types() -> dict[str, str]:
    """SQL types of the standardized and enrolment columns; raw input columns stay text."""
    types = {c.name: c.sql_type for c in (*STANDARDIZED_COLUMNS, *ENROLMENT_STANDARDIZED_COLUMNS)}
    return {**types, **dict.fromkeys(INPUT_COLUMNS, "VARCHAR")}


def _id_weight_sql(settings: Mapping[str, Any]) -> str:
    """SQL for the weight the ID comparison gave a pair (0 when the model has none)."""
    levels = ModelLevels(settings)
    cases = []
    for comparison in settings.get("comparisons", []):
        if comparison["output_column_name"] != ID_COMPARISON:
            continue
        raw_levels = comparison["comparison_levels"]
        for level, raw in zip(levels.levels(ID_COMPARISON), raw_levels, strict=True):
            m, u = raw.get("m_probability"), raw.get("u_probability")
            if not level.is_null and m and u:
                cases.append(f"WHEN {level.gamma} THEN {float(np.log2(m / u))!r}")
    if not cases:
        return "0.0"
    return f"CASE gamma_{ID_COMPARISON} {' '.join(cases)} ELSE 0.0 END"


def _score(records: pd.DataFrame, model: Model, thresholds: Thresholds) -> pd.DataFrame:
    """Every candidate pair across the two systems, with zone and the weight without the ID:
    the shipped blocking rules, plus one that pairs every two records sharing a State ID."""
    quiet_splink()
    db_api, con = make_db_api()
    try:
        frame = records.drop(columns=["flagged"])
        load_frame(con, scoring.RECORDS_TABLE, frame, _column_types())
        side = f"l.{scoring.LINK_SIDE} <> r.{scoring.LINK_SIDE}"
        rules = [
            *scoring.rules_for("link_only"),
            f"l.state_student_id_std = r.state_student_id_std AND {side}",
        ]
        settings = scoring.scoring_settings(model, rules)
        levels = ModelLevels(settings)
        scoring.add_frequency_columns(con, scoring.RECORDS_TABLE, levels.term_frequency_columns())
        linker = scoring.scoring_linker(con, db_api, settings, scoring.RECORDS_TABLE)
        scoring.block(con, db_api, linker, rules, scoring.RECORDS_TABLE)
        predictions = scoring.predict(linker)
        routing = Routing(levels, thresholds, population=len(records))
        route_pairs(con, routing, predictions.physical_name)
        id_weight = _id_weight_sql(settings)
        return con.execute(
            f"SELECT record_id_l, record_id_r, match_weight, zone, "
            f"match_weight - ({id_weight}) AS weight_without_id FROM {PAIRS_TABLE}"
        ).df()
    finally:
        con.close()


def _classify_pairs(
    pairs: pd.DataFrame, records: pd.DataFrame, thresholds: Thresholds
) -> pd.DataFrame:
    """The pairs that decide categories (steps 2-4 of the module docstring), each with its
    category. Columns: migrant_key, state_key, category, matched_by, match_weight,
    weight_without_id."""
    by_key = records.set_index(UNIQUE_ID_COLUMN)
    pairs = pairs.rename(columns={"record_id_l": "migrant_key", "record_id_r": "state_key"})
    ids_m = by_key["state_student_id_std"].reindex(pairs["migrant_key"]).to_numpy()
    ids_s = by_key["state_student_id_std"].reindex(pairs["state_key"]).to_numpy()
    both_ids = pd.notna(ids_m) & pd.notna(ids_s)
    same_id = both_ids & (ids_m == ids_s)
    reused = same_id & (pairs["weight_without_id"] < thresholds.strong_disagreement_weight)
    confirmed = same_id & ~reused
    confirmed_keys = set(pairs.loc[confirmed, "migrant_key"]) | set(
        pairs.loc[confirmed, "state_key"]
    )
    free = ~pairs["migrant_key"].isin(confirmed_keys) & ~pairs["state_key"].isin(confirmed_keys)
    model_match = ~same_id & free & (pairs["zone"] == MATCH_ZONE)
    possible = ~same_id & free & (pairs["zone"] == NEAR_MATCH_ZONE)
    linked = confirmed | model_match

    flag_m = by_key["flagged"].reindex(pairs["migrant_key"]).to_numpy(dtype=bool)
    flag_s = by_key["flagged"].reindex(pairs["state_key"]).to_numpy(dtype=bool)
    by_flag = np.select(
        [flag_m & flag_s, flag_m & ~flag_s, ~flag_m & flag_s],
        [Category.FLAGGED_IN_BOTH, Category.FLAGGED_MIGRANT_ONLY, Category.FLAGGED_STATE_ONLY],
        Category.FLAGGED_IN_NEITHER.value,
    )
    category = np.select(
        [reused, linked & both_ids & ~same_id, linked, possible],
        [Category.ID_REUSED, Category.TWO_IDS, by_flag, Category.POSSIBLE_MATCH],
        "",
    )
    out = pairs.assign(
        category=category,
        matched_by=np.where(same_id, "state_student_id", "model"),
    )
    return out.loc[
        out["category"] != "",
        ["migrant_key", "state_key", "category", "matched_by", "match_weight", "weight_without_id"],
    ].reset_index(drop=True)


def _assign(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Each record's category: the first (in Category order) among its pairs, else the
    category of a record found in one system only. Also the partner of the deciding pair."""
    rank = {c.value: i for i, c in enumerate(Category)}
    sides = []
    for own, other in (("migrant_key", "state_key"), ("state_key", "migrant_key")):
        side = pairs[[own, other, "category", "matched_by", "match_weight"]].rename(
            columns={own: "key", other: "partner_key"}
        )
        sides.append(side)
    ends = pd.concat(sides, ignore_index=True)
    ends["rank"] = ends["category"].map(rank)
    ends = ends.sort_values(["key", "rank", "match_weight"], ascending=[True, True, False])
    deciding = ends.drop_duplicates("key").set_index("key")

    out = records.copy()
    key = out[UNIQUE_ID_COLUMN]
    alone = np.select(
        [out["system"] == MIGRANT_SYSTEM, out["flagged"]],
        [Category.MIGRANT_SYSTEM_ONLY, Category.STATE_SYSTEM_ONLY_FLAGGED],
        Category.STATE_SYSTEM_ONLY_NOT_FLAGGED.value,
    )
    out["category"] = (
        deciding["category"].reindex(key).fillna(pd.Series(alone, index=key)).to_numpy()
    )
    partner = deciding["partner_key"].reindex(key).to_numpy()
    out["partner_record_id"] = pd.Series(partner, dtype=object).str[2:].to_numpy()
    out["matched_by"] = deciding["matched_by"].reindex(key).to_numpy()
    out["match_weight"] = deciding["match_weight"].reindex(key).to_numpy()
    return out


def _record_list(records: pd.DataFrame, rejects: pd.DataFrame) -> pd.DataFrame:
    """One row per input record: the standardized ones with their category, then the rejects."""
    kept = records[
        [
            "system",
            "system_record_id",
            "category",
            "partner_record_id",
            "matched_by",
            "match_weight",
            *LIST_COLUMNS,
        ]
    ].rename(columns={"system_record_id": "record_id"})
    rejected = pd.DataFrame(
        {
            "system": rejects["system"].to_numpy(),
            "record_id": rejects["record_id"].to_numpy(),
            "category": Category.REJECTED.value,
            "source_row": rejects["source_row"].to_numpy(),
        }
    )
    return (
        pd.concat([kept, rejected], ignore_index=True)
        .sort_values(["system", "source_row"], kind="stable")
        .reset_index(drop=True)
    )


def _by_district(listed: pd.DataFrame) -> pd.DataFrame:
    district = listed["district_id_std"].fillna(NO_DISTRICT)
    counts = (
        listed.assign(district_id=district)
        .pivot_table(
            index=["district_id", "category"],
            columns="system",
            values="source_row",
            aggfunc="count",
            fill_value=0,
        )
        .reset_index()
    )
    for system in (MIGRANT_SYSTEM, STATE_SYSTEM):
        if system not in counts.columns:
            counts[system] = 0
    counts.columns.name = None
    return counts.rename(
        columns={MIGRANT_SYSTEM: "migrant_system_records", STATE_SYSTEM: "state_system_records"}
    )[["district_id", "category", "migrant_system_records", "state_system_records"]]


def _summary(listed: pd.DataFrame, records: pd.DataFrame, records_in: dict[str, int]) -> dict:
    per_system: dict[str, dict[str, Any]] = {}
    for system in (MIGRANT_SYSTEM, STATE_SYSTEM):
        rows = listed[listed["system"] == system]
        counts = rows["category"].value_counts()
        per_system[system] = {
            "records_in": records_in[system],
            "flagged_migrant": int(records.loc[records["system"] == system, "flagged"].sum()),
            "categories": {c.value: int(counts.get(c.value, 0)) for c in Category},
        }
    reconciled = all(
        sum(s["categories"].values()) == s["records_in"] == int((listed["system"] == name).sum())
        for name, s in per_system.items()
    )
    flagged = records[records["flagged"]]
    districts = {}
    for district, rows in flagged.groupby(flagged["district_id_std"].fillna(NO_DISTRICT)):
        districts[str(district)] = {
            f"flagged_in_{system}_system": int((rows["system"] == system).sum())
            for system in (MIGRANT_SYSTEM, STATE_SYSTEM)
        }
    return {
        "job": "reconcile",
        "systems": per_system,
        "inconsistent_categories": [c.value for c in INCONSISTENT],
        "flagged_migrant_by_district": districts,
        "counts_reconcile": reconciled,
    }


def reconcile(
    migrant: Any,
    state: Any,
    *,
    migrant_column_map: Mapping[str, str] | None = None,
    state_column_map: Mapping[str, str] | None = None,
    date_format: str | None = None,
    model: Model | str | Path | None = None,
    thresholds: Thresholds | None = None,
    out_dir: str | Path | None = None,
) -> Reconciliation:
    """Reconcile a state's migrant database (`migrant`) with its student record system
    (`state`): anything `standardize` reads (a DataFrame, a CSV/Parquet path, ...), with the
    record contract's columns and the optional enrolment columns (migrant_flag, district_id,
    school_id, enrollment_end_date, active_status). `model`: a Model or model JSON (default: the
    shipped model; the two systems of one state are too alike to train on). With `out_dir`,
    the lists are written there (see Reconciliation.write)."""
    chosen = Model.load(model) if isinstance(model, str | Path) else (model or Model.default())
    thresholds = (thresholds or Thresholds()).given_prior(chosen.prior_weight())
    mep, mep_rejects, mep_in = _standardized(
        migrant, MIGRANT_SYSTEM, migrant_column_map, date_format
    )
    sis, sis_rejects, sis_in = _standardized(state, STATE_SYSTEM, state_column_map, date_format)
    records = pd.concat([mep, sis], ignore_index=True)
    rejects = pd.concat([mep_rejects, sis_rejects], ignore_index=True)
    logger.info(
        "reconcile: %d migrant and %d state records standardized, %d rejected",
        len(mep),
        len(sis),
        len(rejects),
    )
    if len(mep) and len(sis):
        scored = _score(records, chosen, thresholds)
    else:
        scored = pd.DataFrame(
            columns=["record_id_l", "record_id_r", "match_weight", "zone", "weight_without_id"]
        )
    pairs = _classify_pairs(scored, records, thresholds)
    records = _assign(records, pairs)
    listed = _record_list(records, rejects)
    summary = _summary(listed, records, {MIGRANT_SYSTEM: mep_in, STATE_SYSTEM: sis_in})
    if not summary["counts_reconcile"]:
        raise ReconcileInternalError(
            "reconcile: the categories do not add up to the records in; please report this bug"
        )
    pair_list = pairs.assign(
        migrant_record_id=pairs["migrant_key"].str[2:], state_record_id=pairs["state_key"].str[2:]
    )[
        [
            "migrant_record_id",
            "state_record_id",
            "category",
            "matched_by",
            "match_weight",
            "weight_without_id",
        ]
    ]
    result = Reconciliation(
        records=listed,
        pairs=pair_list,
        by_district=_by_district(listed),
        rejects=rejects[["system", "source_row", "record_id", "reason", "message"]],
        summary=summary,
    )
    if out_dir is not None:
        result.write(out_dir)
    return result
