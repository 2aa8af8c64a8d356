"""One upload into the master index: standardize, compare with what is there, link, queue.

An upload's result is written in one transaction. Its steps (1-2 run on a snapshot of the index
without holding it, so reviewers keep working while an upload scores; the write checks that the
index revision did not change meanwhile, and the upload scores again if it did):

1. Key every record by submitting state + record_id and hash its raw contract columns, so an
   upload is idempotent: a record seen before with the same hash is left alone; a changed hash
   makes a new version of the record, which is linked again from scratch.
2. Score the new and changed records against the index and against each other (scoring.py).
3. Build students from the match-zone pairs (zoned as the engine zones them: a family-guarded
   pair is never a match, a pair whose birth dates differ at most a near match), minus pairs
   remembered as "not a match", plus pairs remembered as "match". Connected components are
   taken over the incoming records and the existing students they touch:

   * a component touching one existing student joins it: the student keeps its ID;
   * a component touching none becomes a new student (a changed record whose old student would
     otherwise be left empty gives the new student that old ID back, so IDs stay stable);
   * an upload never merges two existing students (an overlay is the worst error; a person
     decides that from the worklist), and a record matching two existing students joins
     neither by itself;
   * a component holding a conflict (a guarded or strongly disagreeing pair, or two existing
     students) is split as the engine splits it (migrant_linkage.clustering: strongest links
     first, never joining a conflicting pair); the pairs left apart go to the worklist. As in
     the engine, a family conflict between the two halves of a compound name (MARIA /
     GUADALUPE) that a third record carrying the whole name matches is no conflict
     (pipeline.clusters.explained_by_a_compound_name_sql, asked through the scorer).

4. Queue near matches (and the held-back match pairs) on the worklist, unless the pair was
   decided before or its records ended in one student.
5. Write everything, with audit entries: one "upload" entry, and one "auto_merge" entry per
   existing student that records joined (so each auto-merge can be undone on its own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from migrant_linkage.clustering import split_unclean_components
from migrant_linkage.db import connect, make_db_api
from migrant_linkage.pipeline.worklist import REASON_KEPT_APART_EXISTING, reasons
from migrant_linkage.review import search
from migrant_linkage.review.merge import mint_students
from migrant_linkage.review.store import (
    ReviewError,
    first_row,
    get_meta,
    next_id,
    record_columns,
    write_audit,
)
from migrant_linkage.schema import (
    INPUT_COLUMNS,
    SCORED_COLUMN_NAMES,
    UNIQUE_ID_COLUMN,
)

#: Builds a scorer for one upload: `scorer(model=..., thresholds=...)` returns an object with
#: `load(incoming, existing)` (existing: an Arrow record-batch stream of the index), `predict()
#: -> pairs`, `score_within(clusters) -> pairs` and `close()`, and optionally
#: `explained_by_a_compound_name(pairs, match_edges) -> flags` (see scoring.SplinkScorer).
Scorer = Callable[..., Any]

#: A submitting state as the records' state column holds it (two letters).
STATE_CODE = re.compile(r"[A-Z]{2}")

#: Item statuses that lock their two records (see lock_statuses and docs/review-workflow.md).
LOCKING_STATUSES = ("open", "skipped", "pending")
LOCKING_SQL = "(" + ", ".join(f"'{s}'" for s in LOCKING_STATUSES) + ")"

#: Reason of a guarded pair of a record that scores strongly against two or more of its family.
REASON_GUARDED_FAMILY = (
    "family guard, but the record scores strongly against two or more records of the family"
)

#: Reason of a pair decided "not a match" that a record's change made score higher again.
REASON_REOPENED = "reopened: new evidence since it was decided not a match"

#: Reason of an item queued while one of its records is locked by another item.
REASON_LOCKED = "a record of this pair is under review in another item"

#: Weight given to a pair remembered as "match" (a person decided it; no score needed).
REMEMBERED_MATCH_WEIGHT = float("inf")


@dataclass
class UploadReport:
    upload_id: int
    counts: dict[str, int]
    audit_ids: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Keys and hashes
# ---------------------------------------------------------------------------------------------


def prepare(standardized: pd.DataFrame, state: str | None) -> pd.DataFrame:
    """Add record_key, submitting_state and content_hash (md5 of the raw contract columns)."""
    frame = standardized.copy()
    raw = frame["state"].astype("string").str.strip().str.upper() if "state" in frame else None
    std = frame["state_std"].astype("string") if "state_std" in frame else None
    own = (
        std.fillna(raw)
        if std is not None and raw is not None
        else (std if std is not None else raw)
    )
    if state is not None:
        state = state.strip().upper()
        if not STATE_CODE.fullmatch(state):
            raise ReviewError("--state must be a two-letter state code such as TX")
        # The declared state must agree with what the records say of themselves.
        disagree = own.notna() & (own != state) if own is not None else None
        if disagree is not None and disagree.any():
            first = frame.loc[disagree, UNIQUE_ID_COLUMN].iloc[0]
            raise ReviewError(
                f"--state {state} disagrees with the state of {int(disagree.sum())} record(s) "
                f"(first: record_id {first}); the upload is refused"
            )
        frame["submitting_state"] = state
    else:
        if own is None or own.isna().any():
            raise ReviewError("records without a state: give the submitting state (--state XX)")
        frame["submitting_state"] = own.astype(str)
    frame[UNIQUE_ID_COLUMN] = frame[UNIQUE_ID_COLUMN].astype(str)
    frame["record_key"] = frame["submitting_state"] + ":" + frame[UNIQUE_ID_COLUMN]
    duplicated = frame["record_key"].duplicated()
    if duplicated.any():
        first = frame.loc[duplicated, "record_key"].iloc[0]
        raise ReviewError(
            f"{int(duplicated.sum())} records repeat a record_id within one state "
            f"(first: {first}); record ids must be unique per state"
        )
    raw_cols = [c for c in INPUT_COLUMNS if c in frame.columns]
    parts = ", ".join(f"coalesce(CAST({c} AS VARCHAR), chr(30))" for c in raw_cols)
    con = connect()
    try:
        con.register("_frame", frame[raw_cols])
        hashes = con.execute(f"SELECT md5(concat_ws(chr(31), {parts})) FROM _frame").df()
    finally:
        con.close()
    frame["content_hash"] = hashes.iloc[:, 0].to_numpy()
    return frame


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


def connected_components(nodes: list[str], edges: pd.DataFrame) -> pd.Series:
    """Component label (the smallest node of the component) per node, via Splink's connected
    components. `edges` has columns l and r."""
    if not nodes:
        return pd.Series(dtype=str)
    if edges.empty:
        return pd.Series(nodes, index=nodes)
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    db_api, con = make_db_api()
    try:
        cc = cluster_pairwise_predictions_at_threshold(
            pd.DataFrame({"node": nodes}),
            edges.rename(columns={"l": "node_l", "r": "node_r"})[["node_l", "node_r"]],
            db_api=db_api,
            node_id_column_name="node",
        )
        out = con.execute(
            f"SELECT node, min(node) OVER (PARTITION BY cluster_id) AS label "
            f"FROM {cc.physical_name}"
        ).df()
    finally:
        con.close()
    return out.set_index("node")["label"].reindex(nodes)


# ---------------------------------------------------------------------------------------------
# The upload
# ---------------------------------------------------------------------------------------------


def _remembered(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pd.DataFrame:
    """Latest match / not-a-match decision per pair touching `keys` (columns l, r, decision)."""
    return con.execute(
        """SELECT record_key_l AS l, record_key_r AS r,
                  arg_max(decision, decision_id) AS decision
           FROM decisions
           WHERE decision IN ('match', 'not_a_match')
             AND (record_key_l IN (SELECT unnest(?::VARCHAR[]))
                  OR record_key_r IN (SELECT unnest(?::VARCHAR[])))
           GROUP BY 1, 2""",
        [keys, keys],
    ).df()


def _ordered(pairs: pd.DataFrame) -> pd.DataFrame:
    pairs = pairs.copy()
    left = pairs["record_id_l"].astype(str)
    right = pairs["record_id_r"].astype(str)
    swap = left > right
    pairs["l"] = np.where(swap, right, left)
    pairs["r"] = np.where(swap, left, right)
    return pairs[pairs["l"] != pairs["r"]]


class StaleSnapshotError(RuntimeError):
    """The index changed between reading an upload's snapshot and writing its result."""


