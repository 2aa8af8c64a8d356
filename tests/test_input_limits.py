"""Bounded cost: no input can make a run take minutes or the machine's memory.

A field longer than MAX_FIELD_LENGTH is rejected before any name folding or comparison (two
5 MB near-identical surnames once took the process to 24 GB); an input wider than MAX_COLUMNS
is refused from its header line (a 100,000-column header once kept `validate` busy for more than
five minutes). The subprocess timeouts are a backstop against a hang, not a speed measurement.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from migrant_linkage.io import MAX_COLUMNS
from migrant_linkage.schema import RejectCode
from migrant_linkage.standardize import standardize
from migrant_linkage.standardize.validate import MAX_FIELD_LENGTH

HEADER = ["record_id", "state", "first_name", "last_name_1", "birth_date"]


def _cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "migrant_linkage", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _wide_csv(path: Path, extra_columns: int, rows: int = 3) -> Path:
    names = HEADER + [f"extra_{i}" for i in range(extra_columns)]
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for row in range(1, rows + 1):
            f.write(",".join([str(row), "TX", "ANA", "RUIZ", "2010-01-01"] + ["x"] * extra_columns))
            f.write("\n")
    return path


def test_a_hundred_thousand_column_header_is_refused_naming_the_limit(tmp_path):
    path = _wide_csv(tmp_path / "wide.csv", 100_000)
    completed = _cli("validate", str(path), timeout=60)
    assert completed.returncode == 2, completed.stderr
    assert "wide.csv" in completed.stderr and "100,005 columns" in completed.stderr
    assert f"{MAX_COLUMNS:,}" in completed.stderr


def test_a_file_at_the_column_limit_is_read_with_every_extra_column(tmp_path):
    path = _wide_csv(tmp_path / "at_limit.csv", MAX_COLUMNS - len(HEADER))
    result = standardize(path)
    assert result.counts["standardized"] == 3
    assert f"extra_{MAX_COLUMNS - len(HEADER) - 1}" in result.standardized.columns


def test_a_wide_dataframe_is_refused_like_a_wide_file():
    frame = pd.DataFrame([["1", "TX", "ANA", "RUIZ", "2010-01-01"] + ["x"] * MAX_COLUMNS])
    frame.columns = HEADER + [f"extra_{i}" for i in range(MAX_COLUMNS)]
    try:
        standardize(frame)
    except ValueError as error:
        assert f"{MAX_COLUMNS + len(HEADER):,} columns" in str(error)
    else:
        raise AssertionError("a frame wider than MAX_COLUMNS was accepted")


def test_two_five_megabyte_surnames_are_rejected_and_the_run_ends_cleanly(tmp_path):
    surname = "GARCIA" * 850_000  # about 5 MB
    rows = [
        ["1", "TX", "ANA", surname, "2010-01-01"],
        ["2", "TX", "ANA", surname[:-1] + "X", "2010-01-01"],
        *[[str(i), "TX", "EVA", "RUIZ", "2011-02-03"] for i in range(3, 6)],
    ]
    path = tmp_path / "long_surnames.csv"
    pd.DataFrame(rows, columns=HEADER).to_csv(path, index=False)
    out = tmp_path / "out"
    completed = _cli("dedupe", str(path), "--out", str(out), "--quiet", timeout=300)
    assert completed.returncode == 0, completed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["records_in"], summary["standardized"], summary["rejected"]) == (5, 3, 2)
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert list(rejects["record_id"]) == ["1", "2"]
    assert set(rejects["reason"]) == {RejectCode.FIELD_TOO_LONG.value}
    assert all("'last_name_1'" in m and "GARCIA" not in m for m in rejects["message"])


def test_a_name_at_the_length_limit_is_kept_and_one_past_it_rejected():
    frame = pd.DataFrame(
        {
            "record_id": ["1", "2"],
            "state": ["TX", "TX"],
            "first_name": ["A" * MAX_FIELD_LENGTH, "A" * (MAX_FIELD_LENGTH + 1)],
        }
    )
    result = standardize(frame)
    assert list(result.standardized["record_id"]) == ["1"]
    assert list(result.rejects["reason"]) == [RejectCode.FIELD_TOO_LONG.value]


def test_an_overlong_record_id_is_not_copied_into_the_rejects():
    frame = pd.DataFrame({"record_id": ["9" * 1_000], "state": ["TX"], "first_name": ["ANA"]})
    result = standardize(frame)
    (reject,) = result.rejects.to_dict("records")
    assert reject["reason"] == RejectCode.FIELD_TOO_LONG.value
    assert "'record_id'" in reject["message"] and "9999" not in str(reject["record_id"])
