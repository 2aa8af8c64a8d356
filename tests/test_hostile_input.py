"""Hostile input through the whole pipeline: nothing crashes, nothing is lost, the error says
where.

Every case ends in one of two ways: exit 2 with a message naming the file (and row or column
where there is one), or the records go through with each one either standardized or rejected
with a reason. Counts reconcile, every standardized record lands in exactly one cluster, and
CSV outputs never hand a spreadsheet a formula. `hostile_cases` (tests/conftest.py) counts the
cases tried; the count is printed at the end of the pytest run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage import synthetic
from migrant_linkage.cli import EXIT_BAD_INPUT, EXIT_OK, main
from migrant_linkage.engine import dedupe
from migrant_linkage.io import FORMULA_PREFIXES, RecordContractError
from migrant_linkage.schema import INPUT_COLUMNS, REJECT_COLUMNS, RejectCode
from migrant_linkage.standardize import standardize

HEADER = "record_id,state,first_name,last_name_1,birth_date\n"
OUTPUT_CSVS = ("clusters.csv", "worklist.csv", "rejects.csv", "pairs.csv")


# ------------------------------------------------------------------------------------ helpers
def _run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _reconciles(result) -> None:
    counts = result.counts
    assert counts["records_in"] == counts["standardized"] + counts["rejected"]
    assert len(result.standardized) == counts["standardized"]
    assert len(result.rejects) == counts["rejected"]
    rows = list(result.standardized["source_row"]) + list(result.rejects["source_row"])
    assert sorted(int(r) for r in rows) == list(range(1, counts["records_in"] + 1))
    assert set(result.rejects["reason"]) <= {code.value for code in RejectCode}
    assert result.rejects["message"].notna().all()


def _looks_like_formula(cell: str) -> bool:
    """A cell a spreadsheet would execute: starts with = + - @ TAB CR and is not a number."""
    if not cell.startswith(FORMULA_PREFIXES):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _formula_cells(path: Path) -> list[tuple[int, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [
            (row_number, column)
            for row_number, row in enumerate(csv.DictReader(f), start=1)
            for column, cell in row.items()
            if cell and _looks_like_formula(cell)
        ]


# ------------------------------------------------------------------- files that cannot be read
UNREADABLE_FILES = {
    "empty.csv": (b"", ["empty.csv", "empty"]),
    "blank_lines.csv": (b"\n\n\n", ["blank_lines.csv", "no header row"]),
    "unclosed_quote.csv": (
        (HEADER + '1,TX,ANA,LOPEZ,2010-01-01\n2,TX,EVA,RUIZ,2010-01-01\n3,TX,"JOSE,X,1\n').encode(),
        ["unclosed_quote.csv", "data row 3", "never closed"],
    ),
    "extra_fields_row_3.csv": (
        (HEADER + "1,TX,A,B,2010-01-01\n2,TX,C,D,2010-01-01\n3,TX,E,F,2010-01-01,X\n").encode(),
        ["extra_fields_row_3.csv", "data row 3 has 6 fields, the header has 5"],
    ),
    "extra_fields_row_1.csv": (
        (HEADER + "1,TX,A,B,2010-01-01,X,Y\n2,TX,C,D,2010-01-01\n").encode(),
        ["extra_fields_row_1.csv", "data row 1"],
    ),
    "repeated_header.csv": (
        b"record_id,state,first_name,record_id\n1,TX,ANA,2\n",
        ["repeated_header.csv", "'record_id'", "more than once"],
    ),
    "no_header_row.csv": (
        b"1,TX,ZEBULONIA,QUIXOTEZ,2011-07-23\n2,TX,ANA,RUIZ,2010-01-01\n",
        ["no_header_row.csv", "record_id", "header row is missing"],
    ),
    "binary.csv": (bytes(range(256)) * 8, ["binary.csv", "header column 1", "control character"]),
    "no_record_id.csv": (b"id,state\n1,TX\n", ["no_record_id.csv", "'record_id'", "found: id"]),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE_FILES))
def test_unreadable_file_exits_2_naming_file_and_place(name, tmp_path, capsys, hostile_cases):
    data, expected = UNREADABLE_FILES[name]
    path = _write(tmp_path, name, data)
    for command in ("validate", "dedupe"):
        hostile_cases["fixed file (CLI)"] += 1
        code, out, err = _run_cli(capsys, command, str(path), "--out", str(tmp_path / "out"))
        assert code == EXIT_BAD_INPUT, err
        for fragment in expected:
            assert fragment in err
        assert "internal error" not in err
    with pytest.raises(RecordContractError):
        standardize(path)


def test_file_without_header_never_echoes_the_first_record(tmp_path, capsys):
    """The first record of a headerless file would be quoted as 'column names': a child's name
    and birth date in a log."""
    data, _ = UNREADABLE_FILES["no_header_row.csv"]
    path = _write(tmp_path, "no_header_row.csv", data)
    code, out, err = _run_cli(capsys, "validate", str(path))
    assert code == EXIT_BAD_INPUT
    for secret in ("ZEBULONIA", "QUIXOTEZ", "2011-07-23"):
        assert secret not in err + out


# -------------------------------------------------------------- files that are read, row by row
def _standardized_row(result, record_id: str) -> pd.Series:
    rows = result.standardized.loc[result.standardized["record_id"] == record_id]
    assert len(rows) == 1, f"record {record_id} should be standardized once"
    return rows.iloc[0]


def test_header_only_file_gives_zero_records_and_empty_outputs(tmp_path, capsys, hostile_cases):
    hostile_cases["fixed file (CLI)"] += 1
    path = _write(tmp_path, "header_only.csv", HEADER.encode())
    out_dir = tmp_path / "out"
    code, out, err = _run_cli(capsys, "dedupe", str(path), "--out", str(out_dir), "--quiet")
    assert code == EXIT_OK, err
    summary = json.loads((out_dir / "summary.json").read_text())
    assert (summary["records_in"], summary["standardized"], summary["rejected"]) == (0, 0, 0)
    assert pd.read_csv(out_dir / "clusters.csv").empty


def test_all_null_columns_reject_every_record_with_a_reason(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    path = _write(tmp_path, "all_null.csv", (HEADER + ",,,,\n,,,,\n,,,,\n").encode())
    result = standardize(path)
    _reconciles(result)
    assert result.counts["rejected"] == 3
    assert set(result.rejects["reason"]) == {RejectCode.MISSING_RECORD_ID.value}


def test_ten_thousand_character_names_are_rejected_with_the_field_and_length(
    tmp_path, hostile_cases
):
    hostile_cases["fixed file (API)"] += 1
    long_given, long_surname = "A" * 10_000, "Ñ" * 10_000
    path = _write(
        tmp_path, "long.csv", (HEADER + f"1,TX,{long_given},{long_surname},2010-05-06\n").encode()
    )
    result = standardize(path)
    _reconciles(result)
    (reject,) = result.rejects.to_dict("records")
    assert (reject["record_id"], reject["reason"]) == ("1", RejectCode.FIELD_TOO_LONG.value)
    assert "'first_name'" in reject["message"] and "'last_name_1'" in reject["message"]
    assert "10,000" in reject["message"] and "AAAA" not in reject["message"]


def test_emoji_and_right_to_left_text_are_standardized(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    text = HEADER + "1,TX,\u202eJOSE\u202c \U0001f600,\u0645\u062d\u0645\u062f,2010-05-06\n"
    result = standardize(_write(tmp_path, "rtl.csv", text.encode()))
    _reconciles(result)
    assert _standardized_row(result, "1")["given_name_full"] == "JOSE"


def test_invisible_characters_do_not_split_a_name(tmp_path, hostile_cases):
    """A zero-width space, soft hyphen or word joiner pasted inside LOPEZ is invisible to the
    clerk who keyed it, as are control bytes (NUL, ESC, DEL): not a space between two names."""
    hostile_cases["fixed file (API)"] += 1
    text = (
        HEADER
        + "1,TX,JO\u200bSE,LO\u00adPEZ,2010-05-06\n"
        + "2,TX,\ufeffANA\u200f,RU\u2060IZ,2010-05-06\n"
        + "3,TX,AN\x00A,RU\x1b\x7fIZ,2010-05-06\n"
    )
    result = standardize(_write(tmp_path, "ctrl.csv", text.encode()))
    _reconciles(result)
    assert _standardized_row(result, "1")["given_name_full"] == "JOSE"
    assert _standardized_row(result, "1")["surname_full"] == "LOPEZ"
    for record_id in ("2", "3"):
        row = _standardized_row(result, record_id)
        assert (row["given_name_full"], row["surname_full"]) == ("ANA", "RUIZ")


def test_latin1_and_utf8_rows_in_one_file_both_read_as_jose(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    data = (
        HEADER.encode()
        + "1,TX,JOSÉ,LÓPEZ,2010-05-06\n".encode()
        + "2,TX,JOSÉ,LÓPEZ,2010-05-06\n".encode("latin-1")
    )
    result = standardize(_write(tmp_path, "mixed.csv", data))
    _reconciles(result)
    for record_id in ("1", "2"):
        assert _standardized_row(result, record_id)["given_name_full"] == "JOSE"
        assert _standardized_row(result, record_id)["surname_full"] == "LOPEZ"


def test_mojibake_names_are_repaired_in_the_standardized_columns(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    text = HEADER + "1,TX,JosÃ©,NÃºÃ±ez,2010-05-06\n2,TX,MARÃA,PEÃ‘A,2010-05-06\n"
    result = standardize(_write(tmp_path, "mojibake.csv", text.encode("utf-8")))
    _reconciles(result)
    first = _standardized_row(result, "1")
    assert first["first_name"] == "JosÃ©"  # raw value kept verbatim
    assert (first["given_name_full"], first["surname_full"]) == ("JOSE", "NUNEZ")
    assert _standardized_row(result, "2")["surname_full"] == "PENA"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bom.csv", "\ufeff" + HEADER + "1,TX,ANA,RUIZ,2010-05-06\n"),
        ("semicolon.csv", HEADER.replace(",", ";") + "1;TX;ANA;RUIZ;2010-05-06\n"),
        ("tab_in_csv.csv", HEADER.replace(",", "\t") + "1\tTX\tANA\tRUIZ\t2010-05-06\n"),
        ("pipe.txt", HEADER.replace(",", "|") + "1|TX|ANA|RUIZ|2010-05-06\n"),
        ("crlf.csv", (HEADER + "1,TX,ANA,RUIZ,2010-05-06\n").replace("\n", "\r\n")),
    ],
)
def test_bom_delimiters_and_line_endings_read_the_same_record(name, data, tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    result = standardize(_write(tmp_path, name, data.encode("utf-8")))
    _reconciles(result)
    row = _standardized_row(result, "1")
    assert (row["state_std"], row["given_name_full"], row["surname_full"]) == ("TX", "ANA", "RUIZ")
    assert row["birth_date_std"] == "2010-05-06"


def test_quoted_newline_inside_a_name_is_one_record(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    text = HEADER + '1,TX,"JOSE\nLUIS",LOPEZ,2010-05-06\n2,TX,ANA,RUIZ,2010-05-06\n'
    result = standardize(_write(tmp_path, "quoted.csv", text.encode()))
    _reconciles(result)
    assert result.counts["records_in"] == 2
    assert _standardized_row(result, "1")["given_name_full"] == "JOSE LUIS"
    assert _standardized_row(result, "2")["source_row"] == 2


@pytest.mark.parametrize(
    ("raw_date", "flag"),
    [
        ("00/00/0000", "BIRTH_DATE_UNPARSEABLE"),
        ("31/02/2010", "BIRTH_DATE_UNPARSEABLE"),
        ("2099-01-01", "BIRTH_DATE_IMPLAUSIBLE"),
        ("99999999999999999999", "BIRTH_DATE_UNPARSEABLE"),
        ("-1", "BIRTH_DATE_UNPARSEABLE"),
        ("=TODAY()", "BIRTH_DATE_UNPARSEABLE"),
    ],
)
def test_impossible_birth_dates_are_flagged_and_the_record_kept(
    raw_date, flag, tmp_path, hostile_cases
):
    hostile_cases["fixed file (API)"] += 1
    text = HEADER + f"1,TX,ANA,RUIZ,{raw_date}\n"
    result = standardize(_write(tmp_path, "dates.csv", text.encode()))
    _reconciles(result)
    row = _standardized_row(result, "1")
    assert flag in row["quality_flags"].split(";")
    if flag == "BIRTH_DATE_UNPARSEABLE":
        assert pd.isna(row["birth_date_std"])


def test_duplicate_record_ids_keep_the_first_and_reject_the_rest(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    text = HEADER + "7,TX,ANA,RUIZ,2010-05-06\n7,TX,EVA,DIAZ,2011-05-06\n7,TX,LUZ,SOTO,2012-01-02\n"
    result = standardize(_write(tmp_path, "dups.csv", text.encode()))
    _reconciles(result)
    assert list(result.standardized["source_row"]) == [1]
    assert list(result.rejects["reason"]) == [RejectCode.DUPLICATE_RECORD_ID.value] * 2


FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3")


def test_formula_strings_are_neutralised_in_every_csv_output(tmp_path, capsys, hostile_cases):
    """Formulas as ids, names and dates; the CLI writes clusters, worklist, rejects and pairs
    with none of them executable, while the records still link."""
    rows = [
        ["=1+1", "TX", "ANA", '=HYPERLINK("http://evil.example")', "2010-05-06"],
        ["+cmd", "CA", "ANA", '=HYPERLINK("http://evil.example")', "2010-05-06"],
        ["-2+3", "TX", "@SUM(A1)", "+RUIZ", "-2010-05-06"],
        ["@x", "TX", "EVA", "DIAZ", "2011-01-02"],
        ["@x", "TX", "EVA", "DIAZ", "2011-01-02"],  # duplicate id: a reject row with a formula id
        ["", "TX", "=CMD()", "-LOPEZ", "2010-05-06"],  # missing id: reject
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER.strip().split(","))
    writer.writerows(rows)
    path = _write(tmp_path, "formulas.csv", buffer.getvalue().encode())
    out_dir = tmp_path / "out"
    hostile_cases["fixed file (CLI)"] += 1
    code, out, err = _run_cli(capsys, "dedupe", str(path), "--out", str(out_dir), "--quiet")
    assert code == EXIT_OK, err
    for name in OUTPUT_CSVS:
        assert _formula_cells(out_dir / name) == [], name
    clusters = pd.read_csv(out_dir / "clusters.csv", dtype=str)
    assert "'=1+1" in set(clusters["record_id"])
    assert len(pd.read_csv(out_dir / "rejects.csv")) == 2


# ------------------------------------------------------------------------ generated hostile data
HOSTILE_TEXT = (
    "",
    " ",
    "NA",
    "NULL",
    "None",
    "JosÃ©",
    "NÃºÃ±ez",
    "\ufeffANA",
    "\u202eZEBULONIA\u202c",
    "\U0001f600\U0001f1f2\U0001f1fd",
    "\u0645\u062d\u0645\u062f",
    "JO\x00SE",
    "LO\u200bPEZ",
    "\t\r\n",
    '"QUOTED"',
    "a,b;c|d",
    '=HYPERLINK("http://x")',
    "+cmd",
    "@SUM(A1)",
    "-2+3",
    "DE LA CRUZ",
    "Ø" * 300,
)
HOSTILE_DATES = (
    "00/00/0000",
    "31/02/2010",
    "2099-01-01",
    "1900-01-01",
    "02/03/04",
    "2010-13-45",
    "",
    "9" * 40,
    "2010-05-06",
    "05/06/2010",
)
CLEAN_NAMES = ("ANA", "JOSE", "MARIA GUADALUPE", "LOPEZ", "GARCIA HERNANDEZ", "RUIZ")

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from(CLEAN_NAMES),
    st.text(max_size=12),
    st.builds(lambda c, n: c * n, st.sampled_from("AÑ😀\u202e\x01"), st.integers(100, 10_000)),
)
maybe_text = st.one_of(st.none(), hostile_text)
record_ids = st.one_of(st.none(), st.sampled_from(["1", "2", "3", "=1+1", "-5", " 1", "1 "]))
states = st.one_of(st.none(), st.sampled_from(["TX", "tx", "Texas", "ZZ", "=1", "CA"]))
dates = st.one_of(st.none(), st.sampled_from(HOSTILE_DATES), st.text(max_size=12))


@st.composite
def hostile_frames(draw, max_rows: int = 8) -> pd.DataFrame:
    n = draw(st.integers(0, max_rows))
    columns = {
        "record_id": st.one_of(record_ids, st.text(max_size=6)),
        "state": states,
        "first_name": maybe_text,
        "middle_name": maybe_text,
        "last_name_1": maybe_text,
        "last_name_2": maybe_text,
        "birth_date": dates,
        "sex": st.one_of(st.none(), st.sampled_from(["F", "M", "x", "9", "=1"])),
        "parent1_first": maybe_text,
        "parent1_last": maybe_text,
        "enrollment_date": dates,
    }
    data = {
        name: draw(st.lists(strategy, min_size=n, max_size=n)) for name, strategy in columns.items()
    }
    return pd.DataFrame(data, dtype="object")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=hostile_frames())
def test_standardize_never_crashes_and_accounts_for_every_record(frame, hostile_cases):
    hostile_cases["generated frame (standardize)"] += 1
    result = standardize(frame)
    _reconciles(result)
    assert result.counts["records_in"] == len(frame)
    assert list(result.rejects.columns) == list(REJECT_COLUMNS)


csv_layouts = st.fixed_dictionaries(
    {
        "delimiter": st.sampled_from([",", ";", "\t", "|"]),
        "row_encodings": st.lists(st.sampled_from(["utf-8", "cp1252", "latin-1"]), min_size=7),
        "bom": st.booleans(),
        "quote_all": st.booleans(),
        "line_end": st.sampled_from(["\n", "\r\n"]),
    }
)


def _hostile_csv_bytes(frame: pd.DataFrame, layout: dict) -> bytes:
    """The frame as a vendor might export it: each row in its own encoding (mixed files), an
    optional BOM, any of four delimiters, either line ending, minimal or full quoting."""
    quoting = csv.QUOTE_ALL if layout["quote_all"] else csv.QUOTE_MINIMAL
    lines = []
    for index, record in enumerate([list(frame.columns), *frame.itertuples(index=False)]):
        buffer = io.StringIO()
        cells = ["" if value is None else value for value in record]
        writer = csv.writer(
            buffer,
            delimiter=layout["delimiter"],
            quoting=quoting,
            lineterminator=layout["line_end"],
        )
        writer.writerow(cells)
        encoding = layout["row_encodings"][index % len(layout["row_encodings"])]
        lines.append(buffer.getvalue().encode(encoding, errors="replace"))
    return (b"\xef\xbb\xbf" if layout["bom"] else b"") + b"".join(lines)


def _main_capturing_stderr(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=hostile_frames(max_rows=6), layout=csv_layouts)
def test_cli_validate_reads_any_hostile_csv_or_exits_2_naming_the_file(
    tmp_path_factory, frame, layout, hostile_cases
):
    """Any bytes a vendor may send. The CLI either accounts for every record or says exit 2
    naming the file."""
    hostile_cases["generated CSV file (CLI validate)"] += 1
    tmp_path = tmp_path_factory.mktemp("csv")
    path = _write(tmp_path, "state_file.csv", _hostile_csv_bytes(frame, layout))
    code, err = _main_capturing_stderr(["validate", str(path), "--out", str(tmp_path / "out")])
    assert code in (EXIT_OK, EXIT_BAD_INPUT), err
    if layout["quote_all"]:  # every field quoted: well-formed CSV whatever the bytes inside
        assert code == EXIT_OK, err
    if code == EXIT_BAD_INPUT:
        assert "state_file.csv" in err
        return
    standardized = pd.read_parquet(tmp_path / "out" / "standardized.parquet")
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert _formula_cells(tmp_path / "out" / "rejects.csv") == []
    if layout["quote_all"]:  # every field quoted: exactly the records written are read back
        assert len(standardized) + len(rejects) == len(frame)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=hostile_frames(max_rows=6), layout=csv_layouts, seed=st.integers(0, 10_000))
def test_cli_dedupe_on_hostile_csv_reconciles_or_exits_2(
    tmp_path_factory, frame, layout, seed, hostile_cases
):
    """The CLI end to end (about 3 s per example, hence 10) on a hostile file beside a clean
    one: exit 0 with every record accounted for and clustered once, or exit 2 naming the file."""
    hostile_cases["generated CSV file (CLI dedupe)"] += 1
    tmp_path = tmp_path_factory.mktemp("dedupe")
    clean = tmp_path / "clean.csv"
    synthetic.write(synthetic.generate(3, seed=seed)[list(INPUT_COLUMNS)], clean)
    frame = frame.assign(record_id=[f"x{i}" for i in range(len(frame))])  # ids unique vs clean
    hostile = _write(tmp_path, "hostile.csv", _hostile_csv_bytes(frame, layout))
    out = tmp_path / "out"
    code, err = _main_capturing_stderr(["dedupe", str(clean), str(hostile), "--out", str(out)])
    assert code in (EXIT_OK, EXIT_BAD_INPUT), err
    if layout["quote_all"]:
        assert code == EXIT_OK, err
    if code == EXIT_BAD_INPUT:
        assert "hostile.csv" in err
        return
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records_in"] == summary["standardized"] + summary["rejected"]
    clusters = pd.read_parquet(out / "clusters.parquet")
    assert clusters["record_id"].is_unique and len(clusters) == summary["standardized"]
    for name in OUTPUT_CSVS:
        assert _formula_cells(out / name) == [], name


def _engine_frame(seed: int, hostile: pd.DataFrame) -> pd.DataFrame:
    """A few plausible families (so pairs, clusters and a worklist exist) plus hostile rows."""
    base = synthetic.generate(4, seed=seed)[list(INPUT_COLUMNS)]
    extra = hostile.copy()
    extra["record_id"] = [f"h{i}" if i % 3 else v for i, v in enumerate(extra["record_id"])]
    return pd.concat([base, extra], ignore_index=True)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile=hostile_frames(max_rows=5), seed=st.integers(0, 10_000))
def test_dedupe_on_hostile_records_reconciles_and_clusters_each_record_once(
    tmp_path_factory, hostile, seed, hostile_cases
):
    """Engine-level (about 3 s per example, hence 20 examples): standardize -> score -> zone ->
    cluster -> worklist -> write, with hostile values among real-looking families."""
    hostile_cases["generated frame (dedupe)"] += 1
    frame = _engine_frame(seed, hostile)
    out_dir = tmp_path_factory.mktemp("run")
    result = dedupe(frame, out_dir=out_dir)
    summary = result.summary
    assert summary["records_in"] == len(frame)
    assert summary["records_in"] == summary["standardized"] + summary["rejected"]
    standardized_ids = result.standardized["record_id"].astype(str)
    clustered = result.clusters["record_id"].astype(str)
    assert clustered.is_unique
    assert set(clustered) == set(standardized_ids)
    for name in OUTPUT_CSVS:
        assert _formula_cells(out_dir / name) == [], name


# ------------------------------------------------------------------------ bad options and files
GOOD_CSV = HEADER + "1,TX,ANA,RUIZ,2010-05-06\n2,TX,EVA,DIAZ,2011-06-07\n"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--encoding", "no-such-encoding"], "unknown encoding"),
        (["--encoding", "utf-16"], "cannot be decoded as utf-16"),
        (["--date-format", "%Q"], "not a day-month-year format"),
        (["--date-format", "YYYY"], "not a day-month-year format"),
    ],
)
def test_bad_reading_options_exit_2_with_what_to_do(options, expected, tmp_path, capsys):
    path = _write(tmp_path, "state.csv", GOOD_CSV.encode())
    code, out, err = _run_cli(capsys, "validate", str(path), *options)
    assert code == EXIT_BAD_INPUT, err
    assert expected in err


def test_corrupt_parquet_file_exits_2_naming_the_file(tmp_path, capsys, hostile_cases):
    hostile_cases["fixed file (CLI)"] += 1
    path = _write(tmp_path, "state.parquet", b"PAR1 this is not parquet PAR1")
    code, out, err = _run_cli(capsys, "validate", str(path))
    assert code == EXIT_BAD_INPUT, err
    assert "state.parquet" in err and "Parquet" in err


def test_parquet_with_typed_and_binary_columns_is_read_as_text(tmp_path, hostile_cases):
    """Vendors' Parquet: integer ids, timestamps for dates, bytes for names."""
    hostile_cases["fixed file (API)"] += 1
    frame = pd.DataFrame(
        {
            "record_id": [1, 2, 3],
            "state": ["TX", "TX", None],
            "first_name": ["ANA", None, "EVA"],
            "last_name_1": [b"RUIZ", None, b"DIAZ"],
            "birth_date": pd.to_datetime(["2010-05-06", None, "2012-02-02"]),
        }
    )
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path)
    result = standardize(path)
    _reconciles(result)
    row = _standardized_row(result, "1")
    assert (row["birth_date_std"], row["surname_full"]) == ("2010-05-06", "RUIZ")
    assert list(result.rejects["reason"]) == [
        RejectCode.MISSING_NAME.value,  # record 2 has no name at all
        RejectCode.MISSING_STATE.value,  # record 3 has no state
    ]


