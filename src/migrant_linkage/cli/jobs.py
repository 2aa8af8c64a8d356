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

from migrant_linkage.cli.output import add_format_option
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


def _source_specs(args: argparse.Namespace, paths: Sequence[str]) -> list[Any]:
    """The run's sources as SourceSpecs: from --job FILE, or from the paths with the
    --column-map / --date-format / --encoding / --table shortcuts applied to each."""
    from dataclasses import replace

    from migrant_linkage.jobfile import parse_column_map, read_job_file
    from migrant_linkage.sources import SourceSpec

    strict = bool(getattr(args, "strict", False))
    if args.job is not None:
        shortcuts = [
            flag
            for flag, value in (
                ("input file(s)", paths),
                ("--column-map", args.column_map),
                ("--date-format", args.date_format),
                ("--encoding", getattr(args, "encoding", None)),
                ("--table", args.table),
            )
            if value
        ]
        if shortcuts:
            raise UsageError(
                f"--job {args.job}: give {', '.join(shortcuts)} in the job file's [[source]] "
                "tables, not on the command line"
            )
        specs = read_job_file(args.job)
        _check_inputs([spec.source for spec in specs])
        return [replace(spec, strict=strict) for spec in specs]
    if not paths:
        raise UsageError("name the input file(s), or give --job FILE.toml")
    _check_inputs(paths)
    column_map = parse_column_map(args.column_map)
    return [
        SourceSpec(
            source=path,
            table=args.table,
            column_map=column_map,
            date_format=args.date_format,
            encoding=getattr(args, "encoding", None),
            strict=strict,
        )
        for path in paths
    ]


def _print_sources(sources: dict[str, Any], fmt: str = "table") -> None:
    """Counts and quality flags per source (the warnings follow on stderr, _print_warnings)."""
    from migrant_linkage.cli.output import print_rows

    rows = []
    for name, counts in sources.items():
        row: dict[str, Any] = {"source": name}
        row.update({k: v for k, v in counts.items() if k not in ("quality_flags", "warnings")})
        row.update({f"flag {k}": v for k, v in counts.get("quality_flags", {}).items()})
        row["warnings"] = len(counts.get("warnings", []))
        rows.append(row)
    print_rows(rows, fmt)


def _print_warnings(sources: dict[str, Any], kept: str = "summary.json") -> None:
    """Each source's layout warnings on stderr, after the counts, where they are seen."""
    warnings = [w for counts in sources.values() for w in counts.get("warnings", [])]
    for warning in warnings:
        print(f"migrant-linkage: WARNING: {warning}", file=sys.stderr)
    if warnings:
        print(
            f"migrant-linkage: WARNING: {len(warnings)} layout warning(s), kept in {kept}; "
            "--strict makes them exit 2",
            file=sys.stderr,
        )


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
    if out.is_symlink() and not out.exists():
        raise UsageError(f"--out {out}: a symbolic link that leads nowhere or back to itself")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; name a folder for the outputs")


def _check_inputs(paths: Sequence[str]) -> None:
    for p in paths:
        if Path(p).is_symlink() and not Path(p).exists():
            raise UsageError(f"{p}: a symbolic link that leads nowhere or back to itself")
        if not Path(p).exists():
            raise UsageError(f"{p}: file not found")


def _print_summary(summary: dict[str, Any], out_dir: Path | None) -> None:
    sources = summary.get("sources") or {}
    if sources:
        _print_sources(sources)
        print()
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
    _print_warnings(sources)


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
    add_source_options(p)
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
    add_report_option(p)


def add_source_options(p: argparse.ArgumentParser, *, encoding: bool = True) -> None:
    """--job and the one-file shortcuts for it, shared by validate, dedupe, link (and index
    upload, which has its own --encoding)."""
    p.add_argument(
        "--job",
        type=Path,
        metavar="FILE.toml",
        help="a job file: one [[source]] per input with its path or table, state, column "
        "map, date format and encoding (see docs/usage.md)",
    )
    p.add_argument(
        "--column-map",
        action="append",
        metavar="THEIRS=OURS|FILE.json",
        help="map your column names to the record contract (repeatable; one file's layout)",
    )
    p.add_argument("--date-format", help="declared date format, e.g. DD/MM/YYYY or %%d/%%m/%%Y")
    if encoding:
        p.add_argument("--encoding", help="declared file encoding (default: UTF-8, else cp1252)")
    p.add_argument("--table", help="the table to read from a DuckDB database input")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 (nothing linked) when a source draws a layout warning: a mapped or "
        "expected column empty for nearly every record, or a declared date format that "
        "fails for most rows",
    )


# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    specs = _source_specs(args, [args.input] if args.input else [])
    if args.out is not None:
        _check_out_dir(args.out)

    from migrant_linkage.io import write_table, write_text_atomic
    from migrant_linkage.pipeline.run import FINISHED_MARKER, prepare_out_dir
    from migrant_linkage.sources import source_names, standardize_all

    out = prepare_out_dir(args.out)  # no earlier validation's marker beside this one's files
    std = standardize_all(specs, source_names(specs), None, None)
    _print_sources(std.counts, args.format)

    from migrant_linkage.profile import format_profile, naming_profile

    profile = naming_profile(std.records)
    if args.format == "table":
        print(format_profile(profile))
    if out is not None:
        write_table(std.records, out / "standardized.parquet")
        write_table(std.rejects, out / "rejects.csv")
        write_table(profile, out / "naming_profile.csv")
        summary = {
            "job": "validate",
            "records_in": std.records_in,
            "standardized": len(std.records),
            "rejected": len(std.rejects),
            "sources": std.counts,
        }
        # Written last: its presence says both files above are from this validation.
        write_text_atomic(out / FINISHED_MARKER, json.dumps(summary, indent=2))
        if args.format == "table":
            print(f"\n{'outputs':>16}: {out}")
    _print_warnings(std.counts, "summary.json" if args.out else "summary.json with --out")
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


def _run_job(args: argparse.Namespace, job_name: str, inputs: list[Any]) -> int:
    """dedupe and link share every option; only the engine function and its inputs differ."""
    _check_out_dir(args.out)
    model = _model(args.model)
    thresholds = _thresholds(args)

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
    return _run_job(args, "dedupe", _source_specs(args, list(args.inputs)))


def cmd_link(args: argparse.Namespace) -> int:
    given = [side for side in (args.left, args.right) if side]
    specs = _source_specs(args, given)
    if len(specs) != 2:
        where = f"--job {args.job} has" if args.job else "got"
        raise UsageError(
            f"link needs two sources, the receiving state's then the sending state's; "
            f"{where} {len(specs)}"
        )
    return _run_job(args, "link", specs)


def _load_record(text: str) -> dict[str, Any]:
    """An inline JSON object, or a JSON file. Text that opens with '{' is never tried as a
    path (a long record is longer than a file name may be)."""
    if not text.lstrip().startswith("{"):
        path = Path(text)
        try:
            if path.is_file():
                text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the record file ({type(exc).__name__})") from None
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
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "validate",
        help="standardize input files and report counts, quality flags and layout warnings",
    )
    p.add_argument("input", nargs="?", help="CSV, Parquet or DuckDB file (or use --job)")
    p.add_argument(
        "--out", type=Path, help="write standardized.parquet, rejects.csv and summary.json here"
    )
    add_source_options(p)
    add_format_option(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("synth", help="write synthetic migrant-student records with ground truth")
    p.add_argument("--students", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--states", help="comma-separated 2-letter states to draw enrolments from")
    p.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("dedupe", help="find records of the same child in one or more files")
    p.add_argument(
        "inputs", nargs="*", help="CSV, Parquet or DuckDB files, one population (or --job)"
    )
    _add_job_options(p)
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("link", help="link a receiving state's records to a sending state's")
    p.add_argument("left", nargs="?", help="receiving state's file (or --job)")
    p.add_argument("right", nargs="?", help="sending state's file (or an export of the index)")
    _add_job_options(p)
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("explain", help="score one pair of records and show each comparison")
    p.add_argument("record_a", help="JSON object of contract columns, or a JSON file")
    p.add_argument("record_b", help="JSON object of contract columns, or a JSON file")
    p.add_argument("--model", help="model JSON (default: the shipped model)")
    p.set_defaults(func=cmd_explain)
