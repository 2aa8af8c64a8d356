"""The HTML run report and the charts it shares with the notebook helpers (tuning.py).

>>> from migrant_linkage.report import write_report
>>> write_report("out/run")                 # out/run/report.html
>>> write_report("out/run", redact=True)    # out/run/report-redacted.html, shareable

On the command line: `migrant-linkage report RUN_DIR [--redact]`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from migrant_linkage.report.page import render_report, write_report
from migrant_linkage.report.run import NotARunFolderError, Run, load_run

__all__ = [
    "NotARunFolderError",
    "Run",
    "add_report_command",
    "add_report_option",
    "report_run",
    "load_run",
    "render_report",
    "write_report",
]


def cmd_report(args: argparse.Namespace) -> int:
    """`migrant-linkage report RUN_DIR [--redact] [--out FILE]`."""
    try:
        path = write_report(args.run_dir, redact=args.redact, out_path=args.out, top_n=args.top)
    except NotARunFolderError as err:
        from migrant_linkage.cli import UsageError

        raise UsageError(str(err)) from None
    print(f"wrote {path}")
    return 0


def add_report_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `report` subcommand on the CLI's subparsers (see cli.build_parser)."""
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a dedupe or link run",
        description=(
            "Write RUN_DIR/report.html: input counts and rejects, quality flags, pairs and "
            "records per zone, the model's weights, the top near matches with their evidence, "
            "birth-date conflicts and timings. Opens offline; nothing is fetched."
        ),
    )
    p.add_argument("run_dir", type=Path, help="the --out folder of a dedupe or link run")
    p.add_argument(
        "--redact",
        action="store_true",
        help="replace names, birth dates and other identifying values, for sharing "
        "(written to report-redacted.html unless --out is given)",
    )
    p.add_argument("--out", type=Path, help="write the report to this file instead")
    p.add_argument("--top", type=int, default=10, help="near matches and conflicts listed")
    p.set_defaults(func=cmd_report)
    return p


def add_report_option(parser: argparse.ArgumentParser) -> None:
    """`--report` on a job subcommand (dedupe, link): after the run, also write the report.
    Pair it with `report_run(result, args.out)` when `args.report` is set."""
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write OUT/report.html, the run report (see `migrant-linkage report`)",
    )


def report_run(result: object, out_dir: str | Path, *, redact: bool = False) -> Path:
    """Write the report of a run that just finished into its out_dir, using the run's
    standardized records (Result.standardized) for the quality flags and birth dates."""
    standardized = getattr(result, "standardized", None)
    return write_report(out_dir, redact=redact, standardized=standardized)
