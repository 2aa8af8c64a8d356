"""Scale benchmark (issue 6): end-to-end dedupe at national sizes, beside generic Splink 5.

    flock /tmp/heavy.lock python3 benchmarks/scale.py --sizes 100000 1000000 \\
        --generic --incremental --out benchmarks/out/scale

Our job runs with the engine's default DuckDB memory limit (a sixth of the machine's RAM,
db.DEFAULT_MEMORY_SHARE); --duckdb-memory-limit sets another.

For each size N (records in the population):

1. generates synthetic records once (cached as Parquet under --data): N records plus a held-out
   share, the same share at every size (50,000 records at the largest size, the later "upload");
   the rest is the population of N records, so every size keeps the same records per child;
   beyond --chunk-students children (10M records) a chunk of children at a time, each chunk
   split and appended to the Parquet files before the next is built (bounded memory);
2. runs OUR dedupe end to end in a child process (read Parquet, standardize, train, predict,
   zone, cluster, worklist, write every output to disk) and scores the clusters against the
   synthetic truth (precision, recall, F1 over record pairs);
3. with --generic, runs the generic Splink 5 baseline (benchmarks/generic_splink.py) on the same
   records in another child process, under a memory watchdog (--generic-cap-gb, default 12):
   when its resident memory passes the cap the child is killed and reported as "stopped at X GB";
4. with --incremental, at the largest size: the 50,000-record upload scored against the
   population with the population's model and term frequencies (Splink predict_between, plus
   predict_within for pairs inside the upload), never re-scoring the population against itself.

Each job runs in its own process, one at a time; peak RSS is that process's maximum resident
set (os.wait4 rusage, cross-checked by the watchdog's /proc samples). Throughput per core
divides by the cores DuckDB uses (os.cpu_count()). Writes <out>/scale.json and <out>/scale.md
(the Markdown table copied into docs/benchmarks.md). Record ids and counts only in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

UPLOAD_RECORDS = 50_000
# Children generated at once, at most (about 2.6 GB in pandas): 1M records (about 375,000
# children) still come from one generate() call, so the cached 200k and 1M data stay valid.
CHUNK_STUDENTS = 500_000
TRUTH = ("true_student_id", "true_family_id")
KB = 1024
GB = 1024**3


# ------------------------------------------------------------------------------ child jobs
def _job_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Synthetic records for `args.students` children (about size + upload records); split
    population / upload. Beyond one chunk of children the records are generated, split and
    written a chunk at a time, so memory stays that of one chunk (see _generate_in_chunks)."""
    import numpy as np

    from migrant_linkage.synthetic import generate, write

    if args.students > args.chunk_students:
        return _generate_in_chunks(args)
    started = time.perf_counter()
    records = generate(args.students, seed=args.seed)
    generate_seconds = time.perf_counter() - started
    rng = np.random.default_rng(args.seed)
    upload_rows = rng.choice(len(records), size=args.upload_records, replace=False)
    is_upload = np.zeros(len(records), dtype=bool)
    is_upload[upload_rows] = True
    population = records.loc[~is_upload].head(args.size)
    write(population.reset_index(drop=True), Path(args.population))
    write(records.loc[is_upload].reset_index(drop=True), Path(args.upload))
    return {
        "students": args.students,
        "population_records": len(population),
        "upload_records": int(is_upload.sum()),
        "generate_seconds": round(generate_seconds, 1),
    }


