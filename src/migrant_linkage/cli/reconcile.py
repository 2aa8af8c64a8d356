"""The `reconcile` and `districts` subcommands (docs/reconcile.md, docs/districts.md).

    migrant-linkage reconcile MIGRANT_FILE SIS_FILE --out DIR
    migrant-linkage districts --from-reconcile DIR --out DIR   (or: districts MIGRANT_FILE)

Output is counts only; the lists (names, birth dates) go to files, never to the terminal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from migrant_linkage.cli.jobs import _check_inputs, _check_out_dir, _model
from migrant_linkage.errors import UsageError
from migrant_linkage.jobfile import parse_column_map


def cmd_reconcile(args: argparse.Namespace) -> int:
    _check_inputs([args.migrant_file, args.sis_file])
    _check_out_dir(args.out)
    model = _model(args.model)

    from migrant_linkage.reconcile import Category, reconcile

    result = reconcile(
        args.migrant_file,
        args.sis_file,
        migrant_column_map=parse_column_map(args.migrant_column_map),
        state_column_map=parse_column_map(args.state_column_map),
        date_format=args.date_format,
        model=model,
        out_dir=args.out,
    )
    systems = result.summary["systems"]
    print(f"{'category':>30}  {'migrant system':>14}  {'state system':>12}")
    for name, label in (("records_in", "records in"), ("flagged_migrant", "flagged migrant")):
        print(f"{label:>30}  {systems['migrant'][name]:>14}  {systems['state'][name]:>12}")
    for category in Category:
        counts = [systems[s]["categories"][category.value] for s in ("migrant", "state")]
        print(f"{category.value:>30}  {counts[0]:>14}  {counts[1]:>12}")
    print(f"{'outputs':>30}  {args.out}")
    if args.report:
        from migrant_linkage.report.reconcile_page import write_reconcile_report

        print(f"{'report':>30}  {write_reconcile_report(args.out)}")
    return 0


def cmd_districts(args: argparse.Namespace) -> int:
    _check_out_dir(args.out)
    if (args.migrant_file is None) == (args.from_reconcile is None):
        raise UsageError("give a migrant database file or --from-reconcile DIR (one of them)")
    from migrant_linkage import districts

    try:
        if args.from_reconcile is not None:
            if not (args.from_reconcile / "records.csv").is_file():
                raise UsageError(
                    f"--from-reconcile {args.from_reconcile}: no records.csv there; run "
                    "`migrant-linkage reconcile ... --out DIR` first"
                )
            lists = districts.master_lists_from_reconcile(args.from_reconcile, on=args.on)
        else:
            _check_inputs([args.migrant_file])
            lists = districts.master_lists(
                args.migrant_file,
                column_map=parse_column_map(args.column_map),
                date_format=args.date_format,
                on=args.on,
            )
    except ValueError as exc:  # a bad --on date; contract errors are handled by main
        if type(exc) is not ValueError:
            raise
        raise UsageError(str(exc)) from None
    written = districts.write_master_lists(lists, args.out)
    for district, n in lists.groupby("district_id").size().items():
        print(f"{district:>30}: {n} active migrant students")
    print(f"{'files':>30}: {len(written)} in {args.out}")
    return 0


def add_reconcile_commands(sub: argparse._SubParsersAction) -> None:
    """Register reconcile and districts on the main parser."""
    p = sub.add_parser(
        "reconcile",
        help="compare migrant flags of a state's migrant database and student record system",
    )
    p.add_argument("migrant_file", help="the state migrant database export (CSV or Parquet)")
    p.add_argument("sis_file", help="the state student record system export (CSV or Parquet)")
    p.add_argument("--out", required=True, type=Path, help="folder for the lists and counts")
    p.add_argument("--migrant-column-map", action="append", metavar="THEIRS=OURS|FILE.json")
    p.add_argument("--state-column-map", action="append", metavar="THEIRS=OURS|FILE.json")
    p.add_argument("--date-format", help="declared date format, e.g. %%d/%%m/%%Y")
    p.add_argument("--model", help="model JSON to score with (default: the shipped model)")
    p.add_argument("--report", action="store_true", help="also write DIR/reconcile.html (counts)")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("districts", help="write each district's master list of migrant students")
    p.add_argument("migrant_file", nargs="?", help="a migrant database export (CSV or Parquet)")
    p.add_argument("--from-reconcile", type=Path, metavar="DIR", help="a reconcile output folder")
    p.add_argument("--column-map", action="append", metavar="THEIRS=OURS|FILE.json")
    p.add_argument("--date-format", help="declared date format, e.g. %%d/%%m/%%Y")
    p.add_argument("--on", help="the day the lists are for, YYYY-MM-DD (default: today)")
    p.add_argument("--out", required=True, type=Path, help="folder for the district files")
    p.set_defaults(func=cmd_districts)
