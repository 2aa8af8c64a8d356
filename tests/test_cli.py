"""The command line: usage errors exit 2 with a message that says what to fix."""

from __future__ import annotations

import json

import pytest

from migrant_linkage.cli import EXIT_BAD_INPUT, EXIT_OK, build_parser, main

SUBCOMMANDS = ["demo", "validate", "synth", "dedupe", "link", "explain", "report", "index"]


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


def test_column_map_accepts_pairs_and_json_files(tmp_path):
    from migrant_linkage.cli.jobs import _parse_column_map

    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps({"DOB": "birth_date"}), encoding="utf-8")
    assert _parse_column_map(["StudentID=record_id", str(mapping_file)]) == {
        "StudentID": "record_id",
        "DOB": "birth_date",
    }


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
