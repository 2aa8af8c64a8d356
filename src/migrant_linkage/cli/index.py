"""`migrant-linkage index ...`: the master index and review workflow from the command line.

`add_index_commands(subparsers)` registers the `index` group on the main parser (see
migrant_linkage.cli.build_parser). Output names record keys (STATE:record_id), student IDs and
counts; names and birth dates appear only in `index show` (the reviewer's screen) and in files
written with --out.

`--reviewer` names an account (see `index account`); the first administrator is made by `index
init --admin ID`. The index checks each account's role and scope on every action.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from migrant_linkage.cli.output import add_format_option, print_frame, printable
from migrant_linkage.cli.service import add_search_commands
from migrant_linkage.errors import UsageError

if TYPE_CHECKING:  # pandas is imported by the commands, not when the parser is built
    import pandas as pd


def _index(args: argparse.Namespace):
    from migrant_linkage.review import MasterIndex

    return MasterIndex.open(args.index, lock_timeout=args.lock_timeout)


def _print_frame(frame: pd.DataFrame, out: Path | None = None, fmt: str = "table") -> None:
    if out is not None:
        from migrant_linkage.io import write_table

        write_table(frame, out)
        print(f"wrote {len(frame)} rows to {out}")
        return
    print_frame(printable(frame), fmt)


def cmd_init(args: argparse.Namespace) -> int:
    from migrant_linkage.review import MasterIndex

    MasterIndex.create(
        args.index,
        administrator=args.admin,
        administrator_name=args.admin_name,
        administrator_state=args.admin_state,
        two_person_rule=args.two_person_rule,
        model=args.model,
        lock_timeout=args.lock_timeout,
    )
    rule = "on" if args.two_person_rule else "off"
    print(f"created index {args.index} (two-person rule {rule}; administrator {args.admin})")
    return 0


def cmd_account(args: argparse.Namespace) -> int:
    index = _index(args)
    if args.account_command == "add":
        account = index.add_account(
            args.account_id,
            display_name=args.name,
            role=args.role,
            state=args.state,
            region=args.region,
            district=args.district,
            actor=args.reviewer,
        )
        print(f"added account {account.account_id} ({account.role}, {account.scope})")
    elif args.account_command == "deactivate":
        index.deactivate_account(args.account_id, actor=args.reviewer, reason=args.reason)
        print(f"deactivated account {args.account_id}")
    else:
        _print_frame(index.accounts())
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    """Show the index settings, or change them (an administrator; each change is audited)."""
    index = _index(args)
    weights = (args.match_weight, args.review_weight, args.strong_disagreement_weight)
    changing = (
        args.two_person_rule is not None
        or args.model
        or args.escalation_days
        or any(w is not None for w in weights)
    )
    if changing and not args.reviewer:
        raise UsageError("changing a setting needs --reviewer ADMINISTRATOR")
    if args.two_person_rule is not None:
        index.set_two_person_rule(
            args.two_person_rule == "on", actor=args.reviewer, reason=args.reason
        )
    if args.model:
        index.set_model(args.model, actor=args.reviewer, reason=args.reason)
    if any(w is not None for w in weights):
        from migrant_linkage.zones import Thresholds

        base = index.thresholds()
        index.set_thresholds(
            Thresholds(
                match_weight=base.match_weight if weights[0] is None else weights[0],
                review_weight=base.review_weight if weights[1] is None else weights[1],
                strong_disagreement_weight=(
                    base.strong_disagreement_weight if weights[2] is None else weights[2]
                ),
            ),
            actor=args.reviewer,
            reason=args.reason,
        )
    if args.escalation_days:
        days = {}
        for item in args.escalation_days:
            level, _, value = item.partition("=")
            try:
                days[level.strip()] = float(value)
            except ValueError:
                raise UsageError(f"--escalation-days {item!r}: expected LEVEL=DAYS") from None
        index.set_escalation_days(days, actor=args.reviewer, reason=args.reason)
    thresholds = index.thresholds()
    print(f"escalation days: {index.escalation_days()}")
    print(f"two-person rule: {'on' if index.two_person_rule else 'off'}")
    print(f"match weight: {thresholds.match_weight}")
    print(f"review weight: {thresholds.review_weight}")
    print(f"strong disagreement weight: {thresholds.strong_disagreement_weight}")
    return 0


def cmd_escalate(args: argparse.Namespace) -> int:
    outcome = _index(args).escalate(actor=args.reviewer)
    print(json.dumps(outcome, default=str))
    return 0


def _uploads(args: argparse.Namespace) -> list:
    """The upload's sources: --job FILE (one upload per [[source]]) or the one file."""
    from migrant_linkage.jobfile import parse_column_map, read_job_file
    from migrant_linkage.sources import SourceSpec

    if args.job is not None:
        if args.file or args.column_map or args.date_format or args.encoding or args.table:
            raise UsageError(
                f"--job {args.job}: give the file, column map, date format and encoding in "
                "the job file's [[source]] tables, not on the command line"
            )
        specs = read_job_file(args.job)
    elif args.file:
        specs = [
            SourceSpec(
                args.file,
                table=args.table,
                column_map=parse_column_map(args.column_map),
                date_format=args.date_format,
                encoding=args.encoding,
            )
        ]
    else:
        raise UsageError("name the file to upload, or give --job FILE.toml")
    for spec in specs:
        if not Path(spec.source).exists():
            raise UsageError(f"{spec.source}: file not found")
    return specs