def _generate_in_chunks(args: argparse.Namespace) -> dict[str, Any]:
    """As _job_generate, a chunk of children at a time: each chunk holds out its share of the
    upload (in proportion to its children, drawn from a stream of its own), and its other
    records go to the population until it has `size` records. Each Parquet file is written a
    chunk (a row group) at a time, under a temporary name until it is complete."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from migrant_linkage.synthetic.chunks import chunk_students_list, generate_in_chunks

    started = time.perf_counter()
    per_chunk = chunk_students_list(args.students, args.chunk_students)
    done = np.cumsum([0, *per_chunk])
    held_out = np.diff(np.round(args.upload_records * done / args.students)).astype(int)
    paths = {"population": Path(args.population), "upload": Path(args.upload)}
    partial = {name: path.with_suffix(".partial") for name, path in paths.items()}
    writers: dict[str, Any] = {}
    counts = {"population": 0, "upload": 0}
    chunks = generate_in_chunks(args.students, args.seed, args.chunk_students)
    for chunk, records in enumerate(chunks):
        rng = np.random.default_rng([args.seed, chunk])
        is_upload = np.zeros(len(records), dtype=bool)
        is_upload[rng.choice(len(records), size=held_out[chunk], replace=False)] = True
        parts = {
            "population": records.loc[~is_upload].head(args.size - counts["population"]),
            "upload": records.loc[is_upload],
        }
        for name, frame in parts.items():
            table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
            if name not in writers:
                writers[name] = pq.ParquetWriter(partial[name], table.schema, compression="zstd")
            writers[name].write_table(table.cast(writers[name].schema))
            counts[name] += len(frame)
        print(
            f"[scale]   chunk {chunk + 1}/{len(per_chunk)}: {counts['population']:,} population "
            f"records (peak so far {_proc_status_bytes(os.getpid(), 'VmHWM:') / GB:.2f} GB)",
            file=sys.stderr,
            flush=True,
        )
        del records, parts
    for name, writer in writers.items():
        writer.close()
        partial[name].replace(paths[name])
    return {
        "students": args.students,
        "chunks": len(per_chunk),
        "chunk_students": args.chunk_students,
        "population_records": counts["population"],
        "upload_records": counts["upload"],
        "generate_seconds": round(time.perf_counter() - started, 1),
    }


def _students_for(records: int, seed: int) -> int:
    """Children to generate for about `records` records: records per child from a pilot."""
    from migrant_linkage.synthetic import generate

    pilot = generate(20_000, seed=seed + 1)
    return int(records * 20_000 / len(pilot)) + 1


def _records_without_truth(population: Path) -> Path:
    """The population's records without the truth columns, as a Parquet file beside it
    (written once)."""
    import pyarrow.parquet as pq

    target = population.with_name(population.stem + "_records.parquet")
    if not target.exists():
        columns = [c for c in pq.read_schema(population).names if c not in TRUTH]
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        pq.write_table(pq.read_table(population, columns=columns), temporary)
        temporary.rename(target)
    return target


def _job_ours(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    from migrant_linkage.engine import dedupe
    from migrant_linkage.evaluate import score_clusters, truth_from_records

    records = _records_without_truth(Path(args.population))
    started = time.perf_counter()
    # The truth is read on its own and the engine reads the records from a Parquet file without
    # it, as a user's file: the job holds no raw frame beside the standardized one (the read is
    # timed inside standardize). A DuckDB relation instead was 1.2 s slower at 200k.
    truth = truth_from_records(pd.read_parquet(args.population, columns=["record_id", *TRUTH]))
    read_seconds = time.perf_counter() - started
    raw = str(records)
    out = Path(args.work) / f"ours_{args.size}"
    database = Path(args.work) / f"ours_{args.size}.duckdb"
    database.unlink(missing_ok=True)
    memory = _StageMemory()
    _limit_duckdb(args.duckdb_memory_limit)
    result = dedupe(
        raw,
        train=True,
        out_dir=out,
        database=database if args.on_disk else None,
        progress=memory.stage,
    )
    memory.stage("done")
    wall = time.perf_counter() - started
    del raw
    scores = score_clusters(truth, result.clusters[["record_id", "cluster_id"]])
    per_child = truth["true_student_id"].value_counts()
    true_pairs = int((per_child * (per_child - 1) // 2).sum())  # pairs of one child's records
    if args.keep_population:  # for the incremental job: the population as stored standardized
        keep = [c for c in result.standardized.columns if c not in TRUTH]
        result.standardized[keep].to_parquet(Path(args.work) / f"population_{args.size}.parquet")
        result.model.save(Path(args.work) / f"model_{args.size}.json")
    database.unlink(missing_ok=True)
    summary = result.summary
    timings = {"read": round(read_seconds, 2), **summary["timings"]}
    return {
        "records": summary["records_in"],
        "standardized": summary["standardized"],
        "timings": timings,
        "wall_seconds": round(wall, 1),
        "comparisons": summary["comparisons"],
        "comparisons_per_record": summary["comparisons_per_record"],
        "true_pairs": true_pairs,
        "comparisons_per_rule": [r["comparisons"] for r in summary["comparisons_per_rule"]],
        "peak_rss_gb_by_stage": memory.peaks,
        "pairs_per_zone": summary["pairs_per_zone"],
        "worklist_pairs": summary["worklist_pairs"],
        "clusters": summary["clusters"],
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "twin_sibling_false_merges": scores.twin_sibling_false_merges,
    }


def _limit_duckdb(limit: str | None) -> None:
    """Cap every DuckDB connection the engine opens (the job's and training's) at `limit`; the
    engine then spills to a temporary directory beyond it."""
    if limit:
        from migrant_linkage.db import MEMORY_LIMIT_ENV

        os.environ[MEMORY_LIMIT_ENV] = limit


class _StageMemory:
    """Peak RSS reached by the end of each engine stage (VmHWM read at the next stage's start),
    to tell which stage holds the memory."""

    def __init__(self) -> None:
        self.current = "before"
        self.peaks: dict[str, float] = {}

    def stage(self, name: str) -> None:
        self.peaks[self.current] = round(_proc_status_bytes(os.getpid(), "VmHWM:") / GB, 2)
        print(f"[scale]   {name} (peak so far {self.peaks[self.current]} GB)", file=sys.stderr)
        self.current = name


def _job_generic(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).parent))
    from generic_splink import run_generic
    from migrant_linkage.evaluate import score_clusters, truth_from_records

    started = time.perf_counter()
    raw = pd.read_parquet(args.population)
    read_seconds = time.perf_counter() - started
    truth = truth_from_records(raw)
    # Keep only the pairs that can matter (near match and above): every blocked pair of a
    # million records would not fit in pandas.
    pairs, clusters, timings = run_generic(raw.drop(columns=list(TRUTH)), keep_pairs_above=0.5)
    wall = time.perf_counter() - started
    scores = score_clusters(truth, clusters)
    return {
        "records": len(raw),
        "timings": {"read": round(read_seconds, 2), **{k: round(v, 2) for k, v in timings.items()}},
        "wall_seconds": round(wall, 1),
        "comparisons": None,  # run_generic keeps only pairs >= 0.5; blocked count not returned
        "pairs_kept": len(pairs),
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "twin_sibling_false_merges": scores.twin_sibling_false_merges,
    }


def _job_incremental(args: argparse.Namespace) -> dict[str, Any]:
    """Score an upload against a stored population as the master index does
    (review.scoring.score_upload: the upload's pairs with the population and within itself,
    routed with the index's thresholds and the model's prior)."""
    import pandas as pd

    from migrant_linkage.model import Model, quiet_splink
    from migrant_linkage.review.scoring import score_upload
    from migrant_linkage.standardize import standardize
    from migrant_linkage.zones import MATCH_ZONE, Thresholds

    quiet_splink()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    started = clock

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        clock = now

    work = Path(args.work)
    model = Model.load(work / f"model_{args.size}.json")
    population = pd.read_parquet(work / f"population_{args.size}.parquet")
    lap("read population")

    raw_upload = pd.read_parquet(args.upload)
    truth_upload = raw_upload[["record_id", *TRUTH]]
    std = standardize(raw_upload.drop(columns=list(TRUTH)), source_name="upload")
    upload = std.standardized
    lap("read + standardize upload")

    thresholds = Thresholds().given_prior(model.prior_weight())  # as an index upload routes
    pairs = score_upload(upload, population, model=model, thresholds=thresholds)
    lap("score and route")
    total = time.perf_counter() - started

    # Accuracy of the auto-merge links the upload gets (pairs: upload-population, upload-upload).
    population_truth = pd.read_parquet(args.population, columns=["record_id", *TRUTH])
    truth = pd.concat([population_truth, truth_upload], ignore_index=True)
    student = truth.set_index("record_id")["true_student_id"]
    links = pairs.loc[(pairs["zone"] == MATCH_ZONE) & ~pairs["guarded"]]
    same = links["record_id_l"].map(student).to_numpy() == links["record_id_r"].map(student)
    n_up = truth_upload.groupby("true_student_id").size()
    n_pop = population_truth.groupby("true_student_id").size().reindex(n_up.index, fill_value=0)
    true_pairs = int((n_up * n_pop).sum() + (n_up * (n_up - 1) // 2).sum())
    true_found = int(same.sum())
    return {
        "population_records": len(population),
        "upload_records": len(raw_upload),
        "timings": timings,
        "wall_seconds": round(total, 1),
        "scoring_seconds": timings["score and route"],
        "comparisons": len(pairs),
        "match_links": len(links),
        "link_precision": true_found / len(links) if len(links) else float("nan"),
        "link_recall": true_found / true_pairs if true_pairs else float("nan"),
    }


JOBS = {
    "generate": _job_generate,
    "ours": _job_ours,
    "generic": _job_generic,
    "incremental": _job_incremental,
}


def _child_main(args: argparse.Namespace) -> None:
    result = JOBS[args.job](args)
    Path(args.result).write_text(json.dumps(result, indent=2, default=float))


# ------------------------------------------------------------------------------ the parent
def _rss_bytes(pid: int) -> int:
    return _proc_status_bytes(pid, "VmRSS:")


def _proc_status_bytes(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * KB
    except OSError:
        pass
    return 0


def run_child(job: str, cap_gb: float | None, **options: Any) -> dict[str, Any]:
    """Run one job in a child process; return its result plus peak RSS (and stop it, reporting
    where, if it passes `cap_gb`)."""
    result_path = Path(options["work"]) / f"{job}_{options.get('size', 0)}.result.json"
    result_path.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", job, "--result", str(result_path)]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        elif value not in (None, False):
            command += [f"--{key.replace('_', '-')}", str(value)]
    print(f"[scale] {job} {options.get('size', '')} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    child = subprocess.Popen(command)
    peak, stopped = [0], [False]

    def watch() -> None:
        while child.poll() is None:
            rss = _rss_bytes(child.pid)
            peak[0] = max(peak[0], rss)
            if cap_gb is not None and rss > cap_gb * GB:
                stopped[0] = True
                os.kill(child.pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    watcher.join()
    wall = time.perf_counter() - started
    peak_rss = max(peak[0], usage.ru_maxrss * KB)
    if stopped[0]:
        return {"stopped_at_gb": round(peak_rss / GB, 1), "seconds_before_stop": round(wall, 1)}
    if child.returncode != 0 or not result_path.exists():
        return {"failed": f"exit code {child.returncode}", "seconds": round(wall, 1)}
    result = json.loads(result_path.read_text())
    result["peak_rss_gb"] = round(peak_rss / GB, 2)
    result["process_seconds"] = round(wall, 1)
    return result


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    cores = report["cores"]
    lines = [
        f"Command: `{report['command']}`  ",
        f"Commit {report['commit']}, {report['machine']}, {cores} cores, "
        f"DuckDB {report['duckdb']}, Splink {report['splink']}.",
        "",
        "| | " + " | ".join(f"{r['size']:,} records" for r in report["runs"]) + " |",
        "|---|" + "---:|" * len(report["runs"]),
    ]
    stages = [
        "read",
        "standardize",
        "train",
        "load",
        "block",
        "predict",
        "zone",
        "cluster",
        "worklist",
        "write",
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    ours = [r["ours"] for r in report["runs"]]
    for stage in stages:
        row(f"ours: {stage} (s)", [_fmt(o.get("timings", {}).get(stage)) for o in ours])
    row("**ours: end to end (s)**", [_fmt(o.get("process_seconds")) for o in ours])
    row("**ours: peak RSS (GB)**", [_fmt(o.get("peak_rss_gb"), 2) for o in ours])
    row(
        "ours: records/s end to end",
        [_fmt(_div(o.get("records"), o.get("process_seconds")), 0) for o in ours],
    )
    row("ours: comparisons", [_fmt(o.get("comparisons")) for o in ours])
    row("ours: comparisons per record", [_fmt(o.get("comparisons_per_record"), 2) for o in ours])
    # What blocking must find (pairs of one child's records) against what it adds besides.
    row(
        "true pairs per record (the data)",
        [_fmt(_div(o.get("true_pairs"), o.get("records")), 2) for o in ours],
    )
    row(
        "ours: comparisons per true pair",
        [_fmt(_div(o.get("comparisons"), o.get("true_pairs")), 2) for o in ours],
    )
    # Scoring alone (Splink scoring the candidate pairs), then blocking and scoring together.
    row(
        "**ours: predict (scoring) comparisons/s/core**",
        [
            _fmt(_div(o.get("comparisons"), (o.get("timings") or {}).get("predict"), cores), 0)
            for o in ours
        ],
    )
    row(
        "ours: block + predict comparisons/s/core",
        [_fmt(_div(o.get("comparisons"), _block_and_predict(o), cores), 0) for o in ours],
    )
    for metric in ("precision", "recall", "f1"):
        row(f"ours: {metric}", [_fmt(o.get(metric), 4) for o in ours])
    row("ours: twin/sibling false merges", [_fmt(o.get("twin_sibling_false_merges")) for o in ours])
    if any("generic" in r for r in report["runs"]):
        generic = [r.get("generic", {}) for r in report["runs"]]
        row(
            "generic: end to end (s)",
            [
                f"stopped at {g['stopped_at_gb']} GB after {g['seconds_before_stop']} s"
                if "stopped_at_gb" in g
                else g.get("failed") or _fmt(g.get("process_seconds"))
                for g in generic
            ],
        )
        row("generic: peak RSS (GB)", [_fmt(g.get("peak_rss_gb"), 2) for g in generic])
        for metric in ("precision", "recall", "f1"):
            row(f"generic: {metric}", [_fmt(g.get(metric), 4) for g in generic])
        row(
            "generic: twin/sibling false merges",
            [_fmt(g.get("twin_sibling_false_merges")) for g in generic],
        )
        row(
            "ours / generic: time",
            [
                _fmt(_div(o.get("process_seconds"), g.get("process_seconds")), 2)
                for o, g in zip(ours, generic, strict=True)
            ],
        )
        row(
            "ours / generic: peak RSS",
            [
                _fmt(_div(o.get("peak_rss_gb"), g.get("peak_rss_gb")), 2)
                for o, g in zip(ours, generic, strict=True)
            ],
        )
        row(
            "ours / generic: F1",
            [_fmt(_div(o.get("f1"), g.get("f1")), 2) for o, g in zip(ours, generic, strict=True)],
        )
    inc = report.get("incremental")
    if inc:
        lines += [
            "",
            f"Incremental: {_fmt(inc.get('upload_records'))} upload records against "
            f"{_fmt(inc.get('population_records'))} population records.",
            "",
            "| stage | seconds |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in inc.get("timings", {}).items()]
        lines += [
            f"| **total** | {_fmt(inc.get('wall_seconds'))} |",
            f"| **scoring and routing** | {_fmt(inc.get('scoring_seconds'))} |",
            "",
            f"Comparisons {_fmt(inc.get('comparisons'))}, match-zone links "
            f"{_fmt(inc.get('match_links'))}, link precision {_fmt(inc.get('link_precision'), 4)}, "
            f"link recall {_fmt(inc.get('link_recall'), 4)}, peak RSS "
            f"{_fmt(inc.get('peak_rss_gb'), 2)} GB.",
        ]
    return "\n".join(lines) + "\n"


def _block_and_predict(ours: dict[str, Any]) -> float | None:
    timings = ours.get("timings") or {}
    if "predict" not in timings:
        return None
    return timings["predict"] + timings.get("block", 0.0)


def _div(a: Any, b: Any, c: float = 1) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return None
    return a / b / c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generic", action="store_true", help="also run generic Splink 5")
    parser.add_argument("--generic-cap-gb", type=float, default=12.0)
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--on-disk", action="store_true", help="DuckDB database file, not memory")
    parser.add_argument(
        "--duckdb-memory-limit",
        help="e.g. 4GB: sets MIGRANT_LINKAGE_DUCKDB_MEMORY_LIMIT for our job (DuckDB spills beyond it)",
    )
    parser.add_argument("--data", default="/tmp/ml-scale", help="cache of generated records")
    parser.add_argument(
        "--chunk-students",
        type=int,
        default=CHUNK_STUDENTS,
        help="generate more children than this a chunk at a time (bounded memory)",
    )
    parser.add_argument("--out", default="benchmarks/out/scale")
    # child-process arguments
    parser.add_argument("--child", choices=sorted(JOBS), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--population", help=argparse.SUPPRESS)
    parser.add_argument("--upload", help=argparse.SUPPRESS)
    parser.add_argument("--upload-records", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--students", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--keep-population", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.job = args.child
        _child_main(args)
        return

    import duckdb
    import splink

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    report: dict[str, Any] = {
        "command": " ".join(["python3", *sys.argv]),
        "commit": commit,
        "machine": f"{platform.machine()} {platform.system()}",
        "cores": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "splink": splink.__version__,
        "runs": [],
    }
    largest = max(args.sizes)
    for size in sorted(args.sizes):
        # Every size holds out the same share of its records (50,000 at the largest size), so
        # each population keeps the same records per child: holding out 50,000 at every size
        # would thin the small populations (a third of 150,000 records) and make their
        # comparisons per record incomparable.
        held_out = round(size * UPLOAD_RECORDS / largest)
        students = _students_for(size + held_out, args.seed)
        # Data generated in chunks differs from one generate() call: its own cache key.
        key = f"{size}_{args.seed}_h{held_out}"
        if students > args.chunk_students:
            key += f"_c{args.chunk_students}"
        population = data / f"population_{key}.parquet"
        upload = data / f"upload_{key}.parquet"
        common = {"size": size, "work": str(data), "population": population, "upload": upload}
        run: dict[str, Any] = {"size": size}
        if not (population.exists() and upload.exists()):
            run["generate"] = run_child(
                "generate",
                None,
                seed=args.seed,
                upload_records=held_out,
                students=students,
                chunk_students=args.chunk_students,
                **common,
            )
            print(json.dumps(run["generate"], indent=1), file=sys.stderr)
        _records_without_truth(population)  # written here, not in the timed child
        run["ours"] = run_child(
            "ours",
            None,
            on_disk=args.on_disk,
            duckdb_memory_limit=args.duckdb_memory_limit,
            keep_population=args.incremental and size == largest,
            **common,
        )
        print(json.dumps(run["ours"], indent=1), file=sys.stderr)
        if args.generic:
            run["generic"] = run_child("generic", args.generic_cap_gb, **common)
            print(json.dumps(run["generic"], indent=1), file=sys.stderr)
        report["runs"].append(run)
        if size == largest and args.incremental:
            report["incremental"] = run_child("incremental", None, **common)
            print(json.dumps(report["incremental"], indent=1), file=sys.stderr)
        (out / "scale.json").write_text(json.dumps(report, indent=2, default=str))
    text = markdown(report)
    (out / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
