"""A run killed at any moment never leaves a partial output that looks complete, and the run
folder says whether the run finished.

Each test runs the real CLI in a subprocess whose `os.replace` is wrapped: when the file named
by ML_KILL_AT is about to be renamed into place, the wrapper cuts the temporary file in half
(a write interrupted part way) and SIGKILLs the process. A writer that wrote straight to the
target would never reach the wrapper, and the run would finish instead of dying.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.db import copy_atomic

#: Every output of a dedupe run, in the order the engine writes them.
OUTPUTS = (
    "pairs.parquet",
    "pairs.csv",
    "weight_histogram.parquet",
    "clusters.csv",
    "clusters.parquet",
    "worklist.csv",
    "rejects.csv",
    "naming_profile.csv",
    "model.json",
    "summary.json",
)

_KILLING_RUNNER = """
import os, signal, sys
from pathlib import Path

real_replace = os.replace
kill_at = os.environ["ML_KILL_AT"]

def replace_then_die(src, dst, *args, **kwargs):
    if Path(dst).name == kill_at:
        size = os.path.getsize(src)
        with open(src, "r+b") as f:
            f.truncate(size // 2)  # the write was interrupted half way
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)

os.replace = replace_then_die

kill_in = os.environ.get("ML_KILL_IN")  # "module:function": die when it is called
if kill_in:
    import importlib
    module_name, attribute = kill_in.split(":")
    owner = importlib.import_module(module_name)
    *path, function_name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(owner, function_name, die)
from migrant_linkage.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(
    argv: list[str], kill_at: str | None, kill_in: str | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "ML_KILL_AT": kill_at or "<never>", "ML_KILL_IN": kill_in or ""}
    return subprocess.run(
        [sys.executable, "-c", _KILLING_RUNNER, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def _visible_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("atomic")
    first, second = folder / "week1.csv", folder / "week2.csv"
    synthetic.write(synthetic.generate(40, seed=31), first)
    synthetic.write(synthetic.generate(25, seed=32), second)
    return {"week1": first, "week2": second}


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> Path:
    """A complete run of week1, to compare killed runs' surviving files against."""
    out = tmp_path_factory.mktemp("reference") / "out"
    completed = _run(["dedupe", str(inputs["week1"]), "--out", str(out), "--quiet"], None)
    assert completed.returncode == 0, completed.stderr
    assert set(_visible_files(out)) == set(OUTPUTS)
    return out


@pytest.mark.parametrize("kill_at", OUTPUTS)
def test_run_killed_while_writing_leaves_only_complete_files_and_no_summary(
    kill_at, inputs, reference, tmp_path
):
    out = tmp_path / "out"
    completed = _run(["dedupe", str(inputs["week1"]), "--out", str(out), "--quiet"], kill_at)
    assert completed.returncode == -signal.SIGKILL, (
        f"the run was not killed: {kill_at} was not written through a rename "
        f"(exit {completed.returncode})"
    )
    survivors = _visible_files(out) if out.exists() else {}
    assert kill_at not in survivors
    expected = _visible_files(reference)
    for name, content in survivors.items():
        if name == "summary.json":
            continue
        assert name in expected, f"{name}: a visible file that is not an output (partial?)"
        assert content == expected[name], f"{name} is not the complete file"
    # summary.json is written after every other output: its presence means "finished".
    assert "summary.json" not in survivors


def test_rerun_killed_in_a_used_folder_does_not_claim_to_have_finished(inputs, tmp_path):
    out = tmp_path / "weekly"
    done = _run(["dedupe", str(inputs["week1"]), "--out", str(out), "--quiet"], None)
    assert done.returncode == 0, done.stderr
    killed = _run(["dedupe", str(inputs["week2"]), "--out", str(out), "--quiet"], "clusters.csv")
    assert killed.returncode == -signal.SIGKILL
    summary_path = out / "summary.json"
    week2_records = len(pd.read_csv(inputs["week2"], dtype=str))
    assert (
        not summary_path.exists()
        or json.loads(summary_path.read_text())["records_in"] == week2_records
    )


_KILLED_WRITE_TABLE = """
import os, signal, sys
import pandas as pd
from migrant_linkage.io import write_table

target = sys.argv[1]
real_to_csv = pd.DataFrame.to_csv

def half_then_die(self, path, *args, **kwargs):
    text = real_to_csv(self, None, *args, **{k: v for k, v in kwargs.items() if k != "encoding"})
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[: len(text) // 2])
        f.flush()
        os.fsync(f.fileno())
    os.kill(os.getpid(), signal.SIGKILL)

pd.DataFrame.to_csv = half_then_die
write_table(pd.DataFrame({"record_id": [str(i) for i in range(5000)]}), target)
"""


def test_write_table_killed_mid_write_keeps_the_previous_complete_file(tmp_path):
    target = tmp_path / "clusters.csv"
    previous = pd.DataFrame({"record_id": ["a", "b"], "cluster_id": ["a", "a"]})
    previous.to_csv(target, index=False)
    before = target.read_bytes()
    completed = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITE_TABLE, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == -signal.SIGKILL, completed.stderr
    assert target.read_bytes() == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "clusters.csv"]
    assert all(name.startswith(".clusters.csv.") for name in leftovers)


@pytest.mark.parametrize(
    "stage",
    ["migrant_linkage.standardize:standardize", "migrant_linkage.model:Model.train"],
    ids=["standardize", "train"],
)
def test_rerun_killed_before_writing_leaves_no_finished_marker(stage, inputs, tmp_path):
    out = tmp_path / "weekly"
    done = _run(["dedupe", str(inputs["week1"]), "--out", str(out), "--quiet"], None)
    assert done.returncode == 0, done.stderr
    assert (out / "summary.json").exists()
    argv = ["dedupe", str(inputs["week2"]), "--out", str(out), "--quiet", "--train"]
    killed = _run(argv, None, kill_in=stage)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (out / "summary.json").exists()


def test_validate_out_writes_a_finished_marker_last(inputs, tmp_path):
    out = tmp_path / "checked"
    done = _run(["validate", str(inputs["week1"]), "--out", str(out)], None)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    week1_records = len(pd.read_csv(inputs["week1"], dtype=str))
    assert summary["records_in"] == week1_records
    assert set(_visible_files(out)) == {
        "standardized.parquet",
        "rejects.csv",
        "naming_profile.csv",
        "summary.json",
    }
    killed = _run(["validate", str(inputs["week2"]), "--out", str(out)], "rejects.csv")
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "summary.json").exists()  # week2's parquet beside week1's rejects


