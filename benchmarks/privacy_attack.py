"""How much of an encoded file an attacker without the secret can read back: frequency attacks.

    python benchmarks/privacy_attack.py --students 3000 --seed 1

The attacker holds one encoded file (not the secret) and knows how often each name, surname and
birth year occurs in the population: here, a second draw of the synthetic generator with
another seed, the strongest such knowledge (a real attacker has public frequency tables,
which fit less well). The target is a draw with `--seed`, standardized and encoded twice: by
the encoding of commit `--before` (loaded from git, default the last v2 commit) and by the
current one. Attacks, each on both encodings:

* **hash frequency**: rank the distinct hashes of a column by how often they occur, rank the
  attacker's values the same way, read rank i as value i (Kuzu et al. 2011 on Bloom filters;
  it applies to any deterministic encoding);
* **filter frequency**: the same on whole Bloom filters;
* **filter pattern**: learn each bigram's bit positions from the filters the frequency step
  aligned (the 5 commonest), read every filter as the attacker's name whose predicted bits
  match it best, learn again from the confident readings, four rounds (after Christen et al. 2018, "Precise and fast cryptanalysis for Bloom
  filter based privacy-preserving record linkage"). Run once on the whole file and once within
  each group of records that share a birth-year hash (the adaptive attack on year salting);
* **length**: the correlation of a filter's set bits with the name's length.

Re-identified = the share of records whose value the attack names correctly. Prints a Markdown
table and the command. Runs in about a minute at 3,000 students; heavy runs go under the lock:

    flock /tmp/heavy.lock python benchmarks/privacy_attack.py --students 3000 --seed 1
"""

from __future__ import annotations

import argparse
import importlib.util
import secrets
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from migrant_linkage import privacy, synthetic
from migrant_linkage.standardize import standardize

#: The last commit whose encoding was v2 (unsalted filters, clear bit counts, any 16-byte secret).
BEFORE_COMMIT = "081f2a2"

#: Filters the pattern attack starts from (the commonest, labelled by frequency rank: for a
#: distribution as skewed as first names the first five are right), and its rounds.
LEARN_FROM = 5
PATTERN_ROUNDS = 4

#: Attributes attacked through a hash column: (attribute, standardized column).
HASHED_TARGETS = [
    ("first given name", "given_name_1"),
    ("paternal surname", "surname_paternal"),
    ("birth year", "birth_year"),
    ("birth date", "birth_date_std"),
    ("sex", "sex_std"),
    ("birth country", "birth_country_std"),
]
#: Attributes attacked through a Bloom filter: (attribute, column).
BLOOM_TARGETS = [("first given name", "given_name_1"), ("paternal surname", "surname_paternal")]


def load_encoding_at(commit: str) -> ModuleType:
    """The privacy module as it was at `commit` (one file then), imported under another name."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{commit}:src/migrant_linkage/privacy.py"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "privacy_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("privacy_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------ attacks
def frequency_guesses(encoded: pd.Series, known: pd.Series) -> pd.Series:
    """Each record's guessed value: the attacker's value of the same frequency rank."""
    ranked_codes = encoded.value_counts().index
    ranked_values = known.value_counts().index
    guess = dict(zip(ranked_codes, ranked_values, strict=False))  # ranks beyond the list: none
    return encoded.map(guess)


def _filter_keys(encoded: pd.DataFrame, column: str) -> pd.Series:
    words = encoded[privacy.bloom_word_columns(column)]
    raw = words.fillna(0).to_numpy(dtype=np.int64)
    keys = pd.Series([row.tobytes().hex() for row in raw], index=words.index, dtype=object)
    return keys.where(words.notna().all(axis=1))


def _bits(encoded: pd.DataFrame, column: str) -> np.ndarray:
    """Records x BLOOM_BITS booleans (missing filters all zero)."""
    words = encoded[privacy.bloom_word_columns(column)].fillna(0).to_numpy(dtype=np.int64)
    as_bytes = np.ascontiguousarray(words, dtype="<i8").view(np.uint8).reshape(len(words), -1)
    return np.unpackbits(as_bytes, axis=1, bitorder="little").astype(bool)


def _bigrams(name: str) -> set[str]:
    padded = f"_{name}_"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


def _learn_positions(filters: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Each bigram's bits: set in (nearly) every labelled filter of a name holding the bigram
    and in few of the others. Bigrams seen once are skipped (their bits cannot be told from
    their neighbours')."""
    grams = sorted(set().union(*(_bigrams(n) for n in names)))
    positions: dict[str, np.ndarray] = {}
    for gram in grams:
        mask = np.array([gram in _bigrams(n) for n in names])
        if mask.sum() < 2:
            continue
        usually = filters[mask].mean(axis=0) >= 0.9
        elsewhere = filters[~mask].mean(axis=0) if (~mask).any() else np.zeros(filters.shape[1])
        found = usually & (elsewhere <= 0.2)
        if found.any():
            positions[gram] = found
    return positions


