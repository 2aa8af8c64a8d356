"""`migrant-linkage courses ...`: the course crosswalk (map, accept, correct) on the command line.

The work is migrant_linkage.courses; this module only reads the arguments and prints counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_course_commands"]


def cmd_map(args: argparse.Namespace) -> int:
    """`courses map TITLES --catalogue CAT --state XX --out DIR [--mappings FILE] [--top N]`."""
    from migrant_linkage.courses import map_titles, read_catalogue, read_mappings
    from migrant_linkage.io import write_table

    catalogue = read_catalogue(args.catalogue)
    result = map_titles(
        args.titles,
        catalogue,
        state=args.state,
        mappings=read_mappings(args.mappings),
        top=args.top,
    )
    out = Path(args.out)
    write_table(result.suggestions, out / "course_suggestions.csv")
    write_table(result.review, out / "course_review.csv")
    write_table(result.rejects, out / "course_rejects.csv")
    c = result.counts
    print(
        f"{c['rows']} rows: {c['remembered']} remembered, {c['suggested']} suggested, "
        f"{c['rejected']} rejected ({c['distinct_titles']} distinct titles)"
    )
    print(f"wrote {out}/course_suggestions.csv, course_review.csv, course_rejects.csv")
    if c["suggested"]:
        print(
            "next: fill the decision column of course_review.csv (accept, a rank, or a course_id), "
            "then: migrant-linkage courses accept "
            f"{out}/course_review.csv --catalogue {args.catalogue} --state {result.state} "
            f"--mappings {args.mappings or 'MAPPINGS.csv'}"
        )
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    """`courses accept REVIEW --catalogue CAT --state XX --mappings FILE`."""
    from migrant_linkage.courses import decisions_from_review, read_catalogue, remember

    catalogue = read_catalogue(args.catalogue)
    decisions = decisions_from_review(args.review, args.state, catalogue)
    if decisions.empty:
        print("no decisions in the review file (the decision column is empty); nothing remembered")
        return 0
    update = remember(args.mappings, decisions, catalogue)
    accepted = int((decisions["decision"] == "accepted").sum())
    print(
        f"{len(decisions)} decisions ({accepted} accepted, {len(decisions) - accepted} corrected): "
        f"{update.added} new, {update.replaced} replaced, {update.unchanged} already remembered"
    )
    print(f"wrote {update.path}")
    return 0


def cmd_correct(args: argparse.Namespace) -> int:
    """`courses correct --title T [--code C] --course ID --catalogue CAT --state XX --mappings F`."""
    import pandas as pd

    from migrant_linkage.courses import read_catalogue, remember

    catalogue = read_catalogue(args.catalogue)
    decision = pd.DataFrame(
        {
            "state": [args.state],
            "code": pd.Series([args.code], dtype="str"),
            "title": [args.title],
            "course_id": [args.course],
            "decision": ["corrected"],
        }
    )
    update = remember(args.mappings, decision, catalogue)
    verb = "replaced" if update.replaced else ("already remembered" if update.unchanged else "new")
    print(
        f"{verb}: {args.state.upper()} course -> {args.course} ({catalogue.title_of(args.course)})"
    )
    print(f"wrote {update.path}")
    return 0


def _common(p: argparse.ArgumentParser, mappings_required: bool) -> None:
    p.add_argument(
        "--catalogue",
        required=True,
        type=Path,
        help="the reference catalogue CSV (course_id, title, ...)",
    )
    p.add_argument(
        "--state", required=True, help="two-letter code of the state that sent the titles"
    )
    p.add_argument(
        "--mappings",
        type=Path,
        required=mappings_required,
        help="CSV of remembered mappings (created when missing)",
    )


def add_course_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `courses map | accept | correct` on the CLI's subparsers (see cli.build_parser)."""
    group = subparsers.add_parser(
        "courses",
        help="map a state's course titles to a reference catalogue (the course crosswalk)",
        description=(
            "Propose catalogue courses for a state's course titles with a score and the reasons, "
            "let a data specialist accept or correct them, and remember the decisions per state "
            "so the next file maps itself. See docs/courses.md."
        ),
    )
    sub = group.add_subparsers(dest="courses_command", required=True, metavar="ACTION")

    p = sub.add_parser("map", help="suggest catalogue courses for each title")
    p.add_argument(
        "titles",
        type=Path,
        help="CSV or Parquet with a title column (code, subject, grade, credits optional)",
    )
    _common(p, mappings_required=False)
    p.add_argument("--out", required=True, type=Path, help="folder for the suggestion files")
    p.add_argument("--top", type=int, default=3, help="candidates per title (default 3)")
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("accept", help="remember the decisions written into a course_review.csv")
    p.add_argument("review", type=Path, help="course_review.csv with its decision column filled")
    _common(p, mappings_required=True)
    p.set_defaults(func=cmd_accept)

    p = sub.add_parser("correct", help="remember one title's course, replacing any earlier one")
    _common(p, mappings_required=True)
    p.add_argument("--title", required=True, help="the title as the state sends it")
    p.add_argument("--code", help="the state's course code, when it sends one")
    p.add_argument("--course", required=True, help="the catalogue course_id it maps to")
    p.set_defaults(func=cmd_correct)
    return group
