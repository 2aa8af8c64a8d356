"""The optional enrolment columns: checked with flags, never rejected, and invisible to dedupe
and link (which run the same with and without them)."""

from __future__ import annotations

import pandas as pd

from migrant_linkage.engine import dedupe, link
from migrant_linkage.enrolment import flagged, standardize_enrolment
from migrant_linkage.schema import ENROLMENT_COLUMNS, EnrolmentFlag
from migrant_linkage.standardize import standardize
from migrant_linkage.synthetic.systems import two_systems


def _enrolment(**columns) -> pd.DataFrame:
    base = {"record_id": ["r1"], "state": ["TX"], "first_name": ["ANA"], "last_name_1": ["RUIZ"]}
    raw = pd.DataFrame({**base, **{k: [v] for k, v in columns.items()}})
    return standardize_enrolment(standardize(raw).standardized)


def test_spanish_and_numeric_yes_no_migrant_flags_are_understood():
    for value, expected in (("Sí", "Y"), ("1", "Y"), ("no", "N"), ("0", "N")):
        row = _enrolment(migrant_flag=value, district_id="LEA-1").iloc[0]
        assert row["migrant_flag_std"] == expected
        assert row["enrolment_flags"] == ""


def test_unrecognised_flag_and_status_are_flagged_not_rejected():
    row = _enrolment(migrant_flag="maybe", active_status="pending", district_id="L").iloc[0]
    assert pd.isna(row["migrant_flag_std"])
    assert row["enrolment_flags"].split(";") == [
        EnrolmentFlag.ACTIVE_STATUS_UNRECOGNISED,
        EnrolmentFlag.MIGRANT_FLAG_UNRECOGNISED,
    ]


def test_exit_before_entry_is_flagged_inverted():
    row = _enrolment(
        enrollment_date="2024-09-01", enrollment_end_date="2024-06-01", district_id="L"
    ).iloc[0]
    assert EnrolmentFlag.ENROLLMENT_DATES_INVERTED in row["enrolment_flags"]


def test_unparseable_exit_date_and_missing_district_are_flagged():
    row = _enrolment(enrollment_end_date="31/02/2024").iloc[0]
    flags = row["enrolment_flags"].split(";")
    assert EnrolmentFlag.ENROLLMENT_END_DATE_UNPARSEABLE in flags
    assert EnrolmentFlag.DISTRICT_MISSING in flags


def test_district_and_school_ids_are_trimmed_and_upper_case():
    row = _enrolment(district_id=" lea-7 ", school_id="sch 2").iloc[0]
    assert (row["district_id_std"], row["school_id_std"]) == ("LEA-7", "SCH 2")


def test_only_an_explicit_no_unflags_a_migrant_system_record():
    values = pd.Series(["Y", "N", None], dtype="str")
    assert flagged(values, migrant_system=True).tolist() == [True, False, True]
    assert flagged(values, migrant_system=False).tolist() == [True, False, False]


def test_dedupe_and_link_give_the_same_pairs_with_and_without_enrolment_columns():
    systems = two_systems(120, seed=4)
    with_columns = systems.migrant.drop(columns=["true_category"])
    without = with_columns.drop(columns=list(ENROLMENT_COLUMNS))
    plain = dedupe(without, train=False)
    enriched = dedupe(with_columns, train=False)
    key = ["record_id_l", "record_id_r", "match_weight", "zone"]
    pd.testing.assert_frame_equal(plain.pairs[key], enriched.pairs[key])
    assert set(ENROLMENT_COLUMNS) <= set(enriched.standardized.columns)  # carried through

    state = systems.state.drop(columns=["true_category"])
    state = state.assign(record_id="S" + state["record_id"])
    linked = link(with_columns, state, train=False)
    linked_plain = link(without, state.drop(columns=list(ENROLMENT_COLUMNS)), train=False)
    pd.testing.assert_frame_equal(linked.pairs[key], linked_plain.pairs[key])


def test_every_enrolment_column_and_flag_is_documented():
    from pathlib import Path

    from migrant_linkage.schema import ENROLMENT_STANDARDIZED_COLUMNS

    text = (Path(__file__).resolve().parents[1] / "docs" / "record-contract.md").read_text()
    names = [*ENROLMENT_COLUMNS, *(c.name for c in ENROLMENT_STANDARDIZED_COLUMNS)]
    names += [flag.value for flag in EnrolmentFlag]
    assert [name for name in names if f"`{name}`" not in text] == []
