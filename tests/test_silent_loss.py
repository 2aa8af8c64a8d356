"""Nothing is lost on the way in: every record the file holds is counted, and every identifier
arrives as the digits the state sent, whatever the format or the caller's dtypes.

A quote opened and not closed on its line swallowed the next records into one child's name
field (25 records in, records_in 23, exit 0); Parquet integer ids with a null became
`…992.0`; ids above 2^53 collapsed into each other; `standardize(pd.read_csv(p))` turned every
12-digit MSIX ID into a float and then into a malformed id.
"""

from __future__ import annotations

import decimal
import re
import warnings

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage.cli import main
from migrant_linkage.io import RecordContractError, read_records
from migrant_linkage.schema import RejectCode
from migrant_linkage.standardize import standardize

HEADER = ["record_id", "state", "first_name", "last_name_1", "birth_date"]


def _reconciles(result) -> None:
    counts = result.counts
    assert counts["records_in"] == counts["standardized"] + counts["rejected"]
    rows = list(result.standardized["source_row"]) + list(result.rejects["source_row"])
    assert sorted(int(r) for r in rows) == list(range(1, counts["records_in"] + 1))


def _roster(n: int) -> list[list[str]]:
    return [
        [str(i), "TX", f"NAME{chr(65 + i % 26)}", "RUIZ", "2010-01-01"] for i in range(1, n + 1)
    ]


def _csv_text(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in [HEADER, *rows]) + "\n"


# -------------------------------------------------------------------- quotes that swallow records
def test_a_quote_that_swallows_two_records_rejects_all_three_and_counts_every_record(tmp_path):
    rows = _roster(25)
    rows[9][2] = '"' + rows[9][2]  # record 10's first name opens a quote ...
    rows[11][3] = '"' + rows[11][3]  # ... that record 12's surname closes
    path = tmp_path / "roster.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    result = standardize(path)
    _reconciles(result)
    assert result.counts["records_in"] == 25
    assert list(result.rejects["record_id"]) == ["10", "11", "12"]
    assert set(result.rejects["reason"]) == {RejectCode.UNBALANCED_QUOTE.value}
    assert "'first_name'" in result.rejects["message"].iloc[0]
    assert not result.rejects["message"].str.contains("NAME").any()
    kept = result.standardized.set_index("record_id")
    assert kept.loc["13", "given_name_full"] == rows[12][2]  # the records after it are intact
    assert kept.loc["13", "source_row"] == 13


def test_validate_reports_the_swallowed_records_as_rejects(tmp_path, capsys):
    rows = _roster(6)
    rows[1][2] = '"' + rows[1][2]
    rows[3][3] = '"' + rows[3][3]
    path = tmp_path / "roster.csv"
    path.write_text(_csv_text(rows), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"records_in:\s+6\n", out)
    assert re.search(r"rejected_UNBALANCED_QUOTE:\s+3\n", out)


def test_a_name_with_a_quoted_line_break_is_still_one_record(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        ",".join(HEADER) + '\n1,TX,"JOSE\nLUIS",LOPEZ,2010-05-06\n2,TX,ANA,RUIZ,2010-05-06\n',
        encoding="utf-8",
    )
    result = standardize(path)
    assert (result.counts["records_in"], result.counts["rejected"]) == (2, 0)


_TEXT = st.text(alphabet="ABCDEFGHIJKLMNÑ ", min_size=1, max_size=8).map(str.strip).filter(bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.tuples(_TEXT, _TEXT), min_size=3, max_size=15),
    data=st.data(),
)
def test_a_runaway_quote_never_loses_a_record(names, data):
    """Open a quote in one field and close it in a field some records later: the reader either
    refuses the file naming a row, or counts every record the file holds and keeps the records
    outside the runaway quote exactly."""
    rows = [[str(i), "TX", g, s, "2010-01-01"] for i, (g, s) in enumerate(names, start=1)]
    opened = data.draw(st.integers(0, len(rows) - 2))
    closed = data.draw(st.integers(opened + 1, len(rows) - 1))
    open_field = data.draw(st.integers(2, 3))
    close_field = data.draw(st.integers(1, 4))
    rows[opened][open_field] = '"' + rows[opened][open_field]
    rows[closed][close_field] = '"' + rows[closed][close_field]
    text = _csv_text(rows)
    try:
        result = _standardize_text(text)
    except RecordContractError as error:
        assert "data row" in str(error) or "quote" in str(error)
        return
    _reconciles(result)
    assert result.counts["records_in"] == len(rows)
    kept = result.standardized.set_index("record_id")
    for i, row in enumerate(rows):
        if i < opened or i > closed:
            assert kept.loc[row[0], "first_name"] == row[2]
            assert kept.loc[row[0], "last_name_1"] == row[3]


