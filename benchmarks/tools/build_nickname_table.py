"""Regenerate the English-nickname rows of src/migrant_linkage/data/nicknames.csv.

    pip install nicknames==1.0.1 faker   # build-time only; the library never imports them
    python3 benchmarks/tools/build_nickname_table.py                  # both tables
    python3 benchmarks/tools/build_nickname_table.py --readings-only  # nickname_readings.csv

The table keeps every hand-curated row (Spanish diminutives, English forms of Spanish names:
any row whose `source` does not name the `nicknames` package) exactly as it is, and replaces
the rows imported from the `nicknames` package (Carlton Northern and Nick Crews, Apache-2.0;
its names.csv lists `canonical,has_nickname,nickname` triples, many nicknames under several
names). Our table maps a name to ONE canonical, which is a blocking key and an equality key,
so a nickname is imported only when that one canonical is clear. In order:

1. Hand rows win: a nickname that is already a `name` or a `canonical` of the hand rows is not
   imported. Nor is a Spanish given name in its own right (known_given_names.csv, es_MX or
   es_ES: ANGEL is not a form of Angela, FELIX not of Felicia), a suffix spelling (JR), a
   placeholder word (placeholder_names.csv), or a known surname that is not also a known given
   name (BELL, LEWIS: every nickname counts as a given name, which would stop the paternal
   surname in the middle-name field from being recognised, docs/names.md §5).
2. A listed canonical that is itself only one of the package's nicknames (BERT under BOB,
   BILL under FRED) is a chain, not a name, and is no candidate. Each remaining canonical is
   resolved through the hand rows (RICHARD -> RICARDO), so RICHIE lands where RICHARD does.
3. One candidate: taken. Several: taken only when one is at least DOMINANCE times as frequent
   as every other in Faker's en_US first-name weights (US given-name frequencies; a name absent
   there counts as 0): RICHIE is listed under RICHARD and ALDRICH, and RICHARD is the one
   meant. Otherwise the nickname is ambiguous (SAM: SAMUEL, SAMANTHA; PAT: PATRICK, PATRICIA;
   AL: ALAN, ALBERT, ALFRED ...) and left out.
4. A nickname that Faker lists as a given name (BOB, JIM, IAN, LEAH) is taken only when its
   canonical is DOMINANCE times as frequent and shares its first letter with one of the English
   canonicals (JIM -> JAMES; not IAN -> JOHN, LEAH -> ASHLEY); BOB and BILL are hand rows.
5. The canonical must be a common US given name (weight in Faker en_US): the package's long
   tail of 19th-century names (ONICYPHOROUS, MEHITABEL) stays out, and with it their nicknames.
6. A nickname Faker lists only for the other sex than its canonical is left out.
7. Reviewed by hand after the rules: EXCLUDED lists the rows they would still import but that
   join two different given names, cross the sexes, or are words (one reason each).
8. A chosen canonical that is itself an imported nickname is followed to its own canonical
   (no chains); a cycle drops the row.

Prints the counts: how many rows were added and how many nicknames were left out, per reason.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nicknames
from faker.providers.person.en_US import Provider as EnUsPerson

DATA = Path(__file__).resolve().parents[2] / "src" / "migrant_linkage" / "data"
TABLE = DATA / "nicknames.csv"
COLUMNS = ["name", "canonical", "language", "kind", "note", "source"]
READINGS = DATA / "nickname_readings.csv"
READING_COLUMNS = ["name", "reading", "source", "note"]
HAND_SOURCE = "hand-curated (general reference knowledge)"
PACKAGE = f"nicknames {version('nicknames')} (Apache-2.0)"

# One candidate must be this many times as frequent as the next (an order of magnitude): a
# clear majority reading, never a coin toss between two common names.
DOMINANCE = 10.0

# Reviewed by hand after the rules above: rows the rules would import but that join two
# different given names, cross the sexes, or are ordinary words. One reason each.
_DISTINCT = "a given name in its own right, not a short form of {}"
_OTHER_SEX = "also (or mostly) a name of the other sex than {}"
EXCLUDED = {
    "DON": "Spanish honorific (Don Jose), not a short form of Donald in our population",
    "DONA": "Spanish honorific (Dona Maria), not a spelling of Donna",
    "AILEEN": _DISTINCT.format("Helen"),
    "BARRETT": _DISTINCT.format("Garrett"),
    "BELA": "a Hungarian given name, not a short form of William",
    "BERTIE": _OTHER_SEX.format("Roberta (Albert, Bertram)"),
    "BOBBIE": _OTHER_SEX.format("Barbara (Robert)"),
    "BRADFORD": "a formal name listed under its own short form BRAD",
    "BRODY": _DISTINCT.format("Brady"),
    "BRYANT": _DISTINCT.format("Brian"),
    "CAROLANN": "a formal name listed under its own short form CAROL",
    "CATHLEEN": "a formal name listed under its own short form CATHY",
    "CINDERELLA": "a formal name listed under its own short form CINDY",
    "CLARISSA": _DISTINCT.format("Clara"),
    "CLAUD": _OTHER_SEX.format("Claudia (Claude)"),
    "DARRY": _OTHER_SEX.format("Darlene (Darrell)"),
    "DAY": "an ordinary word",
    "DEE": "short for many names (Dolores, Deanna, Delia), not only Audrey",
    "DERICK": _DISTINCT.format("Frederick (a spelling of Derek)"),
    "ELLIE": "short for Eleanor and Ellen as much as for Danielle",
    "ERICK": _DISTINCT.format("Frederick (a spelling of Eric, common in Latin America)"),
    "ETTA": "short for Henrietta, Marietta and others, not only Loretta",
    "EVE": _DISTINCT.format("Evelyn"),
    "EVELINA": _DISTINCT.format("Evelyn"),
    "FAY": _DISTINCT.format("Faith"),
    "FELI": "short for Felipe and Felix as much as for Felicia",
    "FRANKY": "listed under Veronica only; a short form of Francisco/Frank",
    "FREDDIE": "the hand row FREDDY maps to ALFREDO; FREDDIE is not sent elsewhere",
    "GARRY": _DISTINCT.format("Garrett (a spelling of Gary)"),
    "GERALDINE": _OTHER_SEX.format("Jerry"),
    "HETTY": "short for Henrietta and Hester, not Heather",
    "JESS": "used for Jesse and Jesus (boys) as much as for Jessica",
    "JUDA": _OTHER_SEX.format("Judith (Judah)"),
    "JUDE": _OTHER_SEX.format("Judith"),
    "JULES": _OTHER_SEX.format("Julia (Julius)"),
    "JUSTINA": _OTHER_SEX.format("Justin"),
    "JUSTUS": _DISTINCT.format("Justin"),
    "KENDRICK": _DISTINCT.format("Kenneth"),
    "KENJI": "a Japanese boy's name, not a short form of Kendra",
    "LAURENCE": "a formal name listed under its own short form LARRY",
    "LEO": _DISTINCT.format("Leonardo"),
    "LOREN": _DISTINCT.format("Lorenzo"),
    "LORNE": _DISTINCT.format("Lorenzo"),
    "LOU": "short for Louise and Lucille as much as for Luis",
    "MAC": _OTHER_SEX.format("Mackenzie"),
    "MACK": _OTHER_SEX.format("Mackenzie"),
    "MAE": _DISTINCT.format("Maria"),
    "MAGDA": "short for Magdalena, not Madeline",
    "MAUD": _DISTINCT.format("Madeline"),
    "MERCY": _DISTINCT.format("Mercedes"),
    "MICAH": _DISTINCT.format("Michael"),
    "MILLY": "short for Mildred and Emilia as much as for Melissa",
    "MIRA": _DISTINCT.format("Miranda"),
    "NITA": "short for Juanita and Anita alike",
    "OLLIE": _OTHER_SEX.format("Olivia (Oliver)"),
    "RANDI": "short for Randall as much as for Miranda",
    "REN": _DISTINCT.format("Lauren"),
    "RHETT": _DISTINCT.format("Garrett"),
    "RIAN": _DISTINCT.format("Adrian"),
    "ROBBIE": _OTHER_SEX.format("Roberta (Robert)"),
    "ROBY": _OTHER_SEX.format("Roberta (Robert)"),
    "RONIE": "short for Ronald as much as for Veronica",
    "RUPERT": _DISTINCT.format("Robert"),
    "SHAY": _DISTINCT.format("Sharon"),
    "SID": _OTHER_SEX.format("Sydney (Sidney)"),
    "SIS": "a family word (sister), not a name",
    "TAL": "a Hebrew given name, not a short form of Crystal",
    "TERENCE": "a formal name listed under its own short form TERRY",
    "VAL": "short for Valentin and Valentina as much as for Valeria",
    "WILBER": _DISTINCT.format("Gilbert"),
    "WIN": "short for Winston and Winifred as much as for Edwin",
}

# Readings the rules keep but a reviewer would not: the package lists them, yet they join two
# different given names, cross the sexes, or come from a chain through another nickname. One
# reason each. (The first-letter rule used to drop these, with TED/EDWARD and POLLY/MARY.)
_NOT_A_FORM = "a different given name, not a form of {}"
EXCLUDED_READINGS = {
    ("AMOS", "MOSES"): _NOT_A_FORM.format("Moses"),
    ("MOSES", "AMOS"): _NOT_A_FORM.format("Amos"),
    ("ANNIE", "ESTEFANIA"): _NOT_A_FORM.format("Estefania"),
    ("ANNIE", "LEANNE"): _NOT_A_FORM.format("Leanne"),
    ("BELL", "GUILLERMO"): "a chain through BILL, not a form of William",
    ("WILBUR", "GUILLERMO"): "a chain through BILL, not a form of William",
    ("BELLE", "ARA"): _NOT_A_FORM.format("Ara"),
    ("BERT", "WILBER"): _NOT_A_FORM.format("Wilber"),
    ("CORDELIA", "DELIA"): "a formal name listed under its own short form DELIA",
    ("FIDELIA", "DELIA"): "a formal name listed under its own short form DELIA",
    ("DEEDEE", "NADINE"): _NOT_A_FORM.format("Nadine"),
    ("ELIZA", "LOUISA"): "short for Elizabeth, not Louisa",
    ("ELIZA", "LUISA"): "short for Elizabeth, not Luisa",
    ("KIT", "CRISTIAN"): "short for Christopher or Catherine, not Cristian",
    ("LENA", "AILEEN"): "short for Helena or Magdalena, not Aileen",
    ("LENA", "ARLENE"): "short for Helena or Magdalena, not Arlene",
    ("LENA", "CATALINA"): "short for Helena or Magdalena, not Catalina",
    ("LENA", "CATHLEEN"): "short for Helena or Magdalena, not Cathleen",
    ("LENA", "DARLENE"): "short for Helena or Magdalena, not Darlene",
    ("LENA", "KATHLEEN"): "short for Helena or Magdalena, not Kathleen",
    ("LLOYD", "FLOYD"): _NOT_A_FORM.format("Floyd"),
    ("MEL", "EMILIA"): "short for Melissa, Melvin or Amelia, not Emilia",
    ("NETTIE", "JUANA"): "a chain through JEANETTE, not a form of Juana",
    ("NETTIE", "MONET"): _NOT_A_FORM.format("Monet"),
    ("ORA", "CORINNE"): _NOT_A_FORM.format("Corinne"),
    ("PATSY", "MARTA"): "short for Patricia, not Martha",
    ("RONNY", "CAMERON"): "short for Ronald, not Cameron",
    ("RONNY", "VERONICA"): "short for Ronald (a boy's name), not Veronica",
    ("SADIE", "MERCEDES"): "short for Sarah, not Mercedes",
    ("SONNY", "JEFFERSON"): "a family word (son), not a form of Jefferson",
    ("SONNY", "JUDSON"): "a family word (son), not a form of Judson",
    ("TRISHA", "BEATRICE"): "short for Patricia, not Beatrice",
}


def fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.upper())
    return "".join(c for c in text if not unicodedata.combining(c)).strip()


def read_table() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.setdefault("source", HAND_SOURCE)
        row["source"] = row["source"] or HAND_SOURCE
    return rows


def faker_weights() -> tuple[dict[str, float], dict[str, set[str]]]:
    """US given-name frequency and sex(es) of every en_US first name, folded."""
    weight: dict[str, float] = defaultdict(float)
    sexes: dict[str, set[str]] = defaultdict(set)
    for sex, names in (("M", EnUsPerson.first_names_male), ("F", EnUsPerson.first_names_female)):
        for name, w in names.items():
            weight[fold(name)] = max(weight[fold(name)], float(w))
            sexes[fold(name)].add(sex)
    return weight, sexes


def known_given_names() -> dict[str, str]:
    """Faker's given names (en_US, es_ES, es_MX) folded, with the locales they come from."""
    with (DATA / "known_given_names.csv").open(encoding="utf-8") as f:
        return {r["name"]: r["source"] for r in csv.DictReader(f)}


