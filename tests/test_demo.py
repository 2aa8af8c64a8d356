"""The README's main job: `migrant-linkage demo` runs end to end and scores itself."""

from __future__ import annotations

import json

import pandas as pd

from migrant_linkage.cli import EXIT_OK, main


def test_demo_links_state_files_and_reports_accuracy(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--students", "300", "--seed", "3", "--quiet"])
    printed = capsys.readouterr().out
    assert code == EXIT_OK
    assert "precision" in printed and "recall" in printed

    state_files = sorted((out / "input").glob("*.csv"))
    assert len(state_files) >= 2, "the demo links several states' files"
    for path in state_files:
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert "true_student_id" not in header, "states never see the synthetic truth"

    summary = json.loads((out / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["records_in"] == summary["standardized"] + summary["rejected"]
    clusters = pd.read_csv(out / "run" / "clusters.csv", dtype=str)
    truth = pd.read_csv(out / "truth.csv", dtype=str)
    assert sorted(clusters["record_id"]) == sorted(truth["record_id"])
    assert clusters["record_id"].is_unique