def _standardize_text(text: str):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roster.csv"
        path.write_text(text, encoding="utf-8")
        return standardize(path)


# ------------------------------------------------------------------------ identifiers as text
MSIX_IDS = [f"{100000000000 + 7919 * i}" for i in range(1, 6)]


def test_parquet_integer_ids_with_a_null_keep_their_digits(tmp_path):
    table = pa.table(
        {
            "record_id": pa.array([9007199254740992, None, 9007199254740993], pa.int64()),
            "state": ["TX", "TX", "TX"],
            "first_name": ["ANA", "EVA", "LUZ"],
            "msix_id": pa.array([int(MSIX_IDS[0]), None, int(MSIX_IDS[1])], pa.int64()),
        }
    )
    path = tmp_path / "ids.parquet"
    pq.write_table(table, path)
    result = standardize(path)
    assert list(result.standardized["record_id"]) == ["9007199254740992", "9007199254740993"]
    assert list(result.standardized["msix_id_std"]) == MSIX_IDS[:2]
    assert list(result.rejects["reason"]) == [RejectCode.MISSING_RECORD_ID.value]


def test_ids_above_two_to_the_53_stay_distinct_and_match_the_same_ids_sent_as_csv(tmp_path):
    ids = [2**60 + i for i in range(39)]
    table = pa.table(
        {
            "record_id": pa.array(ids + [None], pa.int64()),
            "state": ["TX"] * 40,
            "first_name": ["ANA"] * 40,
        }
    )
    pq.write_table(table, tmp_path / "big.parquet")
    from_parquet = standardize(tmp_path / "big.parquet")
    assert from_parquet.standardized["record_id"].nunique() == 39
    (tmp_path / "big.csv").write_text(
        "record_id,state,first_name\n" + "".join(f"{i},TX,ANA\n" for i in ids), encoding="utf-8"
    )
    from_csv = standardize(tmp_path / "big.csv")
    assert list(from_parquet.standardized["record_id"]) == list(from_csv.standardized["record_id"])


def test_a_decimal_msix_id_is_its_twelve_digits(tmp_path):
    table = pa.table(
        {
            "record_id": ["1", "2"],
            "state": ["TX", "TX"],
            "first_name": ["ANA", "EVA"],
            "msix_id": pa.array([decimal.Decimal(i) for i in MSIX_IDS[:2]], pa.decimal128(12, 0)),
        }
    )
    pq.write_table(table, tmp_path / "decimal.parquet")
    result = standardize(tmp_path / "decimal.parquet")
    assert list(result.standardized["msix_id_std"]) == MSIX_IDS[:2]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pa.array([{"given": "FIDEL", "initial": "N"}]), "nested"),
        (pa.array([["FIDEL"]]), "nested"),
        (pa.array([b"\xff\xfe\x00R"], pa.binary()), "not UTF-8"),
    ],
    ids=["struct", "list", "binary"],
)
def test_nested_or_binary_names_are_an_error_naming_the_column(values, kind, tmp_path, capsys):
    table = pa.table({"record_id": ["1"], "state": ["TX"], "first_name": values})
    pq.write_table(table, tmp_path / "typed.parquet")
    with pytest.raises(RecordContractError, match=kind) as error:
        standardize(tmp_path / "typed.parquet")
    assert "'first_name'" in str(error.value) and "FIDEL" not in str(error.value)
    assert main(["validate", str(tmp_path / "typed.parquet")]) == 2


def _msix_roster(tmp_path):
    rows = [[str(i), "TX", "ANA", "RUIZ", msix] for i, msix in enumerate(MSIX_IDS, start=1)]
    rows.append(["6", "TX", "EVA", "RUIZ", ""])
    path = tmp_path / "msix.csv"
    path.write_text(
        "record_id,state,first_name,last_name_1,msix_id\n" + "\n".join(",".join(r) for r in rows),
        encoding="utf-8",
    )
    return path