def not_names() -> set[str]:
    """Suffix spellings (JR, SR) and placeholder words: never a nickname."""
    out: set[str] = set()
    with (DATA / "name_suffixes.csv").open(encoding="utf-8") as f:
        out |= {r["form"] for r in csv.DictReader(f)}
    with (DATA / "placeholder_names.csv").open(encoding="utf-8") as f:
        out |= {w for r in csv.DictReader(f) for w in r["value"].split()}
    return out


def package_nicknames() -> dict[str, set[str]]:
    """nickname -> the package's canonical names, folded; values that are not one word of
    letters (K.C., L.R.) are skipped."""
    out: dict[str, set[str]] = defaultdict(set)
    for canonical, relationship, nickname in nicknames.name_triplets():
        if relationship != "has_nickname":
            continue
        n, c = fold(nickname), fold(canonical)
        if re.fullmatch(r"[A-Z]{2,}", n) and re.fullmatch(r"[A-Z]{2,}", c) and n != c:
            out[n].add(c)
    return out


def build() -> tuple[list[dict[str, str]], list[dict[str, str]], Counter, list[str]]:
    hand = [r for r in read_table() if not r["source"].startswith("nicknames ")]
    resolve = {r["name"]: r["canonical"] for r in hand}
    hand_canonicals = set(resolve.values())
    weight, sexes = faker_weights()
    known = known_given_names()
    with (DATA / "known_surnames.csv").open(encoding="utf-8") as f:
        surnames = {r["name"] for r in csv.DictReader(f)}
    excluded = not_names()
    listed_nicknames = package_nicknames()

    # Frequency and sex of a resolved canonical: over every English name that resolves to it.
    canonical_weight: dict[str, float] = defaultdict(float)
    canonical_sexes: dict[str, set[str]] = defaultdict(set)
    for name in weight:
        target = resolve.get(name, name)
        canonical_weight[target] = max(canonical_weight[target], weight[name])
        canonical_sexes[target] |= sexes[name]

    skipped: Counter = Counter()
    ambiguous: list[str] = []
    chosen: dict[str, tuple[str, str]] = {}  # nickname -> (canonical, note)
    readable: dict[str, set[str]] = {}  # nickname -> every formal name it may stand for
    for nick, listed in sorted(listed_nicknames.items()):
        if nick in resolve:
            skipped["already a hand row (hand rows win)"] += 1
            continue
        if nick in hand_canonicals:
            skipped["a canonical name of the hand rows"] += 1
            continue
        if re.search(r"es_(MX|ES)", known.get(nick, "")):
            skipped["a Spanish given name in its own right"] += 1
            continue
        if nick in excluded:
            skipped["a suffix or placeholder word"] += 1
            continue
        if nick in surnames and nick not in known:
            # Every nickname counts as a given name, which would stop docs/names.md §5 from
            # reading this surname in the middle-name field as the paternal one.
            skipped["a known surname (BELL, LEWIS, HODGE)"] += 1
            continue
        if nick in EXCLUDED:
            skipped["left out on review (EXCLUDED)"] += 1
            continue
        # A listed "canonical" that is itself only a nickname (BERT under BOB, BILL under FRED)
        # is a chain, not a name: it is not a candidate.
        formal = {c for c in listed if c not in listed_nicknames or c in known}
        candidates = {resolve.get(c, c) for c in formal} - {nick}
        if not candidates:
            skipped["listed only under other nicknames"] += 1
            continue
        readable[nick] = candidates
        ranked = sorted(candidates, key=lambda c: (-canonical_weight[c], c))
        best = ranked[0]
        if len(ranked) > 1:
            runner_up = canonical_weight[ranked[1]]
            if canonical_weight[best] == 0 or canonical_weight[best] < DOMINANCE * runner_up:
                skipped["ambiguous: several canonicals, none dominant"] += 1
                ambiguous.append(f"{nick} ({', '.join(sorted(listed))})")
                continue
        english = sorted(c for c in listed if resolve.get(c, c) == best)
        if nick in known and not (
            weight[nick] * DOMINANCE <= canonical_weight[best]
            and any(c[0] == nick[0] for c in english)
        ):
            skipped["a given name in its own right (Faker's name lists)"] += 1
            continue
        if canonical_weight[best] == 0:
            skipped["canonical not a common US given name (Faker en_US)"] += 1
            continue
        if (
            sexes.get(nick)
            and canonical_sexes.get(best)
            and not sexes[nick] & canonical_sexes[best]
        ):
            skipped["given name of the other sex"] += 1
            continue
        note = f"English nickname of {'/'.join(english)}"
        if best not in english:
            note += f", whose Spanish form is {best}"
        others = sorted(listed - set(english))
        if others:
            note += f"; also listed under {'/'.join(others)}, far rarer (Faker en_US)"
        chosen[nick] = (best, note)

    # No chains: follow a canonical that is itself an imported nickname; drop cycles.
    rows: list[dict[str, str]] = []
    for nick, (canonical, note) in sorted(chosen.items()):
        seen = {nick}
        while canonical in chosen and canonical not in seen:
            seen.add(canonical)
            canonical = chosen[canonical][0]
        if canonical in seen:
            skipped["nickname chain loops back"] += 1
            continue
        rows.append(
            {
                "name": nick,
                "canonical": canonical,
                "language": "en",
                "kind": "diminutive",
                "note": note,
                "source": PACKAGE,
            }
        )
    return hand, rows, skipped, ambiguous, (readable, weight, sexes, canonical_weight, known)


