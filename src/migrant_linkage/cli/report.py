"""`migrant-linkage report RUN_DIR` and the `--report` option of the job subcommands.

The report itself is migrant_linkage.report; this module only wires it to the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from migrant_linkage.errors import UsageError


def cmd_report(args: argparse.Namespace) -> int:
    """`migrant-linkage report RUN_DIR [--redact] [--out FILE]`."""
    from migrant_linkage.report import NotARunFolderError, write_report

    try:
        path = write_report(args.run_dir, redact=args.redact, out_path=args.out, top_n=args.top)
    except NotARunFolderError as err:
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
    Pair it with `migrant_linkage.report.report_run(result, args.out)` when `args.report` is
    set."""
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write OUT/report.html, the run report (see `migrant-linkage report`)",
    )