@dataclass
class Snapshot:
    """What an upload read from the index, and its scoring session. Scoring (the slow part)
    runs on the snapshot without holding the index; the write then checks that the index
    revision is unchanged, and the upload starts over if it is not."""

    revision: str
    counts: dict[str, int]
    incoming_status: pd.DataFrame  # record_key, content_hash, old_hash, old_student, old_version
    changed_keys: list[str]
    index_student: pd.Series | None = None
    scoring: Any = None
    pairs: pd.DataFrame | None = None
    #: Undecided items (item_id, record_key_l, record_key_r, status) holding a changed record.
    #: A changed record in an open, skipped or pending item is locked: its new version keeps
    #: its student, and the items holding it (waiting ones too) are scored again.
    locked_items: pd.DataFrame | None = None

    def score(self) -> None:
        """Score the loaded records (no index connection needed)."""
        if self.scoring is not None and self.pairs is None:
            self.pairs = self.scoring.predict()

    def close(self) -> None:
        close = getattr(self.scoring, "close", None)
        if close is not None:
            close()


def read_snapshot(
    con: duckdb.DuckDBPyConnection,
    prepared: pd.DataFrame,
    *,
    scorer: Scorer,
    model: Any,
    thresholds: Any,
    records_in: int,
    n_rejects: int,
) -> Snapshot:
    """Classify the upload's records (new / changed / unchanged) and load the records to score
    into a scoring session: the incoming ones, and the index's other active records streamed
    as Arrow batches (standardized columns only, never one pandas frame)."""
    revision = get_meta(con, "revision", "0") or "0"
    con.register("_up", prepared[["record_key", "content_hash"]])
    current = con.execute(
        """SELECT u.record_key, r.content_hash AS old_hash, r.student_id AS old_student,
                  r.version AS old_version
           FROM _up u LEFT JOIN records r ON r.record_key = u.record_key AND r.active"""
    ).df()
    con.unregister("_up")
    status = prepared[["record_key", "content_hash"]].merge(current, on="record_key", how="left")
    is_new = status["old_hash"].isna()
    is_changed = ~is_new & (status["old_hash"] != status["content_hash"])
    counts: dict[str, int] = {
        "records_in": records_in,
        "standardized": len(prepared),
        "rejected": n_rejects,
        "new": int(is_new.sum()),
        "changed": int(is_changed.sum()),
        "unchanged": int((~is_new & ~is_changed).sum()),
    }
    incoming_status = status[is_new | is_changed].reset_index(drop=True)
    changed_keys = incoming_status.loc[incoming_status["old_hash"].notna(), "record_key"].tolist()
    snapshot = Snapshot(revision, counts, incoming_status, changed_keys)
    snapshot.locked_items = con.execute(
        f"""SELECT item_id, record_key_l, record_key_r, status FROM worklist
            WHERE (status IN {LOCKING_SQL} OR status = 'waiting') AND (record_key_l IN (SELECT unnest(?::VARCHAR[]))
                  OR record_key_r IN (SELECT unnest(?::VARCHAR[]))) ORDER BY item_id""",
        [changed_keys, changed_keys],
    ).df()
    if incoming_status.empty:
        return snapshot
    incoming = prepared[prepared["record_key"].isin(set(incoming_status["record_key"]))]
    others = "active AND record_key NOT IN (SELECT unnest(?::VARCHAR[]))"
    snapshot.index_student = (
        con.execute(f"SELECT record_key, student_id FROM records WHERE {others}", [changed_keys])
        .df()
        .set_index("record_key")["student_id"]
    )
    columns = ", ".join(c for c in SCORED_COLUMN_NAMES if c != UNIQUE_ID_COLUMN)
    snapshot.scoring = scorer(model=model, thresholds=thresholds)
    existing = con.sql(
        f"SELECT record_key AS {UNIQUE_ID_COLUMN}, {columns} FROM records WHERE {others}",
        params=[changed_keys],
    ).to_arrow_reader()
    try:
        snapshot.scoring.load(
            incoming.assign(**{UNIQUE_ID_COLUMN: incoming["record_key"]}), existing
        )
    except BaseException:
        snapshot.close()
        raise
    finally:
        existing.close()  # the connection is busy until the stream is closed
    return snapshot


