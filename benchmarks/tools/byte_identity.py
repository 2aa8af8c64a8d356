"""Write the plain path's outputs for a byte-for-byte comparison across commits (refactors).

    PYTHONPATH=src python benchmarks/tools/byte_identity.py /tmp/before 10000   # on the old commit
    PYTHONPATH=src python benchmarks/tools/byte_identity.py /tmp/after 10000    # on the new one
    for f in /tmp/before/*/*; do cmp -s "$f" "/tmp/after/${f#/tmp/before/}" || echo "DIFF $f"; done

Runs, on the synthetic records of N children (seed 1, truth dropped): a dedupe with training, a
link of the two halves, and a dedupe of 1,500 records with the shipped default model, each into
its own folder. summary.json is rewritten without its timings (they always differ) and with
sorted keys; every other file is compared as written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from migrant_linkage import dedupe, link, synthetic
from migrant_linkage.schema import TRUTH_COLUMNS


def main() -> None:
    out, students = Path(sys.argv[1]), int(sys.argv[2])
    raw = synthetic.generate(students, seed=1)
    raw = raw.drop(columns=[c for c in TRUTH_COLUMNS if c in raw])
    dedupe(raw, train=True, out_dir=out / "dedupe", pairs_csv=True)
    half = len(raw) // 2
    link(raw.iloc[:half], raw.iloc[half:], out_dir=out / "link", pairs_csv=False)
    dedupe(raw.iloc[:1500], out_dir=out / "small_default")
    for job in ("dedupe", "link", "small_default"):
        summary = json.loads((out / job / "summary.json").read_text())
        summary.pop("timings", None)
        (out / job / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