def _decode(
    filters: np.ndarray, positions: dict[str, np.ndarray], vocabulary: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(best name, its Dice) per filter, comparing only bits of learnt bigrams, among the names
    most of whose bigrams are learnt."""
    usable = [
        v for v in vocabulary if len(_bigrams(v) & positions.keys()) >= 0.5 * len(_bigrams(v))
    ]
    if not usable or not positions:
        return np.full(len(filters), None, dtype=object), np.zeros(len(filters))
    predicted = np.array(
        [
            np.logical_or.reduce([positions[g] for g in _bigrams(v) if g in positions])
            for v in usable
        ]
    ).astype(np.float32)
    seen = (filters & np.logical_or.reduce(list(positions.values()))).astype(np.float32)
    dice = (
        2 * (seen @ predicted.T) / (seen.sum(axis=1, keepdims=True) + predicted.sum(axis=1) + 1e-9)
    )
    best = dice.argmax(axis=1)
    return np.array(usable, dtype=object)[best], dice[np.arange(len(filters)), best]


def pattern_guesses(bits: np.ndarray, keys: pd.Series, known: pd.Series) -> pd.Series:
    """Label the LEARN_FROM commonest filters by frequency rank, learn bigram positions from the
    labelled filters, decode every filter, take the confident decodings (Dice >= 0.9) as new
    labels, and repeat: each round reads names the previous rounds could not."""
    present = keys.notna()
    if not present.any():
        return pd.Series(np.nan, index=keys.index, dtype=object)
    ranked = keys[present].value_counts().index
    first_row = {k: i for i, k in reversed(list(enumerate(keys.to_numpy())))}
    filters = bits[[first_row[k] for k in ranked]]
    vocabulary = list(known.value_counts().index)
    labels = dict(enumerate(vocabulary[: min(LEARN_FROM, len(ranked))]))
    guesses = np.full(len(ranked), None, dtype=object)
    for _ in range(PATTERN_ROUNDS):
        rows = sorted(labels)
        positions = _learn_positions(filters[rows], [labels[r] for r in rows])
        guesses, confidence = _decode(filters, positions, vocabulary)
        guesses[rows] = [labels[r] for r in rows]
        labels.update({int(i): guesses[i] for i in np.flatnonzero(confidence >= 0.9)})
    return keys.map(dict(zip(ranked, guesses, strict=True)))


def grouped(
    attack: Callable[[np.ndarray, pd.Series, pd.Series], pd.Series],
    bits: np.ndarray,
    keys: pd.Series,
    known: pd.Series,
    groups: pd.Series,
    known_groups: pd.Series,
) -> pd.Series:
    """`attack` run within each group of records sharing a birth-year hash, against the
    attacker's names of the birth year that group's frequency rank stands for."""
    year_of_group = frequency_guesses(groups, known_groups)
    out = pd.Series(np.nan, index=keys.index, dtype=object)
    for rows in groups.groupby(groups).groups.values():
        year = year_of_group[rows[0]]
        if pd.isna(year):
            continue
        at = keys.index.get_indexer(rows)
        out.loc[rows] = attack(
            bits[at], keys.loc[rows], known[known_groups.reindex(known.index) == year]
        ).to_numpy()
    return out


def rate(guesses: pd.Series, truth: pd.Series) -> float:
    present = truth.notna()
    return float((guesses[present].astype("str") == truth[present].astype("str")).mean())


def attack_rows(encoded: pd.DataFrame, target: pd.DataFrame, known: pd.DataFrame) -> list[dict]:
    rows = []
    for attribute, column in HASHED_TARGETS:
        guesses = frequency_guesses(encoded[column], known[column].dropna().astype("str"))
        rows.append(("hash frequency", attribute, rate(guesses, target[column])))
    for attribute, column in BLOOM_TARGETS:
        keys, bits = _filter_keys(encoded, column), _bits(encoded, column)
        plain = known[column]
        rows.append(
            (
                "filter frequency",
                attribute,
                rate(frequency_guesses(keys, plain), target[column]),
            )
        )
        rows.append(
            ("filter pattern", attribute, rate(pattern_guesses(bits, keys, plain), target[column]))
        )
        by_year = grouped(
            pattern_guesses,
            bits,
            keys,
            plain,
            encoded["birth_year"],
            known["birth_year"].dropna().astype("str"),
        )
        rows.append(
            ("filter pattern, per birth-year hash", attribute, rate(by_year, target[column]))
        )
        length = target[column].str.len()
        set_bits = pd.Series(bits.sum(axis=1), index=target.index).where(length.notna())
        rows.append(("length (correlation)", attribute, float(length.corr(set_bits))))
    return [{"attack": a, "attribute": t, "value": v} for a, t, v in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", default=BEFORE_COMMIT, help="commit of the 'before' encoding")
    args = parser.parse_args(argv)

    target = standardize(synthetic.generate(args.students, seed=args.seed)).standardized
    known = standardize(synthetic.generate(args.students, seed=args.seed + 1000)).standardized
    target = target.reset_index(drop=True)
    before = load_encoding_at(args.before)
    encodings = {
        f"before ({args.before}, {before.ENCODING_VERSION})": before.encode(
            target, secrets.token_hex(32)
        ),
        f"after ({privacy.ENCODING_VERSION})": privacy.encode(target, secrets.token_hex(32)),
    }
    table = None
    for label, encoded in encodings.items():
        rows = pd.DataFrame(attack_rows(encoded, target, known)).set_index(["attack", "attribute"])
        column = rows["value"].rename(label)
        table = column.to_frame() if table is None else table.join(column)
    assert table is not None
    command = "python benchmarks/privacy_attack.py " + shlex.join(
        ["--students", str(args.students), "--seed", str(args.seed), "--before", args.before]
    )
    print(f"`{command}`\n")
    print(
        f"target: {len(target):,} records of {args.students:,} synthetic children (seed "
        f"{args.seed}); attacker's frequencies: another draw (seed {args.seed + 1000})\n"
    )
    lines = ["| attack | attribute | " + " | ".join(table.columns) + " |", "|---|---|---|---|"]
    for (attack, attribute), values in table.iterrows():
        cells = " | ".join(f"{v:.3f}" for v in values)
        lines.append(f"| {attack} | {attribute} | {cells} |")
    print("\n".join(lines))
    print("\nvalue: share of records re-identified (length: correlation of set bits with length)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