def write_upload(
    con: duckdb.DuckDBPyConnection,
    snapshot: Snapshot,
    prepared: pd.DataFrame,
    *,
    rejects: pd.DataFrame,
    thresholds: Any,
    model_json: str | None,
    labels: dict[str, dict[int, str]] | None,
    source: str,
    state: str | None,
    reviewer: str,
    at: datetime,
    check_revision: bool,
) -> UploadReport:
    """Write a scored snapshot inside the caller's transaction. With `check_revision`, raise
    StaleSnapshotError if the index changed since the snapshot was read."""
    if check_revision and (get_meta(con, "revision", "0") or "0") != snapshot.revision:
        raise StaleSnapshotError("the index changed while the upload was being scored")
    upload_id = next_id(con, "uploads", "upload_id")
    counts = dict(snapshot.counts)
    audit_ids: list[int] = []
    if snapshot.scoring is not None:
        snapshot.score()
        pairs = snapshot.pairs
        counts["pairs_scored"] = len(pairs)
        counts["pairs_match_zone"] = int((pairs["zone"] == "match").sum())
        counts["pairs_near_match_zone"] = int((pairs["zone"] == "near_match").sum())
        assert pairs is not None  # score() just set it
        locked_items = (
            snapshot.locked_items if snapshot.locked_items is not None else pd.DataFrame()
        )
        changed = set(snapshot.changed_keys)
        locked_keys: list[str] = []
        if len(locked_items):
            holding = locked_items[locked_items["status"].isin(LOCKING_STATUSES)]
            locked_keys = sorted(
                changed & (set(holding["record_key_l"]) | set(holding["record_key_r"]))
            )
            on_locked = locked_items["record_key_l"].isin(locked_keys) | locked_items[
                "record_key_r"
            ].isin(locked_keys)
            locked_items = locked_items[on_locked].drop(columns=["status"])
        status = snapshot.incoming_status
        touches_locked = pairs["record_id_l"].isin(locked_keys) | pairs["record_id_r"].isin(
            locked_keys
        )
        score_within = getattr(snapshot.scoring, "score_within", None)
        plan = _plan(
            con,
            pairs[~touches_locked].reset_index(drop=True),
            status[~status["record_key"].isin(locked_keys)].reset_index(drop=True),
            snapshot.index_student,
            thresholds,
            score_within=score_within,
            explained=getattr(snapshot.scoring, "explained_by_a_compound_name", None),
        )
        plan.labels = labels
        rescored = None
        if locked_keys:
            rescored = _locked_pairs(
                con, plan, pairs[touches_locked], locked_items, score_within=score_within
            )
        counts["items_rescored"] = 0 if rescored is None else len(rescored)
        audit_ids = _write_upload(
            con,
            prepared=prepared,
            incoming_status=status,
            locked_keys=locked_keys,
            rescored=rescored,
            plan=plan,
            upload_id=upload_id,
            reviewer=reviewer,
            source=source,
            state=state,
            at=at,
            counts=counts,
        )
    else:
        counts.update(pairs_scored=0, pairs_match_zone=0, pairs_near_match_zone=0)
        counts.update(joined_existing=0, new_students=0, worklist_added=0, worklist_superseded=0)
        counts.update(items_rescored=0, worklist_waiting=0)

    if len(rejects):
        r = rejects.reindex(columns=["source_row", "record_id", "reason", "message"]).copy()
        r.insert(0, "upload_id", upload_id)
        con.register("_rej", r)
        con.execute(
            "INSERT INTO rejects SELECT upload_id, CAST(source_row AS BIGINT), "
            "CAST(record_id AS VARCHAR), CAST(reason AS VARCHAR), CAST(message AS VARCHAR) "
            "FROM _rej"
        )
        con.unregister("_rej")
    thresholds_json = json.dumps(thresholds.as_dict())
    con.execute(
        "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            upload_id,
            at,
            at,
            source,
            state,
            reviewer,
            model_json,
            thresholds_json,
            json.dumps(counts, sort_keys=True),
        ],
    )
    search.refresh(con, upload_id)  # search keys and term frequencies follow the records
    return UploadReport(upload_id=upload_id, counts=counts, audit_ids=audit_ids)


