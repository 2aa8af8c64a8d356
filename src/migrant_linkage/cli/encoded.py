"""The encoded-linkage subcommands: encode (run by each state) and link-encoded (by the linker).

    migrant-linkage encode tx.csv --secret-file tx-ca.key --out tx-encoded
    migrant-linkage link-encoded tx-encoded/encoded.parquet ca-encoded/encoded.parquet --out run

The secret is read from a file (`--secret-file`, readable by its owner only, as ssh demands of
a private key) or from the environment variable MIGRANT_LINKAGE_SECRET, never from the command
line, where `ps` and the shell history show it to every user of the machine. link-encoded needs
no secret: the linking party should not hold it (docs/privacy.md, the threat model).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

from migrant_linkage.cli.jobs import (
    _check_inputs,
    _check_out_dir,
    _print_summary,
    _thresholds,
)
from migrant_linkage.errors import UsageError
from migrant_linkage.jobfile import parse_column_map

#: The environment variable `encode` reads the secret from when no --secret-file is given.
SECRET_ENV = "MIGRANT_LINKAGE_SECRET"

#: What `encode` writes into --out.
ENCODED_FILE = "encoded.parquet"


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file is not None:
        path = Path(args.secret_file)
        try:
            mode = path.stat().st_mode
            if path.is_dir():
                raise UsageError(
                    f"--secret-file {path}: is a folder; name the file holding the key"
                )
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise UsageError(
                    f"--secret-file {path}: readable by other users (mode {stat.S_IMODE(mode):04o}); "
                    f"the key must be readable by you alone: chmod 600 {path}"
                )
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if _looks_like_a_key(str(path)):  # the key itself was typed: do not print it back
                raise UsageError(
                    "--secret-file names a file; the value given looks like the key itself, which "
                    "the command line shows to other users: put it in a file (chmod 600)"
                ) from None
            raise UsageError(f"--secret-file {path}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"--secret-file {path}: cannot be read ({type(exc).__name__})"
            ) from None
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise UsageError(
            f"encode needs the shared secret: --secret-file FILE (mode 600) or the environment "
            f"variable {SECRET_ENV}; it is never taken on the command line, where other users "
            "see it. Make one with  python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return secret


def _looks_like_a_key(text: str) -> bool:
    from migrant_linkage import privacy

    try:
        privacy.check_secret(text)
    except privacy.EncodingError:
        return False
    return True


def cmd_encode(args: argparse.Namespace) -> int:
    _check_inputs([args.input])
    _check_out_dir(args.out)
    column_map = parse_column_map(args.column_map)
    secret = _secret(args)

    from migrant_linkage import privacy
    from migrant_linkage.io import write_table
    from migrant_linkage.standardize import standardize

    try:
        privacy.check_secret(secret)  # before the file is read: a bad key fails fast
    except privacy.EncodingError as exc:
        raise UsageError(str(exc)) from None
    result = standardize(
        args.input, column_map=column_map, date_format=args.date_format, encoding=args.encoding
    )
    encoded = privacy.encode(result.standardized, secret)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").unlink(missing_ok=True)  # the marker of a finished encode
    write_table(encoded, args.out / ENCODED_FILE)
    write_table(result.rejects, args.out / "rejects.csv")
    summary = {
        "job": "encode",
        "encoding_version": privacy.ENCODING_VERSION,
        "encoding_key": privacy.key_fingerprint(secret),
        **{key: int(value) for key, value in result.counts.items() if key in _COUNTS},
    }
    _write_summary(args.out, summary)
    for key, value in summary.items():
        print(f"{key:>16}: {value}")
    print(f"{'outputs':>16}: {args.out}")
    return 0


_COUNTS = ("records_in", "standardized", "rejected")


def _write_summary(out: Path, summary: dict[str, object]) -> None:
    """summary.json last, through a hidden temporary file: a folder without it is unfinished."""
    temporary = out / ".summary.json.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    os.replace(temporary, out / "summary.json")


def _read_encoded(path: str):
    import pandas as pd

    if Path(path).suffix.lower() != ".parquet":
        raise UsageError(f"{path}: link-encoded reads the {ENCODED_FILE} that encode writes")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None


def cmd_link_encoded(args: argparse.Namespace) -> int:
    _check_inputs([args.left, args.right])
    _check_out_dir(args.out)
    thresholds = _thresholds(args)

    from migrant_linkage import privacy

    left, right = _read_encoded(args.left), _read_encoded(args.right)
    try:
        privacy.check_encoded([left, right])
        result = privacy.link_encoded(left, right, thresholds=thresholds, out_dir=args.out)
    except privacy.EncodingError as exc:
        raise UsageError(str(exc)) from None
    _print_summary(result.summary, args.out)
    return 0


def add_encoded_commands(sub: argparse._SubParsersAction) -> None:
    """Register encode and link-encoded on the main parser."""
    p = sub.add_parser(
        "encode",
        help="standardize one file and encode it for linkage without names or dates",
        allow_abbrev=False,  # `--secret KEY` must not pass for --secret-file: the key on the line
    )
    p.add_argument("input", help="CSV or Parquet file of this state's records")
    p.add_argument("--out", required=True, type=Path, help=f"folder for {ENCODED_FILE}")
    p.add_argument(
        "--secret-file",
        type=Path,
        help=f"file holding the shared key (mode 600); default: the {SECRET_ENV} variable",
    )
    p.add_argument("--column-map", action="append", metavar="THEIRS=OURS|FILE.json")
    p.add_argument("--date-format", help="declared birth-date format, e.g. %%d/%%m/%%Y")
    p.add_argument("--encoding", help="declared file encoding (default: UTF-8, else cp1252)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("link-encoded", help="link two states' encoded files (needs no secret)")
    p.add_argument("left", help=f"receiving state's {ENCODED_FILE}")
    p.add_argument("right", help=f"sending state's {ENCODED_FILE}")
    p.add_argument("--out", required=True, type=Path, help="folder for the outputs")
    p.add_argument("--match-weight", type=float, help="auto-merge at or above this match weight")
    p.add_argument("--review-weight", type=float, help="near match at or above this weight")
    p.add_argument("--match-probability", type=float, help="auto-merge threshold as probability")
    p.add_argument("--review-probability", type=float, help="near-match threshold as probability")
    p.set_defaults(func=cmd_link_encoded)
