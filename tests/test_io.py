"""Reading state files as text in every encoding and container, and writing tables safely."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from migrant_linkage.io import RecordContractError, read_records, write_table
from migrant_linkage.schema import INPUT_COLUMNS

HEADER = "record_id,state,first_name,last_name_1,birth_date\n"
ROW = "R1,TX,José María,Núñez Peña,03/04/2012\n"


def write_bytes(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("latin-1", b""), ("cp1252", b"")],
)
def test_accented_names_survive_every_common_encoding(tmp_path, encoding, prefix):
    path = write_bytes(tmp_path, "roster.csv", prefix + (HEADER + ROW).encode(encoding))
    frame = read_records(path)
    assert list(frame.columns[:5]) == [
        "record_id",
        "state",
        "first_name",
        "last_name_1",
        "birth_date",
    ]
    assert frame.loc[0, "first_name"] == "José María"
    assert frame.loc[0, "last_name_1"] == "Núñez Peña"


def test_cp1252_only_characters_are_decoded_as_windows_text(tmp_path):
    # 0x92 is a right single quote in cp1252 (an apostrophe typed in Word/Excel)
    data = HEADER.encode() + "R1,TX,Ana,O\u2019Brien,2012-03-04\n".encode("cp1252")
    frame = read_records(write_bytes(tmp_path, "roster.csv", data))
    assert frame.loc[0, "last_name_1"] == "O\u2019Brien"


def test_declared_encoding_is_used(tmp_path):
    path = write_bytes(tmp_path, "roster.csv", (HEADER + ROW).encode("latin-1"))
    assert read_records(path, encoding="latin-1").loc[0, "first_name"] == "José María"


def test_everything_is_text_and_only_empty_cells_are_missing(tmp_path):
    data = "record_id,state,first_name,last_name_1,msix_id\n007,TX,NA,NULL,000123456789\n008,TX,,None,\n"
    frame = read_records(write_bytes(tmp_path, "roster.csv", data.encode()))
    assert frame["record_id"].tolist() == ["007", "008"]  # leading zeros kept
    assert frame.loc[0, "first_name"] == "NA"  # a person can be named NA
    assert frame.loc[0, "last_name_1"] == "NULL"
    assert frame.loc[1, "last_name_1"] == "None"
    assert frame.loc[0, "msix_id"] == "000123456789"
    assert pd.isna(frame.loc[1, "first_name"])
    assert pd.isna(frame.loc[1, "msix_id"])


def test_semicolon_delimited_file(tmp_path):
    data = "record_id;state;first_name\nR1;TX;Ana\n"
    frame = read_records(write_bytes(tmp_path, "roster.csv", data.encode()), delimiter=";")
    assert frame.loc[0, "first_name"] == "Ana"


def test_column_map_renames_state_columns_to_the_contract(tmp_path):
    data = "StudentKey,SubmittingState,FirstName,LastName\nR1,TX,Ana,Ruiz\n"
    frame = read_records(
        write_bytes(tmp_path, "roster.csv", data.encode()),
        column_map={
            "StudentKey": "record_id",
            "SubmittingState": "state",
            "FirstName": "first_name",
            "LastName": "last_name_1",
        },
    )
    assert frame.loc[0, ["record_id", "state", "first_name", "last_name_1"]].tolist() == [
        "R1",
        "TX",
        "Ana",
        "Ruiz",
    ]


def test_missing_optional_columns_are_added_empty_and_extras_carried_through():
    source = pd.DataFrame(
        {"record_id": ["1"], "state": ["TX"], "true_student_id": ["S9"], "true_family_id": ["F3"]}
    )
    frame = read_records(source)
    assert set(INPUT_COLUMNS) <= set(frame.columns)
    assert frame["birth_date"].isna().all()
    assert frame.loc[0, "true_student_id"] == "S9"
    assert frame.loc[0, "true_family_id"] == "F3"


def test_dataframe_input_with_numbers_is_read_as_text():
    source = pd.DataFrame({"record_id": [1, 2], "state": ["TX", ""], "msix_id": [None, "12"]})
    frame = read_records(source)
    assert frame["record_id"].tolist() == ["1", "2"]
    assert pd.isna(frame.loc[1, "state"])  # empty string -> missing


def test_missing_required_column_names_file_and_column_and_the_fix(tmp_path):
    path = write_bytes(tmp_path, "roster_ks.csv", b"record_id,first_name\nR1,Ana\n")
    with pytest.raises(RecordContractError) as raised:
        read_records(path)
    message = str(raised.value)
    assert "roster_ks.csv" in message
    assert "'state'" in message
    assert "column_map" in message
    assert isinstance(raised.value, ValueError)


def test_column_map_naming_an_absent_column_is_an_error(tmp_path):
    path = write_bytes(tmp_path, "roster.csv", b"record_id,state\nR1,TX\n")
    with pytest.raises(RecordContractError, match="DOB"):
        read_records(path, column_map={"DOB": "birth_date"})


def test_column_map_producing_two_columns_of_one_name_is_an_error(tmp_path):
    path = write_bytes(tmp_path, "roster.csv", b"record_id,state,ST\nR1,TX,TX\n")
    with pytest.raises(RecordContractError, match="twice"):
        read_records(path, column_map={"ST": "state"})


def test_unknown_file_type_is_a_clear_error(tmp_path):
    path = write_bytes(tmp_path, "roster.xlsx", b"")
    with pytest.raises(RecordContractError, match="unknown file type"):
        read_records(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RecordContractError, match="not found"):
        read_records(tmp_path / "nope.csv")


def test_parquet_input_with_typed_columns_becomes_text(tmp_path):
    source = pd.DataFrame(
        {
            "record_id": [1, 2],
            "state": ["TX", "CA"],
            "birth_date": pd.to_datetime(["2012-03-04", "2013-05-06"]),
        }
    )
    path = tmp_path / "roster.parquet"
    source.to_parquet(path)
    frame = read_records(path)
    assert frame["record_id"].tolist() == ["1", "2"]
    assert frame["birth_date"].tolist() == ["2012-03-04", "2013-05-06"]


def test_duckdb_table_through_a_connection_and_through_a_database_path(tmp_path):
    database = tmp_path / "state.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(
            "CREATE TABLE roster AS SELECT 'R1' AS record_id, 'TX' AS state, "
            "DATE '2012-03-04' AS birth_date, 7 AS true_student_id"
        )
        through_connection = read_records("roster", connection=con)
    through_path = read_records(database, table="roster")
    for frame in (through_connection, through_path):
        assert frame.loc[0, "birth_date"] == "2012-03-04"
        assert frame.loc[0, "true_student_id"] == "7"


def test_duckdb_database_without_table_is_a_clear_error(tmp_path):
    with pytest.raises(RecordContractError, match="table="):
        read_records(tmp_path / "state.duckdb")


def test_unknown_duckdb_table_is_a_clear_error():
    with duckdb.connect() as con, pytest.raises(RecordContractError, match="roster"):
        read_records("roster", connection=con)


def test_csv_export_neutralises_spreadsheet_formulas(tmp_path):
    frame = pd.DataFrame(
        {
            "record_id": ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tX", "ok", None],
            "count": [1, -2, 3, 4, 5, 6, 7],
        }
    )
    path = write_table(frame, tmp_path / "out.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["record_id"].tolist() == [
        "'=HYPERLINK(1)",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tX",
        "ok",
        "",
    ]
    assert back["count"].tolist()[1] == "-2"  # numbers keep their sign


def test_parquet_export_round_trips_unchanged(tmp_path):
    frame = pd.DataFrame({"record_id": ["=1", "2"], "n": pd.array([1, None], dtype="Int64")})
    path = write_table(frame, tmp_path / "sub" / "out.parquet")
    back = pd.read_parquet(path)
    assert back["record_id"].tolist() == ["=1", "2"]
    assert back["n"].isna().tolist() == [False, True]


def test_write_leaves_no_temporary_files_and_replaces_the_old_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    write_table(pd.DataFrame({"a": ["new"]}), target)
    assert target.read_text().splitlines() == ["a", "new"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_refuses_unknown_extension(tmp_path):
    with pytest.raises(RecordContractError):
        write_table(pd.DataFrame({"a": ["x"]}), tmp_path / "out.xlsx")


def test_header_with_spaces_or_a_stray_byte_order_mark_still_matches(tmp_path):
    data = "\ufeffrecord_id , state\nR1,TX\n".encode()
    frame = read_records(write_bytes(tmp_path, "roster.csv", data), encoding="utf-8")
    assert frame.loc[0, ["record_id", "state"]].tolist() == ["R1", "TX"]


def test_two_columns_with_the_same_trimmed_name_is_an_error():
    frame = pd.DataFrame([["R1", "TX", "TX"]], columns=["record_id", "state", "state "])
    with pytest.raises(RecordContractError, match="twice"):
        read_records(frame)
