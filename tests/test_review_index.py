"""Master index behaviour with a deterministic stand-in scorer (see test_review_helpers)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from migrant_linkage.review import MasterIndex, ReviewError
from test_review_helpers import new_index, records, snapshot

TX = [
    {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "2", "name": "ANA", "dob": "2015-01-02"},  # same child re-enrolled
    {"record_id": "3", "name": "LUIS", "dob": "2015-01-02"},  # sibling-like: near match
    {"record_id": "4", "name": "JOSE", "dob": "2016-03-04"},
]


@pytest.fixture
def index(tmp_path) -> MasterIndex:
    idx = new_index(tmp_path / "index.duckdb")
    idx.upload_standardized(records("TX", TX), state="TX", actor="loader")
    return idx


def queued_pairs(items: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(items["record_key_l"], items["record_key_r"], strict=True))


def students(idx: MasterIndex) -> dict[str, str]:
    a = idx.assignments()
    return dict(zip(a["record_key"], a["student_id"], strict=True))


# ------------------------------------------------------------------------------- uploads
def test_first_upload_mints_sequential_ids_and_merges_the_match_zone(index):
    s = students(index)
    assert s["TX:1"] == s["TX:2"] == "S000000001"
    assert s["TX:3"] == "S000000002" and s["TX:4"] == "S000000003"
    items = index.worklist()
    assert queued_pairs(items) == {("TX:1", "TX:3"), ("TX:2", "TX:3")}


def test_same_file_uploaded_twice_changes_nothing(index):
    before = snapshot(index)
    report = index.upload_standardized(records("TX", TX), state="TX", actor="loader")
    after = snapshot(index)
    assert report.counts["unchanged"] == len(TX) and report.counts["new"] == 0
    for table in ("records", "students", "worklist", "decisions", "audit_log", "audit_changes"):
        pd.testing.assert_frame_equal(before[table], after[table], check_dtype=False)
    assert len(after["uploads"]) == len(before["uploads"]) + 1  # the run itself is recorded


def test_existing_student_keeps_its_id_when_another_state_record_joins(index):
    before = students(index)
    report = index.upload_standardized(
        records("CA", [{"record_id": "77", "name": "JOSE", "dob": "2016-03-04"}]),
        state="CA",
        actor="loader",
    )
    after = students(index)
    assert after["CA:77"] == before["TX:4"]
    assert {k: after[k] for k in before} == before
    assert report.counts["joined_existing"] == 1 and report.counts["new_students"] == 0
    merge_entries = index.audit()
    assert (merge_entries["action"] == "auto_merge").sum() == 1


def test_same_record_id_in_two_states_are_two_records(index):
    index.upload_standardized(
        records("CA", [{"record_id": "1", "name": "MARIA", "dob": "2012-12-12"}]),
        state="CA",
        actor="loader",
    )
    keys = set(index.assignments()["record_key"])
    assert {"TX:1", "CA:1"} <= keys


def test_changed_record_under_review_stays_in_its_item_with_the_new_evidence(index):
    before = index.worklist()
    changed = [dict(r) for r in TX]
    changed[2] = {"record_id": "3", "name": "LUIS", "dob": "2014-07-07"}  # DOB corrected
    report = index.upload_standardized(records("TX", changed), state="TX", actor="loader")
    assert report.counts["changed"] == 1 and report.counts["unchanged"] == 3
    s = students(index)
    assert s["TX:3"] == "S000000002"  # locked by its item: keeps its student
    after = index.worklist()
    # Nothing discarded: the same items, scored again on the corrected birth date.
    assert after["item_id"].tolist() == before["item_id"].tolist()
    open_item = after[after["status"] == "open"].iloc[0]
    assert open_item["match_weight"] == -10.0
    assert report.counts["items_rescored"] == len(before)
    evidence = index.item_evidence(int(open_item["item_id"]))
    assert evidence["changed_record"].tolist() == ["TX:3"]
    assert evidence["previous_weight"].tolist() == [10.0]
    assert evidence["match_weight"].tolist() == [-10.0]
    all_versions = index.records(include_inactive=True)
    tx3 = all_versions[all_versions["record_key"] == "TX:3"]
    assert list(tx3["version"]) == [1, 2] and list(tx3["active"]) == [False, True]


def test_changed_record_that_now_matches_joins_that_student(index):
    changed = [dict(r) for r in TX]
    changed[3] = {"record_id": "4", "name": "ANA", "dob": "2015-01-02"}  # keying error fixed
    index.upload_standardized(records("TX", changed), state="TX", actor="loader")
    s = students(index)
    assert s["TX:4"] == s["TX:1"] == "S000000001"


def test_not_a_match_is_remembered_and_the_pair_never_returns(index):
    item = index.worklist()
    first = int(item.loc[item["record_key_l"] == "TX:1", "item_id"].iloc[0])
    index.decide(first, "not-a-match", actor="ana", comment="different children")
    changed = [dict(r) for r in TX]
    changed[2] = {**TX[2], "enrolled": "2026-09-01"}  # re-sent with a new enrolment date
    frame = records("TX", changed)
    frame.loc[2, "enrollment_date"] = "2026-09-01"  # raw column changed -> new content hash
    index.upload_standardized(frame, state="TX", actor="loader")
    pairs = queued_pairs(index.worklist())
    assert ("TX:1", "TX:3") not in pairs
    assert ("TX:2", "TX:3") in pairs  # not decided, so it comes back after the change


def test_a_match_remembered_as_not_a_match_is_never_auto_merged(index):
    # Split TX:2 off ANA: the split remembers TX:1/TX:2 as not a match ...
    index.split("S000000001", ["TX:2"], actor="ana", reason="two children")
    frame = records("TX", TX)
    frame.loc[1, "enrollment_date"] = "2026-09-01"  # ... so re-sending TX:2 keeps them apart
    index.upload_standardized(frame, state="TX", actor="loader")
    s = students(index)
    assert s["TX:1"] != s["TX:2"]


def test_record_matching_two_existing_students_does_not_merge_them(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records(
            "TX",
            [
                {"record_id": "1", "name": "ANA", "dob": "2015-01-02", "sex": "F"},
                {"record_id": "2", "name": "ANA", "dob": "2015-01-02", "sex": "M"},
            ],
        ),
        state="TX",
        actor="loader",
    )
    before = students(idx)
    assert before["TX:1"] != before["TX:2"]  # strong disagreement on sex
    idx.upload_standardized(
        records("CA", [{"record_id": "9", "name": "ANA", "dob": "2015-01-02"}]),
        state="CA",
        actor="loader",
    )
    after = students(idx)
    assert after["TX:1"] == before["TX:1"] and after["TX:2"] == before["TX:2"]
    assert after["CA:9"] not in (after["TX:1"], after["TX:2"])
    queued = queued_pairs(idx.worklist())
    assert {("CA:9", "TX:1"), ("CA:9", "TX:2")} <= queued


def test_twins_flagged_by_the_family_guard_are_never_merged(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records(
            "TX",
            [
                {"record_id": "1", "name": "ANA", "dob": "2015-01-02", "twin": True},
                {"record_id": "2", "name": "ANA", "dob": "2015-01-02", "twin": True},
            ],
        ),
        state="TX",
        actor="loader",
    )
    s = students(idx)
    assert s["TX:1"] != s["TX:2"]
    assert idx.worklist().empty  # the engine's routing: a guarded pair is not a near match


def test_upload_without_an_account_is_refused(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    with pytest.raises(ReviewError, match="account id is required"):
        idx.upload_standardized(records("TX", TX), state="TX", actor=" ")


def test_duplicate_record_id_within_a_state_is_refused_naming_the_key(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    rows = [TX[0], {**TX[1], "record_id": "1"}]
    with pytest.raises(ReviewError, match="TX:1") as err:
        idx.upload_standardized(records("TX", rows), state="TX", actor="loader")
    assert "ANA" not in str(err.value) and "2015" not in str(err.value)


# ------------------------------------------------------------------------------- decisions
def test_match_decision_merges_into_the_oldest_student(index):
    items = index.worklist()
    item = int(items.loc[items["record_key_l"] == "TX:1", "item_id"].iloc[0])
    outcome = index.decide(item, "match", actor="ana", comment="same parents")
    assert outcome["merged"] and outcome["student_id"] == "S000000001"
    s = students(index)
    assert s["TX:3"] == "S000000001"
    # the other item (TX:2 / TX:3) is settled by the merge: both records are now one student
    assert index.worklist().empty
    statuses = index.worklist(status=("decided", "resolved"))
    assert sorted(statuses["status"]) == ["decided", "resolved"]
    decisions = index.decisions()
    assert decisions["decision"].tolist() == ["match"]


def test_decided_item_cannot_be_decided_again(index):
    item = int(index.worklist()["item_id"].iloc[0])
    index.decide(item, "not-a-match", actor="ana")
    with pytest.raises(ReviewError, match="decided"):
        index.decide(item, "match", actor="bo")


def test_skip_keeps_the_item_on_the_worklist(index):
    item = int(index.worklist()["item_id"].iloc[0])
    index.decide(item, "skip", actor="ana", comment="calling the sending state")
    row = index.worklist().set_index("item_id").loc[item]
    assert row["status"] == "skipped"
    index.decide(item, "not-a-match", actor="ana")
    assert item not in set(index.worklist()["item_id"])


def test_unknown_decision_is_refused(index):
    with pytest.raises(ReviewError, match="not-a-match"):
        index.decide(int(index.worklist()["item_id"].iloc[0]), "maybe", actor="ana")


def test_two_person_rule_merge_waits_for_a_second_different_reviewer(tmp_path):
    idx = new_index(tmp_path / "i.duckdb", two_person_rule=True)
    idx.upload_standardized(records("TX", TX), state="TX", actor="loader")
    item = int(idx.worklist()["item_id"].iloc[0])
    outcome = idx.decide(item, "match", actor="ana")
    assert not outcome["merged"]
    assert students(idx)["TX:3"] == "S000000002"  # nothing merged yet
    with pytest.raises(ReviewError, match="second, different reviewer"):
        idx.validate(outcome["pending_id"], actor="ana")
    validated = idx.validate(outcome["pending_id"], actor="bo")
    assert validated["merged"] and students(idx)["TX:3"] == "S000000001"


def test_two_person_rule_rejected_merge_reopens_the_item(tmp_path):
    idx = new_index(tmp_path / "i.duckdb", two_person_rule=True)
    idx.upload_standardized(records("TX", TX), state="TX", actor="loader")
    item = int(idx.worklist()["item_id"].iloc[0])
    pending = idx.decide(item, "match", actor="ana")["pending_id"]
    idx.validate(pending, actor="bo", approve=False, comment="birth certificates differ")
    assert idx.worklist().set_index("item_id").loc[item, "status"] == "open"
    assert students(idx)["TX:3"] == "S000000002"


def test_worklist_filters_by_state_and_age(tmp_path):
    now = [datetime(2026, 11, 2, 9, 0)]
    idx = new_index(tmp_path / "i.duckdb", clock=lambda: now[0])
    idx.upload_standardized(records("TX", TX), state="TX", actor="loader")
    now[0] += timedelta(days=10)
    idx.upload_standardized(
        records("CA", [{"record_id": "5", "name": "PEDRO", "dob": "2016-03-04"}]),
        state="CA",
        actor="loader",
    )
    assert set(idx.worklist(state="CA")["record_key_l"]) == {"CA:5"}
    old = idx.worklist(older_than_days=7)
    assert len(old) == 2 and set(old["state_l"]) == {"TX"}
    assert old["age_days"].tolist() == [10, 10]
    assert len(idx.worklist()) == 3


def test_show_gives_both_records_side_by_side_with_the_evidence(index):
    item = int(index.worklist()["item_id"].iloc[0])
    shown = index.show(item, actor="ana")
    side = shown["records"].set_index("field")
    assert side.loc["record_key", "left"] == "TX:1" and side.loc["record_key", "right"] == "TX:3"
    assert side.loc["first_name", "left"] == "ANA" and side.loc["first_name", "right"] == "LUIS"
    evidence = shown["evidence"].set_index("comparison")
    assert evidence.loc["given_name", "weight"] == -6.0


# ------------------------------------------------------------------------------- merge/split/undo
def test_split_keeps_the_original_id_on_staying_records_and_mints_a_new_one(index):
    out = index.split("S000000001", ["TX:2"], actor="ana", reason="different children")
    s = students(index)
    assert s["TX:1"] == "S000000001" and s["TX:2"] == out["new_student_id"] == "S000000004"


def test_split_must_leave_records_on_both_sides(index):
    with pytest.raises(ReviewError, match="each side"):
        index.split("S000000001", ["TX:1", "TX:2"], actor="ana")
    with pytest.raises(ReviewError, match="do not belong"):
        index.split("S000000001", ["TX:4"], actor="ana")


def test_hand_merge_then_undo_restores_both_students(index):
    before = students(index)
    merged = index.merge("S000000003", "S000000002", actor="ana", reason="same child")
    assert merged["student_id"] == "S000000002"
    assert students(index)["TX:4"] == "S000000002"
    index.undo(merged["audit_id"], actor="bo", reason="wrong merge")
    assert students(index) == before
    with pytest.raises(ReviewError, match="already undone"):
        index.undo(merged["audit_id"], actor="bo")


def test_undo_of_an_auto_merge_gives_the_joined_records_a_new_id(index):
    index.upload_standardized(
        records("CA", [{"record_id": "77", "name": "JOSE", "dob": "2016-03-04"}]),
        state="CA",
        actor="loader",
    )
    audit = index.audit()
    entry = int(audit.loc[audit["action"] == "auto_merge", "audit_id"].iloc[0])
    index.undo(entry, actor="ana", reason="not the same JOSE")
    s = students(index)
    assert s["TX:4"] == "S000000003" and s["CA:77"] == "S000000004"
    # the undone pair is remembered: re-sending the record does not merge it again
    frame = records("CA", [{"record_id": "77", "name": "JOSE", "dob": "2016-03-04"}])
    frame.loc[0, "enrollment_date"] = "2026-10-01"
    index.upload_standardized(frame, state="CA", actor="loader")
    assert students(index)["CA:77"] != "S000000003"


def test_only_merges_can_be_undone(index):
    split = index.split("S000000001", ["TX:2"], actor="ana")
    with pytest.raises(ReviewError, match="not a merge"):
        index.undo(split["audit_id"], actor="ana")


def test_audit_log_replays_to_the_current_state(index):
    index.merge("S000000003", "S000000002", actor="ana")
    index.split("S000000001", ["TX:2"], actor="ana")
    index.upload_standardized(
        records("CA", [{"record_id": "77", "name": "JOSE", "dob": "2016-03-04"}]),
        state="CA",
        actor="loader",
    )
    assert index.check_replay()
    replayed = index.replay().set_index("record_key")["student_id"].to_dict()
    assert replayed == students(index)


def test_audit_entry_shows_before_and_after_state(index):
    merged = index.merge("S000000003", "S000000002", actor="ana", reason="same child")
    entry = index.audit_entry(merged["audit_id"])
    assert entry["actor"] == "ana" and entry["reason"] == "same child"
    assert entry["before"]["records"]["TX:4"]["student_id"] == "S000000003"
    assert entry["after"]["records"]["TX:4"]["student_id"] == "S000000002"
    json.dumps(entry)  # JSON-ready


def test_audit_log_holds_no_names_or_birth_dates(index):
    index.merge("S000000003", "S000000002", actor="ana", reason="checked")
    text = " ".join(index.audit()["details_json"].astype(str))
    for value in ("ANA", "LUIS", "JOSE", "2015-01-02", "2016-03-04"):
        assert value not in text


# ------------------------------------------------------------------------------- survivorship
def test_certificate_verified_birth_date_wins_over_the_majority(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records(
            "TX",
            [
                {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
                {"record_id": "2", "name": "ANA", "dob": "2015-01-02"},
            ],
        ),
        state="TX",
        actor="loader",
    )
    idx.upload_standardized(
        records("CA", [{"record_id": "3", "name": "ANA", "dob": "2015-02-01", "verified": True}]),
        state="CA",
        actor="loader",
    )
    idx.merge(*sorted(set(students(idx).values())), actor="ana")
    row = idx.consolidated().iloc[0]
    assert row["birth_date_std"] == "2015-02-01" and row["birth_date_verified"]
    assert row["birth_date_std_conflicts"] == "2015-01-02"
    assert row["n_records"] == 3 and row["states"] == "CA,TX"


def test_most_frequent_value_wins_then_the_most_recent(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records(
            "TX",
            [
                {
                    "record_id": "1",
                    "name": "ANA",
                    "dob": "2015-01-02",
                    "sex": "F",
                    "surname": "LOPEZ",
                    "enrolled": "2024-01-10",
                },
                {
                    "record_id": "2",
                    "name": "ANA",
                    "dob": "2015-01-02",
                    "sex": "F",
                    "surname": "GARCIA",
                    "enrolled": "2025-03-01",
                },
                {
                    "record_id": "3",
                    "name": "ANA",
                    "dob": "2015-01-02",
                    "sex": "F",
                    "surname": "GARCIA",
                    "enrolled": "2023-05-05",
                },
            ],
        ),
        state="TX",
        actor="loader",
    )
    row = idx.consolidated().iloc[0]
    assert row["surname_paternal"] == "GARCIA" and row["surname_paternal_conflicts"] == "LOPEZ"
    # a tie is broken by the most recent enrolment
    idx2 = new_index(tmp_path / "j.duckdb")
    idx2.upload_standardized(
        records(
            "TX",
            [
                {
                    "record_id": "1",
                    "name": "ANA",
                    "dob": "2015-01-02",
                    "surname": "LOPEZ",
                    "enrolled": "2025-09-01",
                },
                {
                    "record_id": "2",
                    "name": "ANA",
                    "dob": "2015-01-02",
                    "surname": "GARCIA",
                    "enrolled": "2024-09-01",
                },
            ],
        ),
        state="TX",
        actor="loader",
    )
    assert idx2.consolidated().iloc[0]["surname_paternal"] == "LOPEZ"


# ------------------------------------------------------------------------------- reports, export
def test_birth_date_conflict_between_states_is_reported(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records("TX", [{"record_id": "1", "name": "ANA", "dob": "2015-01-02"}]),
        state="TX",
        actor="loader",
    )
    idx.upload_standardized(
        records("CA", [{"record_id": "1", "name": "ANA", "dob": "2015-02-01", "verified": True}]),
        state="CA",
        actor="loader",
    )
    assert idx.birth_date_conflicts().empty  # different students so far
    idx.merge(*sorted(set(students(idx).values())), actor="ana")
    report = idx.birth_date_conflicts()
    assert len(report) == 1
    assert report.iloc[0]["states"] == "CA,TX" and report.iloc[0]["verified_in"] == "CA"
    assert report.iloc[0]["n_birth_dates"] == 2


def test_duplicates_per_state_and_duplicate_rate(index):
    index.upload_standardized(
        records(
            "CA",
            [
                {"record_id": "5", "name": "PEDRO", "dob": "2016-03-04"},
                {"record_id": "6", "name": "RUTH", "dob": "2010-10-10"},
            ],
        ),
        state="CA",
        actor="loader",
    )
    report = index.duplicates_by_state().set_index("state")
    assert report.loc["TX", "records"] == 4 and report.loc["TX", "possible_duplicates"] == 2
    assert report.loc["TX", "duplicate_rate"] == pytest.approx(2 / 4)
    assert report.loc["CA", "possible_duplicates"] == 0
    assert report.loc["CA", "cross_state_possible_duplicates"] == 1
    assert index.duplicate_rate() == pytest.approx(3 / 6)
    backlog = index.backlog().set_index("status")
    # TX:3 is in two items: one is open, the other waits for it (a record is locked by one).
    assert backlog.loc["open", "items"] == 2 and backlog.loc["waiting", "items"] == 1


def test_export_writes_every_record_with_its_student(index, tmp_path):
    path = index.export(tmp_path / "students.csv")
    frame = pd.read_csv(path, dtype=str)
    assert list(frame.columns) == ["record_id", "state", "student_id"]
    assert len(frame) == 4 and frame["student_id"].nunique() == 3
    consolidated = pd.read_csv(index.export(tmp_path / "c.csv", consolidated=True), dtype=str)
    assert len(consolidated) == 3 and consolidated["student_id"].is_unique


def test_opening_a_missing_index_says_how_to_create_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="index init"):
        MasterIndex.open(tmp_path / "nope.duckdb")


def test_training_labels_are_within_student_pairs_and_rejected_pairs(index):
    from migrant_linkage.review.training import decision_labels

    items = index.worklist()
    index.decide(int(items["item_id"].iloc[0]), "not-a-match", actor="ana")
    labels = decision_labels(index)
    got = {(r.record_id_l, r.record_id_r): bool(r.is_match) for r in labels.itertuples()}
    assert got == {("TX:1", "TX:2"): True, ("TX:1", "TX:3"): False}


def test_changed_record_leaving_a_student_gets_a_new_id_and_the_student_keeps_its_own(index):
    changed = [dict(r) for r in TX]
    changed[1] = {"record_id": "2", "name": "ANA", "dob": "2013-05-05"}  # no longer matches TX:1
    index.upload_standardized(records("TX", changed), state="TX", actor="loader")
    s = students(index)
    assert s["TX:1"] == "S000000001"
    assert s["TX:2"] == "S000000004"
    assert index.check_replay()


def test_without_a_state_argument_each_record_is_keyed_by_its_own_state(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    frame = pd.concat(
        [
            records("TX", TX[:1]),
            records("CA", [{"record_id": "1", "name": "ANA", "dob": "2015-01-02"}]),
        ]
    )
    idx.upload_standardized(frame, actor="loader")
    assert sorted(idx.assignments()["record_key"]) == ["CA:1", "TX:1"]
    assert idx.assignments()["student_id"].nunique() == 1


def test_opening_a_duckdb_file_that_is_not_an_index_is_refused(tmp_path):
    import duckdb

    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(ReviewError, match="not a master index"):
        MasterIndex.open(path)


def test_group_holding_twins_is_split_keeping_the_strongest_links(tmp_path):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(
        records(
            "TX",
            [
                {"record_id": "1", "name": "ANA", "dob": "2015-01-02", "twin": True},
                {"record_id": "2", "name": "ANA", "dob": "2015-01-02", "twin": True},
                {"record_id": "3", "name": "ANA", "dob": "2015-01-02"},
            ],
        ),
        state="TX",
        actor="loader",
    )
    s = students(idx)
    assert s["TX:1"] == s["TX:3"] != s["TX:2"]  # 1-2 guarded; 1-3 taken first (ties by id)
    assert queued_pairs(idx.worklist()) == {("TX:2", "TX:3")}  # the match held apart


def test_auto_merge_evidence_names_only_pairs_into_the_joined_student(index):
    index.upload_standardized(
        records("CA", [{"record_id": "77", "name": "ANA", "dob": "2015-01-02"}]),
        state="CA",
        actor="loader",
    )
    audit = index.audit()
    entry = audit[audit["action"] == "auto_merge"].iloc[0]
    details = json.loads(entry["details_json"])
    assert details["survivor"] == "S000000001"
    assert sorted(map(tuple, details["pairs"])) == [("CA:77", "TX:1"), ("CA:77", "TX:2")]


def test_record_strongly_disagreeing_with_an_unblocked_record_of_the_student_does_not_join(index):
    # ANA (TX:1, TX:2) and JOSE (TX:4) merged by hand; blocking on the birth date never pairs a
    # new ANA with JOSE's record, so the upload scores that pair inside the proposed student.
    index.merge("S000000001", "S000000003", actor="ana", reason="checked with the family")
    index.upload_standardized(
        records("CA", [{"record_id": "9", "name": "ANA", "dob": "2015-01-02"}]),
        state="CA",
        actor="loader",
    )
    s = students(index)
    assert s["CA:9"] != s["TX:1"]
    assert {("CA:9", "TX:1"), ("CA:9", "TX:2")} <= queued_pairs(index.worklist())


# ------------------------------------------------------------------------------- old indexes
def test_an_index_made_before_the_comparisons_per_record_inputs_fills_them_when_opened(tmp_path):
    """An index written before issue 20 lacks schema.PAIR_INPUTS: opening it fills them with
    the values the standardizer gives the same records, and uploads into it still work."""
    import duckdb

    from migrant_linkage.schema import PAIR_INPUT_COLUMNS
    from migrant_linkage.standardize import standardize

    def standardized(state: str, rows: list[dict]) -> pd.DataFrame:
        return standardize(records(state, rows)).standardized

    path = tmp_path / "index.duckdb"
    idx = new_index(path)
    idx.upload_standardized(
        standardized(
            "TX",
            [*TX, {"record_id": "5", "name": "ANA", "dob": "2015", "surname": "DE LA CRUZ-LOPEZ"}],
        ),
        state="TX",
        actor="loader",
    )
    columns = ", ".join(PAIR_INPUT_COLUMNS)
    query = f"SELECT record_key, {columns} FROM records ORDER BY record_key"
    with duckdb.connect(str(path)) as con:
        as_standardized = con.execute(query).fetchall()
        # DuckDB drops a column only from a table without indexes: the records table as an
        # index before issue 20 held it, indexes and all.
        indexes = con.execute(
            "SELECT index_name, sql FROM duckdb_indexes() WHERE table_name = 'records'"
        ).fetchall()
        for name, _ in indexes:
            con.execute(f"DROP INDEX {name}")
        for column in PAIR_INPUT_COLUMNS:
            con.execute(f"ALTER TABLE records DROP COLUMN {column}")
        for _, sql in indexes:
            con.execute(sql)

    reopened = MasterIndex.open(path, scorer=idx.scorer)
    with duckdb.connect(str(path)) as con:
        assert con.execute(query).fetchall() == as_standardized
    assert any(row[1] == " CRUZ LOPEZ " for row in as_standardized)

    reopened.upload_standardized(standardized("CA", TX[:2]), state="CA", actor="loader")
    with duckdb.connect(str(path)) as con:
        uploaded = con.execute(
            "SELECT surname_units_padded, birth_date_keyed_digits FROM records "
            "WHERE submitting_state = 'CA'"
        ).fetchall()
    assert uploaded == [(" GARCIA ", "20150102")] * 2


def test_an_index_made_before_a_standardized_column_existed_opens_with_it_derived(tmp_path):
    import duckdb

    idx = new_index(tmp_path / "index.duckdb")
    rows = records(
        "TX",
        [
            {"record_id": "1", "name": "AL", "dob": "2015-01-02"},
            {"record_id": "2", "name": "ANA", "dob": "2016-01-02"},
        ],
    ).assign(given_name_1=["AL", "ANA"])
    idx.upload_standardized(rows, state="TX", actor="loader")
    with duckdb.connect(str(idx.path)) as con:  # as an index of the previous release holds it
        con.execute("DROP INDEX records_key")
        con.execute("DROP INDEX records_student")
        con.execute("ALTER TABLE records DROP COLUMN given_name_1_readings")
        con.execute("CREATE INDEX records_key ON records (record_key)")

    MasterIndex.open(idx.path)

    with duckdb.connect(str(idx.path), read_only=True) as con:
        got = dict(con.execute("SELECT record_key, given_name_1_readings FROM records").fetchall())
    assert {"ALAN", "ALFRED"} <= set(got["TX:1"].split())
    assert got["TX:2"] is None
    with duckdb.connect(str(idx.path), read_only=True) as con:  # its indexes are back
        names = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    assert "records_key" in names
