"""The tamper-evident audit log (issue 19, case 6): edits made behind the index's back are found
and the first failing entry is named; printing never passes control characters through."""

from __future__ import annotations

import duckdb
import pytest

from migrant_linkage.cli import main
from migrant_linkage.review import MasterIndex
from test_review_helpers import new_index, records

TX = [
    {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "2", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "3", "name": "LUIS", "dob": "2015-01-02"},
    {"record_id": "4", "name": "JOSE", "dob": "2016-03-04"},
]


@pytest.fixture
def index(tmp_path) -> MasterIndex:
    idx = new_index(tmp_path / "index.duckdb")
    idx.upload_standardized(records("TX", TX[:2] + TX[3:]), actor="loader")
    joining = {"record_id": "5", "name": "JOSE", "dob": "2016-03-04"}  # joins TX:4
    idx.upload_standardized(records("TX", [TX[2], joining]), actor="loader")
    item = int(idx.worklist()["item_id"].iloc[0])
    idx.decide(item, "not-a-match", actor="ana", comment="different parents")
    return idx


def tamper(index: MasterIndex, sql: str) -> None:
    con = duckdb.connect(str(index.path))
    try:
        con.execute(sql)
    finally:
        con.close()


def entry_id(index: MasterIndex, action: str) -> int:
    audit = index.audit(limit=None)
    return int(audit.loc[audit["action"] == action, "audit_id"].min())


def test_an_untouched_log_verifies_and_every_entry_is_chained(index):
    verdict = index.verify_audit()
    assert verdict.ok and verdict.first_bad is None
    assert verdict.entries == len(index.audit(limit=None))
    assert len(verdict.head) == 64


def test_a_rewritten_actor_is_found_at_its_entry(index):
    target = entry_id(index, "decide")
    tamper(index, f"UPDATE audit_log SET actor = 'someone' WHERE audit_id = {target}")
    verdict = index.verify_audit()
    assert not verdict.ok and verdict.first_bad == target and "content" in verdict.why


def test_a_changed_decision_is_found_at_the_entry_it_was_written_under(index):
    target = entry_id(index, "decide")
    tamper(index, "UPDATE decisions SET decision = 'match'")
    assert index.verify_audit().first_bad == target


def test_a_deleted_entry_is_found_as_a_gap_in_the_ids(index):
    target = entry_id(index, "upload")
    tamper(index, f"DELETE FROM audit_log WHERE audit_id = {target}")
    verdict = index.verify_audit()
    assert not verdict.ok and verdict.first_bad == target + 1 and "missing" in verdict.why


def test_switching_the_two_person_rule_off_behind_the_index_is_found(index):
    tamper(index, "UPDATE meta SET value = 'true' WHERE key = 'two_person_rule'")
    verdict = index.verify_audit()
    assert not verdict.ok and "two-person rule" in verdict.why


def test_an_audited_settings_change_verifies(index):
    index.set_two_person_rule(True, actor="admin", reason="production")
    assert index.verify_audit().ok


def test_a_record_moved_to_another_student_behind_the_index_is_found(index):
    tamper(index, "UPDATE records SET student_id = 'S000000099' WHERE record_key = 'TX:4'")
    verdict = index.verify_audit()
    assert not verdict.ok and "replaying" in verdict.why


def test_a_rewritten_move_is_found_at_its_entry(index):
    target = entry_id(index, "auto_merge")
    tamper(
        index,
        f"UPDATE audit_changes SET before_student = 'S000000777' WHERE audit_id = {target}",
    )
    assert index.verify_audit().first_bad == target


def test_audit_check_exits_1_naming_the_entry(index, capsys):
    target = entry_id(index, "decide")
    tamper(index, f"UPDATE audit_log SET reason = 'edited' WHERE audit_id = {target}")
    code = main(["index", "audit", "--index", str(index.path), "--check"])
    out = capsys.readouterr().out
    assert code == 1 and f"entry {target}" in out


def test_printing_the_log_strips_terminal_escapes(tmp_path, capsys):
    idx = new_index(tmp_path / "i.duckdb")
    idx.upload_standardized(records("TX", TX[2:]), actor="loader")
    idx.upload_standardized(records("TX", TX[:1]), actor="loader")
    item = int(idx.worklist()["item_id"].iloc[0])
    idx.decide(item, "skip", actor="ana", comment="\x1b[2J\x1b]0;owned\x07 wait for FL")
    assert main(["index", "audit", "--index", str(idx.path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "wait for FL" in out