def cmd_upload(args: argparse.Namespace) -> int:
    specs = _uploads(args)
    for spec in specs:
        source = spec.source
        if spec.table is not None:  # a DuckDB table: read here, the upload takes a frame
            from migrant_linkage.io import read_records

            source = read_records(spec.source, table=spec.table, column_map=spec.column_map)
        report = _index(args).upload(
            source,
            state=spec.state or args.state,
            actor=args.reviewer,
            column_map=None if spec.table is not None else spec.column_map,
            date_format=spec.date_format,
            encoding=spec.encoding,
            source_name=spec.name,
        )
        print(f"upload {report.upload_id}")
        for key, value in report.counts.items():
            print(f"{key:>24}: {value}")
    return 0


def cmd_worklist(args: argparse.Namespace) -> int:
    status = tuple(s.strip() for s in args.status.split(",")) if args.status else None
    kwargs = {"status": status} if status else {}
    frame = _index(args).worklist(
        actor=args.reviewer,
        state=args.state,
        older_than_days=args.older_than_days,
        limit=args.limit,
        **kwargs,
    )
    _print_frame(frame, args.out, args.format)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    shown = _index(args).show(args.item, actor=args.reviewer)
    item = shown["item"]
    print(
        f"item {item['item_id']}  status {item['status']}  weight {item['match_weight']}  "
        f"reason: {item['reason']}"
    )
    _print_frame(shown["records"])
    print()
    _print_frame(shown["evidence"])
    print("\nevery record of both students:")
    _print_frame(shown["students"])
    print("\nwhat keeps them apart:")
    _print_frame(shown["conflicts"])
    if len(shown["new_evidence"]):
        print("\nnew evidence while the item was open:")
        _print_frame(shown["new_evidence"])
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    outcome = _index(args).decide(
        args.item, args.decision, actor=args.reviewer, comment=args.comment
    )
    print(json.dumps(outcome, default=str))
    return 0


def cmd_decide_batch(args: argparse.Namespace) -> int:
    frame = _index(args).decide_batch(
        args.decision,
        actor=args.reviewer,
        reason=args.reason,
        grade=args.grade,
        min_weight=args.min_weight,
        max_weight=args.max_weight,
        comment=args.comment,
        preview=not args.apply,
    )
    _print_frame(frame, args.out)
    if not args.apply:
        print(f"preview: {len(frame)} item(s); run again with --apply to decide them")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    outcome = _index(args).validate(
        args.pending, actor=args.reviewer, approve=not args.reject, comment=args.comment
    )
    print(json.dumps(outcome, default=str))
    return 0


