"""How many random pairs the u-probabilities need (issue 20): weights and accuracy, per seed.

    flock /tmp/heavy.lock python3 benchmarks/u_sample.py --pairs 3e5 --chunks 1 \\
        --population /tmp/ml-scale/population_200000_0_h10000.parquet --seeds 42 43 44

Training estimates u from the pairs of a random sample of records (Splink's
estimate_u_using_random_sampling); that step cost 6 of the 9 s of training at 200k records and
does not shrink with the population. For each seed this trains the model twice on the same
standardized records, with the current u sample (model.U_SAMPLE_PAIRS pairs in
model.U_SAMPLE_CHUNKS of Splink's chunks) and a candidate (--pairs, --chunks), then runs the
dedupe with each model (train=False, same records) and scores the clusters against the
synthetic truth.

Prints, per comparison level, the match weight of both at the first seed, |difference|, and how
far the current setting's weight itself moves between seeds (max - min): the noise the default
already carries. A level is "within" when |difference| <= max(0.25 bits, that spread). Then
precision, recall and F1 per setting and seed, and the training seconds. Record ids and counts
only in the output.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

TRUTH = ("true_student_id", "true_family_id")
#: A weight moved by at most this many bits is the same weight for every decision we make
#: (the zone thresholds are whole bits apart).
TOLERANCE_BITS = 0.25


def _train(std: pd.DataFrame, seed: int, pairs: float, chunks: int) -> tuple[object, float]:
    from migrant_linkage import model as model_module

    saved = model_module.U_SAMPLE_CHUNKS
    model_module.U_SAMPLE_CHUNKS = chunks
    try:
        started = time.perf_counter()
        trained = model_module.Model().train(std, seed=seed, max_u_pairs=pairs)
        return trained, time.perf_counter() - started
    finally:
        model_module.U_SAMPLE_CHUNKS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", required=True, help="records with the synthetic truth")
    parser.add_argument("--pairs", type=float, default=3e5, help="candidate u sample (pairs)")
    parser.add_argument("--chunks", type=int, default=1, help="candidate's Splink chunks")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    args = parser.parse_args()

    from migrant_linkage import model as model_module
    from migrant_linkage.engine import dedupe
    from migrant_linkage.evaluate import score_clusters, truth_from_records
    from migrant_linkage.sources import standardize_all

    raw = pd.read_parquet(args.population)
    truth = truth_from_records(raw)
    raw = raw.drop(columns=list(TRUTH))
    std = standardize_all([raw], ["input1"], None, None).records
    current = (model_module.U_SAMPLE_PAIRS, model_module.U_SAMPLE_CHUNKS)
    settings = {
        f"current ({current[0]:.0e} pairs, {current[1]} chunks)": current,
        f"candidate ({args.pairs:.0e} pairs, {args.chunks} chunks)": (args.pairs, args.chunks),
    }
    weights: dict[tuple[str, int], pd.Series] = {}
    accuracy = []
    for name, (pairs, chunks) in settings.items():
        for seed in args.seeds:
            trained, seconds = _train(std, seed, pairs, chunks)
            weights[(name, seed)] = trained.weights().set_index(["comparison", "level"])[
                "match_weight"
            ]
            scores = score_clusters(
                truth, dedupe(raw, model=trained, train=False).clusters[["record_id", "cluster_id"]]
            )
            accuracy.append(
                {
                    "setting": name,
                    "seed": seed,
                    "train_s": round(seconds, 1),
                    "precision": round(scores.precision, 4),
                    "recall": round(scores.recall, 4),
                    "f1": round(scores.f1, 4),
                    "twin_sibling_false_merges": scores.twin_sibling_false_merges,
                }
            )
            print(accuracy[-1], file=sys.stderr, flush=True)

    old, new = settings
    first = args.seeds[0]
    table = pd.DataFrame({"current": weights[(old, first)], "candidate": weights[(new, first)]})
    table["abs_diff"] = (table["candidate"] - table["current"]).abs()
    old_seeds = pd.DataFrame({s: weights[(old, s)] for s in args.seeds})
    table["current_seed_spread"] = old_seeds.max(axis=1) - old_seeds.min(axis=1)
    table["within"] = table["abs_diff"] <= table["current_seed_spread"].clip(lower=TOLERANCE_BITS)
    print(f"python3 {' '.join(sys.argv)}\n")
    print(f"Match weights at seed {first} (bits); current = {old}, candidate = {new}\n")
    print(table.round(2).to_string())
    worst = table["abs_diff"].idxmax()
    print(
        f"\nmax |difference| {table['abs_diff'].max():.2f} bits ({worst[0]} {worst[1]}); "
        f"mean {table['abs_diff'].mean():.2f}; levels within tolerance "
        f"{int(table['within'].sum())} of {len(table)}\n"
    )
    print(pd.DataFrame(accuracy).to_string(index=False))


if __name__ == "__main__":
    main()
