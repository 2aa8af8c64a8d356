"""Decisions are constraints: a pair decided "not a match" never ends up in one student through
a merge, a chain of matches or an undo, unless a reviewer explicitly reverses it."""

from __future__ import annotations

import pytest

from migrant_linkage.review import MasterIndex, ReviewError
from test_review_helpers import new_index, records, snapshot


def ana(record_id: str, **extra) -> dict:
    return {"record_id": record_id, "name": "ANA", "dob": "2015-01-02", **extra}


@pytest.fixture
def index(tmp_path) -> MasterIndex:
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records(
            "TX",
            [
                ana("1"),
                {"record_id": "2", "name": "LUIS", "dob": "2016-03-04"},
                {"record_id": "3", "name": "JOSE", "dob": "2017-05-06"},
            ],
        ),
        actor="loader",
    )
    return idx


def test_undo_refuses_when_a_later_split_depends_on_what_it_would_restore(index):
    a, b, c = (index.student_of(f"TX:{i}") for i in (1, 2, 3))
    first = index.merge(a, b, actor="ana")
    second = index.merge(first["student_id"], c, actor="ana")
    index.split(second["student_id"], ["TX:3"], actor="ana", reason="not the same child")
    before = snapshot(index)
    with pytest.raises(ReviewError, match="later entries .* moved the records"):
        index.undo(second["audit_id"], actor="bo")
    with pytest.raises(ReviewError, match="not merges"):
        index.undo(second["audit_id"], actor="bo", cascade=True)
    after = snapshot(index)
    for table in ("records", "students", "decisions", "audit_log"):
        assert before[table].equals(after[table])
    assert index.verify_audit().ok


def test_undo_of_a_merge_whose_records_did_not_move_again_needs_no_cascade(index):
    a, b, c = (index.student_of(f"TX:{i}") for i in (1, 2, 3))
    first = index.merge(a, b, actor="ana")
    index.merge(first["student_id"], c, actor="ana")  # moves TX:3 only
    index.undo(first["audit_id"], actor="bo")
    assert index.student_of("TX:2") != index.student_of("TX:1")
    assert index.student_of("TX:3") == index.student_of("TX:1")


def test_undo_cascade_reverses_a_chain_of_merges(index):
    a, b, c = (index.student_of(f"TX:{i}") for i in (1, 2, 3))
    first = index.merge(b, c, actor="ana")  # TX:3 into TX:2's student
    second = index.merge(a, first["student_id"], actor="ana")  # then both into TX:1's
    with pytest.raises(ReviewError, match=f"later entries {second['audit_id']}"):
        index.undo(first["audit_id"], actor="bo")
    index.undo(first["audit_id"], actor="bo", cascade=True)
    students = {index.student_of(f"TX:{i}") for i in (1, 2, 3)}
    assert students == {a, b, c}
    assert index.verify_audit().ok


def test_a_hand_merge_across_a_not_a_match_pair_needs_an_explicit_reversal(index):
    a, b = index.student_of("TX:1"), index.student_of("TX:2")
    merged = index.merge(a, b, actor="ana")
    index.split(merged["student_id"], ["TX:2"], actor="ana", reason="two children")
    apart = index.student_of("TX:2")
    with pytest.raises(ReviewError, match="decided not a match"):
        index.merge(a, apart, actor="bo")
    again = index.merge(a, apart, actor="bo", reverse_decisions=True, reason="COE confirms")
    assert index.student_of("TX:1") == index.student_of("TX:2")
    entry = index.audit_entry(again["audit_id"])
    assert entry["details"]["reversed_not_a_match"] == [["TX:1", "TX:2"]]
    latest = index.decisions().iloc[-1]
    assert latest["decision"] == "match" and latest["reviewer"] == "bo"


def test_a_chain_through_a_third_record_does_not_join_a_not_a_match_pair(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(records("TX", [ana("1"), ana("3")]), actor="loader")
    idx.split(idx.student_of("TX:1"), ["TX:3"], actor="ana", reason="two children")
    # Both re-sent (changed) with a new record matching each of them.
    resent = records("TX", [ana("1", enrolled="2026-09-01"), ana("3", enrolled="2026-09-01")])
    resent["enrollment_date"] = "2026-09-01"
    idx.upload_standardized(
        pd_concat(resent, records("TX", [ana("2")])),
        actor="loader",
    )
    assert idx.student_of("TX:1") != idx.student_of("TX:3")
    assert idx.check_replay()


def pd_concat(*frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_new_evidence_reopens_a_pair_decided_not_a_match_but_never_merges_it_alone(tmp_path):
    from migrant_linkage.review.upload import REASON_REOPENED

    idx = new_index(tmp_path / "i.duckdb")
    luis = {"record_id": "3", "name": "LUIS", "dob": "2015-01-02"}
    idx.upload_standardized(records("TX", [ana("1"), luis]), actor="loader")
    item = int(idx.worklist()["item_id"].iloc[0])
    idx.decide(item, "not-a-match", actor="ana", comment="different given names")
    # The given name of TX:3 was a keying error: it now scores in the match zone.
    idx.upload_standardized(records("TX", [ana("1"), {**luis, "name": "ANA"}]), actor="loader")
    assert idx.student_of("TX:1") != idx.student_of("TX:3")  # the decision still holds
    items = idx.worklist()
    assert items["reason"].tolist() == [REASON_REOPENED]
    assert float(items["match_weight"].iloc[0]) == 25.0
    # Deciding the reopened item "match" is the explicit reversal.
    idx.decide(int(items["item_id"].iloc[0]), "match", actor="bo", comment="same child")
    assert idx.student_of("TX:1") == idx.student_of("TX:3")
    assert idx.verify_audit().ok


def test_an_unchanged_score_does_not_reopen_a_not_a_match_pair(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    luis = {"record_id": "3", "name": "LUIS", "dob": "2015-01-02"}
    idx.upload_standardized(records("TX", [ana("1"), luis]), actor="loader")
    idx.decide(int(idx.worklist()["item_id"].iloc[0]), "not-a-match", actor="ana")
    resent = records("TX", [ana("1"), luis])
    resent["enrollment_date"] = "2026-09-01"  # changed records, same evidence
    idx.upload_standardized(resent, actor="loader")
    assert idx.worklist().empty


def test_a_third_twin_record_scoring_strongly_against_both_twins_goes_to_review(tmp_path):
    from migrant_linkage.review.upload import REASON_GUARDED_FAMILY

    idx = new_index(tmp_path / "i.duckdb")
    twins = [
        {"record_id": "1", "name": "JOSE", "dob": "2015-01-02", "twin": True},
        {"record_id": "2", "name": "JOSE", "dob": "2015-01-02", "twin": True},
    ]
    idx.upload_standardized(records("TX", twins), actor="loader")
    assert idx.worklist().empty  # two twins: the guard keeps them apart, nothing to review
    third = {"record_id": "3", "name": "JOSE", "dob": "2015-01-02", "twin": True}
    idx.upload_standardized(records("TX", [third]), actor="loader")
    items = idx.worklist(status=("open", "waiting"))
    pairs = set(zip(items["record_key_l"], items["record_key_r"], strict=True))
    assert {("TX:1", "TX:3"), ("TX:2", "TX:3")} <= pairs
    assert set(items["reason"]) == {REASON_GUARDED_FAMILY}
    assert len({idx.student_of(f"TX:{i}") for i in (1, 2, 3)}) == 3  # never merged
