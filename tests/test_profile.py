"""The naming-convention profile: shares per state and district from standardization."""

from __future__ import annotations

import pandas as pd
import pytest

from migrant_linkage.cli import main
from migrant_linkage.profile import CONVENTIONS, format_profile, naming_profile
from migrant_linkage.standardize import standardize


def _profile(*rows: dict) -> pd.DataFrame:
    raw = pd.DataFrame([{"record_id": str(i), "state": "TX", **row} for i, row in enumerate(rows)])
    return naming_profile(standardize(raw).standardized)


def _state_row(profile: pd.DataFrame, state: str = "TX") -> pd.Series:
    return profile[(profile["state"] == state) & (profile["district_id"] == "(all)")].iloc[0]


def test_each_surname_form_is_counted_once():
    row = _state_row(
        _profile(
            {"first_name": "ANA", "last_name_1": "GARCIA LOPEZ"},
            {"first_name": "ANA", "last_name_1": "GARCIA-LOPEZ"},
            {"first_name": "ANA", "last_name_1": "GARCIA", "last_name_2": "LOPEZ"},
            {"first_name": "ANA", "last_name_1": "GARCIA"},
            {"first_name": "ANA", "last_name_2": "LOPEZ"},
        )
    )
    assert row["records"] == 5
    assert row["surnames_in_one_field"] == 1
    assert row["hyphenated"] == 1
    assert row["separate_fields"] == 1
    assert row["single_surname"] == 1
    assert row["maternal_only"] == 1
    assert row["two_surnames"] == 3
    assert row["two_surnames_share"] == pytest.approx(0.6)


def test_compound_given_names_and_ambiguous_dates_are_counted():
    row = _state_row(
        _profile(
            {"first_name": "MARIA GUADALUPE", "last_name_1": "RUIZ", "birth_date": "04/05/2012"},
            {"first_name": "JOSE", "last_name_1": "RUIZ", "birth_date": "2012-05-04"},
            {"first_name": "JOSE", "last_name_1": "RUIZ", "birth_date": "3/14/15"},
        )
    )
    assert row["compound_given_name"] == 1
    assert row["ambiguous_birth_date"] == 1
    assert row["two_digit_year"] == 1


def test_districts_get_their_own_rows_beside_the_state():
    profile = _profile(
        {"first_name": "ANA", "last_name_1": "GARCIA LOPEZ", "district_id": "lea-1"},
        {"first_name": "ANA", "last_name_1": "GARCIA", "district_id": "LEA-1 "},
        {"first_name": "ANA", "last_name_1": "GARCIA-LOPEZ", "district_id": "LEA-2"},
        {"first_name": "ANA", "last_name_1": "GARCIA"},
    )
    rows = profile.set_index("district_id")
    assert rows.loc["(all)", "records"] == 4
    assert rows.loc["LEA-1", "records"] == 2  # trimmed, upper case
    assert rows.loc["LEA-1", "surnames_in_one_field_share"] == pytest.approx(0.5)
    assert rows.loc["LEA-2", "hyphenated"] == 1
    assert rows.loc["(none)", "records"] == 1


def test_states_are_profiled_apart():
    raw = pd.DataFrame(
        {
            "record_id": ["1", "2"],
            "state": ["TX", "FL"],
            "first_name": ["ANA", "ANA"],
            "last_name_1": ["GARCIA-LOPEZ", "GARCIA"],
        }
    )
    profile = naming_profile(standardize(raw).standardized)
    assert _state_row(profile, "TX")["hyphenated"] == 1
    assert _state_row(profile, "FL")["hyphenated"] == 0


def test_a_table_without_the_standardized_columns_is_refused():
    with pytest.raises(ValueError, match="standardized table"):
        naming_profile(pd.DataFrame({"record_id": ["1"], "state": ["TX"]}))


def test_the_printed_profile_names_no_child():
    profile = _profile({"first_name": "XIOMARA", "last_name_1": "QUETZALCOATL"})
    text = format_profile(profile)
    assert "XIOMARA" not in text and "QUETZALCOATL" not in text
    assert all(c.name in text for c in CONVENTIONS)


def test_validate_prints_and_writes_the_profile(tmp_path, capsys):
    pd.DataFrame(
        {"record_id": ["1"], "state": ["TX"], "first_name": ["ANA"], "last_name_1": ["RUIZ"]}
    ).to_csv(tmp_path / "in.csv", index=False)
    assert main(["validate", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out")]) == 0
    assert "naming-convention profile" in capsys.readouterr().out
    written = pd.read_csv(tmp_path / "out" / "naming_profile.csv")
    assert written["records"].tolist() == [1]


def test_validate_of_a_file_with_every_record_rejected_still_reports(tmp_path, capsys):
    pd.DataFrame({"record_id": ["1"], "state": ["TX"], "first_name": [None]}).to_csv(
        tmp_path / "in.csv", index=False
    )
    assert main(["validate", str(tmp_path / "in.csv")]) == 0
    assert "no records" in capsys.readouterr().out


def test_run_report_has_a_naming_conventions_section(tmp_path):
    from migrant_linkage.engine import dedupe
    from migrant_linkage.report import report_run
    from migrant_linkage.synthetic.systems import two_systems

    records = two_systems(80, seed=3).migrant
    result = dedupe(records, train=False, out_dir=tmp_path)
    page = report_run(result, tmp_path).read_text(encoding="utf-8")
    section = page[page.index('id="conventions"') :]
    assert "surnames in one field" in section.split("</section>")[0]
    assert "TX-LEA-001" in section.split("</section>")[0]
