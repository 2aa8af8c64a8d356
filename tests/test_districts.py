"""District master lists: each district's active migrant students, written owner-only."""

from __future__ import annotations

import stat

import pandas as pd

from migrant_linkage import districts
from migrant_linkage.cli import main
from migrant_linkage.reconcile import reconcile
from migrant_linkage.synthetic.systems import TRUE_CATEGORY_COLUMN, two_systems

BASE = {"state": "TX", "last_name_1": "RUIZ", "birth_date": "2013-05-06"}


def _records(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **r} for r in rows])


def test_only_active_flagged_students_are_listed():
    frame = _records(
        {"record_id": "a", "first_name": "ANA", "district_id": "L1", "migrant_flag": "Y"},
        {"record_id": "b", "first_name": "LUIS", "district_id": "L1", "migrant_flag": "N"},
        {"record_id": "c", "first_name": "EVA", "district_id": "L1", "active_status": "N"},
        {
            "record_id": "d",
            "first_name": "JUAN",
            "district_id": "L2",
            "enrollment_end_date": "2024-01-31",
        },
        {"record_id": "e", "first_name": "RAUL", "district_id": "L2"},
    )
    lists = districts.master_lists(frame, on="2024-03-01")
    assert sorted(lists["record_id"]) == ["a", "e"]


def test_an_exit_after_the_list_day_is_still_active():
    frame = _records({"record_id": "d", "first_name": "JUAN", "enrollment_end_date": "2024-06-30"})
    assert districts.master_lists(frame, on="2024-03-01")["record_id"].tolist() == ["d"]
    assert districts.master_lists(frame, on="2024-07-01").empty


def test_a_student_without_a_district_goes_to_the_no_district_list():
    lists = districts.master_lists(
        _records({"record_id": "a", "first_name": "ANA"}), on="2024-01-01"
    )
    assert lists["district_id"].tolist() == ["(no district)"]


def test_one_owner_only_file_per_district_plus_the_combined_file(tmp_path):
    systems = two_systems(200, seed=8)
    lists = districts.master_lists(systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]))
    written = districts.write_master_lists(lists, tmp_path)
    names = {p.name for p in written}
    assert districts.COMBINED_FILE in names
    assert len(names) == lists["district_id"].nunique() + 1
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path.name
    combined = pd.read_csv(tmp_path / districts.COMBINED_FILE, dtype=str)
    per_district = sum(
        len(pd.read_csv(p, dtype=str)) for p in written if p.name != districts.COMBINED_FILE
    )
    assert per_district == len(combined) == len(lists)
    assert list(combined.columns) == list(districts.MASTER_LIST_COLUMNS)


def test_a_district_id_cannot_name_a_path_outside_the_folder(tmp_path):
    frame = _records({"record_id": "a", "first_name": "ANA", "district_id": "../../etc/x"})
    written = districts.write_master_lists(districts.master_lists(frame, on="2024-01-01"), tmp_path)
    assert all(p.parent == tmp_path for p in written)


def test_lists_from_a_reconcile_folder_say_what_to_correct(tmp_path):
    systems = two_systems(300, seed=9)
    reconcile(
        systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]),
        systems.state.drop(columns=[TRUE_CATEGORY_COLUMN]),
        out_dir=tmp_path / "rec",
    )
    lists = districts.master_lists_from_reconcile(tmp_path / "rec", on="2023-01-01")
    direct = districts.master_lists(
        systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]), on="2023-01-01"
    )
    assert sorted(lists["record_id"]) == sorted(direct["record_id"])
    assert lists["reconcile_category"].notna().all()
    two_ids = lists[lists["reconcile_category"] == "TWO_IDS"]
    assert two_ids["state_system_record_id"].notna().all()


def test_bad_list_day_is_a_usage_error(tmp_path, capsys):
    frame = _records({"record_id": "a", "first_name": "ANA"})
    frame.to_csv(tmp_path / "mep.csv", index=False)
    code = main(
        ["districts", str(tmp_path / "mep.csv"), "--on", "March", "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_districts_command_needs_exactly_one_input(tmp_path):
    assert main(["districts", "--out", str(tmp_path / "o")]) == 2


def test_districts_command_writes_the_lists(tmp_path, capsys):
    on = "2024-01-01"
    frame = _records(
        {"record_id": "a", "first_name": "ANA", "district_id": "L1"},
        {"record_id": "b", "first_name": "EVA", "district_id": "L2"},
    )
    frame.to_csv(tmp_path / "mep.csv", index=False)
    assert (
        main(["districts", str(tmp_path / "mep.csv"), "--on", on, "--out", str(tmp_path / "o")])
        == 0
    )
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "district_L1.csv",
        "district_L2.csv",
        "all_districts.csv",
    }
    assert "ANA" not in capsys.readouterr().out


def test_an_enrolment_that_begins_after_the_list_day_is_not_yet_active():
    frame = _records(
        {"record_id": "a", "first_name": "ANA", "enrollment_date": "2024-09-01"},
        {"record_id": "b", "first_name": "EVA", "enrollment_date": "2024-01-10"},
    )
    assert districts.master_lists(frame, on="2024-03-01")["record_id"].tolist() == ["b"]
