"""Locks: a record in an undecided item is that item's until it is decided. An upload that
changes it attaches the new version to the item as new evidence; it never discards the item."""

from __future__ import annotations

import pytest

from migrant_linkage.review import MasterIndex, ReviewError
from test_review_helpers import new_index, records

PAIR = [
    {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "2", "name": "ANITA", "dob": "2015-01-02"},  # near match of record 1
]


def pair_records(middle_name_of_2: str | None = None):
    frame = records("TX", PAIR)
    frame["middle_name"] = [None, middle_name_of_2]
    return frame


@pytest.fixture
def index(tmp_path) -> MasterIndex:
    idx = new_index(tmp_path / "i.duckdb", two_person_rule=True)
    idx.upload_standardized(pair_records(), state="TX", actor="loader")
    return idx


def only_item(idx: MasterIndex) -> dict:
    items = idx.worklist(status=("open", "skipped", "pending", "waiting"))
    assert len(items) == 1
    return items.iloc[0].to_dict()


def test_a_pending_merge_survives_an_upload_correcting_one_of_its_records(index):
    item = only_item(index)
    proposal = index.decide(int(item["item_id"]), "match", actor="ana")
    student_before = index.student_of("TX:2")
    # The middle name corrected at the source:
    report = index.upload_standardized(pair_records("MARIA"), state="TX", actor="loader")
    assert report.counts["changed"] == 1 and report.counts["items_rescored"] == 1
    # The proposal is still waiting for its validator, the record still in its student ...
    assert index.pending()["pending_id"].tolist() == [proposal["pending_id"]]
    assert only_item(index)["status"] == "pending"
    assert index.student_of("TX:2") == student_before
    # ... the new version is the item's new evidence ...
    evidence = index.item_evidence(int(item["item_id"]))
    assert evidence["changed_record"].tolist() == ["TX:2"]
    versions = index.records(include_inactive=True)
    assert versions.loc[versions["record_key"] == "TX:2", "version"].tolist() == [1, 2]
    # ... and the validator can still carry the merge out.
    assert index.validate(proposal["pending_id"], actor="bo")["merged"] is True
    assert index.student_of("TX:1") == index.student_of("TX:2")
    assert index.check_replay()


def test_a_record_in_an_open_item_waits_before_entering_another(index):
    first = only_item(index)
    index.upload_standardized(
        records("CA", [{"record_id": "7", "name": "ANAHI", "dob": "2015-01-02"}]),
        state="CA",
        actor="loader",
    )
    items = index.worklist().set_index(["record_key_l", "record_key_r"])
    assert items.loc[("TX:1", "TX:2"), "status"] == "open"
    waiting = items[items["status"] == "waiting"]
    assert set(waiting.index) == {("CA:7", "TX:1"), ("CA:7", "TX:2")}
    with pytest.raises(ReviewError, match="waiting"):
        index.decide(int(waiting["item_id"].iloc[0]), "not-a-match", actor="ana")
    # Deciding the first item releases its records: one waiting item opens (a record is
    # locked by one item at a time), the other keeps waiting for it.
    index.decide(int(first["item_id"]), "not-a-match", actor="ana")
    after = index.worklist().set_index(["record_key_l", "record_key_r"])
    assert after.loc[("CA:7", "TX:1"), "status"] == "open"
    assert after.loc[("CA:7", "TX:2"), "status"] == "waiting"


def test_a_waiting_item_whose_records_were_merged_meanwhile_is_resolved(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")  # two-person rule off: a match merges at once
    idx.upload_standardized(records("TX", PAIR), state="TX", actor="loader")
    idx.upload_standardized(
        records("CA", [{"record_id": "7", "name": "ANAHI", "dob": "2015-01-02"}]),
        state="CA",
        actor="loader",
    )
    first = idx.worklist().set_index(["record_key_l", "record_key_r"]).loc[("TX:1", "TX:2")]
    idx.decide(int(first["item_id"]), "match", actor="ana")
    items = idx.worklist().set_index(["record_key_l", "record_key_r"])
    assert items.loc[("CA:7", "TX:1"), "status"] == "open"
    # CA:7 against the merged student: whichever pair is decided "match" settles the other.
    idx.decide(int(items.loc[("CA:7", "TX:1"), "item_id"]), "match", actor="ana")
    assert idx.worklist().empty
    statuses = idx.worklist(status=("resolved",))
    assert statuses["record_key_r"].tolist() == ["TX:2"]
