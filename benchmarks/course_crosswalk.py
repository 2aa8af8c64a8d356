"""How often the course crosswalk puts the right catalogue course first, or in its top three.

    python benchmarks/course_crosswalk.py [--generated 5000] [--seed 1]

Two data sets, reported separately, both against the shipped EXAMPLE catalogue at the default
settings (no remembered mappings):

* hand-labelled: tests/data/course_titles_labelled.csv, titles written by hand in state styles
  (and Mexican secundaria/preparatoria titles), not by our generator;
* generated: migrant_linkage.synthetic.courses.generate_course_titles (our generator: one data
  set among several, not the truth).

top-1: the true course is the first suggestion; top-3: it is among the first three. A rejected
title counts as a miss. Also prints the figures per state (labelled) and per style applied
(generated), and the speed of mapping the generated set (and of a large file: the generated titles
repeated `--repeat` times; the work is once per distinct title). JSON goes to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from migrant_linkage.courses import (
    example_catalogue_path,
    map_titles,
    normalize_titles,
    read_catalogue,
)  # noqa: E402
from migrant_linkage.synthetic.courses import generate_course_titles  # noqa: E402
from run_info import git_commit, json_ready  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "course_titles_labelled.csv"
TOP = 3


def placed(titles: pd.DataFrame, catalogue) -> pd.DataFrame:
    """Each title with the rank of its true course among the suggestions (NA when not there)."""
    out = []
    for state, group in titles.groupby("state", sort=True):
        group = group.reset_index(drop=True)
        result = map_titles(group, catalogue, state=state, top=TOP)
        truth = group.assign(row=range(1, len(group) + 1))[["row", "true_course_id"]]
        hits = result.suggestions.merge(truth, on="row")
        hits = hits[hits["course_id"] == hits["true_course_id"]].groupby("row")["rank"].min()
        out.append(group.assign(true_rank=truth["row"].map(hits).to_numpy()))
    return pd.concat(out, ignore_index=True)


def accuracy(frame: pd.DataFrame) -> dict[str, float]:
    rank = frame["true_rank"]
    return {
        "titles": len(frame),
        "top_1": float((rank == 1).mean()),
        "top_3": float((rank <= TOP).mean()),
    }


def table(rows: dict[str, dict[str, float]], label: str) -> str:
    lines = [f"| {label} | titles | top-1 | top-3 |", "|---|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['titles']:,} | {r['top_1']:.3f} | {r['top_3']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=5000, help="generated titles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=100, help="speed: map the generated set repeated this often"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args()
    command = "python benchmarks/course_crosswalk.py " + " ".join(sys.argv[1:])

    catalogue = read_catalogue(example_catalogue_path())
    labelled = pd.read_csv(LABELLED, dtype="str", keep_default_na=False, na_values=[""])
    labelled_ranks = placed(labelled, catalogue)
    generated = generate_course_titles(args.generated, seed=args.seed, catalogue=catalogue)
    started = time.perf_counter()
    generated_ranks = placed(generated, catalogue)
    seconds = time.perf_counter() - started

    # Every generated title in one file (the state only selects remembered mappings).
    large = pd.concat([generated] * args.repeat, ignore_index=True)
    started = time.perf_counter()
    large_result = map_titles(large, catalogue, state="TX", top=TOP)
    large_seconds = time.perf_counter() - started

    overall = {
        "hand-labelled (tests/data)": accuracy(labelled_ranks),
        f"generated (seed {args.seed})": accuracy(generated_ranks),
    }
    by_state = {s: accuracy(g) for s, g in labelled_ranks.groupby("state")}
    styles = generated_ranks.assign(
        style=generated_ranks["true_styles"].fillna("none").str.split(";")
    )
    by_style = {s: accuracy(g) for s, g in styles.explode("style").groupby("style")}

    print(f"```sh\n{command}\n```\n")
    print(
        f"commit {git_commit()}, catalogue {catalogue.label} ({len(catalogue.courses)} courses)\n"
    )
    print(table(overall, "data set"))
    print(f"\nHand-labelled set by state:\n\n{table(by_state, 'state')}")
    print(
        f"\nGenerated set by style applied (a title can carry several):\n\n{table(by_style, 'style')}"
    )
    print(
        f"\nSpeed: {len(generated):,} generated titles mapped in {seconds:.2f} s "
        f"({len(generated) / seconds:,.0f} titles/s, {generated_ranks['title'].nunique():,} distinct)"
    )
    for name, frame in (("hand-labelled", labelled_ranks), ("generated", generated_ranks)):
        exact = normalize_titles(frame["title"]).isin(catalogue.variants["key"]).mean()
        print(f"{name}: {exact:.1%} of titles normalize to exactly a catalogue title or alias")
    print(
        f"Large file: {len(large):,} rows ({large_result.counts['distinct_titles']:,} distinct) "
        f"mapped in {large_seconds:.2f} s ({len(large) / large_seconds:,.0f} rows/s)"
    )
    misses = labelled_ranks[labelled_ranks["true_rank"] != 1]
    print(f"\nHand-labelled titles not placed first ({len(misses)}):\n")
    print("| state | title | true course | true rank |\n|---|---|---|---:|")
    for _, m in misses.iterrows():
        rank = "-" if pd.isna(m["true_rank"]) else int(m["true_rank"])
        print(f"| {m['state']} | {m['title']} | {m['true_course_id']} | {rank} |")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"course_crosswalk_{args.generated}_{args.seed}.json"
    payload = {
        "command": command,
        "commit": git_commit(),
        "overall": overall,
        "by_state": by_state,
        "by_style": by_style,
        "seconds": seconds,
        "large_rows": len(large),
        "large_seconds": large_seconds,
    }
    path.write_text(json.dumps(json_ready(payload), indent=2), encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