def build_readings(
    readable: dict[str, set[str]],
    canonical_of: dict[str, str],
    weight: dict[str, float],
    sexes: dict[str, set[str]],
    canonical_weight: dict[str, float],
    known: dict[str, str],
) -> list[dict[str, str]]:
    """Every formal name a nickname may stand for beyond its one canonical (MATTIE: MADISON and
    MARTHA as well as MATTHEW; AL, which has no canonical: ALAN, ALBERT, ALFRED ...), for the
    given_name comparison's `nickname` level (AL = ALAN and AL = ALBERT, never ALAN = ALBERT).
    The nicknames are those that passed rules 1-2 and the review; a reading is kept when it is
    a known given name (Faker's weights or known_given_names.csv: AMELIA and NORA have no en_US
    weight), of a sex the nickname is given to (rule 6), and, when the nickname is a given name
    in its own right (a common US given name by Faker's en_US weights: MEL, ELLA), shares its
    first letter or holds it whole (ELLA: ELEANOR, GABRIELLE), and is not in
    EXCLUDED_READINGS (reviewed by hand: MEL is not EMILIA)."""
    out: list[dict[str, str]] = []
    for nick, formal in sorted(readable.items()):
        own = canonical_of.get(nick)
        for reading in sorted(formal):
            while reading in canonical_of and reading != nick:  # no chains
                reading = canonical_of[reading]
            if reading in (nick, own) or (canonical_weight[reading] == 0 and reading not in known):
                continue
            if sexes.get(nick) and sexes.get(reading) and not sexes[nick] & sexes[reading]:
                continue
            # A nickname that is a common US given name in its own right (MEL, ELLA: Faker's
            # en_US weights) reads only as names that share its first letter or hold it whole.
            # known_given_names.csv is no test here: its Census 1990 list holds nearly every
            # nickname (TED, NED, HAL, BETSY, POLLY), which dropped EDWARD, HENRY, ELIZABETH.
            if weight.get(nick, 0) > 0 and reading[0] != nick[0] and nick not in reading:
                continue
            if (nick, reading) in EXCLUDED_READINGS:
                continue
            out.append(
                {
                    "name": nick,
                    "reading": reading,
                    "source": PACKAGE,
                    "note": "listed by the package" if own is None else f"besides {own}",
                }
            )
    return list({(r["name"], r["reading"]): r for r in out}.values())


