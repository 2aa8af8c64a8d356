"""Batch decisions: every item of a reason / grade / weight band at once, with a preview first,
one audit entry per item, and undo per item."""

from __future__ import annotations

import pytest

from migrant_linkage.review import MasterIndex
from test_review_helpers import new_index, records, snapshot


@pytest.fixture
def index(tmp_path) -> MasterIndex:
    """Three near-match pairs (weight 10: 'possible' under the test thresholds 20 / 8)."""
    idx = new_index(tmp_path / "i.duckdb")
    rows = []
    for i, dob in enumerate(["2015-01-02", "2016-03-04", "2017-05-06"]):
        rows += [
            {"record_id": f"a{i}", "name": "ANA", "dob": dob},
            {"record_id": f"b{i}", "name": "ANITA", "dob": dob},
        ]
    idx.upload_standardized(records("TX", rows), actor="loader")
    assert len(idx.worklist()) == 3
    return idx


def test_a_preview_lists_what_would_happen_and_changes_nothing(index):
    before = snapshot(index)
    preview = index.decide_batch("match", actor="ana", grade="possible")
    assert len(preview) == 3
    assert preview["outcome"].str.startswith("would merge students").all()
    after = snapshot(index)
    for table in ("records", "worklist", "decisions", "audit_log"):
        assert before[table].equals(after[table])


def test_a_band_outside_every_item_selects_nothing(index):
    assert index.decide_batch("match", actor="ana", min_weight=11).empty
    assert index.decide_batch("match", actor="ana", grade="certain").empty


def test_applying_a_batch_writes_one_audit_entry_per_item_and_each_undoes_alone(index):
    done = index.decide_batch("match", actor="ana", grade="possible", preview=False)
    assert len(done) == 3 and index.worklist().empty
    merges = index.audit(limit=None)
    merges = merges[merges["action"] == "merge"]
    assert len(merges) == 3 and set(merges["actor"]) == {"ana"}
    first = int(merges["audit_id"].min())
    index.undo(first, actor="bo")
    students = index.assignments().set_index("record_key")["student_id"]
    assert students["TX:a0"] != students["TX:b0"]
    assert students["TX:a1"] == students["TX:b1"] and students["TX:a2"] == students["TX:b2"]
    assert index.verify_audit().ok