def cmd_pending(args: argparse.Namespace) -> int:
    _print_frame(_index(args).pending(), fmt=args.format)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    outcome = _index(args).merge(
        *args.students,
        actor=args.reviewer,
        reason=args.reason,
        reverse_decisions=args.reverse_not_a_match,
    )
    print(json.dumps(outcome, default=str))
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    outcome = _index(args).split(
        args.student, args.records, actor=args.reviewer, reason=args.reason
    )
    print(json.dumps(outcome, default=str))
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    outcome = _index(args).undo(
        args.audit_id, actor=args.reviewer, reason=args.reason, cascade=args.cascade
    )
    print(json.dumps(outcome, default=str))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    index = _index(args)
    if args.entry is not None:
        # json.dumps escapes control characters, so an actor or reason cannot drive the terminal
        print(json.dumps(index.audit_entry(args.entry), indent=2, default=str))
        return 0
    if args.check:
        verdict = index.verify_audit()
        if verdict.ok:
            print(
                f"audit log verified: {verdict.entries} entries, the id sequence and the SHA-256 "
                f"chain are intact, the settings and the replay match; head {verdict.head}"
            )
            return 0
        print(f"audit log FAILS at entry {verdict.first_bad}: {verdict.why}")
        return 1
    _print_frame(index.audit(limit=args.limit), fmt=args.format)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    index = _index(args)
    if args.report == "conflicts":
        frame = index.birth_date_conflicts()
        if args.out is None:  # birth dates only go to a file, not the terminal
            frame = frame.drop(columns=["birth_dates"])
        _print_frame(frame, args.out, args.format)
    elif args.report == "duplicates":
        _print_frame(index.duplicates_by_state(), args.out, args.format)
        if args.format == "table":
            print(f"duplicate rate (all states): {index.duplicate_rate():.4%}")
    else:
        _print_frame(index.backlog(), args.out, args.format)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    path = _index(args).export(args.out, consolidated=args.consolidated)
    print(f"wrote {path}")
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from migrant_linkage.model import ModelCheckError
    from migrant_linkage.review import retrain_from_decisions

    index = _index(args)
    if args.use and not args.reviewer:
        raise UsageError("--use changes the index's model: give --reviewer ADMINISTRATOR")
    try:
        model = retrain_from_decisions(index)
    except ModelCheckError as exc:
        raise UsageError(f"the retrained model was refused: {exc}") from None
    model.save(args.out)
    print(f"wrote {args.out}")
    if args.use:
        index.set_model(model, actor=args.reviewer, reason="retrained from decisions")
        print("the index now scores uploads with this model")
    return 0


