"""Score one query's candidate pairs with a model's comparison levels, without Splink's
per-call pipeline.

Why: Splink's `score_pairs` SQL for our model is about 29 KB (six CTEs, each passing on some
hundred columns); DuckDB binds and optimizes it on every call, about 40 ms, against 4.5 ms of
running it on a search's ~150 pairs. A search needs much less: each comparison's gamma, its
weight and the routing. `CompactScorer` takes, once per linker, Splink's own rendering and
numbers of the model:

* the gammas: each comparison's CASE over its levels' `sql_condition`s, in order, first match
  wins (`Comparison._case_statement`, the text Splink's predict SQL holds), run as one short
  statement over the pairs (a level may read any column, raw or standardized, as <name>_l/_r);
* the weights, in numpy: each level's log2 Bayes factor (`ComparisonLevel._match_weight`) and,
  for a term-frequency level, Splink's adjustment `tf_adjustment_weight * (log2 u(exact level)
  - log2 max(tf_l, tf_r, tf_minimum_u_value))` (as `_tf_adjustment_sql` writes it), summed in
  predict's order from the prior; match_probability by predict's formula;
* then the caller routes them (zones.Routing's SQL over the scored pairs).

So a pair gets the same levels, weights and zone as through Splink (tests/test_search_scoring.py
compares both over every candidate pair of many queries). The pairs come in as one Arrow table:
the query's values repeated beside each candidate's (`pairs_table`), columns named as Splink
names them (`x_l` the query, `x_r` the candidate), so nothing is written to a table per query.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

#: The name the pairs table is registered under in the scoring session.
PAIRS_TABLE = "ml_search_pairs"
#: The prepared statement computing the gammas over PAIRS_TABLE.
GAMMAS_STATEMENT = "ml_search_gammas"


class CompactScorer:
    """A linker's comparisons and prior, ready to score pairs: the gamma SQL rendered once,
    each level's weight and term-frequency adjustment kept as numbers. Built from a Splink
    linker (no work per query but `score`)."""

    def __init__(self, linker: Any):
        from splink.internals.misc import prob_to_match_weight

        settings = linker._settings_obj
        self._comparisons: list[_Comparison] = []
        for c in settings.comparisons:
            levels = c.comparison_levels
            weights = {lv.comparison_vector_value: lv._match_weight for lv in levels}
            if any(w is None for w in weights.values()):
                raise ValueError(f"comparison {c.output_column_name}: a level has no m or u")
            adjustments = {
                lv.comparison_vector_value: _tf_adjustment(lv, levels)
                for lv in levels
                if _adjusts(lv)
            }
            self._comparisons.append(
                _Comparison(
                    gamma=c._gamma_column_name,
                    weight_column=c._mw_column_name,
                    adjustment_column=c._mw_tf_adj_column_name if c._has_tf_adjustments else None,
                    weights=weights,
                    adjustments=adjustments,
                )
            )
        self._prior = float(
            prob_to_match_weight(settings.core_model_settings.probability_two_random_records_match)
        )
        cases = ",\n".join(c._case_statement for c in settings.comparisons)
        self.gamma_sql = f"SELECT {cases} FROM {PAIRS_TABLE}"
        self._prepared_in: Any = None

    def score(self, session: Any, pairs: pa.Table) -> pa.Table:
        """`pairs` (see pairs_table) with each comparison's gamma_, mw_ and (term-frequency
        comparisons) mw_tf_adj_ columns, match_weight and match_probability, as Splink's
        predict gives them. The gammas are computed in `session` (a DuckDB connection used by
        one caller at a time), the rest here."""
        session.register(PAIRS_TABLE, pairs)
        try:
            gammas = session.sql(f"EXECUTE {self.prepare(session)}").to_arrow_table()
        finally:
            session.unregister(PAIRS_TABLE)
        total = np.full(pairs.num_rows, self._prior)
        for c in self._comparisons:
            gamma = gammas.column(c.gamma).to_numpy(zero_copy_only=False).astype(np.int64)
            weight = _lookup(gamma, c.weights)
            pairs = pairs.append_column(c.gamma, pa.array(gamma, pa.int32()))
            pairs = pairs.append_column(c.weight_column, pa.array(weight))
            total = total + weight  # in Splink's order: prior, then each mw_ and mw_tf_adj_
            if c.adjustment_column is not None:
                adjustment = np.zeros(pairs.num_rows)
                for value, (tf_l, tf_r, weight_tf, log2_u, minimum) in c.adjustments.items():
                    at = gamma == value
                    if not at.any():
                        continue
                    left = _floats(pairs, tf_l)[at]
                    right = _floats(pairs, tf_r)[at]
                    a = np.where(np.isnan(left), right, left)  # coalesce(tf_l, tf_r)
                    b = np.where(np.isnan(right), left, right)  # coalesce(tf_r, tf_l)
                    with np.errstate(divide="ignore"):
                        part = weight_tf * (log2_u - np.log2(np.maximum(np.maximum(a, b), minimum)))
                    adjustment[at] = np.where(np.isnan(a), 0.0, part)
                pairs = pairs.append_column(c.adjustment_column, pa.array(adjustment))
                total = total + adjustment
        with np.errstate(over="ignore"):
            probability = np.where(
                total >= 0,
                1.0 / (1.0 + np.power(2.0, -total)),
                np.power(2.0, total) / (1.0 + np.power(2.0, total)),
            )
        pairs = pairs.append_column("match_weight", pa.array(total))
        return pairs.append_column("match_probability", pa.array(probability))

    def prepare(self, session: Any) -> str:
        """The gamma statement prepared in `session` (once per connection; PAIRS_TABLE must be
        registered): DuckDB binds it again at each EXECUTE, against the pairs then registered,
        but does not parse its ~18 KB again, which saves about a third of its cost."""
        if self._prepared_in is not session:
            session.execute(f"PREPARE {GAMMAS_STATEMENT} AS {self.gamma_sql}")
            self._prepared_in = session
        return GAMMAS_STATEMENT


@dataclass(frozen=True)
class _Comparison:
    gamma: str
    weight_column: str
    adjustment_column: str | None
    weights: dict[int, float]  # gamma -> log2 Bayes factor (0 for the null level)
    #: gamma -> (tf column _l, tf column _r, tf_adjustment_weight, log2 u of the exact level,
    #: tf_minimum_u_value) for each level Splink adjusts
    adjustments: dict[int, tuple[str, str, float, float, float]]


def _adjusts(level: Any) -> bool:
    """Splink's test for a level whose weight it adjusts by term frequency."""
    return not (
        level.comparison_vector_value == -1
        or not level._has_tf_adjustments
        or level._tf_adjustment_weight == 0
        or level._is_else_level
    )


