"""The `migrant-linkage` command: the parser and `main`.

The subcommands live beside this module: jobs.py (demo, validate, synth, dedupe, link,
explain), report.py (report) and index.py (index ...). Nothing in the library imports this
package; it sits on top of everything else.

Exit codes: 0 success, 2 bad usage or bad input (the message names the file, column and row),
1 internal error. Messages never contain names or birth dates, only record ids and counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from migrant_linkage.cli.index import add_index_commands
from migrant_linkage.cli.jobs import add_job_commands
from migrant_linkage.cli.report import add_report_command
from migrant_linkage.cli.service import add_service_commands
from migrant_linkage.errors import UsageError

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_OK", "UsageError", "build_parser", "main"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger("migrant_linkage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrant-linkage",
        description="Link migrant-student records across states: standardize, score, zone, cluster.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_job_commands(sub)
    add_report_command(sub)
    add_index_commands(sub)
    add_service_commands(sub)
    return parser


def _input_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "fix your input" (exit 2), as opposed to our bugs (exit 1)."""
    from migrant_linkage.io import RecordContractError
    from migrant_linkage.spark_backend import SparkUnavailableError

    return (RecordContractError, SparkUnavailableError, FileNotFoundError, IsADirectoryError)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except (UsageError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if isinstance(exc, _input_error_types()):
            raise UsageError(str(exc)) from exc
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return _run(args)
    except UsageError as exc:
        print(f"migrant-linkage: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("migrant-linkage: interrupted", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the last line of defence; no record values shown
        # The traceback can quote data values, so it is shown only when asked for (-v).
        log.info("internal error", exc_info=True)
        print(
            f"migrant-linkage: internal error ({type(exc).__name__}); rerun with -v for details",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
