"""How often reconcile gives a record the category the two-system generator planted.

    python benchmarks/reconcile_accuracy.py --children 5000 --seeds 1 2 3

Prints, per planted category, the records planted, the share given that category (recall),
and the share of the records given a category that were planted with it (precision), over
all seeds, plus the time per run. The generator is one data set among several, and its rates
are illustrations (synthetic/systems.py): read the figures as a check that each rule does
what it says, not as accuracy on a state's real systems.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

from migrant_linkage.reconcile import reconcile
from migrant_linkage.synthetic.systems import TRUE_CATEGORY_COLUMN, two_systems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--state", default="TX")
    args = parser.parse_args()
    merged, seconds = [], []
    for seed in args.seeds:
        systems = two_systems(args.children, seed=seed, state=args.state)
        started = time.perf_counter()
        result = reconcile(
            systems.migrant.drop(columns=[TRUE_CATEGORY_COLUMN]),
            systems.state.drop(columns=[TRUE_CATEGORY_COLUMN]),
        )
        seconds.append(time.perf_counter() - started)
        truth = pd.concat(
            [systems.migrant.assign(system="migrant"), systems.state.assign(system="state")]
        )[["system", "record_id", TRUE_CATEGORY_COLUMN]]
        merged.append(result.records.merge(truth, on=["system", "record_id"]))
    rows = pd.concat(merged, ignore_index=True)
    planted, found = rows[TRUE_CATEGORY_COLUMN], rows["category"]
    table = []
    for category in sorted(set(planted) | set(found)):
        hit = ((planted == category) & (found == category)).sum()
        table.append(
            {
                "category": category,
                "planted": int((planted == category).sum()),
                "found": int((found == category).sum()),
                "recall": hit / max((planted == category).sum(), 1),
                "precision": hit / max((found == category).sum(), 1),
            }
        )
    print(
        f"$ python benchmarks/{' '.join(sys.argv)}".replace("benchmarks/benchmarks/", "benchmarks/")
    )
    print(
        f"records: {len(rows)} over seeds {args.seeds}; reconcile {sum(seconds) / len(seconds):.1f} s per run"
    )
    print(pd.DataFrame(table).to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