def test_msix_ids_survive_pandas_default_dtypes(tmp_path):
    path = _msix_roster(tmp_path)
    frame = pd.read_csv(path)  # msix_id: float64 (a null), record_id: int64
    assert frame["msix_id"].dtype == "float64"
    result = standardize(frame)
    assert list(result.standardized["msix_id_std"].dropna()) == MSIX_IDS
    assert list(result.standardized["record_id"]) == ["1", "2", "3", "4", "5", "6"]
    assert "MSIX_ID_MALFORMED" not in "".join(result.standardized["quality_flags"])


def test_float_ids_whose_digits_are_already_lost_give_a_warning_naming_the_column():
    frame = pd.DataFrame(
        {"record_id": [2.0**60, 2.0**60 + 2**10], "state": ["TX", "TX"], "first_name": ["A", "B"]}
    )
    with pytest.warns(UserWarning, match="'record_id'.*2\\^53"):
        standardize(frame)


def test_float_ids_that_fit_give_no_warning(tmp_path):
    frame = pd.read_csv(_msix_roster(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        standardize(frame)


def test_arrow_tables_duckdb_relations_and_table_pairs_read_like_the_csv(tmp_path):
    path = _msix_roster(tmp_path)
    expected = standardize(path).standardized
    arrow = pa.csv.read_csv(path)  # typed: record_id int64, msix_id int64 with a null
    con = duckdb.connect(str(tmp_path / "state.duckdb"))
    con.execute(f"CREATE TABLE roster AS SELECT * FROM read_csv_auto('{path}')")
    relation = con.sql("SELECT * FROM roster")
    for source in (arrow, relation):
        got = standardize(source).standardized
        assert list(got["record_id"]) == list(expected["record_id"])
        assert list(got["msix_id_std"]) == list(expected["msix_id_std"])
    con.close()
    pair = standardize((str(tmp_path / "state.duckdb"), "roster")).standardized
    assert list(pair["msix_id_std"]) == list(expected["msix_id_std"])


def test_polars_frames_are_read_through_arrow(tmp_path):
    pl = pytest.importorskip("polars")
    path = _msix_roster(tmp_path)
    got = standardize(pl.read_csv(path)).standardized
    assert list(got["msix_id_std"].dropna()) == MSIX_IDS


def test_standardize_outputs_can_be_asked_for_as_arrow(tmp_path):
    result = standardize(_msix_roster(tmp_path))
    tables = result.to_arrow()
    assert isinstance(tables["standardized"], pa.Table)
    assert pa.types.is_large_string(tables["standardized"].column("msix_id_std").type) or (
        tables["standardized"].column("msix_id_std").type == pa.string()
    )
    assert tables["standardized"].num_rows == len(result.standardized)
    assert tables["rejects"].num_rows == len(result.rejects)


def test_read_records_keeps_every_id_as_text():
    frame = pd.DataFrame({"record_id": pd.array([1, None, 3], "Int64"), "state": ["TX"] * 3})
    read = read_records(frame)
    assert list(read["record_id"].fillna("<none>")) == ["1", "<none>", "3"]
    assert pd.api.types.is_string_dtype(read["record_id"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20, unique=True),
    msix=st.lists(st.one_of(st.none(), st.integers(0, 10**12 - 1)), min_size=20, max_size=20),
    as_decimal=st.booleans(),
)
def test_any_integer_ids_arrive_as_their_digits_from_parquet(ids, msix, as_decimal, tmp_path):
    n = len(ids)
    msix_values = msix[:n]
    msix_type = pa.decimal128(12, 0) if as_decimal else pa.int64()
    table = pa.table(
        {
            "record_id": pa.array(ids, pa.int64()),
            "state": ["TX"] * n,
            "first_name": ["ANA"] * n,
            "msix_id": pa.array(
                [decimal.Decimal(v) if as_decimal and v is not None else v for v in msix_values],
                msix_type,
            ),
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    result = standardize(path)
    assert list(result.standardized["record_id"]) == [str(i) for i in ids]
    expected_msix = [None if v is None else str(v) for v in msix_values]
    got = [None if pd.isna(v) else v for v in result.standardized["msix_id"]]
    assert got == expected_msix
