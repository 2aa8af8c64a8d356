"""Which phonetic key suits Spanish names? Measures jellyfish's algorithms, with and without the
light Spanish pre-normalisation of names.py, on recruiters' spelling variants.

    python3 benchmarks/name_phonetics.py

* variant recall: share of true variant pairs (same name, different spelling; groups below)
  that get the same key. Higher is better.
* false merge: share of pairs of *different* names from the shipped name lists
  (data/given_names.csv + data/surnames.csv, minus the variant groups) that get the same key.
  Lower is better. Also the mean number of other listed names sharing a name's key.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from importlib import resources

import jellyfish

from migrant_linkage.standardize.names import _spanish_sound

# Each group: spellings of one name seen in migrant-student records (Z/S, V/B, LL/Y, J/G/X
# before E/I, silent H, C/K/QU, I/Y, doubled letters).
VARIANT_GROUPS: list[list[str]] = [
    ["GONZALEZ", "GONZALES", "GONSALEZ", "GONSALES"],
    ["VAZQUEZ", "VASQUEZ", "BAZQUEZ", "VASKES"],
    ["VELAZQUEZ", "VELASQUEZ", "BELASQUEZ"],
    ["HERNANDEZ", "ERNANDEZ", "HERNANDES"],
    ["JIMENEZ", "GIMENEZ", "XIMENEZ", "JIMENES"],
    ["XIMENA", "JIMENA"],
    ["JAVIER", "XAVIER", "JABIER"],
    ["GERARDO", "JERARDO"],
    ["GENARO", "JENARO"],
    ["GUILLERMO", "GILLERMO", "GUILLERMO", "GUIYERMO"],
    ["YESENIA", "JESENIA", "YESSENIA"],
    ["YOLANDA", "LLOLANDA"],
    ["LLAMAS", "YAMAS"],
    ["CASTILLO", "CASTIYO", "CASTILO"],
    ["VILLALOBOS", "VILLALOVOS", "BILLALOBOS", "VIYALOBOS"],
    ["CEVALLOS", "ZEBALLOS", "CEBALLOS", "SEVALLOS"],
    ["CECILIA", "SESILIA", "CESILIA"],
    ["CESAR", "SESAR", "CEZAR"],
    ["ZULEMA", "SULEMA"],
    ["VICTOR", "BICTOR"],
    ["VERONICA", "BERONICA"],
    ["BEATRIZ", "BEATRIS", "VEATRIZ"],
    ["CARLA", "KARLA"],
    ["QUINTERO", "KINTERO"],
    ["ENRIQUE", "ENRRIQUE", "ENRIKE"],
    ["ELIZABETH", "ELISABET", "ELIZABET"],
    ["HUMBERTO", "UMBERTO"],
    ["HORTENSIA", "ORTENSIA"],
    ["HERIBERTO", "ERIBERTO"],
    ["NOHEMI", "NOEMI"],
    ["ABRAHAM", "ABRAAM", "ABRAHAN"],
    ["OSVALDO", "OSWALDO", "OSBALDO"],
    ["ARELY", "ARELI"],
    ["NAYELI", "NALLELY", "NAYELY"],
    ["ITZEL", "ITSEL"],
    ["YAZMIN", "JAZMIN", "YASMIN"],
    ["ZAVALA", "SAVALA", "ZABALA"],
    ["CERVANTES", "SERVANTES", "CERBANTES"],
    ["RAMIREZ", "RAMIRES"],
    ["MARTINEZ", "MARTINES"],
    ["RODRIGUEZ", "RODRIGUES", "RODRIGEZ"],
    ["DOMINGUEZ", "DOMINGUES"],
    ["BARRERA", "VARRERA", "BARERA"],
    ["GUERRERO", "GERRERO"],
    ["JOSELIN", "YOSELIN", "JOSSELIN"],
    ["IVAN", "YVAN", "IBAN"],
    ["ISIDRO", "YSIDRO"],
    ["GIOVANNI", "GEOVANNI", "YOVANI"],
    ["JESSICA", "YESICA", "JESICA"],
    ["JAQUELINE", "JAKELINE", "YAQUELIN"],
    ["ESTEFANIA", "ESTEPHANIA"],
    ["ZAMORA", "SAMORA"],
    ["OCHOA", "OCHOA", "OCHOHA"],
    ["GALLEGOS", "GAYEGOS", "GALLEGOZ"],
    ["VALLEJO", "BALLEJO", "VAYEJO"],
    ["SILVA", "SILBA"],
    ["SALAZAR", "SALASAR", "ZALAZAR"],
    ["MEJIA", "MEGIA", "MEXIA"],
    ["JUAREZ", "JUARES", "XUAREZ"],
]


def _listed_names() -> list[str]:
    names: set[str] = set()
    for f in ("known_given_names.csv", "known_surnames.csv"):
        with resources.files("migrant_linkage.data").joinpath(f).open(encoding="utf-8") as fh:
            names |= {r["name"] for r in csv.DictReader(fh)}
    in_groups = {n for g in VARIANT_GROUPS for n in g}
    return sorted(names - in_groups)


def main() -> None:
    algorithms = {
        "soundex": jellyfish.soundex,
        "metaphone": jellyfish.metaphone,
        "nysiis": jellyfish.nysiis,
        "match_rating_codex": jellyfish.match_rating_codex,
    }
    configs = {}
    for name, fn in algorithms.items():
        configs[name] = fn
        configs[f"spanish + {name}"] = lambda v, fn=fn: fn(_spanish_sound(v))
    configs["spanish only"] = _spanish_sound

    listed = _listed_names()
    pairs = [p for g in VARIANT_GROUPS for p in itertools.combinations(sorted(set(g)), 2)]
    total_listed_pairs = len(listed) * (len(listed) - 1) // 2
    print(
        f"{len(pairs)} variant pairs in {len(VARIANT_GROUPS)} groups; {len(listed)} distinct listed names"
    )
    print()
    # Brother/sister names (MARIO/MARIA, DANIEL/DANIELA): opposite-sex twins differ only here.
    listed_set = set(listed)
    siblings = [(n, n[:-1] + "A") for n in listed if n.endswith("O") and n[:-1] + "A" in listed_set]
    siblings += [
        (n, n + "A") for n in listed if not n.endswith(("A", "O")) and n + "A" in listed_set
    ]
    print(f"{len(siblings)} brother/sister name pairs (MARIO/MARIA, DANIEL/DANIELA)")
    print()
    print(
        "| key | variant recall | false merge (listed pairs) | mean other names per key | brother/sister pairs merged | distinct keys |"
    )
    print("|---|---|---|---|---|---|")
    for label, fn in configs.items():
        recall = sum(fn(a) == fn(b) for a, b in pairs) / len(pairs)
        keys = Counter(fn(n) for n in listed)
        colliding = sum(c * (c - 1) // 2 for c in keys.values())
        mean_others = sum(c * (c - 1) for c in keys.values()) / len(listed)
        sib = sum(fn(a) == fn(b) for a, b in siblings) / len(siblings)
        print(
            f"| {label} | {recall:.1%} | {colliding / total_listed_pairs:.4%} | "
            f"{mean_others:.2f} | {sib:.1%} | {len(keys)} |"
        )
    missed = [(a, b) for a, b in pairs if _spanish_sound(a) != _spanish_sound(b)]
    print()
    print("variant pairs the Spanish sound key still separates:", missed)


if __name__ == "__main__":
    main()
