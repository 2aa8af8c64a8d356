"""Worklist item types and their state machine; splits, undos and model changes under the
two-person rule; two processes acting on one item."""

from __future__ import annotations

import itertools
import json

import pytest

from migrant_linkage.review import MasterIndex, ReviewError
from migrant_linkage.review.items import (
    ITEM_EVENTS,
    ITEM_STATUSES,
    ITEM_TRANSITIONS,
    PROPOSAL_EVENTS,
    PROPOSAL_STATUSES,
    PROPOSAL_TRANSITIONS,
    IllegalTransitionError,
    advance,
)
from test_review_helpers import ADMIN, new_index, records
from test_review_safety import _near_match_index, _run_deciders

TX = [
    {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "2", "name": "ANA", "dob": "2015-01-02"},  # auto-merged with record 1
    {"record_id": "3", "name": "LUIS", "dob": "2016-03-04"},
]


@pytest.mark.parametrize(
    ("machine", "statuses", "events", "table"),
    [
        ("item", ITEM_STATUSES, ITEM_EVENTS, ITEM_TRANSITIONS),
        ("proposal", PROPOSAL_STATUSES, PROPOSAL_EVENTS, PROPOSAL_TRANSITIONS),
    ],
)
def test_every_listed_transition_is_allowed_and_every_other_is_refused(
    machine, statuses, events, table
):
    for status, event in itertools.product(statuses, events):
        if (status, event) in table:
            assert advance(machine, status, event, label="x") == table[(status, event)]
        else:
            with pytest.raises(IllegalTransitionError, match=f"x is {status}: cannot {event}"):
                advance(machine, status, event, label="x")


def test_closed_items_have_no_way_out():
    for closed in ("decided", "resolved", "superseded"):
        assert not [e for (s, e) in ITEM_TRANSITIONS if s == closed]


def test_deciding_a_decided_item_names_why_it_is_refused(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records("TX", [TX[0], {"record_id": "9", "name": "LUIS", "dob": "2015-01-02"}]),
        actor="loader",
    )
    item = int(idx.worklist()["item_id"].iloc[0])
    idx.decide(item, "not-a-match", actor="ana")
    with pytest.raises(ReviewError, match="decided: cannot decide it"):
        idx.decide(item, "match", actor="bo")


@pytest.fixture
def ruled(tmp_path) -> MasterIndex:
    idx = new_index(tmp_path / "i.duckdb", two_person_rule=True)
    idx.upload_standardized(records("TX", [TX[0], TX[2]]), actor="loader")
    idx.upload_standardized(records("TX", [TX[1]]), actor="loader")  # joins TX:1: auto-merge
    return idx


def test_a_split_under_the_two_person_rule_waits_for_a_validator(ruled):
    student = ruled.student_of("TX:1")
    proposal = ruled.split(student, ["TX:2"], actor="ana", reason="two children")
    assert proposal["split"] is False
    assert ruled.student_of("TX:2") == student  # nothing moved yet
    pending = ruled.pending()
    assert pending["item_type"].tolist() == ["validate_user_split"]
    with pytest.raises(ReviewError, match="second, different reviewer"):
        ruled.validate(proposal["pending_id"], actor="ANA")
    done = ruled.validate(proposal["pending_id"], actor="bo")
    assert ruled.student_of("TX:2") == done["new_student_id"] != student
    entry = ruled.audit_entry(done["audit_id"])
    assert entry["action"] == "split" and entry["actor"] == "bo"
    assert entry["details"]["proposed_by"] == "ana"
    with pytest.raises(ReviewError, match="validated"):
        ruled.validate(proposal["pending_id"], actor="bo")


def test_an_undo_under_the_two_person_rule_waits_for_a_validator(ruled):
    audit = ruled.audit()
    merge = int(audit.loc[audit["action"] == "auto_merge", "audit_id"].iloc[0])
    proposal = ruled.undo(merge, actor="ana", reason="two children")
    assert ruled.student_of("TX:1") == ruled.student_of("TX:2")
    assert ruled.pending()["item_type"].tolist() == ["validate_user_split"]
    ruled.validate(proposal["pending_id"], actor="bo")
    assert ruled.student_of("TX:1") != ruled.student_of("TX:2")
    assert ruled.check_replay()


def test_a_rejected_split_moves_nothing(ruled):
    student = ruled.student_of("TX:1")
    proposal = ruled.split(student, ["TX:2"], actor="ana")
    ruled.validate(proposal["pending_id"], actor="bo", approve=False, comment="same child")
    assert ruled.student_of("TX:2") == student
    assert ruled.pending().empty


def test_a_model_change_under_the_two_person_rule_needs_a_second_administrator(ruled):
    from migrant_linkage.model import Model

    ruled.add_account("admin2", display_name="Second", role="administrator", actor=ADMIN)
    settings = Model.default().trained_settings()
    settings["probability_two_random_records_match"] = 0.0123
    proposal = ruled.set_model(settings, actor=ADMIN, reason="retrained")
    assert proposal["changed"] is False
    assert ruled.model().settings.get("probability_two_random_records_match") != 0.0123
    assert ruled.pending()["item_type"].tolist() == ["validate_settings"]
    with pytest.raises(ReviewError):
        ruled.validate(proposal["pending_id"], actor="bo")  # a validator, not an administrator
    ruled.validate(proposal["pending_id"], actor="admin2")
    assert ruled.model().trained_settings()["probability_two_random_records_match"] == 0.0123


def test_merge_proposals_are_typed_by_where_they_came_from(tmp_path):
    idx = new_index(tmp_path / "i.duckdb", two_person_rule=True)
    idx.upload_standardized(
        records("TX", [TX[0], {"record_id": "9", "name": "LUIS", "dob": "2015-01-02"}, TX[2]]),
        actor="loader",
    )
    item = int(idx.worklist()["item_id"].iloc[0])
    idx.decide(item, "match", actor="ana")
    idx.merge(idx.student_of("TX:1"), idx.student_of("TX:3"), actor="ana")
    assert sorted(idx.pending()["item_type"]) == ["validate_merge", "validate_user_merge"]


def test_two_processes_deciding_the_same_item_one_wins_the_other_is_told(tmp_path):
    path = tmp_path / "index.duckdb"
    index = _near_match_index(path, 6)
    items = sorted(index.worklist()["item_id"].astype(int))
    results = _run_deciders(path, {"ana": items, "bo": items}, tmp_path / "go")
    done = results["ana"]["done"] + results["bo"]["done"]
    refused = results["ana"]["refused"] + results["bo"]["refused"]
    assert sorted(done) == items and sorted(refused) == items  # each item decided exactly once
    decisions = index.decisions()
    assert sorted(decisions["item_id"].astype(int)) == items
    assert index.worklist().empty
    assert index.check_replay()
    assert json.dumps(results)  # both processes finished and reported
