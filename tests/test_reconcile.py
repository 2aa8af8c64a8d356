"""Migrant-flag reconciliation: each category, on hand-made records and on the two-system
generator (whose truth the reconciliation never reads)."""

from __future__ import annotations

import json
import stat

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.cli import main
from migrant_linkage.reconcile import Category, reconcile
from migrant_linkage.synthetic.systems import TRUE_CATEGORY_COLUMN, SystemRates, two_systems

CHILD = {
    "state": "TX",
    "first_name": "MARIA GUADALUPE",
    "last_name_1": "GARCIA",
    "last_name_2": "LOPEZ",
    "sex": "F",
    "birth_date": "2014-03-09",
    "parent1_first": "JOSE",
    "parent1_last": "GARCIA",
    "parent2_first": "ROSA",
    "parent2_last": "LOPEZ",
    "district_id": "TX-LEA-001",
    "enrollment_date": "2023-08-20",
}
OTHER_CHILD = {
    **CHILD,
    "first_name": "KEVIN",
    "last_name_1": "NGUYEN",
    "last_name_2": None,
    "sex": "M",
    "birth_date": "2009-11-30",
    "parent1_first": "THANH",
    "parent1_last": "NGUYEN",
    "parent2_first": "LAN",
    "parent2_last": "TRAN",
}


def _frame(*records: dict) -> pd.DataFrame:
    return pd.DataFrame([dict(r) for r in records])