def _split(labels: pd.Series, edges: pd.DataFrame, conflicts: pd.DataFrame) -> pd.Series:
    """Split every component holding a conflict (the engine's constrained single linkage:
    strongest links first, never joining a conflicting pair). Labels are node -> component."""
    lab_l = conflicts["record_id_l"].map(labels)
    lab_r = conflicts["record_id_r"].map(labels)
    inside = lab_l.notna() & (lab_l == lab_r)
    if not inside.any():
        return labels
    members = labels[labels.isin(set(lab_l[inside]))]
    resplit = split_unclean_components(
        pd.DataFrame({"record_id": members.index, "cluster_id": members.to_numpy()}),
        edges,
        conflicts[inside],
    )
    out = labels.copy()
    out[resplit["record_id"].to_numpy()] = resplit["cluster_id"].to_numpy()
    return out


def _clusters_to_check(
    labels: pd.Series, incoming_keys: list[str], student_nodes: list[str], index_student: pd.Series
) -> pd.DataFrame:
    """record_id, cluster_id of every proposed student with incoming records and at least two
    records: its incoming records plus all records of the existing student it joins."""
    incoming = pd.DataFrame(
        {"record_id": incoming_keys, "cluster_id": labels.reindex(incoming_keys).to_numpy()}
    )
    joined = labels.reindex(student_nodes)
    joined.index = pd.Index([str(n)[1:] for n in student_nodes], dtype=object)
    existing = index_student[index_student.isin(joined.index)]
    existing = pd.DataFrame(
        {"record_id": existing.index, "cluster_id": existing.map(joined).to_numpy()}
    )
    clusters = pd.concat([incoming, existing], ignore_index=True)
    size = clusters.groupby("cluster_id")["record_id"].transform("size")
    return clusters[size >= 2].reset_index(drop=True)


@dataclass
class _Plan:
    assignment: pd.DataFrame  # record_key, target (existing student, or group label), kind
    join_evidence: pd.DataFrame  # student, l, r: the match pairs through which records joined
    review: pd.DataFrame  # l, r, match_weight, match_probability, reason, evidence columns
    pairs: pd.DataFrame
    labels: dict[str, dict[int, str]] | None = None


