"""Comparisons generated per blocking rule, per input record, as the population grows.

    python benchmarks/blocking_comparisons.py --records 10000 100000

For each size, synthesizes migrant records (the project's generator, about 2.85 records per
child), standardizes them and counts, exactly, the pairs each prediction rule adds (Splink's
count_comparisons_from_blocking_rules, marginal and cumulative). Prints a Markdown table. Heavy
sizes go under the lock: `flock /tmp/heavy.lock python benchmarks/blocking_comparisons.py ...`.
"""

from __future__ import annotations

import argparse
import time

from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from migrant_linkage import blocking, synthetic
from migrant_linkage.standardize import standardize

RECORDS_PER_CHILD = 2.85  # the generator's default mean, measured


def count(records: int, seed: int) -> tuple[int, list[int], float]:
    frame = synthetic.generate(max(1, round(records / RECORDS_PER_CHILD)), seed=seed)
    standardized = standardize(frame, source_name="synthetic").standardized
    started = time.perf_counter()
    rows = count_comparisons_from_blocking_rules(
        DuckDBAPI().register(standardized),
        blocking_rules=blocking.prediction_blocking_rules(),
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        record_sample_proportion=1.0,
    )
    seconds = time.perf_counter() - started
    return len(standardized), [int(r["marginal_comparison_count"]) for r in rows], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    results = [count(n, args.seed) for n in args.records]
    sizes = " | ".join(f"{n:,} records" for n, _, _ in results)
    print(f"| rule | {sizes} |")
    print("|---|" + "---:|" * len(results))
    for i, sql in enumerate(blocking.rule_descriptions()):
        cells = " | ".join(f"{per_rule[i] / n:.3f}" for n, per_rule, _ in results)
        print(f"| {i}: `{sql}` | {cells} |")
    totals = " | ".join(f"**{sum(per_rule) / n:.2f}**" for n, per_rule, _ in results)
    print(f"| comparisons per record | {totals} |")
    pairs = " | ".join(f"{sum(per_rule):,}" for _, per_rule, _ in results)
    print(f"| comparisons | {pairs} |")
    seconds = " | ".join(f"{s:.1f}" for _, _, s in results)
    print(f"| counting time, s | {seconds} |")


if __name__ == "__main__":
    main()