def _with_classmates(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` plus a state system's worth of other children. The model weighs a name by how
    common it is in the data: in a file of two records every name is common, and two identical
    records fall short of a match."""
    others = synthetic.generate(150, seed=0, states=["TX"]).groupby("true_student_id").head(1)
    others = others.assign(record_id="classmate-" + others["record_id"])
    return pd.concat([frame, others], ignore_index=True)


def _category(result, system: str, record_id: str) -> str:
    rows = result.records[
        (result.records["system"] == system) & (result.records["record_id"] == record_id)
    ]
    assert len(rows) == 1, f"{system} {record_id} appears {len(rows)} times"
    return rows["category"].iloc[0]


# ------------------------------------------------------------------------------ hand-made
def test_same_state_id_and_both_flags_is_flagged_in_both():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "state_student_id": "TX1", "migrant_flag": "Y"}),
        _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1", "migrant_flag": "Y"}),
    )
    assert _category(result, "migrant", "m1") == Category.FLAGGED_IN_BOTH
    assert _category(result, "state", "s1") == Category.FLAGGED_IN_BOTH
    assert result.records["matched_by"].dropna().eq("state_student_id").all()


def test_flag_missing_in_the_state_system_is_flagged_migrant_only():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "state_student_id": "TX1", "migrant_flag": "Y"}),
        _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1", "migrant_flag": "N"}),
    )
    assert _category(result, "state", "s1") == Category.FLAGGED_MIGRANT_ONLY


def test_migrant_system_saying_no_is_flagged_state_only():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "state_student_id": "TX1", "migrant_flag": "N"}),
        _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1", "migrant_flag": "Yes"}),
    )
    assert _category(result, "migrant", "m1") == Category.FLAGGED_STATE_ONLY


def test_migrant_record_without_a_flag_counts_as_flagged_and_state_record_as_not():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "state_student_id": "TX1"}),
        _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1"}),
    )
    assert _category(result, "migrant", "m1") == Category.FLAGGED_MIGRANT_ONLY


def test_missing_state_id_is_linked_by_the_model():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "migrant_flag": "Y"}),
        _with_classmates(
            _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1", "migrant_flag": "Y"})
        ),
    )
    assert _category(result, "migrant", "m1") == Category.FLAGGED_IN_BOTH
    row = result.records[result.records["record_id"] == "m1"].iloc[0]
    assert row["matched_by"] == "model"
    assert row["partner_record_id"] == "s1"


def test_mistyped_state_id_of_the_same_child_is_two_ids():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "state_student_id": "TX123456780"}),
        _with_classmates(_frame({**CHILD, "record_id": "s1", "state_student_id": "TX123456789"})),
    )
    assert _category(result, "migrant", "m1") == Category.TWO_IDS
    assert _category(result, "state", "s1") == Category.TWO_IDS


def test_one_state_id_on_two_different_children_is_id_reused():
    result = reconcile(
        _frame({**OTHER_CHILD, "record_id": "m1", "state_student_id": "TX1"}),
        _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1"}),
    )
    assert _category(result, "migrant", "m1") == Category.ID_REUSED
    assert _category(result, "state", "s1") == Category.ID_REUSED


def test_children_in_one_system_only():
    result = reconcile(
        _frame({**CHILD, "record_id": "m1", "state_student_id": "TX1"}),
        _frame(
            {**OTHER_CHILD, "record_id": "s1", "state_student_id": "TX2", "migrant_flag": "Y"},
            {**OTHER_CHILD, "record_id": "s2", "first_name": "ANH", "birth_date": "2012-02-02"},
        ),
    )
    assert _category(result, "migrant", "m1") == Category.MIGRANT_SYSTEM_ONLY
    assert _category(result, "state", "s1") == Category.STATE_SYSTEM_ONLY_FLAGGED
    assert _category(result, "state", "s2") == Category.STATE_SYSTEM_ONLY_NOT_FLAGGED


def test_rejected_record_is_listed_as_rejected_with_its_reason():
    result = reconcile(
        _frame(
            {**CHILD, "record_id": "m1"},
            {
                **CHILD,
                "record_id": "m2",
                "first_name": None,
                "last_name_1": None,
                "last_name_2": None,
            },
        ),
        _frame({**CHILD, "record_id": "s1"}),
    )
    assert _category(result, "migrant", "m2") == Category.REJECTED
    assert result.rejects.set_index("record_id").loc["m2", "reason"] == "MISSING_NAME"
    assert result.summary["counts_reconcile"]


def test_the_two_systems_may_use_the_same_record_ids():
    result = reconcile(
        _frame({**CHILD, "record_id": "1", "state_student_id": "TX1"}),
        _frame({**CHILD, "record_id": "1", "state_student_id": "TX1", "migrant_flag": "Y"}),
    )
    assert _category(result, "migrant", "1") == Category.FLAGGED_IN_BOTH
    assert _category(result, "state", "1") == Category.FLAGGED_IN_BOTH


def test_empty_state_system_leaves_every_migrant_record_unfound():
    empty = _frame({**CHILD, "record_id": None})  # one row, rejected: nothing left to link
    result = reconcile(_frame({**CHILD, "record_id": "m1"}), empty)
    assert _category(result, "migrant", "m1") == Category.MIGRANT_SYSTEM_ONLY
    assert result.summary["systems"]["state"]["categories"]["REJECTED"] == 1


def test_counts_per_district_add_up_to_the_records():
    result = reconcile(
        _frame(
            {**CHILD, "record_id": "m1", "state_student_id": "TX1"},
            {**OTHER_CHILD, "record_id": "m2", "district_id": "TX-LEA-002"},
        ),
        _frame({**CHILD, "record_id": "s1", "state_student_id": "TX1", "migrant_flag": "Y"}),
    )
    by_district = result.by_district.groupby("district_id")[
        ["migrant_system_records", "state_system_records"]
    ].sum()
    assert by_district.loc["TX-LEA-001"].tolist() == [1, 1]
    assert by_district.loc["TX-LEA-002"].tolist() == [1, 0]


# ------------------------------------------------------------------------------ generated
@pytest.fixture(scope="module")
def generated():
    systems = two_systems(600, seed=11)
    result = reconcile(
        systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]),
        systems.state.drop(columns=[TRUE_CATEGORY_COLUMN]),
    )
    truth = pd.concat(
        [systems.migrant.assign(system="migrant"), systems.state.assign(system="state")]
    )[["system", "record_id", "true_student_id", "state_student_id", TRUE_CATEGORY_COLUMN]]
    merged = result.records.merge(truth, on=["system", "record_id"], validate="one_to_one")
    return systems, result, merged


def test_generated_systems_plant_every_category(generated):
    systems, _, merged = generated
    planted = set(merged[TRUE_CATEGORY_COLUMN])
    expected = {c.value for c in Category} - {"FLAGGED_IN_NEITHER", "POSSIBLE_MATCH", "REJECTED"}
    assert expected <= planted


def test_every_planted_reused_id_is_found_and_no_other(generated):
    _, _, merged = generated
    planted = merged[TRUE_CATEGORY_COLUMN] == Category.ID_REUSED
    found = merged["category"] == Category.ID_REUSED
    assert planted.sum() > 0
    assert (planted == found).all()


def test_flag_disagreements_with_agreeing_ids_are_found_exactly(generated):
    _, _, merged = generated
    by_id = merged[merged["matched_by"] == "state_student_id"]
    for category in (
        Category.FLAGGED_IN_BOTH,
        Category.FLAGGED_MIGRANT_ONLY,
        Category.FLAGGED_STATE_ONLY,
    ):
        planted = by_id[by_id[TRUE_CATEGORY_COLUMN] == category]
        assert len(planted) > 0
        assert (planted["category"] == category).all(), category


def test_linked_records_are_the_same_child(generated):
    _, _, merged = generated
    linked = merged[
        merged["category"].isin(
            [c.value for c in Category if c.value.startswith("FLAGGED_")] + ["TWO_IDS"]
        )
    ]
    partner = merged.set_index(["system", "record_id"])["true_student_id"]
    other = linked["system"].map({"migrant": "state", "state": "migrant"})
    partners = partner.reindex(list(zip(other, linked["partner_record_id"], strict=True)))
    assert (partners.to_numpy() == linked["true_student_id"].to_numpy()).all()


def test_children_in_one_system_are_never_linked_to_another_child(generated):
    _, _, merged = generated
    for category in (Category.MIGRANT_SYSTEM_ONLY, Category.STATE_SYSTEM_ONLY_FLAGGED):
        planted = merged[merged[TRUE_CATEGORY_COLUMN] == category]
        assert len(planted) > 0
        assert planted["category"].isin([category.value, Category.POSSIBLE_MATCH]).all()


def test_flag_counts_compare_the_two_systems(generated):
    systems, result, _ = generated
    counts = result.summary["systems"]
    assert counts["migrant"]["flagged_migrant"] == int(
        (systems.migrant["migrant_flag"] == "Y").sum()
    )
    assert counts["state"]["flagged_migrant"] == int((systems.state["migrant_flag"] == "Y").sum())


def test_no_id_disagreement_planted_means_no_id_categories():
    rates = SystemRates(id_missing=0, id_mistyped=0, id_second=0, id_reused=0)
    systems = two_systems(200, seed=5, rates=rates)
    result = reconcile(systems.migrant, systems.state)
    counts = result.summary["systems"]["migrant"]["categories"]
    assert counts["ID_REUSED"] == 0
    assert counts["TWO_IDS"] == 0


# ------------------------------------------------------------------------------ outputs, CLI
def test_reconcile_command_writes_owner_only_lists_and_a_summary(tmp_path, capsys):
    systems = two_systems(150, seed=2)
    synthetic.write(systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]), tmp_path / "mep.csv")
    synthetic.write(systems.state.drop(columns=[TRUE_CATEGORY_COLUMN]), tmp_path / "sis.csv")
    out = tmp_path / "out"
    code = main(
        ["reconcile", str(tmp_path / "mep.csv"), str(tmp_path / "sis.csv"), "--out", str(out)]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts_reconcile"]
    records = pd.read_csv(out / "records.csv", dtype=str)
    assert len(records) == len(systems.migrant) + len(systems.state)
    for category in Category:
        listed = pd.read_csv(out / f"{category.value.lower()}.csv", dtype=str)
        assert (listed["category"] == category.value).all()
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name
    printed = capsys.readouterr().out
    assert "FLAGGED_IN_BOTH" in printed
    first_names = set(systems.migrant["first_name"].dropna())
    assert not any(name in printed for name in first_names)


def test_reconcile_command_names_a_missing_file(tmp_path, capsys):
    code = main(
        [
            "reconcile",
            str(tmp_path / "nope.csv"),
            str(tmp_path / "sis.csv"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "nope.csv" in capsys.readouterr().err


def test_two_systems_same_seed_same_output():
    first, second = two_systems(80, seed=6), two_systems(80, seed=6)
    pd.testing.assert_frame_equal(first.migrant, second.migrant)
    pd.testing.assert_frame_equal(first.state, second.state)


def test_record_ids_of_the_two_systems_say_nothing_of_the_child():
    systems = two_systems(300, seed=6)
    both = systems.migrant.merge(systems.state, on="true_student_id", suffixes=("_m", "_s"))
    same_number = both["record_id_m"].str[4:] == both["record_id_s"].str[4:]
    assert same_number.mean() < 0.5


def test_system_rates_adding_up_to_more_than_one_are_refused():
    with pytest.raises(ValueError, match="id rates"):
        SystemRates(id_missing=0.6, id_mistyped=0.5)


def test_reconcile_report_shows_the_counts_and_no_child(tmp_path, caplog):
    systems = two_systems(150, seed=12)
    synthetic.write(systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]), tmp_path / "mep.csv")
    synthetic.write(systems.state.drop(columns=[TRUE_CATEGORY_COLUMN]), tmp_path / "sis.csv")
    out = tmp_path / "out"
    caplog.set_level("DEBUG")
    args = ["-v", "reconcile", str(tmp_path / "mep.csv"), str(tmp_path / "sis.csv")]
    assert main([*args, "--out", str(out), "--report"]) == 0
    page = (out / "reconcile.html").read_text(encoding="utf-8")
    summary = json.loads((out / "summary.json").read_text())
    reused = summary["systems"]["migrant"]["categories"]["ID_REUSED"]
    assert (
        f'ID_REUSED *</td><td>same State ID, clearly a different child</td><td class="num">{reused}'
        in page
    )
    surnames = set(systems.migrant["last_name_1"].dropna()) | set(
        systems.state["last_name_1"].dropna()
    )
    assert not any(name in page for name in surnames)
    assert not any(name in caplog.text for name in surnames)