# Options the engine or model refuses are usage errors (exit 2), not internal errors.
_BAD_JOB_OPTIONS = [
    (["--model", "{input}"], "a --model file that is not a model"),
    (["--match-weight", "nan"], "a NaN threshold"),
    (["--review-weight", "30"], "a review weight above the match weight"),
]


@pytest.mark.parametrize(
    ("options", "what"), _BAD_JOB_OPTIONS, ids=[w for _, w in _BAD_JOB_OPTIONS]
)
def test_bad_job_options_exit_2_not_internal_error(options, what, tmp_path, capsys):
    path = _write(tmp_path, "state.csv", GOOD_CSV.encode())
    argv = [o.replace("{input}", str(path)) for o in options]
    code, out, err = _run_cli(
        capsys, "dedupe", str(path), "--out", str(tmp_path / "out"), "--quiet", *argv
    )
    assert code == EXIT_BAD_INPUT, err


def test_out_folder_that_is_a_file_exits_2(tmp_path, capsys):
    path = _write(tmp_path, "state.csv", GOOD_CSV.encode())
    code, out, err = _run_cli(capsys, "dedupe", str(path), "--out", str(path), "--quiet")
    assert code == EXIT_BAD_INPUT, err


def test_explain_with_unusable_records_exits_2(capsys):
    code, out, err = _run_cli(capsys, "explain", "{}", "{}")
    assert code == EXIT_BAD_INPUT, err


