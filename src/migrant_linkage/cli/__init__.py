"""The `migrant-linkage` command: the parser and `main`.

The subcommands live beside this module: jobs.py (demo, validate, synth, dedupe, link,
explain), report.py (report), index.py (index ...) and cheatsheet.py (cheatsheet ...);
output.py prints listings as a table, JSON or CSV. `-v`/`-q` work before or after any
subcommand. Nothing in the library imports this
package; it sits on top of everything else.

Exit codes: 0 success, 2 bad usage or bad input (the message names the file, column and row),
1 internal error. Messages never contain names or birth dates, only record ids and counts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from migrant_linkage.cli.cheatsheet import add_cheatsheet_command
from migrant_linkage.cli.courses import add_course_commands
from migrant_linkage.cli.encoded import add_encoded_commands
from migrant_linkage.cli.index import add_index_commands
from migrant_linkage.cli.jobs import add_job_commands
from migrant_linkage.cli.reconcile import add_reconcile_commands
from migrant_linkage.cli.report import add_report_command
from migrant_linkage.cli.service import add_service_commands
from migrant_linkage.errors import UsageError, describe_system_error

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_OK", "UsageError", "build_parser", "main"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger("migrant_linkage")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("migrant-linkage")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    # Subcommands get the flags with SUPPRESS as default, so `-v` before the subcommand is
    # not overwritten by the subcommand's own default.
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="log progress details"
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="no progress lines"
    )


def _subcommand_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser, nested groups (index ...) included."""
    found = []
    for action in parser._actions:  # argparse has no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.append(child)
                found.extend(_subcommand_parsers(child))
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrant-linkage",
        description="Link migrant-student records across states: standardize, score, zone, cluster.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_verbosity(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_job_commands(sub)
    add_report_command(sub)
    add_index_commands(sub)
    add_course_commands(sub)
    add_cheatsheet_command(sub)
    add_encoded_commands(sub)
    add_reconcile_commands(sub)
    add_service_commands(sub)
    for child in _subcommand_parsers(parser):
        _add_verbosity(child, argparse.SUPPRESS)
    return parser


def _input_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "fix your input" (exit 2), as opposed to our bugs (exit 1)."""
    from migrant_linkage.io import RecordContractError
    from migrant_linkage.jobfile import JobFileError
    from migrant_linkage.spark_backend import SparkUnavailableError

    return (
        RecordContractError,
        JobFileError,
        SparkUnavailableError,
        FileNotFoundError,
        IsADirectoryError,
    )


def _configure_logging(verbose: bool) -> None:
    """Warnings always reach stderr; -v adds our own INFO lines, never those of the
    libraries underneath (sqlglot logs every SQL it cannot optimise at INFO)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    for handler in logging.getLogger().handlers:  # the commands print layout warnings
        if _not_a_layout_warning not in handler.filters:
            handler.addFilter(_not_a_layout_warning)


def _not_a_layout_warning(record: logging.LogRecord) -> bool:
    from migrant_linkage.sources import LAYOUT_WARNING

    return not getattr(record, LAYOUT_WARNING, False)


def _quiet_closed_pipe() -> int:
    """`... | head` closed stdout: the reader has what it wanted, so end quietly. Point stdout
    at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except (UsageError, KeyboardInterrupt, BrokenPipeError):  # a closed pipe is not a bad path
        raise
    except Exception as exc:
        if isinstance(exc, _input_error_types()):
            raise UsageError(str(exc)) from exc
        system = describe_system_error(exc)  # a file or folder we cannot read or write
        if system is not None:
            raise UsageError(system) from exc
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _quiet_closed_pipe()
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
