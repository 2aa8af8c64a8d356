"""The job file: one [[source]] per input, each with its own layout; typos are refused."""

from __future__ import annotations

import json

import pytest

from migrant_linkage.jobfile import JobFileError, parse_column_map, read_job_file


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
