"""`migrant-linkage index ...` commands, run through the main command line."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.cli import main
from migrant_linkage.model import Model


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    try:
        model = Model.default()
    except FileNotFoundError:
        from migrant_linkage.standardize import standardize

        model = Model().train(standardize(synthetic.generate(1500, seed=99)).standardized)
    model.save(folder / "model.json")
    frame = synthetic.generate(60, seed=8, states=["CA", "FL"])
    for state in ("CA", "FL"):
        synthetic.write(frame[frame["state"] == state], folder / f"{state}.csv")
    return folder, frame


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["index", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def init(capsys, db, folder, *extra) -> None:
    """An index with the administrator `admin` and accounts loader (reviewer), ana and bo
    (validators), all for every state; the two-person rule off unless `extra` says otherwise."""
    code, _, err = run(
        capsys,
        "init",
        "--index",
        db,
        "--model",
        folder / "model.json",
        "--admin",
        "admin",
        *(extra or ("--no-two-person-rule",)),
    )
    assert code == 0, err
    for account, role in (("loader", "reviewer"), ("ana", "validator"), ("bo", "validator")):
        code, _, err = run(
            capsys,
            "account",
            "add",
            account,
            "--index",
            db,
            "--name",
            account.title(),
            "--role",
            role,
            "--reviewer",
            "admin",
        )
        assert code == 0, err


def test_index_commands_from_init_to_export(workspace, capsys):
    folder, frame = workspace
    db = folder / "week.duckdb"
    init(capsys, db, folder)
    for state in ("CA", "FL"):
        code, out, _ = run(
            capsys,
            "upload",
            folder / f"{state}.csv",
            "--index",
            db,
            "--state",
            state,
            "--reviewer",
            "loader",
        )
        assert code == 0 and "new_students" in out
        for name in frame["first_name"].dropna().unique()[:20]:  # counts only, never names
            assert f" {name} " not in out

    code, out, _ = run(capsys, "worklist", "--index", db, "--out", folder / "worklist.csv")
    assert code == 0
    items = pd.read_csv(folder / "worklist.csv")
    assert len(items) > 0
    first = int(items["item_id"].iloc[0])
    code, out, _ = run(capsys, "show", first, "--index", db, "--reviewer", "ana")
    assert code == 0 and "comparison" in out and "record_key" in out
    code, out, _ = run(
        capsys,
        "decide",
        first,
        "skip",
        "--index",
        db,
        "--reviewer",
        "ana",
        "--comment",
        "calling FL",
    )
    assert code == 0 and '"skip"' in out
    code, out, _ = run(capsys, "decide", first, "not-a-match", "--index", db, "--reviewer", "ana")
    assert code == 0

    code, out, _ = run(capsys, "audit", "--index", db, "--check")
    assert code == 0 and "replays" in out
    code, out, _ = run(capsys, "report", "duplicates", "--index", db)
    assert code == 0 and "duplicate rate" in out
    code, out, _ = run(capsys, "report", "conflicts", "--index", db)
    assert code == 0 and "n_birth_dates" in out
    assert not re.search(r"\d{4}-\d{2}-\d{2}", out)  # the dates themselves go to --out only

    assert run(capsys, "export", "--index", db, "--out", folder / "students.csv")[0] == 0
    exported = pd.read_csv(folder / "students.csv", dtype=str)
    assert list(exported.columns) == ["record_id", "state", "student_id"]
    assert len(exported) == len(frame)
    assert run(capsys, "export", "--index", db, "--out", folder / "c.csv", "--consolidated")[0] == 0
    assert pd.read_csv(folder / "c.csv", dtype=str)["student_id"].is_unique


def test_retrain_writes_a_model_and_use_makes_uploads_score_with_it(workspace, capsys):
    folder, _ = workspace
    db = folder / "retrain.duckdb"
    init(capsys, db, folder)
    for state in ("CA", "FL"):
        run(capsys, "upload", folder / f"{state}.csv", "--index", db, "--reviewer", "loader")
    code, out, _ = run(
        capsys,
        "retrain",
        "--index",
        db,
        "--out",
        folder / "retrained.json",
        "--use",
        "--reviewer",
        "admin",
    )
    assert code == 0 and "now scores uploads" in out
    from migrant_linkage.review import MasterIndex

    retrained = Model.load(folder / "retrained.json")
    assert MasterIndex.open(db).model().settings == retrained.settings
    assert MasterIndex.open(db).audit()["action"].iloc[0] == "set_model"


def test_index_errors_exit_2_with_a_message(workspace, capsys):
    folder, _ = workspace
    db = folder / "errors.duckdb"
    code, _, err = run(capsys, "worklist", "--index", db)
    assert code == 2 and "index init" in err
    init(capsys, db, folder)
    code, _, err = run(capsys, "upload", folder / "missing.csv", "--index", db, "--reviewer", "x")
    assert code == 2 and "not found" in err
    code, _, err = run(capsys, "decide", 999, "match", "--index", db, "--reviewer", "ana")
    assert code == 2 and "no worklist item 999" in err
    code, _, err = run(capsys, "init", "--index", db, "--admin", "admin")
    assert code == 2 and "already exists" in err
