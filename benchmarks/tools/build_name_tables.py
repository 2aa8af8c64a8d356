"""Regenerate the synthetic generator's name-frequency tables from Faker's person providers.

Run once when the tables should change; the CSVs are committed so the generator's output stays
byte-identical even if Faker's lists change:

    python3 benchmarks/tools/build_name_tables.py

Sources (see docs/synthetic-data.md):
- Faker (MIT licence) `es_MX` person provider: given names and surnames; `en_US` given names
  with their frequency weights (for US-born children with English given names).
- Approximate US Census 2010 surname counts for the 26 most frequent Hispanic surnames (public
  figures; only their relative sizes are used).
- A few hand-added surnames: Mayan surnames from Guatemala (the rare tail).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import numpy as np
from faker.providers.person.en_US import Provider as EnUsPerson
from faker.providers.person.es_MX import Provider as EsMxPerson

OUT_DIR = Path(__file__).resolve().parents[2] / "src" / "migrant_linkage" / "data" / "synthetic"

# Approximate counts from the US Census Bureau 2010 surname file (persons bearing the surname,
# all races). Used only for relative weights among the top Hispanic surnames.
CENSUS_2010_TOP_HISPANIC = [
    ("GARCÍA", 1_166_120),
    ("RODRÍGUEZ", 1_094_924),
    ("MARTÍNEZ", 1_060_159),
    ("HERNÁNDEZ", 1_043_281),
    ("LÓPEZ", 874_523),
    ("GONZÁLEZ", 841_025),
    ("PÉREZ", 681_127),
    ("SÁNCHEZ", 612_752),
    ("RAMÍREZ", 557_423),
    ("TORRES", 437_813),
    ("FLORES", 418_786),
    ("RIVERA", 420_431),
    ("GÓMEZ", 404_074),
    ("DÍAZ", 386_861),
    ("REYES", 365_508),
    ("MORALES", 357_508),
    ("CRUZ", 328_513),
    ("ORTIZ", 318_848),
    ("GUTIÉRREZ", 311_210),
    ("CHÁVEZ", 305_734),
    ("RAMOS", 301_522),
    ("RUIZ", 283_938),
    ("ÁLVAREZ", 281_357),
    ("MENDOZA", 279_700),
    ("CASTILLO", 255_000),
    ("JIMÉNEZ", 250_000),
]
TOP_SURNAME_SHARE = 0.25  # "about a quarter of Hispanic people share 26 surnames"
TAIL_ZIPF_EXPONENT = 0.5  # flatter than 1: the tail stands in for thousands of unlisted names

# Rare surnames of Guatemalan Mayan origin, absent from Faker's es_MX list.
HAND_ADDED_SURNAMES = ["XIQUIN", "TZUL", "AJANEL", "CHOC", "POP", "COC", "TZOC", "IXCOY", "CAAL"]

# Typing slips inside Faker's list, corrected here.
CORRECTIONS = {
    "DE LA CRÚZ": "DE LA CRUZ",
    "JOSÉ MANUÉL": "JOSÉ MANUEL",
    "ALTA GRACIA": "ALTAGRACIA",
    "RAFAÉL": "RAFAEL",
    "ÓLIVER": "OLIVER",
    "JOS": "",  # a truncated entry; dropped
}

# Very common Mexican given names (single and compound) placed at the head of the ranks, in this
# order; the ones Faker lacks are added. Hand-picked from DOMAIN.md and common knowledge.
HEAD_NAMES = {
    "F": [
        "MARÍA GUADALUPE",
        "MARÍA",
        "GUADALUPE",
        "MARÍA DE JESÚS",
        "MARÍA FERNANDA",
        "ANA KAREN",
        "MARÍA ISABEL",
        "JUANA",
        "MARÍA DEL CARMEN",
        "ROSA",
    ],
    "M": [
        "JOSÉ LUIS",
        "JUAN CARLOS",
        "JOSÉ",
        "JUAN",
        "MIGUEL ÁNGEL",
        "JESÚS",
        "LUIS",
        "JOSÉ DE JESÚS",
        "FRANCISCO",
        "JOSÉ ÁNGEL",
        "JUAN PABLO",
        "JOSÉ ANTONIO",
    ],
}
ENGLISH_NAMES_PER_SEX = 25  # most frequent en_US names by Faker's weights
GIVEN_ZIPF_EXPONENT = 0.6  # ~5% of girls MARÍA GUADALUPE, long tail of rarer names


def clean(name: str) -> str:
    upper = re.sub(r"\s+", " ", name.strip().upper())
    return CORRECTIONS.get(upper, upper)


def fold(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def surname_rows() -> list[dict[str, str]]:
    top = [(n, c) for n, c in CENSUS_2010_TOP_HISPANIC]
    top_total = sum(c for _, c in top)
    rows = [
        {"name": n, "weight": f"{TOP_SURNAME_SHARE * c / top_total:.8f}", "source": "census2010"}
        for n, c in top
    ]
    top_folded = {fold(n) for n, _ in top}
    seen = set(top_folded)
    tail: list[tuple[str, str]] = []
    for raw in EsMxPerson.last_names:
        name = clean(raw)
        if fold(name) not in seen:
            seen.add(fold(name))
            tail.append((name, "faker es_MX"))
    tail += [(n, "hand-added (Guatemalan Mayan)") for n in HAND_ADDED_SURNAMES if n not in seen]
    order = np.random.default_rng(2010).permutation(len(tail))
    ranks = np.arange(len(top) + 1, len(top) + 1 + len(tail), dtype=float)
    w = ranks**-TAIL_ZIPF_EXPONENT
    w = (1 - TOP_SURNAME_SHARE) * w / w.sum()
    smallest_top = min(float(r["weight"]) for r in rows)
    assert w.max() <= smallest_top, "tail must not outweigh the census top surnames"
    for rank_pos, idx in enumerate(order):
        name, source = tail[idx]
        rows.append({"name": name, "weight": f"{w[rank_pos]:.8f}", "source": source})
    return rows


def given_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    faker_lists = {"F": EsMxPerson.first_names_female, "M": EsMxPerson.first_names_male}
    english = {"F": EnUsPerson.first_names_female, "M": EnUsPerson.first_names_male}
    for sex in ("F", "M"):
        head = [(n, "hand-ranked head (DOMAIN.md)") for n in HEAD_NAMES[sex]]
        seen = {fold(n) for n, _ in head}
        rest: list[tuple[str, str]] = []
        for raw in faker_lists[sex]:
            name = clean(raw)
            if name and fold(name) not in seen:
                seen.add(fold(name))
                rest.append((name, "faker es_MX"))
        top_english = sorted(english[sex].items(), key=lambda kv: (-kv[1], kv[0]))
        for raw, _ in top_english[:ENGLISH_NAMES_PER_SEX]:
            name = clean(raw)
            if fold(name) not in seen:
                seen.add(fold(name))
                rest.append((name, "faker en_US"))
        order = np.random.default_rng(1 if sex == "F" else 2).permutation(len(rest))
        ranked = head + [rest[i] for i in order]
        w = np.arange(1, len(ranked) + 1, dtype=float) ** -GIVEN_ZIPF_EXPONENT
        w = w / w.sum()
        for (name, source), weight in zip(ranked, w, strict=True):
            rows.append({"name": name, "sex": sex, "weight": f"{weight:.8f}", "source": source})
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write(OUT_DIR / "surnames.csv", surname_rows())
    write(OUT_DIR / "given_names.csv", given_rows())
    print(f"wrote {OUT_DIR / 'surnames.csv'} and {OUT_DIR / 'given_names.csv'}")


if __name__ == "__main__":
    main()
