"""`migrant-linkage cheatsheet check [FILE]` and `cheatsheet export DIR`.

`check` runs the shipped cultural cheat sheet, or a data specialist's own rows, through the
real standardizer and comparisons and prints the rows that land elsewhere than expected (exit
1 when there are any, like `index audit --check`). `export` copies the shipped sheet out, to
read or extend. The work is migrant_linkage.cheatsheet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from migrant_linkage.cli.output import add_format_option, print_frame
from migrant_linkage.errors import UsageError


def cmd_check(args: argparse.Namespace) -> int:
    from migrant_linkage import cheatsheet

    try:
        rows = cheatsheet.read_rows(args.file) if args.file else cheatsheet.shipped_rows()
    except cheatsheet.CheatSheetError as exc:
        raise UsageError(str(exc)) from None
    missed = cheatsheet.misses(rows)
    if args.format != "table":
        print_frame(missed, args.format)
    elif missed.empty:
        print(f"all {len(rows)} rows land in their expected level")
    else:
        print_frame(missed, "table")
        print(f"{len(missed)} of {len(rows)} rows land elsewhere than expected")
    return 0 if missed.empty else 1


def cmd_export(args: argparse.Namespace) -> int:
    from migrant_linkage import cheatsheet

    args.dir.mkdir(parents=True, exist_ok=True)
    from importlib import resources

    from migrant_linkage.io import write_text_atomic

    sheet = resources.files("migrant_linkage.data").joinpath("cheatsheet")
    names = cheatsheet.shipped_files()
    for name in names:
        target = args.dir / name
        if target.exists() and not args.force:
            raise UsageError(f"{target}: exists; give --force to overwrite it")
        write_text_atomic(target, sheet.joinpath(name).read_text(encoding="utf-8"))
    print(f"wrote {len(names)} cheat-sheet files to {args.dir}")
    return 0


def add_cheatsheet_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `cheatsheet check` and `cheatsheet export` on the main parser."""
    parser = subparsers.add_parser(
        "cheatsheet", help="run the cultural cheat sheet (or your own rows) through the comparisons"
    )
    group = parser.add_subparsers(dest="cheatsheet_command", required=True, metavar="COMMAND")
    p = group.add_parser(
        "check",
        help="print the rows that land in another level than expected (exit 1 if any)",
        description="FILE: a CSV named after a comparison (surname.csv, given_name.csv, ...) "
        "with columns value_a,value_b,expected_level,note, or any CSV with an extra "
        "'comparison' column. Without FILE, the shipped cheat sheet is checked.",
    )
    p.add_argument("file", nargs="?", type=Path, help="your rows (default: the shipped sheet)")
    add_format_option(p)
    p.set_defaults(func=cmd_check)
    p = group.add_parser("export", help="copy the shipped cheat sheet into a folder")
    p.add_argument("dir", type=Path)
    p.add_argument("--force", action="store_true", help="overwrite files already there")
    p.set_defaults(func=cmd_export)
    return parser
