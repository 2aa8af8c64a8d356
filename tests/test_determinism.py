"""The same input and model give byte-identical outputs: same rows in the same order, same
cluster IDs, in fresh processes and fresh output folders. A re-run must be diffable against the
last one, and a cluster ID quoted to another state must mean the same student tomorrow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from migrant_linkage import privacy, synthetic
from migrant_linkage.schema import TRUTH_COLUMNS
from migrant_linkage.standardize import standardize

#: Files compared byte for byte. summary.json is compared without its timings (wall-clock).
BYTE_IDENTICAL = (
    "clusters.csv",
    "clusters.parquet",
    "worklist.csv",
    "rejects.csv",
    "naming_profile.csv",
    "pairs.csv",
    "pairs.parquet",
    "model.json",
)


def _run_cli(*argv: str) -> None:
    """The CLI in a fresh interpreter (fresh caches, fresh DuckDB, fresh hash seed)."""
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    completed = subprocess.run(
        [sys.executable, "-m", "migrant_linkage", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr


def _summary_without_timings(path: Path) -> dict:
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary.pop("timings", None)
    return summary


@pytest.fixture(scope="module")
def state_files(tmp_path_factory) -> list[Path]:
    """Two states' files with migrant children in both, a reject and a formula-looking id."""
    folder = tmp_path_factory.mktemp("inputs")
    records = synthetic.generate(60, seed=21)
    records.loc[records.index[3], "record_id"] = "=1+1"
    records.loc[records.index[5], "record_id"] = pd.NA  # a reject row
    half = len(records) // 2
    paths = [folder / "tx.csv", folder / "ca.parquet"]
    synthetic.write(records.iloc[:half], paths[0])
    synthetic.write(records.iloc[half:], paths[1])
    return paths


@pytest.mark.parametrize("command", ["dedupe", "link"])
def test_two_runs_in_fresh_processes_write_identical_bytes(command, state_files, tmp_path):
    runs = [tmp_path / "first", tmp_path / "second"]
    for out in runs:
        _run_cli(command, *map(str, state_files), "--out", str(out), "--quiet")
    for name in BYTE_IDENTICAL:
        first, second = ((out / name).read_bytes() for out in runs)
        assert first == second, f"{name} differs between two identical runs"
    assert _summary_without_timings(runs[0] / "summary.json") == _summary_without_timings(
        runs[1] / "summary.json"
    )
    clusters = pd.read_csv(runs[0] / "clusters.csv", dtype=str)
    assert clusters["record_id"].is_unique
    assert len(clusters) > clusters["cluster_id"].nunique()  # some children were linked


def test_cluster_id_is_the_smallest_record_id_of_its_records(state_files, tmp_path):
    """Cluster IDs come from the data, not from processing order, so they are stable."""
    _run_cli("dedupe", *map(str, state_files), "--out", str(tmp_path), "--quiet")
    clusters = pd.read_parquet(tmp_path / "clusters.parquet")
    smallest = clusters.groupby("cluster_id")["record_id"].min()
    assert (smallest.index == smallest.to_numpy()).all()


def test_input_row_order_does_not_change_the_students(state_files, tmp_path):
    """Shuffling the rows of a file changes neither which records form a student nor the
    student's ID."""
    shuffled_dir = tmp_path / "shuffled_inputs"
    shuffled_dir.mkdir()
    tx = pd.read_csv(state_files[0], dtype=str, keep_default_na=False, na_values=[""])
    tx.sample(frac=1.0, random_state=3).to_csv(shuffled_dir / "tx.csv", index=False)
    shuffled = [shuffled_dir / "tx.csv", state_files[1]]
    outs = [tmp_path / "original", tmp_path / "reordered"]
    for files, out in zip([state_files, shuffled], outs, strict=True):
        _run_cli("dedupe", *map(str, files), "--out", str(out), "--quiet")
    first, second = (
        pd.read_parquet(out / "clusters.parquet")[["record_id", "cluster_id"]] for out in outs
    )
    assert first.equals(second)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("trained")
    path = folder / "records.csv"
    synthetic.write(synthetic.generate(250, seed=8), path)
    outs = [folder / "a", folder / "b"]
    for out in outs:
        _run_cli("dedupe", str(path), "--train", "--out", str(out), "--quiet")
    return outs


def _model_without_uid(path: Path) -> dict:
    model = json.loads(path.read_text(encoding="utf-8"))
    model.pop("linker_uid", None)
    return model


def test_trained_model_gives_identical_scores_and_students_across_runs(trained_runs):
    """Unsupervised training (u-sampling with a fixed seed, then EM) gives the same
    parameters, so the same scored pairs and the same students, in two fresh processes."""
    first, second = trained_runs
    assert _model_without_uid(first / "model.json") == _model_without_uid(second / "model.json")
    for name in ("pairs.csv", "clusters.csv", "worklist.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_trained_model_json_is_byte_identical_across_runs(trained_runs):
    first, second = trained_runs
    assert (first / "model.json").read_bytes() == (second / "model.json").read_bytes()


def test_encoding_is_deterministic_for_one_secret():
    records = standardize(synthetic.generate(30, seed=4)).standardized
    secret = "9b2e4f71c0a8d35e6f1b97c4a2d08e5f3c6a1b9d7e40f28c5a3d6b1e9f07c4a2"
    first = privacy.encode(records, secret, keep_columns=list(TRUTH_COLUMNS))
    second = privacy.encode(records.sample(frac=1.0, random_state=1), secret).set_index("record_id")
    reordered = first.drop(columns=list(TRUTH_COLUMNS)).set_index("record_id").loc[second.index]
    pd.testing.assert_frame_equal(
        reordered.drop(columns=["source_row"]), second.drop(columns=["source_row"])
    )
