"""Time the synthetic generator on about 1,000,000 records (target: under 60 s).

    flock /tmp/heavy.lock python3 benchmarks/synth_1m.py [--records 1000000] [--seed 0]

Prints a table: stage, seconds, records. The number of students is chosen from a small pilot so
the output has about the requested number of records.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from migrant_linkage.synthetic import generate, write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pilot = generate(20_000, seed=args.seed + 1)
    n_students = int(args.records * 20_000 / len(pilot))

    rows = []
    t0 = time.perf_counter()
    df = generate(n_students, seed=args.seed)
    rows.append(("generate", time.perf_counter() - t0, len(df)))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("records.parquet", "records.csv"):
            t0 = time.perf_counter()
            write(df, Path(tmp) / name)
            size = (Path(tmp) / name).stat().st_size
            rows.append((f"write {name} ({size / 1e6:.0f} MB)", time.perf_counter() - t0, len(df)))

    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"students: {n_students:,}   records: {len(df):,}   seed: {args.seed}")
    print(f"{'stage':<34} {'seconds':>8} {'records':>10} {'records/s':>10}")
    for stage, seconds, n in rows:
        print(f"{stage:<34} {seconds:>8.1f} {n:>10,} {n / seconds:>10,.0f}")


if __name__ == "__main__":
    main()
