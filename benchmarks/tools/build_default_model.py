"""Rebuild the model shipped in the package (src/migrant_linkage/data/default_model.json).

The default model is trained without labels, exactly as `Model().train()` trains on a state's
data, on the project's synthetic migrant records (no real child is in it). It lets a user score
without training first; `dedupe(..., train=True)` trains on their own data instead.

    python benchmarks/tools/build_default_model.py            # 20,000 children, seed 2026
    python benchmarks/tools/build_default_model.py --students 5000 --out /tmp/model.json

Prints the trained weight of every comparison level (the table in docs/usage.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from migrant_linkage import synthetic
from migrant_linkage.model import Model
from migrant_linkage.standardize import standardize

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "src/migrant_linkage/data/default_model.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    started = time.perf_counter()
    records = synthetic.generate(args.students, seed=args.seed)
    standardized = standardize(records, source_name="synthetic").standardized
    model = Model().train(standardized, seed=args.seed)
    model.save(args.out)
    weights = model.weights()
    print(f"trained on {len(standardized):,} synthetic records of {args.students:,} children")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f}s\n")
    print("| comparison | level | m | u | weight |")
    print("|---|---|---:|---:|---:|")
    for row in weights.itertuples(index=False):
        print(
            f"| {row.comparison} | {row.level} | {row.m_probability:.4f} | "
            f"{row.u_probability:.6f} | {row.match_weight:+.2f} |"
        )


if __name__ == "__main__":
    main()
