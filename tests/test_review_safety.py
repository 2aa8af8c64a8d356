"""Safety of the master index: a process killed mid-upload or mid-decision leaves the index as
it was, and two processes deciding worklist items at the same time lose nothing.

The subprocesses are real OS processes (DuckDB allows one writer process per file, so this is
the case that matters); the crash is a SIGKILL sent by the process to itself at the last moment
before COMMIT, through the MIGRANT_LINKAGE_CRASH_AT test hook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from migrant_linkage.review import MasterIndex
from migrant_linkage.review.store import CRASH_ENV
from test_review_helpers import FakeScorer, fake_scorer, new_index, records, snapshot

TESTS_DIR = Path(__file__).parent


def run_python(code: str, *, env_extra: dict[str, str] | None = None, wait: bool = True):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    env.update(env_extra or {})
    args = [sys.executable, "-c", textwrap.dedent(code)]
    if wait:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


TX = [
    {"record_id": str(i), "name": f"N{i % 7}", "dob": f"2015-01-{1 + i % 5:02d}"} for i in range(30)
]
CA = [
    {"record_id": str(i), "name": f"N{i % 7}", "dob": f"2015-01-{1 + i % 5:02d}"} for i in range(20)
]

UPLOAD_CA = """
    import sys
    from test_review_helpers import fake_scorer, records
    from test_review_safety import CA
    from migrant_linkage.review import MasterIndex
    index = MasterIndex.open(sys.argv[-1] if len(sys.argv) > 1 else {path!r}, scorer=fake_scorer)
    index.upload_standardized(records("CA", CA), state="CA", actor="loader")
    print("committed")
"""


def test_process_killed_mid_upload_leaves_the_index_unchanged_and_usable(tmp_path):
    path = tmp_path / "index.duckdb"
    index = new_index(path)
    index.upload_standardized(records("TX", TX), state="TX", actor="loader")
    before = snapshot(index)

    crashed = run_python(
        UPLOAD_CA.format(path=str(path)), env_extra={CRASH_ENV: "upload:before_commit"}
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert "committed" not in crashed.stdout

    after = snapshot(MasterIndex.open(path))
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], check_dtype=False, obj=table)

    # The index still works: the same upload now goes through, exactly once.
    done = run_python(UPLOAD_CA.format(path=str(path)))
    assert done.returncode == 0, done.stderr[-2000:]
    reopened = MasterIndex.open(path, scorer=fake_scorer)
    keys = reopened.assignments()["record_key"]
    assert keys.is_unique and len(keys) == len(TX) + len(CA)
    assert reopened.check_replay()


def test_process_killed_mid_decision_leaves_the_item_open(tmp_path):
    path = tmp_path / "index.duckdb"
    index = new_index(path)
    index.upload_standardized(records("TX", TX), state="TX", actor="loader")
    item = int(index.worklist()["item_id"].iloc[0])
    before = snapshot(index)
    code = f"""
        from migrant_linkage.review import MasterIndex
        MasterIndex.open({str(path)!r}).decide({item}, "match", actor="ana")
    """
    crashed = run_python(code, env_extra={CRASH_ENV: "decide:before_commit"})
    assert crashed.returncode == -signal.SIGKILL
    after = snapshot(MasterIndex.open(path))
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], check_dtype=False, obj=table)
    assert MasterIndex.open(path).decide(item, "match", actor="ana")["merged"] in (True, False)


def _near_match_index(path: Path, n: int) -> MasterIndex:
    """n open items, each a pair of records with one birth date and two different names."""
    rows = []
    for i in range(n):
        dob = f"20{10 + i // 300:02d}-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d}"
        rows += [
            {"record_id": f"a{i}", "name": "ANA", "dob": dob},
            {"record_id": f"b{i}", "name": "LUIS", "dob": dob},
        ]
    index = new_index(path)
    index.upload_standardized(records("TX", rows), state="TX", actor="loader")
    assert len(index.worklist()) == n
    return index


DECIDER = """
    import json, sys, time
    from pathlib import Path
    from migrant_linkage.review import MasterIndex, ReviewError
    path, reviewer, items, go = {path!r}, {reviewer!r}, {items!r}, Path({go!r})
    while not go.exists():
        time.sleep(0.01)
    index = MasterIndex.open(path, lock_timeout=120)
    done, refused = [], []
    for n, item in enumerate(items):
        try:
            index.decide(item, "match" if item % 2 else "not-a-match", actor=reviewer,
                         comment=f"batch {{reviewer}}")
            done.append(item)
        except ReviewError:
            refused.append(item)
    print(json.dumps({{"done": done, "refused": refused}}))