def test_record_id_used_in_two_files_is_rejected_in_the_second_naming_both(
    tmp_path, capsys, hostile_cases
):
    hostile_cases["fixed file (CLI)"] += 1
    first = _write(tmp_path, "tx.csv", (HEADER + "7,TX,ANA,RUIZ,2010-05-06\n").encode())
    second = _write(
        tmp_path,
        "ca.csv",
        (HEADER + "7,CA,ANA,RUIZ,2010-05-06\n8,CA,EVA,DIAZ,2011-01-02\n").encode(),
    )
    out = tmp_path / "out"
    code, _, err = _run_cli(capsys, "link", str(first), str(second), "--out", str(out), "--quiet")
    assert code == EXIT_OK, err
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert list(rejects["reason"]) == [RejectCode.DUPLICATE_RECORD_ID.value]
    assert rejects["source_name"].iloc[0] == "ca.csv"
    assert "tx.csv" in rejects["message"].iloc[0]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["records_in"], summary["standardized"], summary["rejected"]) == (3, 2, 1)


def test_header_row_repeated_mid_file_is_rejected_not_a_child(tmp_path, hostile_cases):
    """Two exports concatenated with their headers: the second header is not a child called
    FIRST NAME LAST NAME."""
    hostile_cases["fixed file (API)"] += 1
    text = HEADER + "1,TX,ANA,RUIZ,2010-05-06\n" + HEADER.upper() + "2,TX,EVA,DIAZ,2011-05-06\n"
    result = standardize(_write(tmp_path, "concatenated.csv", text.encode()))
    _reconciles(result)
    assert list(result.standardized["record_id"]) == ["1", "2"]
    assert list(result.rejects["reason"]) == [RejectCode.HEADER_ROW.value]
    assert list(result.rejects["source_row"]) == [2]


