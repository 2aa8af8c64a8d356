"""Where training's u estimate spends its time, comparison by comparison (issue 20).

    flock /tmp/heavy.lock python3 benchmarks/u_timing.py \\
        --population /tmp/ml-scale/population_200000_0_h10000.parquet

Standardizes the records, then trains the model as `Model().train` does (seed 42) with Splink's
`splink.internals.estimate_u` logger at INFO, and times the stretch between its "Estimating u
for: <comparison>" lines: the seconds Splink spends evaluating each comparison's SQL over the
random sample's pairs (model.U_SAMPLE_PAIRS). Prints a Markdown table: standardize and train
seconds, and the u seconds per comparison. Run it from a snapshot of each commit to compare.
Comparison names and seconds only in the output.
"""

from __future__ import annotations

import argparse
import logging
import re
import time

import pandas as pd

_STARTS = re.compile(r"Estimating u for: (\w+)")


class _Stopwatch(logging.Handler):
    """Records (time, comparison or None) at each comparison's start and at the end of u."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.marks: list[tuple[float, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = _STARTS.search(message)
        if found:
            self.marks.append((time.perf_counter(), found.group(1)))
        elif "Estimated u probabilities" in message:
            self.marks.append((time.perf_counter(), None))

    def seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (start, name), (end, _) in zip(self.marks, self.marks[1:], strict=False):
            if name is not None:
                out[name] = out.get(name, 0.0) + end - start
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", required=True, help="records (Parquet)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from migrant_linkage.model import Model
    from migrant_linkage.standardize import standardize

    records = pd.read_parquet(args.population)
    started = time.perf_counter()
    standardized = standardize(records, source_name="benchmark").standardized
    standardize_seconds = time.perf_counter() - started

    logging.getLogger("splink").setLevel(logging.ERROR)  # an explicit level: model keeps it
    estimate_u = logging.getLogger("splink.internals.estimate_u")
    estimate_u.setLevel(logging.INFO)
    stopwatch = _Stopwatch()
    estimate_u.addHandler(stopwatch)
    started = time.perf_counter()
    Model().train(standardized, seed=args.seed)
    train_seconds = time.perf_counter() - started
    per_comparison = stopwatch.seconds()

    print(f"{len(standardized):,} records")
    print("| step | seconds |\n|---|---:|")
    print(f"| standardize | {standardize_seconds:.1f} |")
    print(f"| train | {train_seconds:.1f} |")
    print(f"| of which u, all comparisons | {sum(per_comparison.values()):.1f} |")
    for name, seconds in per_comparison.items():
        print(f"| u: {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