def test_validate_out_naming_an_existing_file_exits_2(inputs, tmp_path):
    completed = _run(["validate", str(inputs["week1"]), "--out", str(inputs["week1"])], None)
    assert completed.returncode == 2
    assert str(inputs["week1"]) in completed.stderr and "not a folder" in completed.stderr


def test_database_copy_never_shows_a_partial_file_in_the_output_folder(tmp_path):
    """DuckDB's COPY writes its own `tmp_<name>` beside the file it is given; that file, or a
    partial output, must never be visible in the output folder while the copy runs."""
    con = duckdb.connect()
    out = tmp_path / "out"
    out.mkdir()
    seen: set[str] = set()
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            seen.update(p.name for p in out.iterdir())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        copy_atomic(
            con,
            "SELECT range AS n, CAST(range AS VARCHAR) AS id FROM range(3000000)",
            out / "pairs.parquet",
            "parquet",
        )
    finally:
        finished.set()
        watcher.join()
    visible = {name for name in seen if not name.startswith(".")}
    assert visible <= {"pairs.parquet"}, visible
    assert sorted(p.name for p in out.iterdir()) == ["pairs.parquet"]


def test_every_output_of_a_run_is_private_to_its_owner(reference):
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in reference.iterdir()}
    assert modes == dict.fromkeys(OUTPUTS, 0o600)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_report_the_database_and_the_index_are_private_to_their_owner(inputs, tmp_path):
    out, database, index = tmp_path / "out", tmp_path / "work.duckdb", tmp_path / "index.duckdb"
    argv = ["dedupe", str(inputs["week1"]), "--out", str(out), "--quiet", "--report"]
    done = _run([*argv, "--database", str(database)], None)
    assert done.returncode == 0, done.stderr
    assert _mode(out / "report.html") == 0o600
    assert _mode(database) == 0o600
    assert _run(["index", "init", "--index", str(index), "--admin", "ana"], None).returncode == 0
    uploaded = _run(
        ["index", "upload", str(inputs["week2"]), "--index", str(index), "--reviewer", "ana"],
        None,
    )
    assert uploaded.returncode == 0, uploaded.stderr
    assert _mode(index) == 0o600


def test_validate_outputs_are_private_to_their_owner(inputs, tmp_path):
    out = tmp_path / "checked"
    assert _run(["validate", str(inputs["week1"]), "--out", str(out)], None).returncode == 0
    assert {p.name: _mode(p) for p in out.iterdir()} == dict.fromkeys(
        ("standardized.parquet", "rejects.csv", "naming_profile.csv", "summary.json"), 0o600
    )