def add_index_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `index` and its subcommands on the main parser's subparsers."""
    index = subparsers.add_parser(
        "index", help="master student index: uploads, worklist, merges, reports"
    )
    group = index.add_subparsers(dest="index_command", required=True, metavar="INDEX_COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", required=True, type=Path, help="the index DuckDB file")
    common.add_argument(
        "--lock-timeout",
        type=float,
        default=120.0,
        help="seconds to wait while another process uses the index",
    )

    def sub(name: str, help_text: str, func, *, nested: bool = False) -> argparse.ArgumentParser:
        """A subcommand; `nested` ones take --index on their own subcommands instead."""
        p = group.add_parser(name, help=help_text, parents=[] if nested else [common])
        p.set_defaults(func=_guarded(func))
        return p

    p = sub("init", "create an empty index and its first administrator account", cmd_init)
    p.add_argument("--admin", required=True, help="account id of the first administrator")
    p.add_argument("--admin-name", help="their display name (default: the id)")
    p.add_argument("--admin-state", help="their state (default: every state)")
    p.add_argument(
        "--two-person-rule",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a merge or split takes effect only when a second person validates it (default on)",
    )
    p.add_argument("--model", help="model JSON to score uploads with (default: shipped model)")

    p = sub("account", "reviewer accounts: add, deactivate, list", cmd_account, nested=True)
    accounts = p.add_subparsers(dest="account_command", required=True, metavar="ACCOUNT_COMMAND")
    a = accounts.add_parser("add", help="add an account (an administrator)", parents=[common])
    a.add_argument("account_id")
    a.add_argument("--name", required=True, help="display name")
    a.add_argument("--role", required=True, choices=["reviewer", "validator", "administrator"])
    a.add_argument("--state", help="the account's state (default: every state)")
    a.add_argument("--region")
    a.add_argument("--district")
    a.add_argument("--reviewer", required=True, help="the administrator adding it")
    a = accounts.add_parser("deactivate", help="stop an account from acting", parents=[common])
    a.add_argument("account_id")
    a.add_argument("--reviewer", required=True, help="the administrator")
    a.add_argument("--reason")
    accounts.add_parser("list", help="list the accounts", parents=[common])

    p = sub("settings", "show or change the index settings (an administrator)", cmd_settings)
    p.add_argument("--two-person-rule", choices=["on", "off"])
    p.add_argument("--model", help="model JSON uploads score with from now on")
    p.add_argument("--match-weight", type=float, help="auto-merge at or above this weight")
    p.add_argument("--review-weight", type=float, help="worklist at or above this weight")
    p.add_argument("--strong-disagreement-weight", type=float)
    p.add_argument(
        "--escalation-days",
        action="append",
        metavar="LEVEL=DAYS",
        help="days an item waits at district, region or state level before it escalates",
    )
    p.add_argument("--reviewer", help="the administrator making the change")
    p.add_argument("--reason")

    p = sub(
        "escalate",
        "escalate overdue items; pass validations that waited the full time",
        cmd_escalate,
    )
    p.add_argument("--reviewer", required=True, help="the administrator running it")

    p = sub("upload", "standardize a state file and link it into the index", cmd_upload)
    p.add_argument("file", nargs="?", help="CSV or Parquet file of contract columns (or --job)")
    p.add_argument(
        "--job", type=Path, metavar="FILE.toml", help="a job file: one upload per [[source]]"
    )
    p.add_argument(
        "--state",
        help="submitting state (2 letters; must agree with the records'); default: each record's",
    )
    p.add_argument("--reviewer", required=True, help="account running the upload")
    p.add_argument("--column-map", action="append", metavar="THEIRS=OURS|FILE.json")
    p.add_argument("--date-format", help="declared birth-date format, e.g. %%d/%%m/%%Y")
    p.add_argument("--encoding", help="declared file encoding")
    p.add_argument("--table", help="the table to read from a DuckDB database file")

    p = sub("worklist", "list undecided near matches", cmd_worklist)
    p.add_argument("--state", help="only items with a record from this state")
    p.add_argument("--older-than-days", type=float, help="only items at least this old")
    p.add_argument("--status", help="comma-separated statuses (default: open,skipped)")
    p.add_argument("--reviewer", help="only the items in this account's scope")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", type=Path, help="write the list to a CSV/Parquet file")
    add_format_option(p)

    p = sub("show", "show one item: both records side by side and the evidence", cmd_show)
    p.add_argument("item", type=int)
    p.add_argument("--reviewer", required=True, help="account viewing it (scope is checked)")

    p = sub("decide", "decide an item: match, not-a-match or skip", cmd_decide)
    p.add_argument("item", type=int)
    p.add_argument("decision", choices=["match", "not-a-match", "skip"])
    p.add_argument("--reviewer", required=True)
    p.add_argument("--comment")

    p = sub(
        "decide-batch",
        "decide every open item of a reason / grade / weight band (a preview unless --apply)",
        cmd_decide_batch,
    )
    p.add_argument("decision", choices=["match", "not-a-match", "skip"])
    p.add_argument("--reviewer", required=True)
    p.add_argument("--reason", help="only items with exactly this reason")
    p.add_argument("--grade", choices=["certain", "probable", "possible"])
    p.add_argument("--min-weight", type=float)
    p.add_argument("--max-weight", type=float)
    p.add_argument("--comment")
    p.add_argument("--apply", action="store_true", help="decide them (default: preview only)")
    p.add_argument("--out", type=Path, help="write the list to a CSV/Parquet file")

    p = sub("validate", "second reviewer: validate (or --reject) a pending merge", cmd_validate)
    p.add_argument("pending", type=int)
    p.add_argument("--reviewer", required=True)
    p.add_argument("--reject", action="store_true")
    p.add_argument("--comment")

    p = sub("pending", "list merges waiting for a second reviewer", cmd_pending)
    add_format_option(p)

    p = sub("merge", "merge students by hand (the oldest ID survives)", cmd_merge)
    p.add_argument("students", nargs="+")
    p.add_argument("--reviewer", required=True)
    p.add_argument("--reason")

    p.add_argument(
        "--reverse-not-a-match",
        action="store_true",
        help="reverse earlier 'not a match' decisions between the students (recorded)",
    )

    p = sub("split", "move records out of a student to a new student ID", cmd_split)
    p.add_argument("student")
    p.add_argument("--records", nargs="+", required=True, help="record keys STATE:record_id")
    p.add_argument("--reviewer", required=True)
    p.add_argument("--reason")

    p = sub("undo", "undo a merge, by its audit entry", cmd_undo)
    p.add_argument("audit_id", type=int)
    p.add_argument("--reviewer", required=True)
    p.add_argument("--reason")

    p.add_argument(
        "--cascade", action="store_true", help="also undo the later merges of these records"
    )

    p = sub("audit", "show the audit log (or --entry N, or --check the replay)", cmd_audit)
    p.add_argument("--entry", type=int)
    p.add_argument("--check", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    add_format_option(p)

    p = sub("report", "conflicts | duplicates | backlog", cmd_report)
    p.add_argument("report", choices=["conflicts", "duplicates", "backlog"])
    p.add_argument("--out", type=Path)
    add_format_option(p)

    p = sub("export", "write record_id, state, student_id (or --consolidated)", cmd_export)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--consolidated", action="store_true", help="one row per student")

    p = sub("retrain", "re-estimate the model from reviewed decisions", cmd_retrain)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--use", action="store_true", help="score future uploads with it")
    p.add_argument("--reviewer", help="administrator (needed with --use)")
    add_search_commands(sub)
    return index


def _guarded(func):
    """Turn the index's own errors into usage errors (exit 2) with their message."""

    def run(args: argparse.Namespace) -> int:
        from migrant_linkage.review import IndexBusyError, IndexNotFoundError, ReviewError

        try:
            return func(args)
        except (ReviewError, IndexBusyError, IndexNotFoundError) as exc:
            raise UsageError(str(exc)) from None

    return run