def _plan(
    con: duckdb.DuckDBPyConnection,
    pairs: pd.DataFrame,
    incoming_status: pd.DataFrame,
    index_student: pd.Series,
    thresholds: Any,
    score_within: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    explained: Callable[[pd.DataFrame, pd.DataFrame], pd.Series] | None = None,
) -> _Plan:
    incoming_keys = incoming_status["record_key"].tolist()
    incoming_set = set(incoming_keys)
    pairs = (
        _ordered(pairs)
        if len(pairs)
        else pairs.assign(l=pd.Series(dtype=str), r=pd.Series(dtype=str))
    )
    if "guarded" not in pairs:
        pairs["guarded"] = False
    memory = _remembered(con, incoming_keys)
    pairs = pairs.merge(memory, on=["l", "r"], how="left")
    pairs["remembered"] = pairs["decision"].notna()
    pairs["not_a_match"] = pairs["decision"].eq("not_a_match")

    match_edges = pairs[
        (pairs["zone"] == "match") & ~pairs["guarded"].astype(bool) & ~pairs["not_a_match"]
    ][["l", "r", "match_weight"]]
    # Pairs a person decided were the same student, re-applied when a record is re-linked.
    yes = memory[memory["decision"] == "match"]
    is_known = yes["l"].isin(incoming_set) | yes["l"].isin(index_student.index)
    is_known &= yes["r"].isin(incoming_set) | yes["r"].isin(index_student.index)
    match_edges = pd.concat(
        [match_edges, yes.loc[is_known, ["l", "r"]].assign(match_weight=REMEMBERED_MATCH_WEIGHT)],
        ignore_index=True,
    ).drop_duplicates(["l", "r"])

    def nodes(keys: pd.Series) -> pd.Series:
        """Graph node of each record: itself if incoming, else "@" + its existing student."""
        keys = keys.astype(object)
        return keys.where(keys.isin(incoming_set), "@" + keys.map(index_student).astype(object))

    edges = pd.DataFrame(
        {
            "record_id_l": nodes(match_edges["l"]),
            "record_id_r": nodes(match_edges["r"]),
            "match_weight": match_edges["match_weight"].astype(float),
        }
    )
    edges = edges[edges["record_id_l"] != edges["record_id_r"]]
    # A record matching two existing students is ambiguous: it joins neither by itself (its
    # pairs go to the worklist), though another incoming record may still carry it to one.
    to_student = edges[edges["record_id_r"].str.startswith("@")]
    to_student = pd.concat(
        [
            to_student,
            edges[edges["record_id_l"].str.startswith("@")].rename(
                columns={"record_id_l": "record_id_r", "record_id_r": "record_id_l"}
            ),
        ]
    )
    fan_out = to_student.groupby("record_id_l")["record_id_r"].nunique()
    ambiguous = set(fan_out[fan_out >= 2].index)
    touches_student = edges["record_id_l"].str.startswith("@") | edges[
        "record_id_r"
    ].str.startswith("@")
    from_ambiguous = edges["record_id_l"].isin(ambiguous) | edges["record_id_r"].isin(ambiguous)
    edges = edges[~(touches_student & from_ambiguous)]
    ends = pd.concat([edges["record_id_l"], edges["record_id_r"]])
    student_nodes = sorted(ends[ends.str.startswith("@")].unique())
    labels = connected_components(
        incoming_keys + student_nodes,
        edges.rename(columns={"record_id_l": "l", "record_id_r": "r"}),
    )

    # Conflicts: guarded or strongly disagreeing pairs, and any two existing students (an
    # upload never merges existing students; a person does that from the worklist).
    strong = getattr(thresholds, "strong_disagreement_weight", None)

    def conflicts_of(scored: pd.DataFrame) -> pd.DataFrame:
        hit = scored["guarded"].astype(bool)
        if explained is not None and hit.any():
            # A family conflict a whole compound name explains splits nothing (as in dedupe).
            hit = hit & ~explained(scored, match_edges)
        if strong is not None:
            hit = hit | (scored["match_weight"] < strong)
        return pd.DataFrame(
            {"record_id_l": nodes(scored.loc[hit, "l"]), "record_id_r": nodes(scored.loc[hit, "r"])}
        )

    shared = labels.reindex(student_nodes).to_frame("label").reset_index(names="node")
    shared = shared.merge(shared, on="label", suffixes=("_l", "_r"))
    shared = shared.loc[shared["node_l"] < shared["node_r"], ["node_l", "node_r"]]
    # Decisions are constraints: a pair remembered as "not a match" is a conflict even when
    # this upload did not score it, so no chain of matches puts its records in one student.
    no = memory[memory["decision"] == "not_a_match"]
    no = no[
        (no["l"].isin(incoming_set) | no["l"].isin(index_student.index))
        & (no["r"].isin(incoming_set) | no["r"].isin(index_student.index))
    ]
    decided_apart = pd.DataFrame({"record_id_l": nodes(no["l"]), "record_id_r": nodes(no["r"])})
    conflicts = pd.concat(
        [
            conflicts_of(pairs),
            shared.set_axis(["record_id_l", "record_id_r"], axis=1),
            decided_apart,
        ],
        ignore_index=True,
    )
    final = _split(labels, edges, conflicts)

    # Pairs inside a proposed student that blocking never produced are scored now (as the
    # engine does); a conflict among them splits the student again.
    if score_within is not None:
        clusters = _clusters_to_check(final, incoming_keys, student_nodes, index_student)
        missing = _ordered(score_within(clusters)) if len(clusters) else pairs.iloc[:0]
        missing = missing[missing["l"].isin(incoming_set) | missing["r"].isin(incoming_set)]
        if len(missing):
            missing = missing.merge(memory, on=["l", "r"], how="left")
            missing["remembered"] = missing["decision"].notna()
            missing["not_a_match"] = missing["decision"].eq("not_a_match")
            extra = conflicts_of(missing)
            if len(extra):
                conflicts = pd.concat([conflicts, extra], ignore_index=True)
                final = _split(labels, edges, conflicts)
            pairs = pd.concat([pairs, missing], ignore_index=True)
    labels = final
    student_labels = labels.reindex(student_nodes)

    component_student = {label: node[1:] for node, label in student_labels.items()}
    assignment = pd.DataFrame(
        {"record_key": incoming_keys, "label": labels.reindex(incoming_keys).to_numpy()}
    )
    assignment["target"] = assignment["label"].map(component_student).astype(object)
    assignment["kind"] = np.where(assignment["target"].notna(), "join", "new")

    # Evidence for each join: the match edges from the joining records into the student.
    target_of = assignment.set_index("record_key")["target"]
    incoming_end = match_edges["l"].where(match_edges["l"].isin(incoming_set), match_edges["r"])
    other_end = match_edges["r"].where(match_edges["l"].isin(incoming_set), match_edges["l"])
    # object dtype: when no edge end has a target the map is all-NaN float, and filling a float
    # column with student ids is deprecated in pandas.
    other_student = other_end.map(target_of).astype(object).fillna(other_end.map(index_student))
    evidence = match_edges.assign(student=incoming_end.map(target_of))
    evidence = evidence[evidence["student"].notna() & (evidence["student"] == other_student)]
    join_evidence = evidence[["student", "l", "r"]]

    # Review: near matches, and match-zone pairs that did not merge (held back above); pairs
    # whose records ended in one student are dropped when queueing.
    review = pairs[pairs["zone"].isin(["match", "near_match"]) & ~pairs["remembered"]].copy()
    reason = (
        review["guard_reason"]
        if "guard_reason" in review
        else pd.Series(None, index=review.index, dtype=object)
    )
    review["reason"] = reasons(review["zone"], reason, REASON_KEPT_APART_EXISTING)
    review = pd.concat(
        [review, _reopened(con, pairs), _guarded_against_a_family(pairs, thresholds)],
        ignore_index=True,
    )
    return _Plan(assignment=assignment, join_evidence=join_evidence, review=review, pairs=pairs)


def _guarded_against_a_family(pairs: pd.DataFrame, thresholds: Any) -> pd.DataFrame:
    """Guarded pairs (never merged, normally never queued) of a record that reaches the match
    weight against two or more records the guard calls its family: a third record of twins
    (the same child sent twice, or a triplet) is for a person to settle, not to drop."""
    strong = getattr(thresholds, "match_weight", None)
    if strong is None or pairs.empty:
        return pairs.iloc[:0].assign(reason=pd.Series(dtype=object))
    hit = pairs[
        pairs["guarded"].astype(bool)
        & (pairs["match_weight"].astype(float) >= strong)
        & ~pairs["remembered"]
    ]
    ends = pd.concat(
        [hit[["l", "r"]], hit[["r", "l"]].set_axis(["l", "r"], axis=1)], ignore_index=True
    )
    partners = ends.groupby("l")["r"].nunique()
    many = set(partners[partners >= 2].index)
    chosen = hit[hit["l"].isin(many) | hit["r"].isin(many)]
    return chosen.assign(reason=REASON_GUARDED_FAMILY)


