"""`migrant-linkage serve` and `migrant-linkage index search | match`.

`add_search_commands(sub)` is called by cli/index.py with its `sub` helper (so --index and
--lock-timeout read the same everywhere); `add_service_commands(subparsers)` registers `serve`
on the main parser. Output names student IDs, record keys, weights and levels; never the names
or birth dates of the records found.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from migrant_linkage.errors import UsageError

#: Query fields as command-line options: --first-name, --last-name-1, --birth-date, ...
_FIELD_HELP = {
    "first_name": "given name(s)",
    "last_name_1": "paternal (or only) surname",
    "last_name_2": "maternal surname",
    "birth_date": "YYYY-MM-DD or MM/DD/YYYY",
    "state_student_id": "the state's student ID (with --id-state)",
    "msix_id": "the 12-digit MSIX ID",
}


def _add_fields(p: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    from migrant_linkage.review.search_fields import QUERY_FIELDS

    for name in QUERY_FIELDS:
        if name in skip:
            continue
        p.add_argument("--" + name.replace("_", "-"), dest=f"q_{name}", help=_FIELD_HELP.get(name))


def _fields(args: argparse.Namespace) -> dict[str, str]:
    return {k[2:]: v for k, v in vars(args).items() if k.startswith("q_") and v not in (None, "")}


def _index(args: argparse.Namespace):
    from migrant_linkage.review import MasterIndex

    return MasterIndex.open(args.index, lock_timeout=args.lock_timeout)


def cmd_search(args: argparse.Namespace) -> int:
    from migrant_linkage.review import search

    index = _index(args)
    if args.build_keys:
        search.build_keys(index)
        print("search keys built")
        if not _fields(args):
            return 0
    query = _fields(args)
    result = search.search(
        index, query, state=args.in_state, page=args.page, page_size=args.page_size
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, default=str))
        return 0
    print(
        f"{result.total} candidate students ({result.records_scored} records scored"
        f"{', more not scored: narrow the query' if result.truncated else ''}); "
        f"page {result.page}"
    )
    for c in result.candidates:
        print(
            f"{c.student_id}  weight {c.match_weight:7.2f}  {c.grade or c.zone:<10} "
            f"best record {c.record_key}  ({c.records} records matched)"
        )
        if args.evidence:
            for e in c.evidence:
                print(f"      {e['comparison']:<18} {e['weight']:7.2f}  {e['level']}")
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from migrant_linkage.review.match import match

    record = _fields(args)
    if args.record_id:
        record["record_id"] = args.record_id
    outcome = match(
        _index(args), record, commit=args.commit, reviewer=args.reviewer, state=args.state
    )
    if args.json:
        print(json.dumps(outcome.as_dict(), indent=2, default=str))
        return 0
    print(
        f"outcome: {outcome.outcome}"
        + (f"  student {outcome.student_id}" if outcome.student_id else "")
    )
    if outcome.known_as:
        print(f"record {outcome.record_key} is already in the index as {outcome.known_as}")
    for c in outcome.candidates:
        print(f"  {c['student_id']}  weight {c['match_weight']:7.2f}  {c['grade'] or c['zone']}")
    if outcome.committed:
        print(
            f"committed in upload {outcome.committed['upload_id']}: "
            f"{outcome.record_key} -> {outcome.committed['student_id']}"
        )
    return 0


def add_search_commands(sub) -> None:
    """Register `index search` and `index match` with cli/index.py's `sub` helper."""
    p = sub("search", "find students by any names, birth date, parents or IDs", cmd_search)
    _add_fields(p, skip=("state",))
    p.add_argument("--id-state", dest="q_state", help="the state of --state-student-id")
    p.add_argument("--in-state", help="only records sent by this state")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=20)
    p.add_argument("--evidence", action="store_true", help="the evidence per comparison")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--build-keys",
        action="store_true",
        help="build the search keys of an index made before search existed",
    )

    p = sub("match", "match one record: its student, candidates to review, or new", cmd_match)
    _add_fields(p, skip=("state",))
    p.add_argument("--record-id", help="the record's id in the sending state (to --commit)")
    p.add_argument("--state", help="the submitting state")
    p.add_argument("--commit", action="store_true", help="upload the record (the upload rules)")
    p.add_argument("--reviewer", help="who sends it (needed with --commit)")
    p.add_argument("--json", action="store_true")


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from migrant_linkage.service.app import create_app
    except ImportError as exc:
        raise UsageError(
            f"the server needs the service extra: pip install 'migrant-linkage[service]' ({exc.name})"
        ) from None
    from migrant_linkage.review import IndexNotFoundError, ReviewError

    try:
        app = create_app(
            args.index,
            secure_cookies=not args.insecure_cookies,
            lock_timeout=args.lock_timeout,
        )
    except (ReviewError, IndexNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    print(f"serving {args.index} on http://{args.host}:{args.port} (OpenAPI: /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _accounts(args: argparse.Namespace):
    from migrant_linkage.service.auth import Accounts

    index = _index(args)
    return Accounts(index._write, index._read)


def _read_password(args: argparse.Namespace) -> str:
    import getpass
    import sys

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def cmd_accounts(args: argparse.Namespace) -> int:
    from migrant_linkage.review import ReviewError

    try:
        accounts = _accounts(args)
        if args.action == "password":
            accounts.set_password(args.account, _read_password(args))
            print(f"password of {args.account} set")
        elif args.action == "token":
            if not args.state:
                raise UsageError("accounts token needs --state")
            print(accounts.issue_token(args.account, args.state))  # shown once
        elif args.action == "unlock":
            accounts.unlock(args.account)
            print(f"account {args.account} unlocked")
        elif args.action == "reverify":
            accounts.reverify(args.account)
            print(f"account {args.account} re-verified")
        elif args.action == "due":
            due = accounts.accounts_due()
            for row in due:
                print(
                    f"{row['account_id']:<20} {row['role']:<9} {row['states']:<12} "
                    + "; ".join(row["reasons"])
                )
            if not due:
                print("(none)")
    except ReviewError as exc:
        raise UsageError(str(exc)) from None
    return 0


def add_service_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `serve` and `accounts` on the main parser."""
    p = subparsers.add_parser(
        "accounts",
        help="service credentials of index accounts: password, token, unlock, reverify, due",
        description="Credentials for the accounts an administrator added with "
        "`migrant-linkage index account add`.",
    )
    p.add_argument("action", choices=["password", "token", "unlock", "reverify", "due"])
    p.add_argument("account", nargs="?", default="", help="the account id, e.g. maria.ca")
    p.add_argument("--index", required=True, type=Path, help="the index DuckDB file")
    p.add_argument("--lock-timeout", type=float, default=120.0)
    p.add_argument("--state", help="the one state an API token acts for")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_accounts)

    p = subparsers.add_parser("serve", help="serve the index over HTTP (API and review screens)")
    p.add_argument("--index", required=True, type=Path, help="the index DuckDB file")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: local)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--lock-timeout", type=float, default=120.0)
    p.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="send session cookies over plain HTTP (local testing only; behind TLS leave off)",
    )
    p.set_defaults(func=cmd_serve)
