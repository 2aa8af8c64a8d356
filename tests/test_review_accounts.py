"""Reviewer accounts: ids that cannot be faked by spelling, roles and state scope on every action."""

from __future__ import annotations

import pytest

from migrant_linkage.review import MasterIndex, ReviewError
from migrant_linkage.review.accounts import PermissionDeniedError, normalize_account_id
from migrant_linkage.zones import Thresholds
from test_review_helpers import ADMIN, FAKE_THRESHOLDS, fake_scorer, records

ANA_PAIR = [
    {"record_id": "1", "name": "ANA", "dob": "2015-01-02"},
    {"record_id": "2", "name": "LUIS", "dob": "2015-01-02"},  # near match of record 1
]


@pytest.fixture
def index(tmp_path) -> MasterIndex:
    """Two-person rule on (the default); a national administrator, Texas and California staff."""
    idx = MasterIndex.create(
        tmp_path / "i.duckdb", administrator=ADMIN, scorer=fake_scorer, thresholds=FAKE_THRESHOLDS
    )
    for account, role, state in (
        ("maria.ca", "reviewer", "CA"),
        ("jose.ca", "validator", "CA"),
        ("tx.admin", "administrator", "TX"),
        ("lupe.tx", "validator", "TX"),
    ):
        idx.add_account(account, display_name=account, role=role, state=state, actor=ADMIN)
    idx.upload_standardized(records("CA", ANA_PAIR), state="CA", actor="maria.ca")
    return idx


def only_item(idx: MasterIndex) -> int:
    items = idx.worklist()
    assert len(items) == 1
    return int(items["item_id"].iloc[0])


def queued(items) -> list[tuple[str, str]]:
    return sorted(zip(items["record_key_l"], items["record_key_r"], strict=True))


def test_account_ids_differing_in_case_or_width_are_one_account():
    assert normalize_account_id("Maria.CA") == "maria.ca"
    assert normalize_account_id("ｍａｒｉａ.ca") == "maria.ca"  # fullwidth letters (NFKC)


@pytest.mark.parametrize(
    "raw", ["maria.ca\u200b", "maria\u202e.ca", "ana\x1b[31m", "", "  ", "a", "maria ca", "-x"]
)
def test_account_ids_with_invisible_characters_or_odd_shapes_are_refused(raw):
    with pytest.raises(ReviewError):
        normalize_account_id(raw)


def test_new_index_has_its_administrator_and_the_two_person_rule_on(tmp_path):
    idx = MasterIndex.create(tmp_path / "i.duckdb", administrator="Admin.US")
    assert idx.two_person_rule
    admin = idx.account("admin.us")
    assert admin.role == "administrator" and admin.state is None
    created = idx.audit()
    assert created["action"].tolist() == ["create_index"]
    assert created["actor"].iloc[0] == "admin.us"


def test_turning_the_two_person_rule_off_at_creation_is_audited(tmp_path):
    idx = MasterIndex.create(tmp_path / "i.duckdb", administrator=ADMIN, two_person_rule=False)
    assert not idx.two_person_rule
    assert idx.audit_entry(1)["details"]["two_person_rule"] is False


def test_a_validation_by_the_same_person_spelled_differently_is_refused(index):
    proposal = index.decide(only_item(index), "match", actor="maria.ca")
    assert proposal["merged"] is False
    with pytest.raises(ReviewError):
        index.validate(proposal["pending_id"], actor="Maria.CA")  # same account, a reviewer
    with pytest.raises(ReviewError, match="no account"):
        index.validate(proposal["pending_id"], actor="anyone-at-all")
    with pytest.raises(ReviewError):
        index.validate(proposal["pending_id"], actor="maria.ca\u200b")
    done = index.validate(proposal["pending_id"], actor="jose.ca")
    assert done["merged"] is True
    assert index.student_of("CA:1") == index.student_of("CA:2")


def test_a_proposer_cannot_validate_their_own_merge_even_as_a_validator(index):
    proposal = index.decide(only_item(index), "match", actor="jose.ca")
    with pytest.raises(ReviewError, match="second, different reviewer"):
        index.validate(proposal["pending_id"], actor="JOSE.ca")


def test_a_reviewer_role_cannot_validate(index):
    index.add_account("pat.ca", display_name="Pat", role="reviewer", state="CA", actor=ADMIN)
    proposal = index.decide(only_item(index), "match", actor="jose.ca")
    with pytest.raises(PermissionDeniedError, match="validator role"):
        index.validate(proposal["pending_id"], actor="pat.ca")


def test_a_texas_account_cannot_decide_show_or_upload_california_records(index):
    item = only_item(index)
    with pytest.raises(PermissionDeniedError, match="covers TX"):
        index.decide(item, "not-a-match", actor="lupe.tx")
    with pytest.raises(PermissionDeniedError, match="covers TX"):
        index.show(item, actor="tx.admin")
    with pytest.raises(PermissionDeniedError, match="covers TX"):
        index.upload_standardized(records("CA", ANA_PAIR), actor="lupe.tx")
    with pytest.raises(PermissionDeniedError, match="covers TX"):
        index.split(index.student_of("CA:1"), ["CA:1"], actor="tx.admin")
    assert index.worklist(actor="lupe.tx").empty
    assert len(index.worklist(actor="maria.ca")) == 1
    assert index.decisions().empty  # nothing was recorded by the refused actions