"""


def _run_deciders(path: Path, batches: dict[str, list[int]], go: Path) -> dict[str, dict]:
    procs = {
        reviewer: run_python(
            DECIDER.format(path=str(path), reviewer=reviewer, items=items, go=str(go)), wait=False
        )
        for reviewer, items in batches.items()
    }
    go.touch()  # both start together
    results = {}
    for reviewer, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        results[reviewer] = json.loads(out.strip().splitlines()[-1])
    return results


def test_two_processes_deciding_at_once_lose_no_decision(tmp_path):
    path = tmp_path / "index.duckdb"
    index = _near_match_index(path, 30)
    items = sorted(index.worklist()["item_id"].astype(int))
    results = _run_deciders(path, {"ana": items[0::2], "bo": items[1::2]}, tmp_path / "go")
    assert sorted(results["ana"]["done"] + results["bo"]["done"]) == items

    index = MasterIndex.open(path)
    decisions = index.decisions()
    assert sorted(decisions["item_id"].astype(int)) == items
    assert index.worklist().empty
    merged = decisions[decisions["decision"] == "match"]
    for _, row in merged.iterrows():  # every "match" really merged its pair
        assert index.student_of(row["record_key_l"]) == index.student_of(row["record_key_r"])
    assert index.check_replay()


def test_two_processes_deciding_the_same_items_decide_each_exactly_once(tmp_path):
    path = tmp_path / "index.duckdb"
    index = _near_match_index(path, 20)
    items = sorted(index.worklist()["item_id"].astype(int))
    results = _run_deciders(path, {"ana": items, "bo": items[::-1]}, tmp_path / "go")
    done = results["ana"]["done"] + results["bo"]["done"]
    assert sorted(done) == items  # each item decided once, by one of them
    assert sorted(results["ana"]["refused"] + results["bo"]["refused"]) == items
    decisions = MasterIndex.open(path).decisions()
    assert decisions["item_id"].astype(int).is_unique and len(decisions) == len(items)


def test_a_busy_index_gives_a_clear_error_after_the_lock_timeout(tmp_path):
    from migrant_linkage.review import IndexBusyError

    path = tmp_path / "index.duckdb"
    new_index(path)
    holder = run_python(
        f"""
        import duckdb, time
        con = duckdb.connect({str(path)!r})
        print("holding", flush=True)
        time.sleep(30)
        """,
        wait=False,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(IndexBusyError, match="busy"):
            MasterIndex(path, lock_timeout=0.3).worklist()
    finally:
        holder.kill()
        holder.wait()
    assert MasterIndex.open(path).worklist().empty  # free again once the holder is gone


class _DecideWhileScoring(FakeScorer):
    """A stand-in scorer that, while it scores, has another process decide a worklist item
    (once), as a reviewer working during a long upload would."""

    calls = 0
    path = ""
    item = 0

    def predict(self):
        type(self).calls += 1
        if type(self).calls == 1:
            code = f"""
                from migrant_linkage.review import MasterIndex
                MasterIndex.open({type(self).path!r}, lock_timeout=5).decide(
                    {type(self).item}, "not-a-match", actor="ana")
            """
            done = run_python(code)
            assert done.returncode == 0, done.stderr[-2000:]
        return super().predict()


def test_reviewers_keep_deciding_while_an_upload_is_scored(tmp_path):
    path = tmp_path / "index.duckdb"
    index = new_index(path)
    index.upload_standardized(records("TX", TX), state="TX", actor="loader")
    item = int(index.worklist()["item_id"].iloc[0])
    _DecideWhileScoring.calls, _DecideWhileScoring.path, _DecideWhileScoring.item = (
        0,
        str(path),
        item,
    )

    uploading = MasterIndex.open(path, scorer=_DecideWhileScoring, lock_timeout=5)
    report = uploading.upload_standardized(records("CA", CA), state="CA", actor="loader")

    # The reviewer's decision went through mid-upload (the index was not held while scoring);
    # the upload saw the index change, scored again, and applied on top of the decision.
    assert _DecideWhileScoring.calls == 2
    decisions = index.decisions()
    assert decisions["item_id"].tolist() == [item]
    assert report.counts["new"] == len(CA)
    keys = index.assignments()["record_key"]
    assert keys.is_unique and len(keys) == len(TX) + len(CA)
    assert index.check_replay()
