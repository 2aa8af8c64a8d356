"""Accuracy cost of privacy-preserving (encoded) linkage against plain linkage.

    python benchmarks/privacy_accuracy.py --students 3000 --seed 1

Generates synthetic migrant records with known truth, standardizes them once, then

* plain: migrant_linkage.engine.dedupe, trained on the records (no labels);
* encoded: migrant_linkage.privacy.encode with a random secret, then train_encoded and
  dedupe_encoded on the encoded table (no names or dates in clear);

scores both with migrant_linkage.evaluate (pairwise precision, recall, F1 of the proposed
students, false merges of twins and siblings, and the worklist), and prints a Markdown table
and the command. Heavy runs on the shared machine go under the lock:

    flock /tmp/heavy.lock python benchmarks/privacy_accuracy.py --students 3000 --seed 1
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import sys
import time

import pandas as pd

from migrant_linkage import privacy, synthetic
from migrant_linkage.engine import dedupe
from migrant_linkage.evaluate import evaluate, truth_from_records
from migrant_linkage.schema import TRUTH_COLUMNS
from migrant_linkage.standardize import standardize


def _row(name: str, result, truth: pd.DataFrame, seconds: float) -> dict[str, object]:
    scores = evaluate(truth, result.clusters, worklist=result.worklist)
    clusters = scores.clusters
    return {
        "linkage": name,
        "precision": f"{clusters.precision:.4f}",
        "recall": f"{clusters.recall:.4f}",
        "F1": f"{clusters.f1:.4f}",
        "twin/sibling false merges": clusters.twin_sibling_false_merges,
        "other false merges": clusters.other_false_merges,
        "worklist pairs": len(result.worklist),
        "worklist recall": f"{scores.worklist_recall:.3f}" if scores.worklist else "n/a",
        "seconds": f"{seconds:.1f}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    raw = synthetic.generate(args.students, seed=args.seed)
    truth = truth_from_records(raw)
    standardized = standardize(raw).standardized

    started = time.perf_counter()
    plain = dedupe(raw, train=True)
    plain_seconds = time.perf_counter() - started

    started = time.perf_counter()
    encoded = privacy.encode(standardized, secrets.token_hex(32), keep_columns=list(TRUTH_COLUMNS))
    encode_seconds = time.perf_counter() - started
    encoded_model = privacy.train_encoded(encoded.drop(columns=list(TRUTH_COLUMNS)))
    private = privacy.dedupe_encoded(encoded.drop(columns=list(TRUTH_COLUMNS)), model=encoded_model)
    private_seconds = time.perf_counter() - started

    rows = [
        _row("plain (engine.dedupe, trained)", plain, truth, plain_seconds),
        _row("encoded (HMAC + Bloom, trained)", private, truth, private_seconds),
    ]
    table = pd.DataFrame(rows)
    command = "python benchmarks/privacy_accuracy.py " + shlex.join(
        ["--students", str(args.students), "--seed", str(args.seed)]
    )
    print(f"`{command}`\n")
    print(
        f"{len(raw):,} records of {args.students:,} synthetic children "
        f"(seed {args.seed}); encoding took {encode_seconds:.1f} s\n"
    )
    print(_markdown(table))
    return 0


def _markdown(table: pd.DataFrame) -> str:
    """A Markdown table (without the optional 'tabulate' dependency of DataFrame.to_markdown)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