def test_an_interstate_pair_is_either_states_to_decide(index):
    index.upload_standardized(
        records("CA", [{"record_id": "5", "name": "PEDRO", "dob": "2016-03-04"}]), actor="jose.ca"
    )
    index.upload_standardized(
        records("TX", [{"record_id": "9", "name": "RUTH", "dob": "2016-03-04"}]), actor="lupe.tx"
    )
    items = index.worklist(actor="lupe.tx")
    assert queued(items) == [("CA:5", "TX:9")]
    assert queued(index.worklist(actor="maria.ca")) == [("CA:1", "CA:2"), ("CA:5", "TX:9")]
    outcome = index.decide(int(items["item_id"].iloc[0]), "not-a-match", actor="lupe.tx")
    assert index.audit_entry(outcome["audit_id"])["actor"] == "lupe.tx"


def test_a_state_administrator_adds_only_accounts_of_their_state(index):
    index.add_account("ana.tx", display_name="Ana", role="reviewer", state="TX", actor="tx.admin")
    with pytest.raises(PermissionDeniedError, match="cannot add an account"):
        index.add_account("bo.ca", display_name="Bo", role="reviewer", state="CA", actor="tx.admin")
    with pytest.raises(PermissionDeniedError, match="cannot add an account"):
        index.add_account("bo.us", display_name="Bo", role="administrator", actor="tx.admin")
    with pytest.raises(PermissionDeniedError, match="administrator role"):
        index.add_account("cy.tx", display_name="Cy", role="reviewer", state="TX", actor="lupe.tx")
    with pytest.raises(ReviewError, match="already exists"):
        index.add_account("ANA.TX", display_name="Ana", role="reviewer", state="TX", actor=ADMIN)


def test_settings_change_only_by_an_administrator_covering_the_whole_index(index):
    with pytest.raises(PermissionDeniedError):
        index.set_two_person_rule(False, actor="jose.ca")
    with pytest.raises(PermissionDeniedError, match="whole index"):
        index.set_two_person_rule(False, actor="tx.admin")  # the index holds CA records
    index.set_two_person_rule(False, actor=ADMIN, reason="pilot")
    assert not index.two_person_rule
    entry = index.audit(limit=1).iloc[0]
    assert entry["action"] == "settings" and entry["actor"] == ADMIN


def test_an_upload_overriding_the_thresholds_needs_an_administrator(index):
    with pytest.raises(PermissionDeniedError):
        index.upload_standardized(
            records("CA", ANA_PAIR), actor="maria.ca", thresholds=FAKE_THRESHOLDS
        )


def test_a_deactivated_account_can_no_longer_act(index):
    index.deactivate_account("maria.ca", actor=ADMIN, reason="left the program")
    with pytest.raises(PermissionDeniedError, match="deactivated"):
        index.decide(only_item(index), "skip", actor="maria.ca")


def test_state_given_for_an_upload_must_agree_with_the_records(index):
    with pytest.raises(ReviewError, match="disagrees"):
        index.upload_standardized(records("CA", ANA_PAIR), state="TX", actor=ADMIN)
    with pytest.raises(ReviewError, match="two-letter"):
        index.upload_standardized(records("CA", ANA_PAIR), state="ZZZZZ", actor=ADMIN)


def test_the_index_keeps_every_threshold_an_administrator_sets(index):
    chosen = Thresholds(
        match_weight=22.0, review_weight=10.0, chance_weight=-6.0, match_posterior_weight=None
    )
    index.set_thresholds(chosen, actor=ADMIN)
    assert index.thresholds() == chosen


def test_worklist_grades_use_the_thresholds_uploads_zone_with(tmp_path):
    # Splink-scored index: an upload lowers the match weight by the model's prior
    # (Thresholds.given_prior), so the grades of its worklist items must too, or a batch of
    # "probable" items would not be the ones the upload called probable.
    import copy

    from migrant_linkage.model import Model

    index = MasterIndex.create(tmp_path / "real.duckdb", administrator=ADMIN, two_person_rule=False)
    assert index.zoning_thresholds() == Thresholds().given_prior(Model.default().prior_weight())
    settings = copy.deepcopy(Model.default().trained_settings())
    settings["probability_two_random_records_match"] = 0.05  # a program's yearly files
    common = Model(settings)
    index.set_model(common, actor=ADMIN)
    zoning = index.zoning_thresholds()
    assert zoning == index.thresholds().given_prior(common.prior_weight())
    assert zoning.match_weight < index.thresholds().match_weight
    assert zoning.probable_weight < index.thresholds().probable_weight
    # An index with a scorer of its own zones with the thresholds as set.
    fake = MasterIndex.create(
        tmp_path / "fake.duckdb", administrator=ADMIN, scorer=fake_scorer, two_person_rule=False
    )
    fake.set_model(common, actor=ADMIN)
    assert fake.zoning_thresholds() == fake.thresholds()
