"""Regenerate data/known_given_names.csv and data/known_surnames.csv.

    pip install faker names   # build-time tools only; the library reads the CSVs
    python3 benchmarks/tools/build_known_names.py

Sources, each named in the `source` column of every row:
- Faker's person providers `es_MX`, `es_ES` and `en_US` (MIT): given names and surnames;
- the US Census Bureau's 1990 first-name lists (dist.male.first, dist.female.first: 5,494
  names), as shipped by the `names` package 0.3.0 (MIT): the given names of the US population,
  which Faker's short lists leave out (FEBRL, pseudopeople and state files carry them).

The given-name list says "this is a real given name" (`given_name_1_known`, standardize/names.py):
the family guard treats two different *real* given names as two children and a garbled or
unknown one as a typo to review (zones.py). It also keeps a middle name that is a given name
from being read as a paternal surname (docs/names.md section 5).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from importlib import resources
from pathlib import Path

from faker.providers.person import en_US, es_ES, es_MX

DATA = Path(__file__).resolve().parents[2] / "src" / "migrant_linkage" / "data"
SKIP = {"DE", "DEL", "LA", "LAS", "LOS", "Y"}
CENSUS_SOURCE = "US Census 1990 first names (names 0.3.0, MIT)"


def units(value: str) -> list[str]:
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", value.upper()) if not unicodedata.combining(c)
    )
    return re.sub(r"[^A-Z ]+", " ", folded).split()


def main() -> None:
    given: dict[str, set[str]] = {}
    surnames: dict[str, set[str]] = {}
    for module in (es_MX, es_ES, en_US):
        provider, locale = module.Provider, module.__name__.rsplit(".", 1)[1]
        for attr in ("first_names", "first_names_male", "first_names_female"):
            for name in getattr(provider, attr, ()) or ():
                for unit in units(name):
                    if unit not in SKIP and len(unit) > 1:
                        given.setdefault(unit, set()).add(
                            f"faker 40 person providers (MIT): {locale}"
                        )
        for name in provider.last_names:
            kept = [u for u in units(name) if u not in SKIP]
            if kept and len(kept[-1]) > 1:
                surnames.setdefault(kept[-1], set()).add(locale)
    for file in ("dist.male.first", "dist.female.first"):
        text = resources.files("names").joinpath(file).read_text(encoding="ascii")
        for line in text.splitlines():
            for unit in units(line.split()[0]) if line.strip() else ():
                if unit not in SKIP and len(unit) > 1:
                    given.setdefault(unit, set()).add(CENSUS_SOURCE)
    # A placeholder is never a known given name (the standardizer drops it first): NA is a
    # census first name and the commonest "no value" code.
    with open(DATA / "placeholder_names.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["applies_to"] in ("given", "both"):
                for word in row["value"].split():
                    given.pop(word, None)
    with open(DATA / "known_given_names.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["name", "source"])
        for name in sorted(given):
            writer.writerow([name, _source(given[name])])
    with open(DATA / "known_surnames.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["name", "source"])
        for name in sorted(surnames):
            writer.writerow(
                [name, "faker 40 person providers (MIT): " + " ".join(sorted(surnames[name]))]
            )
    print(f"{len(given)} given names, {len(surnames)} surnames written to {DATA}")


def _source(sources: set[str]) -> str:
    """One source text per row: Faker's locales joined as before, then the census list."""
    locales = sorted(s.rsplit(": ", 1)[1] for s in sources if s.startswith("faker"))
    parts = [f"faker 40 person providers (MIT): {' '.join(locales)}"] if locales else []
    if CENSUS_SOURCE in sources:
        parts.append(CENSUS_SOURCE)
    return "; ".join(parts)


if __name__ == "__main__":
    main()
