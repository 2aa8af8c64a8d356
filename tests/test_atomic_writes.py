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
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from migrant_linkage import synthetic

#: Every output of a dedupe run, in the order the engine writes them.
OUTPUTS = (
    "pairs.parquet",
    "pairs.csv",
    "weight_histogram.parquet",
    "clusters.csv",
    "clusters.parquet",
    "worklist.csv",
    "rejects.csv",
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
from migrant_linkage.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(argv: list[str], kill_at: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ML_KILL_AT": kill_at or "<never>"}
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
