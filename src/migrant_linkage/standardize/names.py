"""Name standardization: given names, surnames, suffixes and parents' names.

Everything here derives new columns; the raw input columns are never changed (the orchestrator
keeps them). The rules are explained for data specialists in docs/names.md.

Speed: names have low cardinality, so every Python-level step (Unicode folding, particle parsing,
phonetic codes) runs once per *distinct* value or distinct combination of values and is then
broadcast back to the rows with numpy indexing. No Python loop runs per row.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import ftfy
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrant_linkage.schema import FLAG_SEPARATOR, QualityFlag

__all__ = [
    "NAME_INPUT_COLUMNS",
    "NAME_OUTPUT_COLUMNS",
    "canonical_given_name",
    "fold_name",
    "given_name_readings",
    "is_known_surname",
    "phonetic_key",
    "standardize_names",
]

NAME_INPUT_COLUMNS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name_1",
    "last_name_2",
    "suffix",
    "parent1_first",
    "parent1_last",
    "parent2_first",
    "parent2_last",
)

NAME_OUTPUT_COLUMNS: tuple[str, ...] = (
    "given_name_full",
    "middle_name_std",
    "given_name_1",
    "given_name_2",
    "given_name_1_canonical",
    "given_name_2_canonical",
    "given_name_1_readings",
    "given_name_1_phonetic",
    "given_name_2_phonetic",
    "given_name_1_known",
    "suffix_std",
    "surname_full",
    "surname_paternal",
    "surname_maternal",
    "surname_units_key",
    "surname_known",
    "surname_count",
    "surname_form",
    "surname_paternal_phonetic",
    "surname_maternal_phonetic",
    "parent_given_a",
    "parent_given_b",
    "parent_surnames_key",
    "name_flags",
)

# The flags this module can raise, in the sorted order used for the `name_flags` string.
_FLAGS: tuple[QualityFlag, ...] = tuple(
    sorted(
        (
            QualityFlag.GIVEN_NAME_MISSING,
            QualityFlag.SURNAME_MISSING,
            QualityFlag.NAME_HAS_DIGITS,
            QualityFlag.NAME_TRUNCATED_OR_INITIAL,
            QualityFlag.SUFFIX_IN_NAME,
            QualityFlag.SURNAME_FROM_MIDDLE_NAME,
            QualityFlag.NAME_PLACEHOLDER,
        ),
        key=str,
    )
)


# --------------------------------------------------------------------------------------------
# Reference data (CSV files in migrant_linkage/data, loaded once)
# --------------------------------------------------------------------------------------------


def _read_data_csv(filename: str) -> list[dict[str, str]]:
    with resources.files("migrant_linkage.data").joinpath(filename).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class _NameTables:
    nicknames: dict[str, str]  # name -> canonical
    readings: dict[str, str]  # nickname -> its canonical and every other formal name it may be
    particles_both: frozenset[str]  # stripped in surnames and in given names
    particles_surname: frozenset[str]  # stripped in surnames only
    joiners_both: frozenset[str]
    joiners_surname: frozenset[str]
    prefixes: frozenset[str]  # SAN, SANTA: glued to the next word, never stripped
    glued: dict[str, str]  # DELACRUZ -> CRUZ; keep rows map to themselves
    suffix_forms: dict[str, str]  # any accepted form in the suffix field -> JR/SR/II/...
    suffix_in_name: dict[str, str]  # forms also recognised at the end of a name field
    given_names: frozenset[str]
    surnames: frozenset[str]
    placeholders_given: _Placeholders
    placeholders_surname: _Placeholders


@dataclass(frozen=True)
class _Placeholders:
    """Placeholder values for one kind of field (data/placeholder_names.csv)."""

    values: frozenset[str]  # whole folded field values: NO NAME, ADULT MALE, N A
    words: frozenset[str]  # the one-word values: a field made only of them is one (BABY GIRL)
    first_words: frozenset[str]  # first word of every value: the cheap test most names fail

    def match(self, words: Sequence[str]) -> bool:
        return bool(words) and (
            " ".join(words) in self.values or all(w in self.words for w in words)
        )


def _placeholders(rows: list[dict[str, str]], applies: Sequence[str]) -> _Placeholders:
    values = frozenset(r["value"] for r in rows if r["applies_to"] in applies)
    one_word = frozenset(v for v in values if " " not in v)
    return _Placeholders(values, one_word, frozenset(v.split()[0] for v in values))


@cache
def _tables() -> _NameTables:
    nick = {r["name"]: r["canonical"] for r in _read_data_csv("nicknames.csv")}
    readings: dict[str, set[str]] = {}
    for r in _read_data_csv("nickname_readings.csv"):
        readings.setdefault(r["name"], {nick.get(r["name"], r["name"])}).add(r["reading"])
    part = _read_data_csv("surname_particles.csv")

    def forms(kind: str, applies: Sequence[str]) -> frozenset[str]:
        return frozenset(
            r["form"] for r in part if r["kind"] == kind and r["applies_to"] in applies
        )

    suffix_rows = _read_data_csv("name_suffixes.csv")
    placeholder_rows = _read_data_csv("placeholder_names.csv")
    given = {r["name"] for r in _read_data_csv("known_given_names.csv")}
    # Every nickname and canonical form is a given name too.
    given |= set(nick) | set(nick.values())
    return _NameTables(
        nicknames=nick,
        readings={name: " ".join(sorted(forms)) for name, forms in readings.items()},
        particles_both=forms("particle", ["both"]),
        particles_surname=forms("particle", ["both", "surname"]),
        joiners_both=forms("joiner", ["both"]),
        joiners_surname=forms("joiner", ["both", "surname"]),
        prefixes=forms("prefix", ["both", "surname"]),
        glued={r["form"]: r["unit"] for r in part if r["kind"] in ("glued", "keep")},
        suffix_forms={r["form"]: r["suffix"] for r in suffix_rows},
        suffix_in_name={r["form"]: r["suffix"] for r in suffix_rows if r["in_name_field"] == "yes"},
        given_names=frozenset(given),
        surnames=frozenset(r["name"] for r in _read_data_csv("known_surnames.csv")),
        placeholders_given=_placeholders(placeholder_rows, ("given", "both")),
        placeholders_surname=_placeholders(placeholder_rows, ("surname", "both")),
    )


# --------------------------------------------------------------------------------------------
# Folding: one distinct value at a time, cached
# --------------------------------------------------------------------------------------------

_APOSTROPHES = dict.fromkeys(map(ord, "'’‘`´ʼʻ′"), None)
# Letters that Unicode decomposition does not split into base letter + accent.
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "Ø": "O", "ø": "O", "Ł": "L"}
    | {"ł": "L", "Đ": "D", "đ": "D", "Þ": "TH", "þ": "TH", "ı": "I"}
)
# Anything that is not a letter or digit (punctuation, hyphens, emoji, controls, underscores).
_NOT_WORD = re.compile(r"[\W_]+")
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # not TAB, LF, VT, FF, CR
_DIGITS = re.compile(r"\d+")


# UTF-8 read as cp1252 turns every accented Latin letter into a sequence starting with one of
# these (É -> Ã‰, á -> Ã¡, Ł -> Å\x81, ’ -> â€™); only such values are handed to ftfy.
_MOJIBAKE_HINT = re.compile("[ÂÃÄÅâ]")


@lru_cache(maxsize=1_000_000)
def _fold_one(value: str) -> str | None:
    # Control bytes (NUL, ESC, DEL) are keying or export noise inside a word: delete them
    # rather than let them split LO<DEL>PEZ into two surname units.
    text = _ASCII_CONTROLS.sub("", value)
    if not text.isascii() and _MOJIBAKE_HINT.search(text):
        # Mojibake (JOSÃ‰, JosÃ©: UTF-8 read as cp1252 somewhere upstream) back to JOSÉ.
        text = ftfy.fix_text(text, normalization="NFC")
    text = text.translate(_APOSTROPHES)
    if not text.isascii():  # most names are plain ASCII and skip the Unicode work
        text = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
        # One pass drops accents and other combining marks (Ñ -> N, Á -> A, Ü -> U) and deletes
        # invisible format and control characters (zero-width space, soft hyphen, direction
        # marks, BOM) rather than turning them into a space. Whitespace is kept.
        text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] not in "CM")
    text = _NOT_WORD.sub(" ", text.upper()).strip()
    return text or None


def _distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes per row (missing -> -1) and the distinct values as a plain object array."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # Iterating an Arrow-backed array element by element is slow; convert it once.
    return codes, np.asarray(uniques, dtype=object)


def _distinct_map(values: pd.Series, func: Callable[[str], object]) -> tuple[np.ndarray, list]:
    """`func` once per distinct non-missing value. Returns (codes, mapped) where mapped has one
    extra trailing None that code -1 (missing) picks."""
    codes, uniques = _distinct(values)
    return codes, [func(str(v)) for v in uniques] + [None]


def _distinct_apply(values: pd.Series, func: Callable[[str], object]) -> np.ndarray:
    """Apply `func` once per distinct non-missing value; missing values give None."""
    codes, mapped = _distinct_map(values, func)
    out = np.empty(len(mapped), dtype=object)
    out[:] = mapped
    return out[codes]  # code -1 picks the trailing None


def _distinct_text(values: pd.Series, func: Callable[[str], str | None]) -> pd.Series:
    """A 'string' Series of `func` applied per distinct value, assembled with an Arrow take."""
    codes, mapped = _distinct_map(values, func)
    taken = _arrow(np.array(mapped, dtype=object)).take(pa.array(codes % len(mapped)))
    return _text(taken, values.index)


def _arrow(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def _text(values: np.ndarray | pa.Array, index: pd.Index) -> pd.Series:
    """A pandas 'string' Series; built through Arrow, which is much faster than from objects."""
    array = values if isinstance(values, pa.Array) else _arrow(values)
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index)


def fold_name(s: pd.Series) -> pd.Series:
    """Upper case, accents folded (Ñ->N, Á->A, Ü->U), apostrophes removed (O'BRIEN->OBRIEN),
    hyphens, periods, commas and any other punctuation, emoji or control character turned into
    a space, whitespace collapsed. Digits are kept. Empty results become NA."""
    return _distinct_text(s, _fold_one)


def is_known_given_name(s: pd.Series) -> pd.Series:
    """Whether each folded one-word given name is a real given name: in the given-name list
    (data/known_given_names.csv: Faker's locales and the US Census first names) or the
    nickname table. False for a typo (VQVID), a garbled value, or a name the lists lack;
    missing stays missing. The family guard reads it (zones.py)."""
    # Arrow's is_in against the list as an Arrow array: pandas' isin converts the 5,800 names
    # to Arrow scalars one by one on every call (20 ms even for a one-row search query).
    found = pc.is_in(
        pa.array(s, type=pa.large_string(), from_pandas=True), value_set=_known_given()
    )
    return pd.Series(found.to_numpy(zero_copy_only=False), index=s.index, dtype="boolean").mask(
        s.isna()
    )


@cache
def _known_given() -> pa.Array:
    return pa.array(sorted(_tables().given_names), type=pa.large_string())


def canonical_given_name(s: pd.Series) -> pd.Series:
    """Map one-word given names through the nickname table (LUPE -> GUADALUPE, JOHN -> JUAN).
    The input should already be folded; a name not in the table is its own canonical form."""
    nick = _tables().nicknames
    return _distinct_text(s, lambda v: nick.get(v, v))


def given_name_readings(s: pd.Series) -> pd.Series:
    """Every formal name a one-word given name may stand for, space-separated, when it is more
    than its canonical form (AL: ALAN ALBERTO ALFRED ...; MATTIE: MADISON MARTA MATEO); null
    for any other name. The `nickname` level reads it, so AL = ALAN and AL = ALFRED while
    ALAN and ALFRED stay two names (data/nickname_readings.csv)."""
    readings = _tables().readings
    return _distinct_text(s, readings.get)


def is_known_surname(units_key: pd.Series) -> pd.Series:
    """Whether every unit of each surname key is a real surname (data/known_surnames.csv:
    Faker's en_US, es_ES and es_MX surnames). False for a keying slip (BOXWBR, HEU SOTN) or a
    surname the list lacks; missing stays missing. The surname `two_edits` level reads it: two
    listed surnames two edits apart (GARCIA / GARZA) are two names, not a slip."""
    known = _tables().surnames

    def all_known(key: str) -> bool:
        return all(unit in known for unit in key.split())

    values = _distinct_apply(units_key, all_known)  # None where the key is missing
    return pd.Series(values, index=units_key.index, dtype="boolean")


# --------------------------------------------------------------------------------------------
# Phonetic key
# --------------------------------------------------------------------------------------------

# Spell the name the way it sounds in Mexican Spanish, so recruiters' spellings (Z/S, V/B,
# LL/Y, J/G/X, silent H, C/K/QU) collapse to one key. Rules apply in order (CH is protected
# before the C and H rules). benchmarks/name_phonetics.py measures the choice.
_SPANISH_SOUND_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"PH", "F"),  # ESTEPHANIA ~ ESTEFANIA
        (r"^X(?=[AEIOU])|X(?=[EI])", "J"),  # XIMENA, XAVIER, MEXIA ~ MEJIA
        (r"G(?=[EI])", "J"),  # GERARDO ~ JERARDO
        (r"GU(?=[EI])", "G"),  # GUILLERMO: the U is silent
        (r"QU(?=[EI])", "K"),
        (r"C(?=[EI])", "S"),  # CECILIA ~ SESILIA
        (r"CH", "1"),  # protect CH from the C and H rules
        (r"(?<=[A-Z])H|^H", ""),  # silent H (HERNANDEZ ~ ERNANDEZ)
        (r"1", "CH"),
        (r"LL", "Y"),  # LLAMAS ~ YAMAS
        (r"Y(?![AEIOU])", "I"),  # final/consonantal Y is a vowel: ARELY ~ ARELI
        (r"Y(?=[AEIOU])", "J"),  # YESENIA ~ JESENIA
        (r"Z", "S"),
        (r"[VW]", "B"),  # V and B sound alike; OSWALDO ~ OSVALDO
        (r"C(?!H)|Q", "K"),  # CARLA ~ KARLA
        (r"(.)\1+", r"\1"),  # double letters: RR, SS, NN
        (r"M$", "N"),  # ABRAHAM ~ ABRAHAN
    )
)


def _spanish_sound(name: str) -> str:
    for pattern, replacement in _SPANISH_SOUND_RULES:
        name = pattern.sub(replacement, name)
    return name


@lru_cache(maxsize=500_000)
def _phonetic_one(unit: str) -> str | None:
    # The Spanish sound spelling alone is the key: every generic algorithm we measured
    # (soundex, metaphone, nysiis, match rating) also merges MARIO/MARIA and DANIEL/DANIELA,
    # the names that tell opposite-sex twins apart. See docs/names.md for the table.
    return _spanish_sound(unit) or None


def phonetic_key(s: pd.Series) -> pd.Series:
    """Phonetic key of folded one-word names: the name re-spelt as it sounds in Mexican Spanish
    (Z/S, V/B/W, LL/Y, J/G/X before E/I, silent H, C/K/QU, I/Y, doubled letters). Vowels are
    kept, so MARIO and MARIA stay apart. Computed once per distinct value."""
    return _distinct_text(s, _phonetic_one)


# --------------------------------------------------------------------------------------------
# Parsing one field value (cached per distinct raw value)
# --------------------------------------------------------------------------------------------

_HYPHENS = re.compile(r"[-‐‑‒–—―]")
#: A number ending a field (BABY 1, BABY2): what tells twins recorded at birth apart.
_TRAILING_NUMBER = re.compile(r"\d+\s*$")


@dataclass(frozen=True)
class _FieldParse:
    full: str | None  # folded, digits and suffix removed
    units: tuple[str, ...]
    suffix: str | None  # suffix found at the end of the field
    has_digits: bool
    hyphenated: bool
    placeholder: bool = False  # the field held only a placeholder (UNKNOWN, BABY GIRL)

    @property
    def key(self) -> str | None:
        """Sorted distinct units of this field alone."""
        return " ".join(sorted(set(self.units))) or None


_EMPTY = _FieldParse(None, (), None, False, False)


def _tokens(value: str, whole_field_suffix: bool) -> tuple[list[str], str | None, bool, str]:
    """(words without digits and suffix, suffix, had digits, the folded field)."""
    folded = _fold_one(value) or ""
    has_digits = bool(_DIGITS.search(folded))
    tokens = _DIGITS.sub("", folded).split()
    suffix = None
    in_name = _tables().suffix_in_name
    # A suffix is only taken from the end of a field that holds something else too, so a lone
    # given name is never lost; the middle-name field may consist of the suffix alone.
    if tokens and tokens[-1] in in_name and (len(tokens) > 1 or whole_field_suffix):
        suffix = in_name[tokens.pop()]
    return tokens, suffix, has_digits, folded


def _is_placeholder(folded: str, suffix: str | None, placeholders: _Placeholders) -> bool:
    """The folded field, a trailing suffix moved out (UNKNOWN JR), is a placeholder. A number
    at the end counts: BABY 1 / BABY 2 (twins) are not the placeholder BABY, and neither are
    BABY A / TWIN B: what tells the twins apart stays (docs/names.md, §1b). Digits anywhere
    else are a keying slip and are dropped first, as they are from the name itself
    (0UNKNOWN is UNKNOWN), so the standardized value never turns into a placeholder later."""
    if not _TRAILING_NUMBER.search(folded):
        folded = _DIGITS.sub("", folded).strip()
    if folded.partition(" ")[0] not in placeholders.first_words:
        return False  # nearly every real name stops here, after one set lookup
    words = folded.split()
    if suffix is not None and words[-1] in _tables().suffix_in_name:
        words.pop()
    return placeholders.match(words)


def _drop_joiners(tokens: list[str], joiners: frozenset[str]) -> list[str]:
    # "Y" between two words joins them (GARCIA Y LOPEZ); at the end it is an initial.
    last = len(tokens) - 1
    return [t for i, t in enumerate(tokens) if not (t in joiners and 0 < i < last)]


@lru_cache(maxsize=500_000)
def _parse_given(value: str, whole_field_suffix: bool = False) -> _FieldParse:
    t = _tables()
    tokens, suffix, has_digits, folded = _tokens(value, whole_field_suffix)
    if _is_placeholder(folded, suffix, t.placeholders_given):  # UNKNOWN, BABY GIRL, FNU
        return _FieldParse(None, (), suffix, has_digits, False, placeholder=True)
    tokens = _drop_joiners(tokens, t.joiners_both)
    last = len(tokens) - 1
    # MARIA DE LOS ANGELES -> MARIA, ANGELES: particles dropped when a word follows them.
    units = tuple(tok for i, tok in enumerate(tokens) if not (tok in t.particles_both and i < last))
    return _FieldParse(" ".join(tokens) or None, units, suffix, has_digits, False)


def _surname_units(tokens: list[str]) -> tuple[str, ...]:
    t = _tables()
    tokens = _drop_joiners(tokens, t.joiners_surname)
    # SAN MARTIN -> SANMARTIN: the prefix belongs to the surname.
    merged: list[str] = []
    for tok in tokens:
        if merged and merged[-1] in t.prefixes:
            merged[-1] += tok
        else:
            merged.append(tok)
    units: list[str] = []
    pending: list[str] = []  # particles waiting for their core word
    last = len(merged) - 1
    for i, tok in enumerate(merged):
        if tok in t.particles_surname and i < last:
            pending.append(tok)
            continue
        glued = "".join(pending) + tok
        if glued in t.glued:  # explicit table: DELACRUZ -> CRUZ, DE LA O -> DELAO
            units.append(t.glued[glued])
        elif pending and len(tok) == 1:  # DE LA X: a one-letter core keeps its particles
            units.append(glued)
        else:
            units.append(tok)
        pending = []
    return tuple(units)


@lru_cache(maxsize=500_000)
def _parse_surname(value: str) -> _FieldParse:
    tokens, suffix, has_digits, folded = _tokens(value, whole_field_suffix=False)
    if _is_placeholder(folded, suffix, _tables().placeholders_surname):  # UNKNOWN, LNU
        return _FieldParse(None, (), suffix, has_digits, False, placeholder=True)
    if len(tokens) == 1 and len(tokens[0]) == 1:
        # A surname field holding one letter is no surname: a filler (Census PVS lists A to Y
        # as placeholder surnames) or an initial, which says too little to compare as a name.
        return _FieldParse(None, (), suffix, has_digits, False, placeholder=True)
    units = _surname_units(tokens)
    hyphenated = bool(_HYPHENS.search(value)) and len(units) > 1
    return _FieldParse(" ".join(tokens) or None, units, suffix, has_digits, hyphenated)


@lru_cache(maxsize=500_000)
def _parse_middle(value: str) -> _FieldParse:
    # The middle-name field may hold the suffix alone ("JR"); see _tokens.
    return _parse_given(value, whole_field_suffix=True)


@lru_cache(maxsize=100_000)
def _parse_suffix_field(value: str) -> str | None:
    forms = _tables().suffix_forms
    for tok in (_fold_one(value) or "").split():
        if tok in forms:
            return forms[tok]
    return None


@lru_cache(maxsize=500_000)
def _middle_surname_candidate(value: str) -> str | None:
    """The middle-name value when it is one known surname and not a known given name."""
    t = _tables()
    tokens, suffix, _, folded = _tokens(value, whole_field_suffix=True)
    if _is_placeholder(folded, suffix, t.placeholders_given):
        return None
    units = _surname_units(tokens)
    if suffix is None and len(units) == 1:
        unit = units[0]
        if unit in t.surnames and unit not in t.given_names:
            return unit
    return None


# --------------------------------------------------------------------------------------------
# Column helpers
# --------------------------------------------------------------------------------------------


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    if name in raw.columns:
        return raw[name]
    return pd.Series(pd.NA, index=raw.index, dtype="string")


def _factorize(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    codes, uniques = _distinct(values)
    return codes, [str(v) for v in uniques]


def _parse_column(
    values: pd.Series, parse: Callable[[str], _FieldParse]
) -> tuple[np.ndarray, list[_FieldParse]]:
    """Codes per row and one parse per distinct value; code -1 (missing) maps to _EMPTY."""
    codes, uniques = _factorize(values)
    parsed = [parse(v) for v in uniques] + [_EMPTY]
    codes = np.where(codes < 0, len(uniques), codes)
    return codes, parsed


def _field(
    parsed: list[_FieldParse],
    codes: np.ndarray,
    get: Callable[[_FieldParse], object],
    dtype: type | np.dtype = object,
) -> np.ndarray:
    # Numbers and booleans get a native dtype: taking them per row is much cheaper than objects.
    out = np.empty(len(parsed), dtype=dtype)
    for i, p in enumerate(parsed):
        out[i] = get(p)
    return out[codes]


def _unit(units: tuple[str, ...], i: int) -> str | None:
    return units[i] if len(units) > i else None


def _combine_codes(*code_arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorize combinations of non-negative code arrays. Returns (group per row, first row of
    each group) so a Python function can run once per distinct combination."""
    combined = np.zeros(len(code_arrays[0]), dtype=np.int64)
    for codes in code_arrays:
        combined = pd.factorize(combined * (int(codes.max(initial=0)) + 1) + codes)[0]
    _, first_row = np.unique(combined, return_index=True)
    return combined, first_row


# --------------------------------------------------------------------------------------------
# One column family at a time (each step works on whole columns)
# --------------------------------------------------------------------------------------------


@dataclass
class _ParsedColumn:
    """Per-row view of one parsed field: codes into the distinct values and their parses."""

    codes: np.ndarray
    parsed: list[_FieldParse]

    def get(
        self, attribute: Callable[[_FieldParse], object], dtype: type | np.dtype = object
    ) -> np.ndarray:
        return _field(self.parsed, self.codes, attribute, dtype)

    def flag(self, test: Callable[[_FieldParse], bool]) -> np.ndarray:
        return self.get(test, bool)

    def placeholder(self) -> np.ndarray:
        # Placeholders are rare: skip the per-row take when no distinct value is one.
        if not any(p.placeholder for p in self.parsed):
            return np.zeros(len(self.codes), dtype=bool)
        return self.flag(lambda p: p.placeholder)

    def unit_is_initial(self, i: int) -> np.ndarray:
        return self.flag(lambda p: len(p.units) > i and len(p.units[i]) == 1)

    def text(self, attribute: Callable[[_FieldParse], str | None], index: pd.Index) -> pd.Series:
        """One string attribute as a 'string' Series, assembled with an Arrow take."""
        distinct = np.array([attribute(p) for p in self.parsed], dtype=object)
        return _text(_arrow(distinct).take(pa.array(self.codes)), index)

    def unit(self, i: int) -> np.ndarray:
        return self.get(lambda p: _unit(p.units, i))

    def count(self) -> np.ndarray:
        return self.get(lambda p: len(p.units), np.int64)


def _shared(parse: Callable[[str], _FieldParse]) -> Callable[[str], _FieldParse]:
    """`parse` remembering its results: the child's and the parents' surname columns hold
    mostly the same surnames, so each distinct value is parsed once across all of them."""
    cache: dict[str, _FieldParse] = {}

    def parse_once(value: str) -> _FieldParse:
        found = cache.get(value)
        if found is None:
            found = cache[value] = parse(value)
        return found

    return parse_once


def _parsed(raw: pd.DataFrame, column: str, parse: Callable[[str], _FieldParse]) -> _ParsedColumn:
    codes, parsed = _parse_column(_column(raw, column), parse)
    return _ParsedColumn(codes, parsed)


def _join_words(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Join two per-row strings with one space, skipping a missing one; both missing -> None."""
    na_a, na_b = pd.isna(a), pd.isna(b)
    both = np.where(na_a, "", a) + " " + np.where(na_b, "", b)
    return np.where(na_a, b, np.where(na_b, a, both))


def _pair_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted distinct key of two non-missing units per row: 'A B', or 'A' when equal."""
    a_first = a <= b
    lo, hi = np.where(a_first, a, b), np.where(a_first, b, a)
    return np.where(a == b, a, lo + " " + hi)


def _units_key(first: _ParsedColumn, second: _ParsedColumn) -> np.ndarray:
    """Sorted distinct units of two surname fields. One field empty -> that field's own key;
    one unit each -> vectorised pair; longer combinations -> once per distinct combination."""
    n1, n2 = first.count(), second.count()
    key = np.where(n2 == 0, first.get(lambda p: p.key), second.get(lambda p: p.key))
    pair = np.flatnonzero((n1 == 1) & (n2 == 1))
    key[pair] = _pair_key(first.unit(0)[pair], second.unit(0)[pair])
    general = np.flatnonzero((n1 > 0) & (n2 > 0) & ((n1 > 1) | (n2 > 1)))
    if len(general):
        c1, c2 = first.codes[general], second.codes[general]
        combo, first_row = _combine_codes(c1, c2)
        keys = np.array(
            [
                " ".join(sorted(set(first.parsed[c1[r]].units + second.parsed[c2[r]].units)))
                for r in first_row
            ],
            dtype=object,
        )
        key[general] = keys[combo]
    return key


def _surname_columns(
    l1: _ParsedColumn, l2: _ParsedColumn, middle_candidate: np.ndarray
) -> dict[str, np.ndarray]:
    n1, n2 = l1.count(), l2.count()
    # The paternal surname keyed into the middle-name field (see docs/names.md for the rule).
    from_middle = (n2 == 0) & (n1 == 1) & pd.notna(middle_candidate)
    l1_first = l1.unit(0)

    paternal = np.where(n1 > 0, l1_first, None)
    # Second unit in the order given; last_name_2 alone stays in the maternal position.
    maternal = np.where(n1 >= 2, l1.unit(1), l2.unit(0))
    paternal = np.where(from_middle, middle_candidate, paternal)
    maternal = np.where(from_middle, l1_first, maternal)

    key = _units_key(l1, l2)
    moved = np.flatnonzero(from_middle)
    key[moved] = _pair_key(middle_candidate[moved], l1_first[moved])

    # One-letter units (NAME_TRUNCATED_OR_INITIAL), tracked along the same choices as above;
    # a middle-name candidate is never one letter (the name lists hold none).
    l1_first_initial = l1.unit_is_initial(0)
    initial = np.where(from_middle, False, l1_first_initial) | np.where(
        from_middle,
        l1_first_initial,
        np.where(n1 >= 2, l1.unit_is_initial(1), l2.unit_is_initial(0)),
    )

    hyphenated = l1.flag(lambda p: p.hyphenated) | l2.flag(lambda p: p.hyphenated)
    total = n1 + n2
    form = np.select(
        [from_middle, (n1 > 0) & (n2 > 0), total == 0, total == 1, hyphenated],
        ["FROM_MIDDLE", "SPLIT", "NONE", "SINGLE", "HYPHENATED"],
        default="COMBINED",
    ).astype(object)
    l1_full = l1.get(lambda p: p.full)
    full = _join_words(
        np.where(from_middle, middle_candidate, l1_full),
        np.where(from_middle, l1_full, l2.get(lambda p: p.full)),
    )
    return {
        "surname_full": full,
        "surname_paternal": paternal,
        "surname_maternal": maternal,
        "surname_units_key": key,
        "surname_count": np.where(from_middle, 2, total),
        "surname_form": form,
        "from_middle": from_middle,
        "initial": initial.astype(bool),
    }


def _middle_candidates(raw: pd.DataFrame) -> np.ndarray:
    return _distinct_apply(_column(raw, "middle_name"), _middle_surname_candidate)


def _suffix_column(
    raw: pd.DataFrame, fields: Sequence[_ParsedColumn]
) -> tuple[np.ndarray, np.ndarray]:
    """suffix_std (suffix field first, else the first suffix found in a name field) and
    whether a suffix was found inside a name field."""
    suffix = _distinct_apply(_column(raw, "suffix"), _parse_suffix_field)
    in_name = np.zeros(len(raw), dtype=bool)
    for field in fields:
        found = field.get(lambda p: p.suffix)
        has = pd.notna(found)
        in_name |= has
        suffix = np.where(pd.isna(suffix) & has, found, suffix)
    return suffix, in_name


def _parent_columns(
    raw: pd.DataFrame,
    parse_given: Callable[[str], _FieldParse] = _parse_given,
    parse_surname: Callable[[str], _FieldParse] = _parse_surname,
) -> dict[str, np.ndarray]:
    first_1 = _parsed(raw, "parent1_first", parse_given)
    first_2 = _parsed(raw, "parent2_first", parse_given)
    given_1, given_2 = first_1.unit(0), first_2.unit(0)
    # Order-free: a <= b alphabetically, a missing name last (it sorts after any name).
    last = "\U0010ffff"
    swap = np.where(pd.isna(given_2), last, given_2) < np.where(pd.isna(given_1), last, given_1)
    p1 = _parsed(raw, "parent1_last", parse_surname)
    p2 = _parsed(raw, "parent2_last", parse_surname)
    placeholder = np.zeros(len(raw), dtype=bool)
    for field in (first_1, first_2, p1, p2):
        placeholder |= field.placeholder()
    return {
        "parent_given_a": np.where(swap, given_2, given_1),
        "parent_given_b": np.where(swap, given_1, given_2),
        "parent_surnames_key": _units_key(p1, p2),
        "placeholder": placeholder,
    }


def _flag_strings(flags: dict[QualityFlag, np.ndarray], n: int) -> pa.Array:
    """Sorted ';'-joined flag codes per row, built from a bit mask (at most 64 strings)."""
    bits = np.zeros(n, dtype=np.int64)
    for i, flag in enumerate(_FLAGS):
        bits |= np.asarray(flags[flag], dtype=bool).astype(np.int64) << i
    strings = pa.array(
        [
            FLAG_SEPARATOR.join(str(f) for i, f in enumerate(_FLAGS) if mask >> i & 1)
            for mask in range(1 << len(_FLAGS))
        ],
        type=pa.large_string(),
    )
    return strings.take(pa.array(bits))


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def standardize_names(raw: pd.DataFrame) -> pd.DataFrame:
    """Derive the standardized name columns of the record contract.

    `raw` has (string or NA) columns first_name, middle_name, last_name_1, last_name_2, suffix,
    parent1_first, parent1_last, parent2_first, parent2_last; a missing column counts as all NA.
    Returns a frame with the same index and the columns in NAME_OUTPUT_COLUMNS; `name_flags`
    holds the sorted QualityFlag codes this module raised, joined by ';' ('' when none).
    """
    parse_given, parse_surname = _shared(_parse_given), _shared(_parse_surname)
    first = _parsed(raw, "first_name", parse_given)
    middle = _parsed(raw, "middle_name", _parse_middle)
    l1 = _parsed(raw, "last_name_1", parse_surname)
    l2 = _parsed(raw, "last_name_2", parse_surname)

    surnames = _surname_columns(l1, l2, _middle_candidates(raw))
    from_middle = surnames.pop("from_middle")
    surname_initial = surnames.pop("initial")

    given_1 = first.unit(0)
    # Second given unit: rest of the first name, else the middle name unless it held a surname.
    given_2 = first.unit(1)
    middle_first = np.where(from_middle, None, middle.unit(0))
    given_2 = np.where(pd.isna(given_2), middle_first, given_2)

    suffix_std, suffix_in_name = _suffix_column(raw, (l1, l2, first, middle))

    has_digits = np.zeros(len(raw), dtype=bool)
    placeholder = np.zeros(len(raw), dtype=bool)
    for field in (first, middle, l1, l2):
        has_digits |= field.flag(lambda p: p.has_digits)
        placeholder |= field.placeholder()
    parents = _parent_columns(raw, parse_given, parse_surname)
    placeholder |= parents.pop("placeholder")
    flags = _flag_strings(
        {
            QualityFlag.GIVEN_NAME_MISSING: pd.isna(given_1),
            QualityFlag.SURNAME_MISSING: surnames["surname_count"] == 0,
            QualityFlag.NAME_HAS_DIGITS: has_digits,
            QualityFlag.NAME_TRUNCATED_OR_INITIAL: first.unit_is_initial(0) | surname_initial,
            QualityFlag.SUFFIX_IN_NAME: suffix_in_name,
            QualityFlag.SURNAME_FROM_MIDDLE_NAME: from_middle,
            QualityFlag.NAME_PLACEHOLDER: placeholder,
        },
        len(raw),
    )

    index = raw.index

    def text(values: np.ndarray) -> pd.Series:
        return _text(values, index)

    given_1_s, given_2_s = first.text(lambda p: _unit(p.units, 0), index), text(given_2)
    paternal_s, maternal_s = text(surnames["surname_paternal"]), text(surnames["surname_maternal"])
    columns = {
        "given_name_full": first.text(lambda p: p.full, index),
        "middle_name_std": middle.text(lambda p: p.full, index),
        "given_name_1": given_1_s,
        "given_name_2": given_2_s,
        "given_name_1_canonical": canonical_given_name(given_1_s),
        "given_name_2_canonical": canonical_given_name(given_2_s),
        "given_name_1_readings": given_name_readings(given_1_s),
        "given_name_1_phonetic": phonetic_key(given_1_s),
        "given_name_2_phonetic": phonetic_key(given_2_s),
        "given_name_1_known": is_known_given_name(given_1_s),
        "suffix_std": text(suffix_std),
        "surname_full": text(surnames["surname_full"]),
        "surname_paternal": paternal_s,
        "surname_maternal": maternal_s,
        "surname_units_key": text(surnames["surname_units_key"]),
        "surname_known": is_known_surname(text(surnames["surname_units_key"])),
        "surname_count": pd.Series(surnames["surname_count"], index=index, dtype="Int64"),
        "surname_form": text(surnames["surname_form"]),
        "surname_paternal_phonetic": phonetic_key(paternal_s),
        "surname_maternal_phonetic": phonetic_key(maternal_s),
        "parent_given_a": text(parents["parent_given_a"]),
        "parent_given_b": text(parents["parent_given_b"]),
        "parent_surnames_key": text(parents["parent_surnames_key"]),
        "name_flags": text(flags),
    }
    return pd.DataFrame(columns, index=index)[list(NAME_OUTPUT_COLUMNS)]
