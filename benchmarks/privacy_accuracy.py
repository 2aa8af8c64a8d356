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

`--before COMMIT` adds a row for the encoding of an earlier commit (loaded from git as in
privacy_attack.py), so a hardening is measured against what it replaced in one run.
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
from migrant_linkage.standardize import standardize
from privacy_attack import load_encoding_at


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
    parser.add_argument("--before", help="also run the encoding of this commit (e.g. 081f2a2)")
    args = parser.parse_args(argv)

    raw = synthetic.generate(args.students, seed=args.seed)
    truth = truth_from_records(raw)
    standardized = standardize(raw).standardized

    started = time.perf_counter()
    plain = dedupe(raw, train=True)
    plain_seconds = time.perf_counter() - started

    encodings = [(f"encoded ({privacy.ENCODING_VERSION}, trained)", privacy)]
    if args.before:
        before = load_encoding_at(args.before)
        encodings.insert(0, (f"encoded ({before.ENCODING_VERSION}, trained)", before))
    rows = [_row("plain (engine.dedupe, trained)", plain, truth, plain_seconds)]
    encode_seconds = 0.0
    for label, module in encodings:
        started = time.perf_counter()
        encoded = module.encode(standardized, secrets.token_hex(32))
        encode_seconds = time.perf_counter() - started
        encoded_model = module.train_encoded(encoded)
        private = module.dedupe_encoded(encoded, model=encoded_model)
        rows.append(_row(label, private, truth, time.perf_counter() - started))
    table = pd.DataFrame(rows)
    options = ["--students", str(args.students), "--seed", str(args.seed)]
    options += ["--before", args.before] if args.before else []
    command = "python benchmarks/privacy_accuracy.py " + shlex.join(options)
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
