"""The command line: usage errors exit 2 with a message that says what to fix."""

from __future__ import annotations

import json

import pytest

from migrant_linkage.cli import EXIT_BAD_INPUT, EXIT_OK, build_parser, main

SUBCOMMANDS = [
    "demo",
    "validate",
    "synth",
    "dedupe",
    "link",
    "explain",
    "report",
    "index",
    "cheatsheet",
]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as stop:
        main(["no-such-command"])
    assert stop.value.code == 2


def test_missing_input_file_exits_2_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "texas.csv"
    code = main(["dedupe", str(missing), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == EXIT_BAD_INPUT
    assert "texas.csv" in capsys.readouterr().err


def test_synth_rejects_an_unknown_output_format(tmp_path, capsys):
    code = main(["synth", "--students", "5", "--out", str(tmp_path / "records.xlsx")])
    assert code == EXIT_BAD_INPUT
    assert ".csv or .parquet" in capsys.readouterr().err


def test_malformed_column_map_exits_2(tmp_path, capsys):
    data = tmp_path / "in.csv"
    data.write_text("record_id,state\n1,TX\n", encoding="utf-8")
    code = main(["validate", str(data), "--column-map", "not-a-mapping"])
    assert code == EXIT_BAD_INPUT
    assert "--column-map" in capsys.readouterr().err


def test_explain_rejects_a_record_that_is_not_json(capsys):
    code = main(["explain", "{not json", "{}"])
    assert code == EXIT_BAD_INPUT
    assert "JSON" in capsys.readouterr().err


def test_parser_lists_all_subcommands():
    help_text = build_parser().format_help()
    for command in SUBCOMMANDS:
        assert command in help_text
    assert EXIT_OK == 0


def test_spark_backend_without_pyspark_or_java_is_a_usage_error(tmp_path, capsys, monkeypatch):
    from migrant_linkage import spark_backend

    monkeypatch.setattr(spark_backend, "spark_available", lambda: "Java 17 is not installed")
    data = tmp_path / "in.csv"
    data.write_text("record_id,state,first_name,last_name_1\n1,TX,ANA,RUIZ\n", encoding="utf-8")
    code = main(
        ["dedupe", str(data), "--out", str(tmp_path / "out"), "--backend", "spark", "--quiet"]
    )
    assert code == EXIT_BAD_INPUT
    assert "spark" in capsys.readouterr().err.lower()


def _small_input(tmp_path):
    from migrant_linkage import synthetic

    data = tmp_path / "in.csv"
    synthetic.write(synthetic.generate(40, seed=3), data)
    return data


def test_no_pairs_csv_writes_the_pairs_as_parquet_only_and_drops_a_stale_csv(tmp_path):
    import pandas as pd

    data, out = _small_input(tmp_path), tmp_path / "out"
    assert main(["dedupe", str(data), "--out", str(out), "--quiet"]) == EXIT_OK
    assert (out / "pairs.csv").is_file()
    assert main(["dedupe", str(data), "--out", str(out), "--quiet", "--no-pairs-csv"]) == EXIT_OK
    assert not (out / "pairs.csv").exists()  # the first run's CSV would not match this run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(pd.read_parquet(out / "pairs.parquet")) == summary["comparisons"] > 0


def test_all_pairs_writes_every_scored_pair_and_the_default_says_it_kept_a_sample(tmp_path):
    import pandas as pd

    data = _small_input(tmp_path)
    everything, default = tmp_path / "all", tmp_path / "default"
    assert (
        main(["dedupe", str(data), "--out", str(everything), "--quiet", "--all-pairs"]) == EXIT_OK
    )
    assert main(["dedupe", str(data), "--out", str(default), "--quiet"]) == EXIT_OK
    summary = json.loads((everything / "summary.json").read_text(encoding="utf-8"))
    assert summary["pairs_written"] == "all"
    assert len(pd.read_parquet(everything / "pairs.parquet")) == summary["comparisons"] > 0
    kept = json.loads((default / "summary.json").read_text(encoding="utf-8"))["pairs_written"]
    assert kept.startswith("match and near_match")
    histogram = pd.read_parquet(default / "weight_histogram.parquet")
    assert histogram["pairs"].sum() == summary["comparisons"]


def test_memory_limit_is_checked_and_handed_to_duckdb(tmp_path, capsys, monkeypatch):
    import os

    from migrant_linkage.db import MEMORY_LIMIT_ENV, make_db_api

    monkeypatch.setenv(MEMORY_LIMIT_ENV, "")  # restored after the test; the CLI overwrites it
    data, out = _small_input(tmp_path), tmp_path / "out"
    code = main(["dedupe", str(data), "--out", str(out), "--quiet", "--memory-limit", "lots"])
    assert code == EXIT_BAD_INPUT
    assert "--memory-limit" in capsys.readouterr().err
    code = main(["dedupe", str(data), "--out", str(out), "--quiet", "--memory-limit", "1500MB"])
    assert code == EXIT_OK
    assert os.environ[MEMORY_LIMIT_ENV] == "1500MB"
    _, con = make_db_api()  # what every connection of the job was given
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.close()
    assert limit.startswith("1.3 GiB") or limit.startswith("1.4 GiB"), limit


# ---------------------------------------------------------------------------------------------
# Issue 17: what a state data engineer trips over in the first hour
# ---------------------------------------------------------------------------------------------


def _two_states(tmp_path):
    """A TX file in its own layout (StudentID, FName, DOB as MM/DD/YYYY) and an MI file in the
    contract layout with ISO dates, drawn from one synthetic population of migrant children
    (many of them enrolled in both states)."""
    import pandas as pd

    from migrant_linkage import synthetic
    from migrant_linkage.standardize import standardize

    records = standardize(synthetic.generate(150, seed=5)).standardized
    raw = records[[c for c in records.columns if c in INPUT_OR_TRUTH]].copy()
    born = pd.to_datetime(records["birth_date_std"], errors="coerce")
    enrolled = pd.to_datetime(records["enrollment_date_std"], errors="coerce")
    tx = raw[raw["state"] == "TX"].copy()
    tx["birth_date"] = born[tx.index].dt.strftime("%m/%d/%Y")
    tx["enrollment_date"] = enrolled[tx.index].dt.strftime("%m/%d/%Y")
    tx = tx.rename(columns={"record_id": "StudentID", "first_name": "FName", "birth_date": "DOB"})
    ca = raw[raw["state"] == "MI"].copy()
    ca["birth_date"] = born[ca.index].dt.strftime("%Y-%m-%d")
    ca["enrollment_date"] = enrolled[ca.index].dt.strftime("%Y-%m-%d")
    tx.to_csv(tmp_path / "tx.csv", index=False)
    ca.to_csv(tmp_path / "mi.csv", index=False)
    job = tmp_path / "job.toml"
    job.write_text(
        """
[[source]]
path = "tx.csv"
state = "TX"
date_format = "MM/DD/YYYY"
column_map = { StudentID = "record_id", FName = "first_name", DOB = "birth_date" }

[[source]]
path = "mi.csv"
state = "MI"
date_format = "YYYY-MM-DD"
""",
        encoding="utf-8",
    )
    return job, tx, ca


def _contract_and_truth():
    from migrant_linkage.schema import INPUT_COLUMNS, TRUTH_COLUMNS

    return (*INPUT_COLUMNS, *TRUTH_COLUMNS)


INPUT_OR_TRUTH = _contract_and_truth()


def test_a_misspelt_column_map_target_warns_and_strict_exits_2(tmp_path, capsys):
    data = _small_input(tmp_path)
    code = main(["validate", str(data), "--column-map", "birth_date=birthdate"])
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert "did you mean 'birth_date'" in captured.err
    assert "birth_date is empty for" in captured.err
    assert "flag BIRTH_DATE_MISSING" in captured.out  # validate prints its flag counts
    code = main(["validate", str(data), "--column-map", "birth_date=birthdate", "--strict"])
    assert code == EXIT_BAD_INPUT
    assert "--strict" in capsys.readouterr().err


def test_layout_warnings_go_to_summary_json_and_strict_stops_the_job(tmp_path, capsys):
    data, out = _small_input(tmp_path), tmp_path / "out"
    args = ["dedupe", str(data), "--out", str(out), "-q", "--column-map", "sex=gender"]
    assert main(args) == EXIT_OK
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    warnings = summary["sources"]["in.csv"]["warnings"]
    assert any("sex is empty for" in w for w in warnings), warnings
    assert summary["sources"]["in.csv"]["quality_flags"]  # flag counts per source
    capsys.readouterr()
    strict_out = tmp_path / "strict"
    assert main([*args[:3], str(strict_out), *args[4:], "--strict"]) == EXIT_BAD_INPUT
    assert not (strict_out / "summary.json").exists()  # nothing linked


def test_one_date_format_for_two_states_warns_about_the_state_it_does_not_fit(tmp_path, capsys):
    job, _, _ = _two_states(tmp_path)
    code = main(["validate", str(tmp_path / "mi.csv"), "--date-format", "MM/DD/YYYY"])
    assert code == EXIT_OK
    assert "cannot read" in capsys.readouterr().err


def test_two_states_with_different_layouts_and_date_formats_link_in_one_command(tmp_path, capsys):
    import pandas as pd

    job, tx, ca = _two_states(tmp_path)
    out = tmp_path / "out"
    assert main(["link", "--job", str(job), "--out", str(out), "-q", "--strict"]) == EXIT_OK
    assert "warning" not in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for name in ("tx.csv", "mi.csv"):
        flags = summary["sources"][name]["quality_flags"]
        assert flags.get("BIRTH_DATE_UNPARSEABLE", 0) == 0
        assert flags.get("BIRTH_DATE_AMBIGUOUS", 0) == 0  # a declared format is never ambiguous
    assert summary["records_in"] == len(tx) + len(ca)
    clusters = pd.read_csv(out / "clusters.csv", dtype=str)
    truth = pd.concat(
        [
            tx.rename(columns={"StudentID": "record_id"})[["record_id", "true_student_id"]],
            ca[["record_id", "true_student_id"]],
        ]
    ).astype(str)
    linked = clusters.merge(truth, on="record_id")
    both = linked.groupby("cluster_id").filter(lambda c: len(c) > 1)
    assert len(both) > 0  # children found in both states ...
    children = both.groupby("cluster_id")["true_student_id"].nunique()
    assert (children == 1).mean() > 0.9  # ... and they are mostly one child each


def test_job_file_and_one_file_shortcuts_cannot_be_mixed(tmp_path, capsys):
    job, _, _ = _two_states(tmp_path)
    code = main(["validate", str(tmp_path / "tx.csv"), "--job", str(job)])
    assert code == EXIT_BAD_INPUT
    assert "job file" in capsys.readouterr().err


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("migrant-linkage ")


def test_verbose_and_quiet_work_after_the_subcommand(tmp_path, capsys):
    parser = build_parser()
    assert parser.parse_args(["validate", "x.csv", "-v"]).verbose is True
    assert parser.parse_args(["-v", "validate", "x.csv"]).verbose is True
    assert parser.parse_args(["index", "pending", "--index", "i.duckdb", "-q"]).quiet is True
    data = _small_input(tmp_path)
    assert main(["dedupe", str(data), "--out", str(tmp_path / "o"), "-q"]) == EXIT_OK
    assert "[" not in capsys.readouterr().err  # no progress lines


def test_verbose_shows_our_info_lines_but_not_sqlglots():
    import logging

    from migrant_linkage.cli import _configure_logging

    _configure_logging(verbose=True)
    assert logging.getLogger("migrant_linkage.engine").isEnabledFor(logging.INFO)
    assert not logging.getLogger("sqlglot").isEnabledFor(logging.INFO)
    _configure_logging(verbose=False)


def test_a_closed_pipe_ends_quietly(tmp_path, capsys, monkeypatch):
    import io
    import sys

    class ClosedPipe(io.StringIO):  # what stdout is once `| head` has exited
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    data = _small_input(tmp_path)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["validate", str(data)]) == EXIT_OK
    assert "internal error" not in capsys.readouterr().err


def _duckdb_input(tmp_path):
    """The small input as the table `students` of a DuckDB file, and the frame it holds."""
    import duckdb
    import pandas as pd

    frame = pd.read_csv(_small_input(tmp_path), dtype=str)
    database = tmp_path / "all.duckdb"
    with duckdb.connect(str(database)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE students AS SELECT * FROM frame")
    return database, frame


def test_a_duckdb_table_is_named_with_table(tmp_path, capsys):
    database, frame = _duckdb_input(tmp_path)
    assert main(["validate", str(database)]) == EXIT_BAD_INPUT
    assert "table" in capsys.readouterr().err
    assert main(["validate", str(database), "--table", "students", "--format", "json"]) == EXIT_OK
    (row,) = json.loads(capsys.readouterr().out)
    assert row["records_in"] == len(frame)


def test_listing_output_can_be_json_or_csv(tmp_path, capsys):
    data = _small_input(tmp_path)
    assert main(["validate", str(data), "--format", "csv"]) == EXIT_OK
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith("source,records_in,standardized,rejected")


def test_explain_takes_an_inline_record_longer_than_a_file_name(capsys):
    # Longer than a file name may be (255 bytes), each field within the contract's length cap.
    long_name = "ANA" * 80
    record = {"record_id": "1", "state": "TX", "first_name": long_name, "last_name_1": long_name}
    assert len(json.dumps(record)) > 255
    other = {"record_id": "2", "state": "CA", "first_name": "ANA", "last_name_1": "RUIZ"}
    code = main(["explain", json.dumps(record), json.dumps(other)])
    assert code == EXIT_OK, capsys.readouterr().err


def test_index_upload_takes_the_same_column_map_json_as_dedupe(tmp_path, capsys):
    import pandas as pd

    data = _small_input(tmp_path)
    frame = pd.read_csv(data, dtype=str).rename(columns={"record_id": "StudentID"})
    frame.to_csv(tmp_path / "renamed.csv", index=False)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"StudentID": "record_id"}), encoding="utf-8")
    index = tmp_path / "index.duckdb"
    assert main(["index", "init", "--index", str(index), "--admin", "ana"]) == EXIT_OK
    code = main(
        [
            "index",
            "upload",
            str(tmp_path / "renamed.csv"),
            "--index",
            str(index),
            "--reviewer",
            "ana",
            "--column-map",
            str(mapping),
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err


def test_a_rerun_into_the_same_folder_removes_the_old_report(tmp_path):
    data, out = _small_input(tmp_path), tmp_path / "out"
    assert main(["dedupe", str(data), "--out", str(out), "-q", "--report"]) == EXIT_OK
    assert (out / "report.html").is_file()
    assert main(["dedupe", str(data), "--out", str(out), "-q"]) == EXIT_OK
    assert not (out / "report.html").exists()  # it described the previous run
    assert main(["report", str(out)]) == EXIT_OK
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Quality flags are not available" not in page


def test_cheatsheet_check_prints_a_data_specialists_row_that_lands_elsewhere(tmp_path, capsys):
    mine = tmp_path / "given_name.csv"
    mine.write_text(
        "value_a,value_b,expected_level,note\n"
        "MARIA,MARIA,exact,the same name\n"
        "LUPE,GUADALUPE,exact,I thought a nickname was exact\n",
        encoding="utf-8",
    )
    assert main(["cheatsheet", "check", str(mine), "--format", "json"]) == 1
    (missed,) = json.loads(capsys.readouterr().out)
    assert (missed["line"], missed["landed"]) == (3, "nickname")


def test_cheatsheet_export_then_check_runs_the_shipped_sheet(tmp_path, capsys):
    assert main(["cheatsheet", "export", str(tmp_path / "sheet")]) == EXIT_OK
    assert (tmp_path / "sheet" / "fields.csv").is_file()
    assert main(["cheatsheet", "check", str(tmp_path / "sheet" / "sex.csv")]) == EXIT_OK
    assert "rows land in their expected level" in capsys.readouterr().out


def test_cheatsheet_check_of_an_unknown_level_names_the_line(tmp_path, capsys):
    mine = tmp_path / "rows.csv"
    mine.write_text(
        "comparison,value_a,value_b,expected_level,note\nsex,F,F,same,typo\n", encoding="utf-8"
    )
    assert main(["cheatsheet", "check", str(mine)]) == EXIT_BAD_INPUT
    assert "line 2" in capsys.readouterr().err


def test_index_upload_reads_a_duckdb_table(tmp_path, capsys):
    database, frame = _duckdb_input(tmp_path)
    index = tmp_path / "index.duckdb"
    assert main(["index", "init", "--index", str(index), "--admin", "ana"]) == EXIT_OK
    upload = ["index", "upload", str(database), "--index", str(index), "--reviewer", "ana"]
    assert main([*upload, "--table", "students"]) == EXIT_OK, capsys.readouterr().err
    assert str(len(frame)) in capsys.readouterr().out


def test_every_runtime_dependency_is_imported_by_the_package():
    """A dependency nothing in src/ imports (jellyfish was one) only slows every install."""
    import ast
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    declared = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    import_name = {"python-dateutil": "dateutil"}  # distributions named unlike their module
    wanted = {
        import_name.get(name, name)
        for name in (
            re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0] for d in declared["project"]["dependencies"]
        )
    }
    imported = set()
    for path in (root / "src" / "migrant_linkage").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert wanted - imported == set()