def write_readings(inputs: tuple[Any, ...]) -> None:
    """nickname_readings.csv, over the canonical forms nicknames.csv holds now."""
    canonical_of = {r["name"]: r["canonical"] for r in read_table()}
    readings = build_readings(inputs[0], canonical_of, *inputs[1:])
    with READINGS.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=READING_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(readings)
    print(f"{READINGS}: {len(readings)} readings of {len({r['name'] for r in readings})} names")


def main() -> None:
    hand, imported, skipped, ambiguous, reading_inputs = build()
    if "--readings-only" in sys.argv:
        # Faker's name weights move between releases, and with them the canonical choices:
        # refresh the readings without rewriting the canonical table.
        write_readings(reading_inputs)
        return
    with TABLE.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(hand)
        writer.writerows(imported)
    total = len(imported) + sum(skipped.values())
    print(f"{TABLE}: {len(hand)} hand rows kept, {len(imported)} rows from {PACKAGE}")
    print(f"\n| package nicknames ({total}) | count |\n|---|---|")
    print(f"| imported | {len(imported)} |")
    for reason, count in skipped.most_common():
        print(f"| left out: {reason} | {count} |")
    print(f"\nambiguous, first 40: {'; '.join(ambiguous[:40])}")
    write_readings(reading_inputs)
    print("\ncommand: python3 benchmarks/tools/build_nickname_table.py")


if __name__ == "__main__":
    main()