def _tf_adjustment(level: Any, levels: Sequence[Any]) -> tuple[str, str, float, float, float]:
    column = level._tf_adjustment_input_column
    u_exact = level._u_probability_corresponding_to_exact_match(list(levels))
    return (
        column.tf_name_l.strip('"'),
        column.tf_name_r.strip('"'),
        float(level._tf_adjustment_weight),
        math.log2(u_exact),
        float(level._tf_minimum_u_value),
    )


def _lookup(gamma: np.ndarray, weights: Mapping[int, float]) -> np.ndarray:
    out = np.full(gamma.shape, np.nan)
    for value, weight in weights.items():
        out[gamma == value] = weight
    return out


def _floats(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy().astype(np.float64)  # nulls become NaN


def pairs_table(
    query: Mapping[str, Any],
    candidates: pa.Table,
    columns: Sequence[str],
    id_column: str,
) -> pa.Table:
    """The query beside each candidate: `id_column` and each of `columns` as <name>_l (the
    query's value, repeated, in the candidate column's type) and <name>_r (the candidate's), in
    Splink's naming. `query` maps column names to values (a missing one is null)."""
    n = candidates.num_rows
    arrays: list[pa.Array] = []
    names: list[str] = []
    for column in (id_column, *columns):
        kind = candidates.schema.field(column).type
        arrays.append(_repeated(query.get(column), kind, n))
        names.append(f"{column}_l")
        arrays.append(candidates.column(column).combine_chunks())
        names.append(f"{column}_r")
    return pa.Table.from_arrays(arrays, names=names)


def _repeated(value: Any, kind: pa.DataType, n: int) -> pa.Array:
    """`value` n times as an array of `kind` (a text value of another type is cast, as the
    scoring session's CAST(? AS type) did)."""
    if value is None:
        return pa.nulls(n, kind)
    try:
        one = pa.array([value], kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        one = pa.array([value]).cast(kind)
    return pa.repeat(one[0], n)
