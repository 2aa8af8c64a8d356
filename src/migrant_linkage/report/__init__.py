"""The HTML run report and the charts it shares with the notebook helpers (tuning.py).

>>> from migrant_linkage.report import write_report
>>> write_report("out/run")                 # out/run/report.html
>>> write_report("out/run", redact=True)    # out/run/report-redacted.html, shareable

On the command line: `migrant-linkage report RUN_DIR [--redact]` (wired up in
migrant_linkage.cli.report; this package knows nothing of the command line).
"""

from __future__ import annotations

from pathlib import Path

from migrant_linkage.report.page import render_report, write_report
from migrant_linkage.report.run import NotARunFolderError, Run, load_run

__all__ = [
    "NotARunFolderError",
    "Run",
    "report_run",
    "load_run",
    "render_report",
    "write_report",
]


def report_run(result: object, out_dir: str | Path, *, redact: bool = False) -> Path:
    """Write the report of a run that just finished into its out_dir. Like `write_report`,
    it reads everything from the folder, so `--report` and a later `migrant-linkage report
    RUN_DIR` write the same page (`result` is accepted for the callers that pass it)."""
    del result
    return write_report(out_dir, redact=redact)
