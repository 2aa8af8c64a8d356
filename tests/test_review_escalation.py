"""Assignment and escalation: district, then region, then state; validation items pass
automatically after the full time, and the audit says it was automatic."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from migrant_linkage.review import MasterIndex, ReviewError
from migrant_linkage.review.escalation import AUTOMATIC, LEVELS, level_of
from test_review_helpers import ADMIN, FAKE_THRESHOLDS, fake_scorer, records

PAIR = [
    {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "2", "name": "LUIS", "dob": "2015-01-02"},
]
DAYS = {"district": 3.0, "region": 4.0, "state": 5.0}


@pytest.fixture
def setup(tmp_path):
    now = [datetime(2026, 11, 2, 9, 0)]
    idx = MasterIndex.create(
        tmp_path / "i.duckdb",
        administrator=ADMIN,
        scorer=fake_scorer,
        thresholds=FAKE_THRESHOLDS,
        clock=lambda: now[0],
    )
    for account, role, region, district in (
        ("dee.district", "reviewer", "NORTH", "D1"),
        ("rae.region", "validator", "NORTH", None),
        ("sam.state", "validator", None, None),
    ):
        idx.add_account(
            account,
            display_name=account,
            role=role,
            state="TX",
            region=region,
            district=district,
            actor=ADMIN,
        )
    idx.set_escalation_days(DAYS, actor=ADMIN)
    idx.upload_standardized(records("TX", PAIR), actor="sam.state")
    return idx, now


def test_levels_climb_one_per_elapsed_level_time():
    available = {"TX": set(LEVELS)}
    assert level_of({"TX"}, 0, available, DAYS) == "district"
    assert level_of({"TX"}, 2.9, available, DAYS) == "district"
    assert level_of({"TX"}, 3, available, DAYS) == "region"
    assert level_of({"TX"}, 7, available, DAYS) == "state"
    assert level_of({"TX"}, 700, available, DAYS) == "state"
    # A state without district accounts starts at region level.
    assert level_of({"CA"}, 0, {"CA": {"region", "state"}}, DAYS) == "region"


def test_an_item_nobody_decides_escalates_to_region_then_state(setup):
    idx, now = setup
    idx.escalate(actor=ADMIN)
    assert idx.worklist()["level"].tolist() == ["district"]
    assert len(idx.worklist(actor="dee.district")) == 1
    now[0] += timedelta(days=3)
    outcome = idx.escalate(actor=ADMIN)
    assert outcome["escalated"] == {"region": 1}
    assert idx.worklist(actor="dee.district").empty  # no longer the district's
    assert len(idx.worklist(actor="rae.region")) == 1
    now[0] += timedelta(days=4)
    idx.escalate(actor=ADMIN)
    assert idx.worklist()["level"].tolist() == ["state"]
    assert idx.worklist(actor="rae.region").empty and len(idx.worklist(actor="sam.state")) == 1
    entries = idx.audit(limit=None)
    escalations = entries[entries["action"] == "escalate"]
    assert set(escalations["actor"]) == {AUTOMATIC} and len(escalations) == 3


def test_a_validation_item_passes_automatically_after_the_full_time(setup):
    idx, now = setup
    item = int(idx.worklist()["item_id"].iloc[0])
    proposal = idx.decide(item, "match", actor="dee.district")
    now[0] += timedelta(days=sum(DAYS.values()) - 1)
    assert idx.escalate(actor=ADMIN)["passed_automatically"] == []
    now[0] += timedelta(days=1)
    outcome = idx.escalate(actor=ADMIN)
    assert outcome["passed_automatically"] == [proposal["pending_id"]]
    assert idx.student_of("TX:1") == idx.student_of("TX:2")
    merge = idx.audit_entry(outcome["audit_ids"][-1])
    assert merge["action"] == "merge" and merge["actor"] == AUTOMATIC
    assert merge["details"]["validated_by"] == AUTOMATIC
    assert merge["details"]["proposed_by"] == "dee.district"
    assert idx.verify_audit().ok


def test_only_an_index_administrator_runs_escalation_or_sets_its_times(setup):
    idx, _ = setup
    with pytest.raises(ReviewError):
        idx.escalate(actor="sam.state")
    with pytest.raises(ReviewError):
        idx.set_escalation_days({"district": 1}, actor="rae.region")
    with pytest.raises(ReviewError, match="escalation level"):
        idx.set_escalation_days({"county": 1}, actor=ADMIN)
