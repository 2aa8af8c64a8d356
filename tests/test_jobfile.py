"""The job file (one [[source]] per input, each with its own layout; typos are refused) and the
layout checks every job prints per source."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrant_linkage.input_checks import NEARLY_ALL_EMPTY, flag_counts, source_warnings
from migrant_linkage.jobfile import JobFileError, parse_column_map, read_job_file
from migrant_linkage.schema import FLAG_SEPARATOR, QualityFlag


def _write(tmp_path, text):
    job = tmp_path / "job.toml"
    job.write_text(text, encoding="utf-8")
    return job


def test_each_source_keeps_its_own_layout_and_paths_are_relative_to_the_job_file(tmp_path):
    (tmp_path / "ca_map.json").write_text(json.dumps({"ID": "record_id"}), encoding="utf-8")
    job = _write(
        tmp_path,
        """
[[source]]
path = "tx.csv"
state = "tx"
date_format = "MM/DD/YYYY"
encoding = "cp1252"
column_map = { StudentID = "record_id", DOB = "birth_date" }

[[source]]
path = "all.duckdb"
table = "california"
name = "CA 2026"
date_format = { birth_date = "YYYY-MM-DD" }
column_map = "ca_map.json"
""",
    )
    tx, ca = read_job_file(job)
    assert tx.source == str(tmp_path / "tx.csv")
    assert (tx.state, tx.date_format, tx.encoding) == ("TX", "MM/DD/YYYY", "cp1252")
    assert tx.column_map == {"StudentID": "record_id", "DOB": "birth_date"}
    assert (ca.table, ca.name, ca.state) == ("california", "CA 2026", None)
    assert ca.date_format == {"birth_date": "YYYY-MM-DD"}
    assert ca.column_map == {"ID": "record_id"}


def test_a_misspelt_key_is_refused_with_the_likely_key(tmp_path):
    job = _write(tmp_path, '[[source]]\npath = "tx.csv"\ndate_fromat = "MM/DD/YYYY"\n')
    with pytest.raises(JobFileError, match="did you mean 'date_format'"):
        read_job_file(job)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no \\[\\[source\\]\\]"),
        ('[[source]]\nstate = "TX"\n', "needs path"),
        ('[job]\nout = "x"\n[[source]]\npath = "a.csv"\n', "unknown top-level"),
        ('[[source]]\npath = "a.csv"\ncolumn_map = { DOB = 3 }\n', "column_map"),
        ('[[source]]\npath = "a.csv"\ndate_format = 5\n', "date_format"),
        ('[[source]]\npath = "a.csv"\nstate = ""\n', "state"),
        ("[[source]\npath = 1", "not a valid TOML"),
    ],
)
def test_a_malformed_job_file_names_what_to_fix(tmp_path, text, message):
    with pytest.raises(JobFileError, match=message):
        read_job_file(_write(tmp_path, text))


def test_column_map_takes_pairs_json_files_and_tables_alike(tmp_path):
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps({"DOB": "birth_date"}), encoding="utf-8")
    from_flags = parse_column_map(["StudentID=record_id", str(mapping_file)])
    from_table = parse_column_map({"StudentID": "record_id", "DOB": "birth_date"})
    assert from_flags == from_table == {"StudentID": "record_id", "DOB": "birth_date"}


@pytest.mark.parametrize("bad", [["not-a-mapping"], ["=birth_date"], ["DOB="]])
def test_a_column_map_entry_without_both_names_is_refused(bad):
    with pytest.raises(JobFileError, match="--column-map"):
        parse_column_map(bad)


# ---------------------------------------------------------------------------------------------
# Layout checks (input_checks.py): what a job prints per source
# ---------------------------------------------------------------------------------------------

FLAGS = [flag.value for flag in QualityFlag]


@given(st.lists(st.sets(st.sampled_from(FLAGS), max_size=4), max_size=60))
def test_flag_counts_count_every_flag_of_every_record_once(records):
    column = pd.Series([FLAG_SEPARATOR.join(sorted(flags)) for flags in records], dtype="str")
    expected = Counter(flag for flags in records for flag in flags)
    assert flag_counts(column) == dict(expected)


def _standardized(n, **columns):
    frame = pd.DataFrame(
        {
            "first_name": ["ANA"] * n,
            "last_name_1": ["RUIZ"] * n,
            "sex": ["F"] * n,
            "birth_date": ["2012-03-04"] * n,
            "quality_flags": [""] * n,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_a_map_target_that_is_not_a_contract_column_is_named_with_the_likely_one():
    warnings = source_warnings(_standardized(5), "tx.csv", column_map={"DOB": "birthdate"})
    assert any("'birthdate'" in w and "did you mean 'birth_date'" in w for w in warnings)


def test_a_column_empty_for_nearly_every_record_warns_and_a_patchy_one_does_not():
    n = 200
    nearly_empty = int(n * NEARLY_ALL_EMPTY)
    patchy = [None] * (nearly_empty - 10) + ["F"] * (n - nearly_empty + 10)
    assert source_warnings(_standardized(n, sex=patchy), "tx.csv") == []
    empty = [None] * nearly_empty + ["F"] * (n - nearly_empty)
    (warning,) = source_warnings(_standardized(n, sex=empty), "tx.csv")
    assert f"sex is empty for {nearly_empty} of {n} records" in warning


def test_a_declared_date_format_that_fails_for_most_rows_warns():
    unparseable = QualityFlag.BIRTH_DATE_UNPARSEABLE.value
    most = _standardized(10, quality_flags=[unparseable] * 6 + [""] * 4)
    few = _standardized(10, quality_flags=[unparseable] * 3 + [""] * 7)
    assert source_warnings(few, "ca.csv", date_format="MM/DD/YYYY") == []
    (warning,) = source_warnings(most, "ca.csv", date_format="MM/DD/YYYY")
    assert "cannot read 6 of 10 birth_date values" in warning
    assert source_warnings(most, "ca.csv") == []  # no declared format: the flags say enough