def test_repeated_header_is_recognised_under_a_column_map(tmp_path, hostile_cases):
    hostile_cases["fixed file (API)"] += 1
    header = "StudentKey,SubmittingState,first_name,last_name_1\n"
    text = header + "1,TX,ANA,RUIZ\n" + header + "2,TX,EVA,DIAZ\n"
    result = standardize(
        _write(tmp_path, "mapped.csv", text.encode()),
        column_map={"StudentKey": "record_id", "SubmittingState": "state"},
    )
    _reconciles(result)
    assert list(result.rejects["reason"]) == [RejectCode.HEADER_ROW.value]


def test_html_in_names_and_ids_is_escaped_in_the_run_report(tmp_path, capsys, hostile_cases):
    """The run report shows near matches side by side: a name or id carrying HTML must show as
    text, never run as script."""
    hostile_cases["fixed file (CLI)"] += 1
    records = synthetic.generate(10, seed=2)
    twin_like = []
    for record_id, birth_date in (
        ("</td><script>alert(4)</script>", "2012-03-04"),
        ("r<b>1", "2012-03-09"),
    ):
        row = records.iloc[0].copy()
        row["record_id"], row["birth_date"] = record_id, birth_date
        row["first_name"] = '<script>alert("x")</script> MARIA'
        row["last_name_1"] = "<img src=x onerror=alert(2)>"
        twin_like.append(row)
    path = tmp_path / "html.csv"
    pd.concat([records, pd.DataFrame(twin_like)], ignore_index=True).to_csv(path, index=False)
    out = tmp_path / "out"
    code, _, err = _run_cli(capsys, "dedupe", str(path), "--out", str(out), "--quiet", "--report")
    assert code == EXIT_OK, err
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;/td&gt;&lt;script&gt;alert(4)" in page  # the pair is shown, as text
    for raw in ("<script>alert", "onerror=alert", "<b>1"):
        assert raw not in page


