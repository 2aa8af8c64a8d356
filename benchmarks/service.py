"""Service benchmark (issue 16): search and match latency against a 1M-record master index, and
the throughput of 8 concurrent HTTP clients.

    flock /tmp/heavy.lock python3 benchmarks/service.py --records 1000000

1. Generates synthetic records once (cached as Parquet under --data) and builds the index once
   (cached under --data; rebuilt with --rebuild). The index is **bulk-loaded**: the records are
   standardized by the upload's code and written to the records table with the student of the
   synthetic truth, then the search keys and term frequencies are built by the same function
   an upload calls (review.search.refresh). A million-record index built through uploads takes
   far longer (docs/review-workflow.md, "Limits"); search and match read the records, keys and
   frequencies only, so their latency does not depend on how the students were formed.
2. Latency, one caller at a time, through the library as the server calls it (one Searcher, the
   index held open): `search` by full record, by name only (no birth date), by birth date only,
   and `match` (no commit) of a record from outside the index (the held-out share). Each query
   is a different record, drawn with --seed; p50, p95 and max in milliseconds.
3. Throughput: the server (uvicorn on 127.0.0.1) with 8 client threads posting /api/search and
   /api/match for --seconds; requests per second and the clients' p50 / p95.

Prints a Markdown table and the command; --out writes it as JSON and Markdown. Record keys and
counts only in the output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import random
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RECORDS_PER_STUDENT = 2.68  # the generator's default (benchmarks/scale.py measured 2.678)
HELD_OUT = 0.05  # share of the generated records kept out of the index: match queries
BENCH_ACCOUNT = "bench.tx"


def _generate(n_records: int, seed: int, data: Path) -> Path:
    from migrant_linkage.synthetic import generate

    path = data / f"records_{n_records}_{seed}.parquet"
    if path.exists():
        return path
    students = int(n_records * (1 + HELD_OUT) / RECORDS_PER_STUDENT)
    frame = generate(students, seed=seed)
    data.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def _build(records_path: Path, index_path: Path, n_records: int) -> dict[str, Any]:
    """Bulk-load the index (see the module docstring); returns timings."""
    import pandas as pd

    from migrant_linkage.review import MasterIndex
    from migrant_linkage.review import search as search_module
    from migrant_linkage.review.store import record_columns, run_in_transaction
    from migrant_linkage.review.upload import prepare
    from migrant_linkage.standardize import standardize

    started = time.perf_counter()
    frame = pd.read_parquet(records_path)
    held = frame.sample(frac=HELD_OUT, random_state=1)
    kept = frame.drop(held.index).head(n_records).reset_index(drop=True)
    result = standardize(kept)
    prepared = prepare(result.standardized, None)
    truth = prepared["true_student_id"].astype(str)
    codes, _ = pd.factorize(truth, sort=True)
    prepared["student_id"] = [f"S{c + 1:09d}" for c in codes]  # one string per record, once
    prepared["version"] = 1
    prepared["uploaded_in"] = 1
    prepared["active"] = True
    prepared["replaced_in"] = pd.NA
    standardized_at = time.perf_counter()
    if index_path.exists():
        index_path.unlink()
    MasterIndex.create(index_path, administrator="admin")

    def load(con):
        select = []
        for name, typ in record_columns():
            base = typ.split()[0]
            select.append(
                f"CAST({name} AS {base})" if name in prepared.columns else f"CAST(NULL AS {base})"
            )
        con.register("_rows", prepared[[c for c, _ in record_columns() if c in prepared]])
        con.execute(f"INSERT INTO records SELECT {', '.join(select)} FROM _rows")
        con.unregister("_rows")
        con.execute("INSERT INTO students SELECT DISTINCT student_id, now(), 0, NULL FROM records")
        con.execute(
            "UPDATE meta SET value = CAST((SELECT count(*) FROM students) + 1 AS VARCHAR) "
            "WHERE key = 'next_student_seq'"
        )
        search_module.refresh(con, None)

    run_in_transaction(index_path, load, timeout=60)
    held.reset_index(drop=True).to_parquet(index_path.with_suffix(".held_out.parquet"))
    return {
        "records": len(prepared),
        "students": int(prepared["student_id"].nunique()),
        "standardize_seconds": round(standardized_at - started, 1),
        "load_and_keys_seconds": round(time.perf_counter() - standardized_at, 1),
    }


def _queries(index_path: Path, n: int, seed: int) -> dict[str, list[dict[str, str]]]:
    import duckdb
    import pandas as pd

    from migrant_linkage.review.search_fields import QUERY_FIELDS
    from migrant_linkage.schema import INPUT_COLUMNS

    con = duckdb.connect(str(index_path), read_only=True)
    try:
        sample = con.execute(
            # The birth date as a person types it into a search: the standardized date (a raw
            # date is read in its file's declared or inferred format, which a query lacks).
            f"SELECT * REPLACE (CAST(birth_date_std AS VARCHAR) AS birth_date) FROM "
            f"(SELECT {', '.join(QUERY_FIELDS)}, birth_date_std FROM records WHERE active) "
            f"USING SAMPLE {n * 3} ROWS "
            f"(reservoir, {seed})"
        ).df()
    finally:
        con.close()
    held = pd.read_parquet(index_path.with_suffix(".held_out.parquet"))

    def clean(row: dict[str, Any], fields) -> dict[str, str]:
        return {k: str(v) for k, v in row.items() if k in fields and isinstance(v, str) and v}

    rows = sample.to_dict("records")

    def has(row: dict[str, Any], *fields: str) -> bool:
        return all(isinstance(row.get(f), str) and row[f] for f in fields)

    named = [r for r in rows if has(r, "first_name", "last_name_1")][:n]
    dated = [r for r in rows if has(r, "birth_date")][:n]
    incoming = held.sample(n=min(n, len(held)), random_state=seed).to_dict("records")
    return {
        "search: full record": [clean(r, QUERY_FIELDS) for r in rows[:n]],
        "search: name only": [
            {"first_name": r["first_name"], "last_name_1": r["last_name_1"]} for r in named
        ],
        "search: birth date only": [{"birth_date": r["birth_date"]} for r in dated],
        "match: held-out record": [clean(r, INPUT_COLUMNS) for r in incoming],
    }


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": round(p(0.50) * 1000, 1),
        "p95_ms": round(p(0.95) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def _latency(service, queries: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    from migrant_linkage.review import held_keys
    from migrant_linkage.review import search as search_module
    from migrant_linkage.review.match import match

    out: dict[str, Any] = {}
    warm = next(iter(queries.values()))[0]
    started = time.perf_counter()
    search_module.search(service.index, {k: v for k, v in warm.items()})  # opens the session
    first = time.perf_counter()
    held_keys.wait_for_loading(service.index.path)  # the keys load beside the searches
    out["_first_search"] = {  # loads the in-memory copies (candidates.py, held_keys.py)
        "first_search_ms": round((first - started) * 1000, 1),
        "keys_loaded_ms": round((time.perf_counter() - started) * 1000, 1),
        "resident_mb_after": _resident_mb(),
    }
    pauses = _GcPauses()
    for name, batch in queries.items():
        times, scored, found = [], [], 0
        steps: dict[str, list[float]] = {}
        for q in batch:
            started = time.perf_counter()
            if name.startswith("match"):
                outcome = match(service.index, q)
                found += outcome.outcome != "new"
                scored.append(outcome.search.get("records_scored", 0))
            else:
                result = search_module.search(service.index, q)
                found += result.total > 0
                scored.append(result.records_scored)
                for step, ms in result.timings.items():
                    steps.setdefault(step, []).append(ms)
            times.append(time.perf_counter() - started)
        out[name] = {
            **_percentiles(times),
            "records_scored_mean": round(statistics.fmean(scored), 1),
            "with_candidates": found,
            # median ms per step of Searcher.search (searches only; match adds its own look-up)
            "steps_median_ms": {k: round(statistics.median(v), 1) for k, v in steps.items()},
        }
    out["_first_search"]["gc"] = pauses.stop()
    return out


def _resident_mb() -> float:
    """This process's resident memory (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class _GcPauses:
    """The garbage collector's pauses while the latency queries run (a tail suspect)."""

    def __init__(self) -> None:
        import gc

        self._gc, self._started, self.pauses = gc, 0.0, {0: [], 1: [], 2: []}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def stop(self) -> dict[str, Any]:
        self._gc.callbacks.remove(self._callback)
        return {
            f"gen{g}": {"n": len(p), "max_ms": round(max(p, default=0.0), 1)}
            for g, p in self.pauses.items()
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _throughput(service, queries, *, clients: int, seconds: float) -> dict[str, Any]:
    import httpx
    import uvicorn

    from migrant_linkage.service.app import create_app

    with contextlib.suppress(ValueError):  # added by an earlier run
        service.index.add_account(
            BENCH_ACCOUNT, display_name="benchmark", role="reviewer", state="TX", actor="admin"
        )
    token = service.accounts.issue_token(BENCH_ACCOUNT, "TX")
    app = create_app(service.path, service=service)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    pool = [
        ("/api/search", {k: v for k, v in q.items()})
        for name, batch in queries.items()
        if name.startswith("search")
        for q in batch
    ] + [("/api/match", {"record": q}) for q in queries["match: held-out record"]]
    times: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as http:
            while time.monotonic() < until:
                path, body = rng.choice(pool)
                started = time.perf_counter()
                r = http.post(path, json=body)
                spent = time.perf_counter() - started
                with lock:
                    times.append(spent)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    server.should_exit = True
    thread.join(timeout=30)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(times),
        "requests_per_second": round(len(times) / wall, 1),
        "statuses": statuses,
        **_percentiles(times),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Index: {report['build']['records']:,} active records, "
        f"{report['build']['students']:,} students (bulk-loaded; see benchmarks/service.py).",
        "",
        "| query | n | p50 ms | p95 ms | max ms | records scored (mean) | with candidates |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    first = report["latency"].get("_first_search")
    rows = {k: v for k, v in report["latency"].items() if not k.startswith("_")}
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['n']} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | "
            f"{row['records_scored_mean']} | {row['with_candidates']} |"
        )
    kinds = [k for k, row in rows.items() if row.get("steps_median_ms")]
    if kinds:
        names = list(
            dict.fromkeys(n for k in kinds for n in report["latency"][k]["steps_median_ms"])
        )
        lines += ["", "| step (median ms) | " + " | ".join(kinds) + " |"]
        lines.append("|---|" + "---:|" * len(kinds))
        for n in names:
            cells = [str(report["latency"][k]["steps_median_ms"].get(n, "")) for k in kinds]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    if first:
        gc = ", ".join(f"{g}: {v['n']} (max {v['max_ms']} ms)" for g, v in first["gc"].items())
        lines += [
            "",
            f"First search (loads the compared columns; the keys and students load beside it): "
            f"{first['first_search_ms']} ms; keys and students loaded after "
            f"{first['keys_loaded_ms']} ms; resident memory then: {first['resident_mb_after']} MB.",
            f"Garbage collections during the latency queries: {gc}.",
        ]
    t = report.get("throughput")
    if t:
        lines += [
            "",
            "| HTTP clients | seconds | requests | requests/s | p50 ms | p95 ms | statuses |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {t['clients']} | {t['seconds']} | {t['requests']} | {t['requests_per_second']} | "
            f"{t['p50_ms']} | {t['p95_ms']} | {t['statuses']} |",
        ]
    lines += ["", f"Command: `{report['command']}`", f"Machine: {report['machine']}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="queries per kind")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("/tmp/ml-service-bench"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--build-only", action="store_true", help="build the index and stop")
    args = parser.parse_args()

    from migrant_linkage.model import quiet_splink
    from migrant_linkage.service.state import Service

    quiet_splink()
    args.data.mkdir(parents=True, exist_ok=True)
    index_path = args.data / f"index_{args.records}.duckdb"
    build_file = index_path.with_suffix(".build.json")
    if args.rebuild or not index_path.exists() or not build_file.exists():
        records_path = _generate(args.records, args.seed, args.data)
        build_file.write_text(json.dumps(_build(records_path, index_path, args.records)))
    build = json.loads(build_file.read_text())
    if args.build_only:
        print(json.dumps(build))
        return
    queries = _queries(index_path, args.queries, args.seed)
    service = Service(index_path)
    try:
        latency = _latency(service, queries)
        throughput = _throughput(service, queries, clients=args.clients, seconds=args.seconds)
    finally:
        service.close()
    report = {
        "build": build,
        "latency": latency,
        "throughput": throughput,
        "command": "python3 benchmarks/service.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
    table = markdown(report)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "service.json").write_text(json.dumps(report, indent=2, default=str))
        (args.out / "service.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
