"""docs/notebooks/threshold-tuning.ipynb runs top to bottom, on a small synthetic size.

The notebook reads MIGRANT_LINKAGE_NOTEBOOK_STUDENTS; here it draws 1,000 children (about 2,800
records across two states), enough for unsupervised training and quick to run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "threshold-tuning.ipynb"
STUDENTS = "1000"
VEGA_LITE = "application/vnd.vegalite.v5+json"


def test_notebook_is_committed_without_outputs() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code_cells)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed ('.[test]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed ('.[test]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed ('.[test]')")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    previous = os.environ.get("MIGRANT_LINKAGE_NOTEBOOK_STUDENTS")
    os.environ["MIGRANT_LINKAGE_NOTEBOOK_STUDENTS"] = STUDENTS  # the kernel inherits it
    try:
        client = nbclient.NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path_factory.mktemp("notebook"))}},
        )
        client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    finally:
        if previous is None:
            del os.environ["MIGRANT_LINKAGE_NOTEBOOK_STUDENTS"]
        else:
            os.environ["MIGRANT_LINKAGE_NOTEBOOK_STUDENTS"] = previous
    return notebook


def _outputs(notebook) -> list[dict]:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


def test_threshold_tuning_notebook_runs_clean(executed) -> None:
    errors = [o for o in _outputs(executed) if o.get("output_type") == "error"]
    assert errors == []


def test_notebook_draws_its_charts_offline(executed) -> None:
    charts = [o for o in _outputs(executed) if VEGA_LITE in o.get("data", {})]
    # weights, histogram, sweep, accuracy, waterfall
    assert len(charts) == 5
    for chart in charts:
        html = chart["data"]["text/html"]
        assert "vegaEmbed" in html and "cdn.jsdelivr" not in html


def test_notebook_suggests_a_match_threshold_above_the_review_threshold(executed) -> None:
    text = "".join(
        o.get("text", "") for o in _outputs(executed) if o.get("output_type") == "stream"
    )
    found = re.search(r"suggested: match at ([-+\d.]+), review at ([-+\d.]+)", text)
    assert found, "the notebook prints its suggested thresholds"
    match, review = float(found.group(1)), float(found.group(2))
    assert match >= review


def test_notebook_writes_the_run_report_and_a_redacted_copy(executed) -> None:
    text = "".join(
        o.get("text", "") for o in _outputs(executed) if o.get("output_type") == "stream"
    )
    paths = [Path(p) for p in re.findall(r"(\S+report(?:-redacted)?\.html)", text)]
    assert [p.name for p in paths] == ["report.html", "report-redacted.html"]
    for path in paths:
        assert "vegaEmbed" in path.read_text(encoding="utf-8")
