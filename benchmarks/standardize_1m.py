"""Time `standardize` on about 1,000,000 synthetic records (target: under 60 s on 2 cores).

    flock /tmp/heavy.lock python3 benchmarks/standardize_1m.py [--records 1000000] [--seed 0]
    flock /tmp/heavy.lock python3 benchmarks/standardize_1m.py --input records.parquet
    ... --stages     # also time each stage alone (a second pass over the same frame)

Input: the synthetic generator (`migrant_linkage.synthetic.generate`), with the number of
students chosen from a small pilot so the output has about the requested number of records; or
an existing CSV/Parquet file. Generating is not timed. Prints a Markdown table and the command.
Peak RSS is the whole process's high-water mark (resource.getrusage), so it includes the input
frame and, when generating, the generator's own peak; the RSS before standardizing is printed too.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import pandas as pd

from migrant_linkage.io import read_records
from migrant_linkage.standardize import codes, standardize
from migrant_linkage.standardize.dates import parse_dates, parse_enrollment_dates
from migrant_linkage.standardize.names import standardize_names


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def synthetic_records(n_records: int, seed: int) -> pd.DataFrame:
    from migrant_linkage.synthetic import generate

    pilot = generate(20_000, seed=seed + 1)
    return generate(int(n_records * 20_000 / len(pilot)), seed=seed)


def stage_times(frame: pd.DataFrame) -> list[tuple[str, float]]:
    """Each stage alone, on the same frame, to show where the time goes."""
    timings = []

    def timed(label, function):
        start = time.perf_counter()
        result = function()
        timings.append((label, time.perf_counter() - start))
        return result

    raw = timed("read_records (DataFrame -> text)", lambda: read_records(frame))
    timed("names (standardize_names)", lambda: standardize_names(raw))
    timed("birth dates", lambda: parse_dates(raw["birth_date"]))
    timed("enrollment dates", lambda: parse_enrollment_dates(raw["enrollment_date"]))
    timed(
        "codes (sex, states, places, ids)",
        lambda: (
            codes.standardize_sex(raw["sex"]),
            codes.standardize_state(raw["state"]),
            codes.standardize_birth_place(raw["birth_state"], raw["birth_country"]),
            codes.standardize_msix_id(raw["msix_id"]),
            codes.standardize_multiple_birth(raw["multiple_birth"]),
            codes.standardize_birth_date_verification(raw["birth_date_verification"]),
        ),
    )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", type=Path, help="standardize this CSV/Parquet file instead")
    parser.add_argument("--stages", action="store_true", help="also time each stage alone")
    args = parser.parse_args()

    if args.input is not None:
        source: object = args.input
        label = args.input.name
    else:
        source = synthetic_records(args.records, args.seed)
        label = f"synthetic (seed {args.seed})"
    rss_before = peak_rss_mb()

    start = time.perf_counter()
    result = standardize(source)
    seconds = time.perf_counter() - start
    counts = result.counts

    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    print()
    print("| input | records in | standardized | rejected | seconds | records/s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {label} | {counts['records_in']:,} | {counts['standardized']:,} | "
        f"{counts['rejected']:,} | {seconds:.1f} | {counts['records_in'] / seconds:,.0f} | "
        f"{peak_rss_mb():,.0f} |"
    )
    print(f"\npeak RSS before standardizing (input in memory): {rss_before:,.0f} MB")

    if args.stages:
        frame = source if isinstance(source, pd.DataFrame) else read_records(source)
        print("\n| stage (alone) | seconds |")
        print("|---|---:|")
        for stage, stage_seconds in stage_times(frame):
            print(f"| {stage} | {stage_seconds:.1f} |")


if __name__ == "__main__":
    main()
