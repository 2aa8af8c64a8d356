"""The job subcommands: demo, validate, synth, dedupe, link and explain.

Each `cmd_*` takes the parsed arguments and returns the exit code; bad usage or input raises
UsageError (exit code 2, see migrant_linkage.cli). The library is imported inside the commands,
so building the parser (and `--help`) loads neither pandas nor DuckDB nor Splink.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrant_linkage.cli.report import add_report_option
from migrant_linkage.errors import UsageError

# ---------------------------------------------------------------------------------------------
# Small helpers shared by the subcommands
# ---------------------------------------------------------------------------------------------


def _progress(quiet: bool):
    started = time.perf_counter()

    def report(stage: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - started:7.1f}s] {stage}", file=sys.stderr, flush=True)

    return report


def _parse_column_map(pairs: Sequence[str] | None) -> dict[str, str] | None:
    """`--column-map THEIRS=OURS` (repeatable) or `--column-map map.json`."""
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for item in pairs:
        if "=" in item:
            theirs, ours = item.split("=", 1)
            mapping[theirs.strip()] = ours.strip()
            continue
        path = Path(item)
        if not path.is_file():
            raise UsageError(
                f"--column-map {item!r}: expected THEIR_COLUMN=CONTRACT_COLUMN or a JSON file"
            )
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--column-map {item}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--column-map {item}: the JSON must be an object {{theirs: ours}}")
        mapping.update({str(k): str(v) for k, v in loaded.items()})
    return mapping


def _thresholds(args: argparse.Namespace):
    from migrant_linkage.engine import Thresholds

    try:
        if args.match_probability is not None or args.review_probability is not None:
            if args.match_probability is None or args.review_probability is None:
                raise UsageError(
                    "give both --match-probability and --review-probability, or neither"
                )
            return Thresholds.from_probabilities(args.match_probability, args.review_probability)
        defaults = Thresholds()
        return Thresholds(
            match_weight=(
                args.match_weight if args.match_weight is not None else defaults.match_weight
            ),
            review_weight=(
                args.review_weight if args.review_weight is not None else defaults.review_weight
            ),
            strong_disagreement_weight=defaults.strong_disagreement_weight,
        )
    except ValueError as exc:  # NaN, out of range or inverted thresholds
        raise UsageError(f"thresholds: {exc}") from None


def _model(path: str | None):
    """Load --model up front so a bad file is a usage error, not a failure mid-run."""
    if path is None:
        return None
    from migrant_linkage.model import Model

    try:
        return Model.load(path)
    except (ValueError, OSError) as exc:
        raise UsageError(f"--model {path}: {exc}") from None


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; name a folder for the outputs")


def _check_inputs(paths: Sequence[str]) -> None:
    for p in paths:
        if not Path(p).exists():
            raise UsageError(f"{p}: file not found")


def _print_summary(summary: dict[str, Any], out_dir: Path | None) -> None:
    keys = ("records_in", "standardized", "rejected", "comparisons", "clusters")
    for key in keys:
        if key in summary:
            print(f"{key:>16}: {summary[key]}")
    zones = summary.get("pairs_per_zone") or summary.get("zones")
    if isinstance(zones, dict):
        for zone, count in zones.items():
            print(f"{'pairs ' + zone:>16}: {count}")
    if out_dir is not None:
        print(f"{'outputs':>16}: {out_dir}")


def _add_job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="folder for the outputs")
    p.add_argument("--model", help="model JSON to score with (default: the shipped model)")
    p.add_argument(
        "--train",
        action="store_true",
        help="train the model on this data without labels before scoring",
    )
    p.add_argument("--match-weight", type=float, help="auto-merge at or above this match weight")
    p.add_argument("--review-weight", type=float, help="near match at or above this weight")
    p.add_argument("--match-probability", type=float, help="auto-merge threshold as probability")
    p.add_argument("--review-probability", type=float, help="near-match threshold as probability")
    p.add_argument(
        "--column-map",
        action="append",
        metavar="THEIRS=OURS|FILE.json",
        help="map your column names to the record contract (repeatable)",
    )
    p.add_argument("--date-format", help="declared birth-date format, e.g. %%d/%%m/%%Y")
    p.add_argument("--backend", default="duckdb", choices=["duckdb", "spark"])
    p.add_argument("--database", type=Path, help="on-disk DuckDB file (default: in memory)")
    p.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="DuckDB memory limit, e.g. 8GB (default: a sixth of RAM; beyond it DuckDB spills)",
    )
    p.add_argument(
        "--no-pairs-csv",
        dest="pairs_csv",
        action="store_false",
        help="write the scored pairs as pairs.parquet only, no pairs.csv",
    )
    p.add_argument(
        "--all-pairs",
        action="store_true",
        help="write every scored pair (default: the match and near-match pairs, a sample of "
        "non-matches, and weight_histogram.parquet counting them all)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_report_option(p)


# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    _check_inputs([args.input])
    column_map = _parse_column_map(args.column_map)

    from migrant_linkage.io import write_table
    from migrant_linkage.standardize import standardize

    result = standardize(
        args.input,
        column_map=column_map,
        date_format=args.date_format,
        encoding=args.encoding,
    )
    counts = result.counts
    for key, value in counts.items():
        print(f"{key:>30}: {value}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_table(result.standardized, args.out / "standardized.parquet")
        write_table(result.rejects, args.out / "rejects.csv")
        print(f"{'outputs':>30}: {args.out}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise UsageError(f"{args.out}: --out must end in .csv or .parquet")
    if args.students < 1:
        raise UsageError("--students must be at least 1")

    from migrant_linkage import synthetic

    states = [s.strip().upper() for s in args.states.split(",")] if args.states else None
    frame = synthetic.generate(args.students, seed=args.seed, states=states)
    if args.out.parent:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    synthetic.write(frame, args.out)
    print(f"wrote {len(frame)} records of {args.students} students to {args.out}")
    return 0


def _run_job(args: argparse.Namespace, job_name: str, inputs: list[str]) -> int:
    """dedupe and link share every option; only the engine function and its inputs differ."""
    _check_inputs(inputs)
    _check_out_dir(args.out)
    model = _model(args.model)
    thresholds = _thresholds(args)
    column_map = _parse_column_map(args.column_map)

    from migrant_linkage import db, engine

    if args.memory_limit is not None:
        limit = args.memory_limit.strip()
        if not db.is_memory_size(limit):
            raise UsageError(f"--memory-limit {limit!r}: give a size such as 4GB or 500MB")
        # Every DuckDB connection the job opens (its own, training's) reads the variable.
        os.environ[db.MEMORY_LIMIT_ENV] = limit
    job = getattr(engine, job_name)
    result = job(
        *inputs,
        model=model,
        train=args.train or None,
        thresholds=thresholds,
        column_map=column_map,
        date_format=args.date_format,
        backend=args.backend,
        database=args.database,
        out_dir=args.out,
        progress=_progress(args.quiet),
        pairs_csv=args.pairs_csv,
        all_pairs=args.all_pairs,
    )
    _print_summary(result.summary, args.out)
    if args.report:
        from migrant_linkage.report import report_run

        print(f"{'report':>16}: {report_run(result, args.out)}")
    return 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    return _run_job(args, "dedupe", list(args.inputs))


def cmd_link(args: argparse.Namespace) -> int:
    return _run_job(args, "link", [args.left, args.right])


def _load_record(text: str) -> dict[str, Any]:
    path = Path(text)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"a record must be a JSON object or a JSON file ({exc.msg})") from None
    if not isinstance(record, dict):
        raise UsageError("a record must be a JSON object of contract columns")
    return record


def cmd_explain(args: argparse.Namespace) -> int:
    record_a, record_b = _load_record(args.record_a), _load_record(args.record_b)
    model = _model(args.model)

    from migrant_linkage.engine import explain

    try:
        table = explain(record_a, record_b, model=model)
    except ValueError as exc:  # a record the contract rejects; the message holds reasons only
        raise UsageError(str(exc)) from None
    print(table.to_string(index=False))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from migrant_linkage.demo import run_demo

    return run_demo(out_dir=args.out, students=args.students, seed=args.seed, quiet=args.quiet)


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


def add_job_commands(sub: argparse._SubParsersAction) -> None:
    """Register demo, validate, synth, dedupe, link and explain on the main parser."""
    p = sub.add_parser("demo", help="synthesize multi-state records, link them, print accuracy")
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    p.add_argument("--students", type=int, default=2000, help="synthetic children to draw")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("validate", help="standardize one file and report counts and rejects")
    p.add_argument("input", help="CSV or Parquet file")
    p.add_argument("--out", type=Path, help="write standardized.parquet and rejects.csv here")
    p.add_argument("--column-map", action="append", metavar="THEIRS=OURS|FILE.json")
    p.add_argument("--date-format", help="declared birth-date format, e.g. %%d/%%m/%%Y")
    p.add_argument("--encoding", help="declared file encoding (default: UTF-8, else cp1252)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("synth", help="write synthetic migrant-student records with ground truth")
    p.add_argument("--students", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--states", help="comma-separated 2-letter states to draw enrolments from")
    p.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("dedupe", help="find records of the same child in one or more files")
    p.add_argument("inputs", nargs="+", help="CSV or Parquet files, treated as one population")
    _add_job_options(p)
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("link", help="link a receiving state's records to a sending state's")
    p.add_argument("left", help="receiving state's file")
    p.add_argument("right", help="sending state's file (or an export of the index)")
    _add_job_options(p)
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("explain", help="score one pair of records and show each comparison")
    p.add_argument("record_a", help="JSON object of contract columns, or a JSON file")
    p.add_argument("record_b", help="JSON object of contract columns, or a JSON file")
    p.add_argument("--model", help="model JSON (default: the shipped model)")
    p.set_defaults(func=cmd_explain)
