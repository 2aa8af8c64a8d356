"""Reviewed decisions feed training: re-estimate the model's m-probabilities from labelled pairs.

The labels are what the index now holds as true: every pair of records in one student is a
match (auto-merged pairs, and the pairs reviewers confirmed or merged by hand), and the pairs
reviewers decided "not a match" are non-matches. Using only the worklist decisions would bias
m: the worklist holds the hard cases (different given names, swapped birth dates), so m would
learn that disagreement is normal among matches. Students are small, so the within-student pairs
are few (a self-join per student in SQL).
"""

from __future__ import annotations

from typing import Any

from migrant_linkage.review.store import ReviewError

LABELS_SQL = """
    WITH latest AS (
        SELECT record_key_l, record_key_r, arg_max(decision, decision_id) AS decision
        FROM decisions WHERE decision IN ('match', 'not_a_match') GROUP BY 1, 2),
    same_student AS (
        SELECT a.record_key AS record_id_l, b.record_key AS record_id_r, TRUE AS is_match
        FROM records a JOIN records b
          ON a.student_id = b.student_id AND a.record_key < b.record_key
        WHERE a.active AND b.active),
    rejected AS (
        SELECT l.record_key_l AS record_id_l, l.record_key_r AS record_id_r, FALSE AS is_match
        FROM latest l
        JOIN records a ON a.record_key = l.record_key_l AND a.active
        JOIN records b ON b.record_key = l.record_key_r AND b.active
        WHERE l.decision = 'not_a_match')
    SELECT * FROM same_student UNION ALL SELECT * FROM rejected ORDER BY 1, 2
"""


def decision_labels(index: Any):
    """The labelled pairs (record_id_l, record_id_r, is_match), record ids being record keys."""
    with index._read() as con:
        return con.execute(LABELS_SQL).df()


def retrain_from_decisions(index: Any, *, seed: int = 42):
    """A new Model whose m-probabilities come from the index's labelled pairs (see the module
    docstring), u-probabilities and prior from the index's records. The index's own model is
    not changed: store the result with `index.set_model(model, reviewer=...)` once checked.
    Raises the model's ModelCheckError when the labels give implausible weights."""
    from migrant_linkage.model import Model

    labels = decision_labels(index)
    with index._read() as con:
        records = con.execute("SELECT * FROM records WHERE active").df()
    if not labels["is_match"].any():
        raise ReviewError("no two records are one student yet; nothing to learn m from")
    records["record_id"] = records["record_key"]
    return Model().train(records, labels=labels, seed=seed)
