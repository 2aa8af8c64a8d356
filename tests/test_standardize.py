"""The standardization pipeline end to end: nothing is lost, rejects are explained, re-runs agree."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage.io import RecordContractError
from migrant_linkage.schema import (
    INPUT_COLUMNS,
    REJECT_COLUMNS,
    STANDARDIZED_COLUMN_NAMES,
    QualityFlag,
    RejectCode,
)
from migrant_linkage.standardize import combine_flags, standardize

TODAY = date(2026, 11, 29)
SAMPLE = resources.files("migrant_linkage.data").joinpath("sample_records.csv")
CONTRACT_DOC = Path(__file__).resolve().parents[1] / "docs" / "record-contract.md"


def record(**values) -> dict:
    base = {"record_id": "R1", "state": "TX", "first_name": "Ana", "last_name_1": "Ruiz"}
    return {**base, **values}


def run(*records, **options):
    return standardize(pd.DataFrame(list(records)), today=TODAY, **options)


def flags(result, row=0) -> set[str]:
    return set(filter(None, result.standardized.loc[row, "quality_flags"].split(";")))


# --- the shipped sample file -----------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    with resources.as_file(SAMPLE) as path:
        return standardize(path, today=TODAY)


def test_sample_file_counts_reconcile(sample):
    counts = sample.counts
    assert counts["records_in"] == 30
    assert counts["records_in"] == counts["standardized"] + counts["rejected"]
    assert counts["rejected"] == 5
    assert counts["rejected_MISSING_RECORD_ID"] == 1
    assert counts["rejected_DUPLICATE_RECORD_ID"] == 1
    assert counts["rejected_MISSING_STATE"] == 1
    assert counts["rejected_MISSING_NAME"] == 2


def test_sample_output_has_contract_columns_then_derived_then_extras(sample):
    columns = list(sample.standardized.columns)
    n_in, n_std = len(INPUT_COLUMNS), len(STANDARDIZED_COLUMN_NAMES)
    assert columns[:n_in] == list(INPUT_COLUMNS)
    assert columns[n_in : n_in + n_std] == list(STANDARDIZED_COLUMN_NAMES)
    assert columns[n_in + n_std :] == ["note"]
    assert list(sample.rejects.columns) == list(REJECT_COLUMNS)


def test_sample_same_child_in_three_states_gets_the_same_birth_date_and_place(sample):
    std = sample.standardized.set_index("record_id")
    children = std.loc[["TX-0001", "CA-0001", "FL-0001"]]
    assert set(children["birth_date_std"]) == {"2012-03-14"}
    assert set(children["birth_state_std"]) == {"MX-MIC"}
    assert set(children["birth_country_std"]) == {"MX"}
    assert children["state_std"].tolist() == ["TX", "CA", "FL"]
    assert children["source_name"].tolist() == ["sample_records.csv"] * 3


def test_sample_raw_values_are_kept_verbatim(sample):
    std = sample.standardized.set_index("record_id")
    assert std.loc["FL-0001", "birth_date"] == "14/03/2012"
    assert std.loc["ID-0008", "birth_date"] == "31/02/2012"
    assert pd.isna(std.loc["ID-0008", "birth_date_std"])
    assert std.loc["NE-0015", "first_name"] == "NA"


# --- rejects ---------------------------------------------------------------------------------


def test_missing_record_id_is_rejected_with_its_row():
    result = run(record(), record(record_id="  "))
    assert result.rejects["reason"].tolist() == [RejectCode.MISSING_RECORD_ID]
    assert result.rejects["source_row"].tolist() == [2]
    assert "record_id" in result.rejects.loc[0, "message"]


def test_every_repeat_of_a_record_id_is_rejected_naming_the_first_row():
    result = run(
        record(), record(first_name="Bea"), record(record_id="R2"), record(last_name_1="X")
    )
    assert result.standardized["record_id"].tolist() == ["R1", "R2"]
    assert result.rejects["reason"].tolist() == [RejectCode.DUPLICATE_RECORD_ID] * 2
    assert result.rejects["source_row"].tolist() == [2, 4]
    assert all("row 1" in m for m in result.rejects["message"])


def test_missing_state_is_rejected():
    result = run(record(state=None))
    assert result.rejects["reason"].tolist() == [RejectCode.MISSING_STATE]
    assert "'state'" in result.rejects.loc[0, "message"]


def test_record_with_no_usable_name_is_rejected():
    result = run(record(first_name="", last_name_1="--", middle_name="Luis"))
    assert result.rejects["reason"].tolist() == [RejectCode.MISSING_NAME]
    assert "first_name" in result.rejects.loc[0, "message"]


def test_record_whose_only_names_are_placeholders_is_rejected_saying_so():
    result = run(
        record(first_name="BABY GIRL", last_name_1="Unknown"),
        record(record_id="R2", first_name="FNU", last_name_1="LNU", middle_name="NMN"),
    )
    assert result.rejects["reason"].tolist() == [RejectCode.MISSING_NAME] * 2
    assert all("only placeholders" in m for m in result.rejects["message"])
    assert result.counts["records_in"] == 2 == result.counts["rejected"]


def test_empty_names_keep_the_plain_missing_name_message():
    result = run(record(first_name="--", last_name_1=None))
    assert "no usable name" in result.rejects.loc[0, "message"]


def test_placeholder_first_name_with_a_real_surname_is_kept_and_flagged():
    result = run(record(first_name="Baby Boy", last_name_1="Garcia"))
    assert result.counts["standardized"] == 1
    row = result.standardized.loc[0]
    assert row["first_name"] == "Baby Boy"  # the raw value is kept verbatim
    assert pd.isna(row["given_name_full"]) and pd.isna(row["given_name_1_canonical"])
    assert {QualityFlag.NAME_PLACEHOLDER, QualityFlag.GIVEN_NAME_MISSING} <= flags(result)


def test_one_name_is_enough_to_keep_a_record():
    result = run(record(first_name=None), record(record_id="R2", last_name_1=None))
    assert result.counts["standardized"] == 2
    assert QualityFlag.GIVEN_NAME_MISSING in flags(result, 0)
    assert QualityFlag.SURNAME_MISSING in flags(result, 1)


def test_reject_messages_never_contain_the_childs_name_or_birth_date():
    result = run(
        record(state=None, first_name="Xochitl", last_name_1="Quetzal", birth_date="2012-03-14"),
        record(state=None, first_name="Xochitl", last_name_1="Quetzal", birth_date="2012-03-14"),
        record(record_id=None, first_name="Xochitl", birth_date="03/14/2012"),
    )
    assert result.counts["rejected"] == 3
    for message in result.rejects["message"]:
        assert not re.search(r"xochitl|quetzal|2012|03/14", message, re.IGNORECASE)


def test_first_failing_rule_wins_when_several_apply():
    result = run(record(record_id=None, state=None, first_name=None, last_name_1=None))
    assert result.rejects["reason"].tolist() == [RejectCode.MISSING_RECORD_ID]


# --- kept records and their flags ------------------------------------------------------------


def test_output_order_is_input_order_and_source_row_is_one_based():
    rows = [record(record_id=f"R{i}") for i in (5, 3, 9, 1)]
    rows.insert(2, record(record_id=None))
    result = run(*rows)
    assert result.standardized["record_id"].tolist() == ["R5", "R3", "R9", "R1"]
    assert result.standardized["source_row"].tolist() == [1, 2, 4, 5]


def test_quality_flags_combine_names_dates_and_codes_sorted_and_unique():
    result = run(
        record(
            first_name=None,
            birth_date="04/05/12",
            sex="Q",
            state="Tejas",
            birth_state="Atlantis",
            msix_id="12",
            enrollment_date="31/02/2024",
        )
    )
    raw = result.standardized.loc[0, "quality_flags"]
    assert raw.split(";") == sorted(set(raw.split(";")))
    assert {
        "GIVEN_NAME_MISSING",
        "BIRTH_DATE_AMBIGUOUS",
        "TWO_DIGIT_YEAR",
        "SEX_UNRECOGNISED",
        "STATE_UNRECOGNISED",
        "BIRTH_PLACE_UNRECOGNISED",
        "MSIX_ID_MALFORMED",
        "ENROLLMENT_DATE_UNPARSEABLE",
    } <= flags(result)


def test_clean_record_has_empty_quality_flags():
    result = run(record(birth_date="2012-03-14", sex="F", middle_name="Sofia", last_name_2="Paz"))
    assert result.standardized.loc[0, "quality_flags"] == ""


def test_combine_flags_merges_and_sorts_per_row():
    combined = combine_flags(
        pd.Series(["B;A", "", None, "C"]),
        pd.Series(["A", "", "Z", None]),
        pd.Series(["", "", "", "C"]),
    )
    assert combined.tolist() == ["A;B", "", "Z", "C"]


def test_truth_columns_survive_standardization():
    result = run(record(true_student_id="S1", true_family_id="F1"))
    assert result.standardized.loc[0, ["true_student_id", "true_family_id"]].tolist() == [
        "S1",
        "F1",
    ]


def test_declared_date_format_per_column():
    result = run(
        record(birth_date="04/05/2012", enrollment_date="04/05/2024"),
        date_format={"birth_date": "DD/MM/YYYY"},
    )
    assert result.standardized.loc[0, "birth_date_std"] == "2012-05-04"
    assert result.standardized.loc[0, "enrollment_date_std"] == "2024-04-05"


def test_column_map_and_latin1_csv_through_standardize(tmp_path):
    path = tmp_path / "kansas.csv"
    path.write_bytes("ID,ST,Nombre,Apellido\nK1,KS,José,Núñez\n".encode("latin-1"))
    result = standardize(
        path,
        column_map={
            "ID": "record_id",
            "ST": "state",
            "Nombre": "first_name",
            "Apellido": "last_name_1",
        },
        today=TODAY,
    )
    assert result.counts["standardized"] == 1
    assert result.standardized.loc[0, "first_name"] == "José"
    assert result.standardized.loc[0, "source_name"] == "kansas.csv"


def test_missing_required_column_is_an_error_not_a_reject():
    with pytest.raises(RecordContractError, match="state"):
        standardize(pd.DataFrame({"record_id": ["1"], "first_name": ["Ana"]}))


def test_empty_input_gives_empty_outputs():
    result = standardize(pd.DataFrame({"record_id": [], "state": []}), today=TODAY)
    assert result.counts["records_in"] == 0
    assert list(result.standardized.columns)[: len(INPUT_COLUMNS)] == list(INPUT_COLUMNS)
    assert result.rejects.empty


# --- properties ------------------------------------------------------------------------------

_PLACEHOLDERS = st.sampled_from(
    ["UNKNOWN", "Baby Girl", "n/a", "FNU", "LNU", "NMN", "none", "Maria Unk", "BABY A", "NA NA"]
)
_TEXT = st.one_of(st.none(), st.just(""), st.text(max_size=12), _PLACEHOLDERS)
_ID = st.one_of(
    st.none(), st.just(""), st.sampled_from(["1", "2", "3", " 1 ", "A"]), st.text(max_size=4)
)


@st.composite
def arbitrary_frames(draw):
    n = draw(st.integers(min_value=0, max_value=12))
    columns = draw(st.lists(st.sampled_from(INPUT_COLUMNS[2:]), unique=True, max_size=8))
    data = {
        "record_id": draw(st.lists(_ID, min_size=n, max_size=n)),
        "state": draw(
            st.lists(st.one_of(_TEXT, st.sampled_from(["TX", "ca"])), min_size=n, max_size=n)
        ),
    }
    for column in columns:
        data[column] = draw(st.lists(_TEXT, min_size=n, max_size=n))
    data["true_student_id"] = draw(st.lists(_TEXT, min_size=n, max_size=n))
    return pd.DataFrame(data, dtype=object)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arbitrary_frames())
def test_every_record_is_either_standardized_or_rejected(frame):
    result = standardize(frame, today=TODAY)  # must not raise on any Unicode
    counts = result.counts
    assert counts["records_in"] == len(frame)
    assert counts["records_in"] == counts["standardized"] + counts["rejected"]
    assert counts["rejected"] == sum(counts[f"rejected_{code.value}"] for code in RejectCode)
    kept_rows = set(result.standardized["source_row"]) if len(result.standardized) else set()
    assert kept_rows.isdisjoint(set(result.rejects["source_row"]))
    assert kept_rows | set(result.rejects["source_row"]) == set(range(1, len(frame) + 1))
    assert result.standardized["record_id"].is_unique


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arbitrary_frames())
def test_standardizing_a_standardized_table_changes_nothing(frame):
    first = standardize(frame, today=TODAY).standardized
    second = standardize(first, today=TODAY)
    assert second.counts["rejected"] == 0
    pd.testing.assert_frame_equal(
        second.standardized.drop(columns="source_row"), first.drop(columns="source_row")
    )


# --- documentation stays in sync -------------------------------------------------------------


def test_record_contract_doc_names_every_column_flag_and_reject_code():
    text = CONTRACT_DOC.read_text(encoding="utf-8")
    names = [*INPUT_COLUMNS, *STANDARDIZED_COLUMN_NAMES, *REJECT_COLUMNS]
    names += [flag.value for flag in QualityFlag] + [code.value for code in RejectCode]
    missing = [name for name in names if f"`{name}`" not in text]
    assert missing == []


def test_duckdb_table_input_is_labelled_with_the_table_name():
    import duckdb

    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE kansas AS SELECT 'K1' AS record_id, 'KS' AS state, "
            "'Ana' AS first_name, DATE '2012-03-14' AS birth_date"
        )
        result = standardize("kansas", connection=con, today=TODAY)
    assert result.standardized.loc[0, "source_name"] == "kansas"
    assert result.standardized.loc[0, "birth_date_std"] == "2012-03-14"


def test_standardized_table_written_to_parquet_standardizes_to_the_same_values(tmp_path):
    from migrant_linkage.io import write_table

    with resources.as_file(SAMPLE) as path:
        first = standardize(path, today=TODAY).standardized
    written = write_table(first, tmp_path / "standardized.parquet")
    again = standardize(written, source_name="sample_records.csv", today=TODAY)
    assert again.counts["rejected"] == 0
    pd.testing.assert_frame_equal(
        again.standardized.drop(columns="source_row"), first.drop(columns="source_row")
    )
