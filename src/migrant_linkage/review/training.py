"""Reviewed decisions feed training: re-estimate the model from the pairs people labelled."""

from __future__ import annotations

from typing import Any

from migrant_linkage.review.store import ReviewError


def retrain_from_decisions(index: Any, *, seed: int = 42):
    """A new Model whose m-probabilities come from the pairs reviewers decided (the latest
    match / not-a-match per pair, both records still active), and whose u-probabilities and
    prior come from the index's records. The index's model is not changed; store the result
    with `index.set_model(model, reviewer=...)` if it is better."""
    from migrant_linkage.model import Model

    with index._read() as con:
        labels = con.execute(
            """WITH latest AS (
                   SELECT record_key_l, record_key_r, arg_max(decision, decision_id) AS decision
                   FROM decisions WHERE decision IN ('match', 'not_a_match') GROUP BY 1, 2)
               SELECT l.record_key_l AS record_id_l, l.record_key_r AS record_id_r,
                      l.decision = 'match' AS is_match
               FROM latest l
               JOIN records a ON a.record_key = l.record_key_l AND a.active
               JOIN records b ON b.record_key = l.record_key_r AND b.active
               ORDER BY 1, 2"""
        ).df()
        records = con.execute("SELECT * FROM records WHERE active").df()
    if not labels["is_match"].any():
        raise ReviewError("no pair has been decided a match yet; nothing to learn m from")
    records["record_id"] = records["record_key"]
    return Model().train(records, labels=labels, seed=seed)