def _reopened(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs remembered as "not a match" that now score in the review or match range higher
    than when they were decided (a record changed: new evidence). They come back as items,
    their reason marked REASON_REOPENED; they still never merge by themselves."""
    again = pairs[pairs["zone"].isin(["match", "near_match"]) & pairs["not_a_match"]]
    if again.empty:
        return again.assign(reason=pd.Series(dtype=object))
    decided = con.execute(
        """SELECT d.record_key_l AS l, d.record_key_r AS r,
                  arg_max(w.match_weight, d.decision_id) AS decided_weight
           FROM decisions d JOIN worklist w USING (item_id)
           WHERE d.decision = 'not_a_match' GROUP BY 1, 2"""
    ).df()
    again = again.merge(decided, on=["l", "r"], how="inner")
    again = again[again["match_weight"].astype(float) > again["decided_weight"].astype(float)]
    return again.drop(columns=["decided_weight"]).assign(reason=REASON_REOPENED)


def _write_upload(
    con: duckdb.DuckDBPyConnection,
    *,
    prepared: pd.DataFrame,
    incoming_status: pd.DataFrame,
    locked_keys: list[str],
    rescored: pd.DataFrame | None,
    plan: _Plan,
    upload_id: int,
    reviewer: str,
    source: str,
    state: str | None,
    at: datetime,
    counts: dict[str, int],
) -> list[int]:
    # Locked records (in an undecided item) keep their student; the item is scored again.
    locked = incoming_status[incoming_status["record_key"].isin(locked_keys)]
    locked_rows = pd.DataFrame(
        {
            "record_key": locked["record_key"],
            "label": None,
            "target": locked["old_student"].astype(object),
            "kind": "locked",
        }
    )
    assignment = pd.concat([plan.assignment, locked_rows], ignore_index=True).merge(
        incoming_status, on="record_key"
    )
    changed = assignment["old_hash"].notna()

    # Students left empty by changed records that moved away may give their ID back.
    changed_keys = assignment.loc[changed, "record_key"].tolist()
    still_held = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT student_id FROM records WHERE active AND record_key NOT IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [changed_keys],
        ).fetchall()
    }
    joined = set(assignment.loc[assignment["kind"].isin(["join", "locked"]), "target"])
    reusable = sorted(set(assignment.loc[changed, "old_student"].dropna()) - still_held - joined)
    groups = assignment[assignment["kind"] == "new"].groupby("label")["record_key"].min()
    groups = groups.sort_values()
    group_target: dict[str, str] = {}
    taken: set[str] = set()
    for label in groups.index:  # one Python step per group holding a changed record only
        members = assignment[(assignment["label"] == label) & changed]
        for former in sorted(members["old_student"].dropna()):
            if former in reusable and former not in taken:
                group_target[label] = former
                taken.add(former)
                break
    to_mint = [label for label in groups.index if label not in group_target]

    upload_audit = write_audit(
        con,
        actor=reviewer,
        action="upload",
        reason=f"upload {upload_id}",
        details={"upload_id": upload_id, "source": source, "state": state},
        at=at,
    )
    minted = mint_students(con, len(to_mint), audit_id=upload_audit, at=at)
    group_target.update(zip(to_mint, minted, strict=True))
    is_new_group = assignment["kind"] == "new"
    assignment.loc[is_new_group, "target"] = assignment.loc[is_new_group, "label"].map(group_target)
    assignment["audit_id"] = upload_audit
    audit_ids = [upload_audit]
    joining = (assignment["kind"] == "join") & (assignment["old_student"] != assignment["target"])
    joined_students = sorted(set(assignment.loc[joining, "target"]))
    if joined_students:  # one auto_merge entry per student joined, written in one statement
        first = next_id(con, "audit_log", "audit_id")
        entry_of = pd.Series(range(first, first + len(joined_students)), index=joined_students)
        evidence = plan.join_evidence[plan.join_evidence["student"].isin(entry_of.index)]
        con.register("_joins", evidence.assign(audit_id=evidence["student"].map(entry_of)))
        con.execute(
            """INSERT INTO audit_log
               SELECT audit_id, ?, ?, 'auto_merge', ?,
                      CAST(to_json({'pairs': list([l, r] ORDER BY l, r),
                                    'survivor': student, 'upload_id': ?}) AS VARCHAR),
                      NULL, NULL
               FROM _joins GROUP BY audit_id, student ORDER BY audit_id""",
            [at, reviewer, f"match zone in upload {upload_id}", upload_id],
        )
        con.unregister("_joins")
        assignment.loc[joining, "audit_id"] = assignment.loc[joining, "target"].map(entry_of)
        audit_ids += entry_of.tolist()
    con.execute(
        "UPDATE students SET merged_into = NULL WHERE student_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(set(assignment["target"]))],
    )

    # Records: retire old versions, insert new ones.
    con.execute(
        "UPDATE records SET active = FALSE, replaced_in = ? WHERE active AND record_key IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [upload_id, changed_keys],
    )
    rows = prepared.merge(
        assignment[["record_key", "target", "old_version"]], on="record_key", how="inner"
    )
    rows["version"] = rows["old_version"].fillna(0).astype("int64") + 1
    rows["student_id"] = rows["target"]
    rows["uploaded_in"] = upload_id
    rows["active"] = True
    rows["replaced_in"] = pd.NA
    select = []
    for name, typ in record_columns():
        base = typ.split()[0]
        select.append(
            f"CAST({name} AS {base})" if name in rows.columns else f"CAST(NULL AS {base})"
        )
    con.register("_rows", rows[[c for c, _ in record_columns() if c in rows.columns]])
    # By name: an index made before a column was added holds it at the end of the table.
    names = ", ".join(name for name, _ in record_columns())
    con.execute(f"INSERT INTO records ({names}) SELECT {', '.join(select)} FROM _rows")
    con.unregister("_rows")
    changes = assignment[
        ["audit_id", "record_key", "old_student", "target", "old_hash", "content_hash"]
    ]
    con.register("_changes", changes)
    con.execute("INSERT INTO audit_changes SELECT * FROM _changes")
    con.unregister("_changes")

    # Worklist: items on changed records are stale, unless the record was locked by the item
    # (then the item was scored again above); queue the new ones. Only waiting items can
    # hold a relinked record (open, skipped and pending ones lock it).
    relinked = sorted(set(changed_keys) - set(locked_keys))
    superseded = first_row(
        con.execute(
            """UPDATE worklist SET status = 'superseded', closed_at = ?
           WHERE status IN ('open', 'skipped', 'pending', 'waiting')
             AND (record_key_l IN (SELECT unnest(?::VARCHAR[]))
                  OR record_key_r IN (SELECT unnest(?::VARCHAR[])))""",
            [at, relinked, relinked],
        )
    )
    con.execute(
        """UPDATE pending_merges SET status = 'superseded', closed_at = ?
           WHERE status = 'pending' AND (record_key_l IN (SELECT unnest(?::VARCHAR[]))
                  OR record_key_r IN (SELECT unnest(?::VARCHAR[])))""",
        [at, relinked, relinked],
    )
    if rescored is not None and len(rescored):
        _attach_evidence(con, rescored, locked_keys, upload_id=upload_id, at=at, labels=plan.labels)
    added = _queue(con, plan, upload_id=upload_id, at=at)
    waiting = first_row(
        con.execute(
            "SELECT count(*) FROM worklist WHERE upload_id = ? AND status = 'waiting'", [upload_id]
        )
    )
    counts["worklist_waiting"] = int(waiting[0]) if waiting else 0
    counts["joined_existing"] = int(joining.sum())
    counts["new_students"] = len(minted)
    counts["worklist_added"] = added
    counts["worklist_superseded"] = int(superseded[0]) if superseded else 0
    return audit_ids


def _locked_pairs(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    pairs: pd.DataFrame,
    locked_items: pd.DataFrame,
    *,
    score_within: Callable[[pd.DataFrame], pd.DataFrame] | None,
) -> pd.DataFrame:
    """Pairs of locked records: each locked item's own pair, scored again (returned, with the
    item id), and the record's other close pairs, added to the plan's review list (they queue
    as waiting items until the lock is released)."""
    scored = _ordered(pairs) if len(pairs) else pairs.assign(l=[], r=[])
    items = locked_items.rename(columns={"record_key_l": "l", "record_key_r": "r"})
    found = items.merge(scored, on=["l", "r"], how="inner")
    unscored = items[~items["item_id"].isin(found["item_id"])]
    if len(unscored) and score_within is not None:  # blocking did not pair them this time
        clusters = pd.DataFrame(
            {
                "record_id": pd.concat([unscored["l"], unscored["r"]]).to_numpy(),
                "cluster_id": pd.concat([unscored["item_id"], unscored["item_id"]]).to_numpy(),
            }
        )
        extra = _ordered(score_within(clusters))
        if len(extra):
            found = pd.concat([found, unscored.merge(extra, on=["l", "r"])], ignore_index=True)
    others = scored.merge(items[["l", "r"]].assign(_item=True), on=["l", "r"], how="left")
    others = others[others["_item"].isna() & others["zone"].isin(["match", "near_match"])]
    if len(others):
        memory = _remembered(con, pd.unique(pd.concat([others["l"], others["r"]])).tolist())
        others = others.merge(memory, on=["l", "r"], how="left")
        others = others[others["decision"].isna()].drop(columns=["decision", "_item"])
        others["remembered"] = False
        others["reason"] = REASON_LOCKED
        plan.review = pd.concat([plan.review, others], ignore_index=True)
    # Items whose pair no scorer could score keep their old evidence, but are still marked.
    missing = items[~items["item_id"].isin(found["item_id"])]
    return pd.concat([found, missing], ignore_index=True)


def _attach_evidence(
    con: duckdb.DuckDBPyConnection,
    rescored: pd.DataFrame,
    locked_keys: list[str],
    *,
    upload_id: int,
    at: datetime,
    labels: dict[str, dict[int, str]] | None,
) -> None:
    """Record the new evidence of each locked item (before and after) and update the item."""
    has_score = rescored["match_weight"].notna() if "match_weight" in rescored else None
    frame = pd.DataFrame(
        {
            "item_id": rescored["item_id"].astype("int64"),
            "match_weight": (
                rescored["match_weight"].astype(float) if has_score is not None else np.nan
            ),
            "match_probability": (
                rescored["match_probability"].astype(float)
                if "match_probability" in rescored
                else np.nan
            ),
            "evidence": evidence_json(rescored, labels) if has_score is not None else None,
            "scored": has_score if has_score is not None else False,
        }
    )
    con.register("_rescored", frame)
    try:
        con.execute(
            """INSERT INTO item_evidence
               SELECT w.item_id, ?,
                      CASE WHEN list_contains(?::VARCHAR[], w.record_key_l) THEN w.record_key_l
                           ELSE w.record_key_r END,
                      w.match_weight,
                      CASE WHEN s.scored AND isfinite(s.match_weight) THEN s.match_weight END,
                      w.evidence_json, CASE WHEN s.scored THEN s.evidence END, ?
               FROM _rescored s JOIN worklist w USING (item_id)
               ORDER BY w.item_id""",
            [upload_id, locked_keys, at],
        )
        con.execute(
            """UPDATE worklist SET
                 match_weight = CASE WHEN s.scored THEN
                     CASE WHEN isfinite(s.match_weight) THEN s.match_weight END
                     ELSE worklist.match_weight END,
                 match_probability = CASE WHEN s.scored THEN s.match_probability
                     ELSE worklist.match_probability END,
                 evidence_json = CASE WHEN s.scored THEN s.evidence ELSE worklist.evidence_json END,
                 evidence_updated_in = ?
               FROM _rescored s WHERE worklist.item_id = s.item_id""",
            [upload_id],
        )
    finally:
        con.unregister("_rescored")


def evidence_json(pairs: pd.DataFrame, labels: dict[str, dict[int, str]] | None) -> pd.Series:
    """JSON per pair: {comparison: {"level": label, "weight": log2 Bayes factor}}."""
    names = [c[len("gamma_") :] for c in pairs.columns if c.startswith("gamma_")]
    if not names:
        return pd.Series(["{}"] * len(pairs), index=pairs.index)
    frame = pd.DataFrame(index=pairs.index)
    for n in names:
        gamma = pairs[f"gamma_{n}"]
        mapping = (labels or {}).get(n, {})
        frame[f"level_{n}"] = gamma.map(
            lambda g, m=mapping: m.get(int(g), str(g)) if pd.notna(g) else None
        )
        frame[f"weight_{n}"] = (
            pairs[f"weight_{n}"].astype(float).round(2) if f"weight_{n}" in pairs else np.nan
        )
    struct = ", ".join(
        f"'{n}': {{'level': level_{n}, 'weight': CASE WHEN isfinite(weight_{n}) "
        f"THEN weight_{n} END}}"
        for n in names
    )
    con = connect()
    try:
        con.register("_ev", frame.reset_index(drop=True))
        out = con.execute(f"SELECT CAST(to_json({{{struct}}}) AS VARCHAR) FROM _ev").df()
    finally:
        con.close()
    return pd.Series(out.iloc[:, 0].to_numpy(), index=pairs.index)


def lock_statuses(con: duckdb.DuckDBPyConnection, lefts: list[str], rights: list[str]) -> list[str]:
    """Status of each new item, in order: "open", or "waiting" while one of its records is in
    an undecided item (a record is locked by one item at a time). One Python step per new item
    (items are few per upload)."""
    locked = {
        r[0]
        for r in con.execute(
            f"""SELECT record_key_l FROM worklist WHERE status IN {LOCKING_SQL}
                UNION SELECT record_key_r FROM worklist WHERE status IN {LOCKING_SQL}"""
        ).fetchall()
    }
    out = []
    for left, right in zip(lefts, rights, strict=True):
        if left in locked or right in locked:
            out.append("waiting")
        else:
            out.append("open")
            locked.update((left, right))
    return out


def _queue(con: duckdb.DuckDBPyConnection, plan: _Plan, *, upload_id: int, at: datetime) -> int:
    review = plan.review
    if review.empty:
        return 0
    # Runs after the incoming records were written, so the records table knows every student.
    keys = pd.unique(pd.concat([review["l"], review["r"]])).tolist()
    student = (
        con.execute(
            "SELECT record_key, student_id FROM records WHERE active AND record_key IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [keys],
        )
        .df()
        .set_index("record_key")["student_id"]
    )
    same = review["l"].map(student) == review["r"].map(student)
    review = review[~same]
    open_items = con.execute(
        "SELECT record_key_l AS l, record_key_r AS r, TRUE AS queued FROM worklist "
        "WHERE status IN ('open', 'skipped', 'pending', 'waiting')"
    ).df()
    review = review.merge(open_items, on=["l", "r"], how="left")
    review = review[review["queued"].isna()]
    review = review.drop_duplicates(["l", "r"]).sort_values(["l", "r"])
    if review.empty:
        return 0
    items = pd.DataFrame(
        {
            "l": review["l"].to_numpy(),
            "r": review["r"].to_numpy(),
            "match_weight": review["match_weight"].astype(float).to_numpy(),
            "match_probability": review.get(
                "match_probability", pd.Series(np.nan, index=review.index)
            )
            .astype(float)
            .to_numpy(),
            "reason": review["reason"].to_numpy(),
            "evidence": evidence_json(review, plan.labels).to_numpy(),
        }
    )
    first = next_id(con, "worklist", "item_id")
    items.insert(0, "item_id", range(first, first + len(items)))
    items["status"] = lock_statuses(con, items["l"].tolist(), items["r"].tolist())
    con.register("_items", items)
    con.execute(
        """INSERT INTO worklist SELECT item_id, l, r,
               CASE WHEN isfinite(match_weight) THEN match_weight END, match_probability,
               reason, evidence, status, ?, ?, NULL, NULL, NULL FROM _items""",
        [at, upload_id],
    )
    con.unregister("_items")
    return len(items)
