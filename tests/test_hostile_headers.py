"""A CSV header is user input: through every command that reads a file, a header that tries
to close the identifier quote and run its own SQL is a column name and runs nothing.

Each payload, if it ever ran, leaves a trace the test looks for: a file written by COPY, a
table created in the run's or the index's database, an index ATTACHed and its audit rewritten.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.schema import TRUTH_COLUMNS


def _payloads(folder: Path, index: Path) -> list[str]:
    trace = folder / "pwned.csv"
    return [
        f"note\"); COPY (SELECT 1) TO '{trace}'; --",
        'x" FROM ml_records; CREATE TABLE pwned AS SELECT 1; SELECT "x',
        "a\" , (SELECT content FROM read_text('/etc/hostname')) AS \"leak",
        f"y\"; ATTACH '{index}' AS idx; CREATE TABLE idx.pwned AS SELECT 1; --",
        "z'; DROP TABLE ml_records; --",
        'my "quoted" col',
    ]


def _write_roster(path: Path, seed: int, headers: list[str]) -> Path:
    frame = synthetic.generate(25, seed=seed).drop(columns=list(TRUTH_COLUMNS), errors="ignore")
    for i, header in enumerate(headers):
        frame[header] = f"v{i}"
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "migrant_linkage", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def hostile(tmp_path):
    index = tmp_path / "index.duckdb"
    headers = _payloads(tmp_path, index)
    return {
        "folder": tmp_path,
        "index": index,
        "headers": headers,
        "tx": _write_roster(tmp_path / "tx.csv", 1, headers),
        "ca": _write_roster(tmp_path / "ca.csv", 2, headers),
    }


def _nothing_ran(hostile, *databases: Path) -> None:
    assert not (hostile["folder"] / "pwned.csv").exists(), "a header's COPY ran"
    for database in databases:
        if database.exists():
            with duckdb.connect(str(database), read_only=True) as con:
                tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
            assert "pwned" not in tables, f"a header created a table in {database.name}"


def test_validate_stores_hostile_headers_as_column_names(hostile):
    out = hostile["folder"] / "checked"
    completed = _cli("validate", str(hostile["tx"]), "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    columns = set(pd.read_parquet(out / "standardized.parquet").columns)
    assert set(hostile["headers"]) <= columns
    _nothing_ran(hostile)


@pytest.mark.parametrize("command", ["dedupe", "link"])
def test_dedupe_and_link_store_hostile_headers_as_column_names(command, hostile):
    out, database = hostile["folder"] / "out", hostile["folder"] / "run.duckdb"
    inputs = [str(hostile["tx"])] + ([str(hostile["ca"])] if command == "link" else [])
    completed = _cli(command, *inputs, "--out", str(out), "--quiet", "--database", str(database))
    assert completed.returncode == 0, completed.stderr
    assert json.loads((out / "summary.json").read_text())["counts_reconcile"]
    with duckdb.connect(str(database), read_only=True) as con:
        columns = {r[0] for r in con.execute("DESCRIBE ml_records").fetchall()}
    assert set(hostile["headers"]) <= columns
    _nothing_ran(hostile, database)


def test_index_upload_runs_no_sql_from_a_header(hostile):
    index = hostile["index"]
    assert _cli("index", "init", "--index", str(index), "--admin", "ana").returncode == 0
    completed = _cli(
        "index", "upload", str(hostile["tx"]), "--index", str(index), "--reviewer", "ana"
    )
    assert completed.returncode == 0, completed.stderr
    _nothing_ran(hostile, index)
    check = _cli("index", "audit", "--index", str(index), "--check")
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("bad", ["name\x00", "\x1b[31mred", "two\nlines"], ids=["NUL", "ESC", "LF"])
def test_a_header_with_a_control_character_exits_2_naming_its_position(bad, tmp_path):
    path = tmp_path / "roster.csv"
    frame = pd.DataFrame({"record_id": ["1"], "state": ["TX"], bad: ["x"]})
    frame.to_csv(path, index=False)
    completed = _cli("validate", str(path))
    assert completed.returncode == 2, completed.stderr
    assert "roster.csv" in completed.stderr and "header column 3" in completed.stderr
    assert "\x1b" not in completed.stderr and "\x00" not in completed.stderr
