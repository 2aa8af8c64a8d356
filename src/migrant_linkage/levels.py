"""A model's comparison levels by label: the one map between gamma values and level labels.

Splink stores, for each scored pair, `gamma_<comparison>`: the number of the level the pair
reached (the null level -1, the others counting down to 0 in the order they are listed). Rules
about pairs (the guards, the zones' reasons, the evidence shown to a reviewer) are written with
the level's *short label* (`exact`, `transposed`, `second_differs`: the text before the colon
of `label_for_charts`), and rendered for a given model by this module. So the plain model, the
encoded model and a user's model are read alike, and a label a model does not have simply drops
out of a rule (`gamma_in` of labels none of which exist is FALSE).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from migrant_linkage.db import quote_literal

__all__ = ["Level", "ModelLevels", "frequency_column", "gamma_value", "short_label"]


def short_label(level: Mapping[str, Any]) -> str:
    """A level's short label: the text of `label_for_charts` before its first colon."""
    return str(level.get("label_for_charts") or "").split(":", 1)[0].strip()


@dataclass(frozen=True)
class Level:
    comparison: str
    gamma: int
    label: str  # short label
    description: str  # the full label_for_charts (or the level's SQL when it has none)
    is_null: bool
    u_probability: float | None  # None for the null level or an untrained model
    tf_column: str | None  # the term-frequency adjusted column, if any


def frequency_column(column: str) -> str:
    """The per-record column holding the share of records with this record's value of
    `column` (the namesake check reads it, see zones.Routing)."""
    return f"ml_freq_{column}"


def _probability(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and 0 < value <= 1 else None


class ModelLevels:
    """The levels of every comparison of one model's settings (a Splink settings dict)."""

    def __init__(self, settings: Mapping[str, Any]):
        self._levels: dict[str, tuple[Level, ...]] = {}
        for comparison in settings.get("comparisons", []):
            name = comparison["output_column_name"]
            raw = comparison["comparison_levels"]
            counter = sum(1 for lv in raw if not lv.get("is_null_level")) - 1
            levels = []
            for level in raw:
                is_null = bool(level.get("is_null_level"))
                gamma = -1 if is_null else counter
                if not is_null:
                    counter -= 1
                levels.append(
                    Level(
                        comparison=name,
                        gamma=gamma,
                        label=short_label(level),
                        description=str(
                            level.get("label_for_charts") or level.get("sql_condition", "")
                        ),
                        is_null=is_null,
                        u_probability=_probability(level.get("u_probability")),
                        tf_column=level.get("tf_adjustment_column") or None,
                    )
                )
            self._levels[name] = tuple(levels)

    @classmethod
    def of_model(cls, model: Any) -> ModelLevels:
        """The levels of a migrant_linkage.model.Model (trained or not)."""
        return cls(model.settings or {})

    @classmethod
    def of_comparisons(cls, comparisons: Sequence[Any]) -> ModelLevels:
        """The levels of Splink comparison creators (untrained)."""
        return cls({"comparisons": [c.get_comparison("duckdb").as_dict() for c in comparisons]})

    # ------------------------------------------------------------------ lookups
    @property
    def names(self) -> list[str]:
        """The comparison names, in the model's order."""
        return list(self._levels)

    def levels(self, name: str) -> tuple[Level, ...]:
        return self._levels.get(name, ())

    def gamma(self, name: str, label: str) -> int | None:
        """The gamma value of level `label` of comparison `name`, None if the model lacks it."""
        return next((lv.gamma for lv in self.levels(name) if lv.label == label), None)

    def descriptions(self, name: str) -> dict[int, str]:
        """{gamma: full level label} of one comparison."""
        return {lv.gamma: lv.description for lv in self.levels(name)}

    def level_of(self, name: str, gamma: int) -> Level | None:
        return next((lv for lv in self.levels(name) if lv.gamma == gamma), None)

    # ------------------------------------------------------------------ SQL
    def _values(self, name: str, labels: Iterable[str]) -> list[int]:
        found = [self.gamma(name, label) for label in labels]
        return [g for g in found if g is not None]

    def gamma_in(self, name: str, labels: Iterable[str]) -> str:
        """SQL: the pair reached one of these levels. FALSE when the model has none of them."""
        values = self._values(name, labels)
        if not values:
            return "FALSE"
        return f"gamma_{name} IN ({', '.join(map(str, values))})"

    def gamma_not_in(self, name: str, labels: Iterable[str]) -> str:
        """SQL: the pair reached none of these levels. TRUE when the model has none of them
        (or no such comparison)."""
        values = self._values(name, labels)
        if not values:
            return "TRUE"
        return f"gamma_{name} NOT IN ({', '.join(map(str, values))})"

    def label_columns_sql(self) -> list[str]:
        """`<comparison>_level` columns: the full label of each pair's level."""
        return [
            f"CASE gamma_{name} "
            + " ".join(f"WHEN {lv.gamma} THEN {quote_literal(lv.description)}" for lv in levels)
            + f" END AS {name}_level"
            for name, levels in self._levels.items()
        ]

    def gamma_columns(self) -> list[str]:
        return [f"gamma_{name}" for name in self._levels]

    def term_frequency_columns(self) -> list[str]:
        """The columns some level adjusts by term frequency, sorted."""
        return sorted({lv.tf_column for lvs in self._levels.values() for lv in lvs if lv.tf_column})

    def chance_log2_sql(self) -> str:
        """SQL: log2 of the chance that two unrelated records show this pair's levels: the sum
        over comparisons of log2 u of the level reached, where a term-frequency adjusted level
        counts the frequency of the shared value (`frequency_column(tf column)` + `_l`, which
        pipeline.scoring.add_frequency_columns computes once per record) instead.
        The null level counts 0 (no evidence)."""
        terms = []
        for name, levels in self._levels.items():
            whens = []
            for lv in levels:
                if lv.is_null:
                    continue
                if lv.tf_column:
                    freq = f"{frequency_column(lv.tf_column)}_l"
                    fallback = math.log2(lv.u_probability) if lv.u_probability else 0.0
                    term = f"coalesce(log2(greatest({freq}, 1e-300)), {fallback!r})"
                elif lv.u_probability:
                    term = repr(math.log2(lv.u_probability))
                else:
                    continue
                whens.append(f"WHEN {lv.gamma} THEN {term}")
            if whens:
                terms.append(f"(CASE gamma_{name} {' '.join(whens)} ELSE 0.0 END)")
        return " + ".join(terms) or "0.0"


@lru_cache(maxsize=1)
def _shipped_levels() -> ModelLevels:
    from migrant_linkage.comparisons import migrant_comparisons

    return ModelLevels.of_comparisons(migrant_comparisons(term_frequency=False))


def gamma_value(name: str, label: str) -> int:
    """The gamma value Splink gives level `label` of the shipped comparison `name`
    (comparisons.migrant_comparisons): the null level -1, the others counting down to 0."""
    levels = _shipped_levels()
    gamma = levels.gamma(name, label)
    if gamma is None:
        raise ValueError(
            f"Comparison {name!r} has no level {label!r}; "
            f"its levels are {', '.join(lv.label for lv in levels.levels(name))}"
        )
    return gamma