def test_out_folder_with_an_apostrophe_works(tmp_path, capsys):
    path = _write(tmp_path, "state.csv", GOOD_CSV.encode())
    out = tmp_path / "o'brien's runs" / "week 1"
    code, _, err = _run_cli(capsys, "dedupe", str(path), "--out", str(out), "--quiet")
    assert code == EXIT_OK, err
    assert (out / "summary.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n_students": 2.5}, "n_students must be a whole number"),
        ({"n_students": 5, "seed": -1}, "seed must be a whole number >= 0"),
        ({"n_students": 5, "states": []}, "states must name at least one state"),
        ({"n_students": 5, "states": ["ZZ"]}, "no synthetic conventions for states ['ZZ']"),
    ],
)
def test_synthetic_generator_refuses_bad_arguments_by_name(kwargs, expected):
    with pytest.raises(ValueError) as error:
        synthetic.generate(**kwargs)
    assert expected in str(error.value)


def test_bom_on_a_file_with_cp1252_rows_does_not_hide_the_first_column(tmp_path, hostile_cases):
    """Saved as 'CSV UTF-8' (with a BOM), then rows appended by a cp1252 program: the file is
    no longer UTF-8, and the BOM must not stick to 'record_id' as 'ï»¿'."""
    hostile_cases["fixed file (API)"] += 1
    data = (
        b"\xef\xbb\xbf"
        + '"record_id","state","first_name","last_name_1"\n"1","TX","JOSÉ","PEÑA"\n'.encode()
        + '"2","TX","JOSÉ","PEÑA"\n'.encode("cp1252")
    )
    result = standardize(_write(tmp_path, "bom_then_cp1252.csv", data))
    _reconciles(result)
    assert list(result.standardized["record_id"]) == ["1", "2"]
    assert set(result.standardized["surname_full"]) == {"PENA"}


def test_a_carriage_return_in_a_value_does_not_split_a_written_csv_row(tmp_path):
    """Found by the validate property test: a record id "\\r" made rejects.csv read back as
    three rows for two (the csv module does not quote a bare carriage return)."""
    from migrant_linkage.io import write_table

    frame = pd.DataFrame({"record_id": [None, "\r", "a\rb"], "reason": ["X", "Y", "Z"]})
    write_table(frame, tmp_path / "rejects.csv")
    assert len(pd.read_csv(tmp_path / "rejects.csv")) == len(frame)
