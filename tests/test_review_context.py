"""`index show` gives the context to decide: every record of both students, what keeps them
apart (earlier decisions, other open items) and the evidence attached while the item was open."""

from __future__ import annotations

from test_review_helpers import new_index, records


def test_show_names_every_record_of_both_students_and_what_keeps_them_apart(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    ana = [
        {"record_id": "7", "name": "ANA", "dob": "2015-01-02"},
        {"record_id": "8", "name": "ANA", "dob": "2015-01-02"},  # one student with TX:7
    ]
    idx.upload_standardized(records("TX", ana), actor="loader")
    idx.upload_standardized(
        records("CA", [{"record_id": "5", "name": "ANITA", "dob": "2015-01-02"}]), actor="loader"
    )
    items = idx.worklist().set_index(["record_key_l", "record_key_r"])
    assert items.loc[("CA:5", "TX:8"), "status"] == "waiting"
    first = int(items.loc[("CA:5", "TX:7"), "item_id"])
    shown = idx.show(first, actor="ana")
    students = shown["students"]
    assert students.loc[students["side"] == "left", "record_key"].tolist() == ["CA:5"]
    assert students.loc[students["side"] == "right", "record_key"].tolist() == ["TX:7", "TX:8"]
    conflicts = shown["conflicts"]
    assert conflicts[["kind", "record_key_l", "record_key_r"]].values.tolist() == [
        ["undecided item", "CA:5", "TX:8"]
    ]
    idx.decide(first, "not-a-match", actor="ana", comment="different mothers")
    second = int(items.loc[("CA:5", "TX:8"), "item_id"])
    conflicts = idx.show(second, actor="ana")["conflicts"]
    assert conflicts[
        ["kind", "record_key_l", "record_key_r", "reviewer", "reason"]
    ].values.tolist() == [["decided not a match", "CA:5", "TX:7", "ana", "different mothers"]]
