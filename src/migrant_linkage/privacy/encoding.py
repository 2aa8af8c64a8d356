"""Encoding a standardized table: keyed hashes for equality, salted Bloom filters for fuzzy names.

* exact-level columns (names, name keys, birth date and its parts, IDs, birth place, parents)
  become keyed hashes: HMAC-SHA256(domain key, value), hex. Equal values give equal hashes, so
  every equality-based blocking rule and comparison level still works. Space-separated keys
  (surname units, parents' surnames) are hashed unit by unit, so "shares a surname unit" works.
* fuzzy name levels get a Bloom filter of the name's bigrams (Schnell, Bachteler and Reiher
  2009): each padded bigram (_M, MA, AR, ...) sets `BLOOM_HASHES` bits chosen by keyed hashes.
  The Dice coefficient of two filters approximates the Dice coefficient of the two names'
  bigram sets, so MARIA and MARYA are still close.
* the Bloom filters are salted per record with the birth year (Niedermeyer et al. 2014;
  Christen et al. 2018): the bit positions of a bigram depend on the record's birth year, so
  MARIA born 2012 and MARIA born 2013 have unrelated filters. A frequent filter then stands for
  a (name, year) pair, which spreads the frequency peaks an attacker aligns with a name list,
  and bit positions learnt from one year say nothing about another.
  benchmarks/privacy_attack.py measures what this buys; docs/privacy.md what it costs.

A Bloom filter is stored as `BLOOM_WORDS` signed 64-bit integer columns (`<col>_bf0`, ...).
Dice is plain integer SQL, `2 * sum(bit_count(l.w & r.w)) / sum(bit_count(l.w) +
bit_count(r.w))`, which DuckDB and Spark SQL both evaluate natively (`&` on BIGINT and
`bit_count`): no UDF, no array or bit-string type whose functions differ between engines.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from migrant_linkage.privacy.keys import (
    ENCODING_VERSION,
    EncodingError,
    domain_key,
    key_fingerprint,
    master_key,
)
from migrant_linkage.schema import PAIR_INPUT_COLUMNS, UNIQUE_ID_COLUMN

__all__ = [
    "BLOOM_BITS",
    "BLOOM_COLUMNS",
    "BLOOM_HASHES",
    "BLOOM_SALT_COLUMN",
    "BLOOM_WORDS",
    "CLEAR_COLUMNS",
    "DROPPED_COLUMNS",
    "HASHED_COLUMNS",
    "LEVELS_NOT_ENCODED",
    "FUZZY_DICE",
    "bloom_word_columns",
    "encode",
]

#: Bloom filter size and number of hash functions per bigram. A name of n letters has n + 1
#: padded bigrams, so a 12-letter name sets at most 65 of 1024 bits. Two unrelated names then
#: share about 65 * 65 / 1024 = 4 bits by chance, so the filter's Dice stays within about 0.06
#: of the names' bigram Dice (fewer bits per bigram or a smaller filter inflate it: 10 hashes in
#: 512 bits made unrelated long names look 0.25 alike).
BLOOM_BITS = 1024
BLOOM_HASHES = 5
BLOOM_WORDS = BLOOM_BITS // 64

#: Hex characters kept of each HMAC (96 bits: no accidental collision among names or dates).
HASH_HEX_CHARS = 24

#: Columns kept in clear: they identify the record or its sender, not the child, or they are
#: derived flags the model needs as literals (multiple_birth_std 'Y'). See docs/privacy.md.
CLEAR_COLUMNS: tuple[str, ...] = (
    UNIQUE_ID_COLUMN,
    "state",
    "source_name",
    "source_row",
    "state_std",
    "surname_count",
    "surname_form",
    "birth_date_is_default",
    "birth_date_verified",
    "multiple_birth_std",
    "given_name_1_known",  # whether the first given name is a listed name (the family guard)
    "surname_known",  # whether the surname is a listed one (the plain model's two_edits level)
    "quality_flags",
)

#: Hashed column -> hashing domain. Columns compared with each other share a domain (and so a
#: key): paternal on one side is compared with maternal on the other, a date with a transposed
#: date, a first given name with a second one. Different domains get unrelated keys, so the
#: hash of GARCIA as a surname says nothing about GARCIA as a parent's surname.
HASHED_COLUMNS: dict[str, str] = {
    "state_student_id_std": "state_student_id",
    "msix_id_std": "msix_id",
    "given_name_1": "given_name",
    "given_name_2": "given_name",
    "given_name_1_canonical": "given_name",
    "given_name_2_canonical": "given_name",
    "given_name_1_readings": "given_name",  # unit by unit, so a reading meets a canonical form
    "given_name_1_phonetic": "given_name_phonetic",
    "given_name_2_phonetic": "given_name_phonetic",
    "suffix_std": "suffix",
    "surname_paternal": "surname",
    "surname_maternal": "surname",
    "surname_units_key": "surname",  # unit by unit
    "surname_paternal_phonetic": "surname_phonetic",
    "surname_maternal_phonetic": "surname_phonetic",
    "birth_date_std": "birth_date",
    "birth_date_transposed": "birth_date",
    "birth_year": "birth_year",
    "birth_month": "birth_month",
    "birth_day": "birth_day",
    "sex_std": "sex",
    "birth_city_std": "birth_city",
    "birth_state_std": "birth_state",
    "birth_country_std": "birth_country",
    "parent_given_a": "parent_given",
    "parent_given_b": "parent_given",
    "parent_surnames_key": "parent_surname",  # unit by unit
}

#: Keys hashed unit by unit (space-separated units stay space-separated hashes).
UNIT_KEYED_COLUMNS: tuple[str, ...] = (
    "surname_units_key",
    "parent_surnames_key",
    "given_name_1_readings",
)

#: Columns that also get a Bloom filter for the fuzzy levels.
BLOOM_COLUMNS: tuple[str, ...] = ("given_name_1", "surname_paternal", "surname_maternal")

#: Standardized columns with no encoded form: free text or not used by the encoded model.
DROPPED_COLUMNS: tuple[str, ...] = (
    "given_name_full",
    "middle_name_std",
    "surname_full",
    "enrollment_date_std",
    # The plain comparisons' per-record inputs: names and the raw birth date, re-arranged.
    *PAIR_INPUT_COLUMNS,
)

#: Levels of the plain comparisons the encoded ones cannot have: they compare free text across
#: fields (given names against surnames), parents by string similarity, dates by arithmetic, or
#: names by edit distance, none of which survives hashing (tests/test_pipeline.py runs the
#: cheat sheet over the encoded comparisons and checks this list).
LEVELS_NOT_ENCODED: frozenset[tuple[str, str]] = frozenset(
    {
        ("surname", "maternal_differs"),
        ("surname", "in_given"),
        ("surname", "joined"),  # free text (surname_full) is dropped
        ("surname", "swapped_with_given"),
        ("surname", "two_edits"),  # edit distance over free text
        ("birth_date", "year_off_by_one"),
        ("birth_date", "one_digit"),
        ("birth_date", "unparseable_one_digit"),  # the raw field is not encoded
        ("birth_date", "within_days"),
        ("parents", "fuzzy"),
        ("given_name", "two_edits"),
        ("given_name", "exact_with_second"),  # its frequency column is not encoded
        ("given_name", "joined"),  # free text (given_name_full, middle_name_std) is dropped
        ("given_name", "swapped_with_surname"),  # names and surnames hash in different domains
    }
)

#: Dice thresholds of the fuzzy levels (bigram Dice 0.8 is about Jaro-Winkler 0.9 on names).
FUZZY_DICE = 0.8


#: The record attribute that salts the Bloom filters: stable between true matches and spread
#: over about fifteen common values (None: unsalted, one filter per name in the whole file).
BLOOM_SALT_COLUMN: str | None = "birth_year"


def bloom_word_columns(column: str) -> list[str]:
    """The BLOOM_WORDS integer columns that hold the Bloom filter of `column`."""
    return [f"{column}_bf{w}" for w in range(BLOOM_WORDS)]


# ------------------------------------------------------------------------------------ hashing
@lru_cache(maxsize=1_000_000)
def _hash_one(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]


@lru_cache(maxsize=1_000_000)
def _hash_units(key: bytes, value: str) -> str:
    # Sorted after hashing, so the encoded key is a set like the plain one.
    return " ".join(sorted({_hash_one(key, unit) for unit in value.split()}))


@lru_cache(maxsize=1_000_000)
def _bloom_one(key: bytes, salt: str, value: str) -> tuple[int, ...]:
    """The Bloom filter of the padded bigrams of `value` under the record's `salt`: BLOOM_WORDS
    signed int64 words."""
    salted = hmac.new(key, f"salt/{salt}".encode(), hashlib.sha256).digest()
    padded = f"_{value}_"
    bits = 0
    for gram in {padded[i : i + 2] for i in range(len(padded) - 1)}:
        digest = hmac.new(salted, gram.encode("utf-8"), hashlib.sha256).digest()
        # Double hashing (Kirsch-Mitzenmacher): position j = h1 + j * h2 mod BLOOM_BITS.
        h1 = int.from_bytes(digest[:8], "big")
        h2 = int.from_bytes(digest[8:16], "big") | 1
        for j in range(BLOOM_HASHES):
            bits |= 1 << ((h1 + j * h2) % BLOOM_BITS)
    words = []
    for w in range(BLOOM_WORDS):
        word = (bits >> (64 * w)) & 0xFFFFFFFFFFFFFFFF
        words.append(word - (1 << 64) if word >= 1 << 63 else word)  # as signed BIGINT
    return tuple(words)


def _per_distinct(values: pd.Series, func: Callable[[str], Any]) -> tuple[np.ndarray, list[Any]]:
    """(codes, mapped uniques): `func` runs once per distinct non-missing value; code -1 marks
    a missing value."""
    codes, uniques = pd.factorize(_canonical_text(values), use_na_sentinel=True)
    return codes, [func(str(v)) for v in uniques]


def _canonical_text(values: pd.Series) -> pd.Series:
    """The text that is hashed. Whole numbers are written without a decimal part, so a birth
    year that went through a float column on one side (2010.0) hashes like 2010 on the other."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == whole.round()).all():
            values = values.astype("Int64")
    return values.astype("str").where(values.notna())


def _hash_column(values: pd.Series, key: bytes, unit_keyed: bool) -> pd.Series:
    func = (lambda v: _hash_units(key, v)) if unit_keyed else (lambda v: _hash_one(key, v))
    codes, mapped = _per_distinct(values, func)
    out = np.array([*mapped, None], dtype=object)[codes]  # code -1 picks the trailing None
    return pd.Series(out, index=values.index, dtype="str")


def _bloom_columns(values: pd.Series, salts: pd.Series, column: str, key: bytes) -> pd.DataFrame:
    """BLOOM_WORDS nullable BIGINT columns: the filter of each record's value under its salt.
    Computed once per distinct (salt, value); a missing salt is a salt of its own."""
    salt_text = _canonical_text(salts).fillna("")
    joined = (salt_text + "\x1f" + _canonical_text(values)).where(values.notna())
    codes, mapped = _per_distinct(joined, lambda v: _bloom_one(key, *v.split("\x1f", 1)))
    # One all-zero row appended for missing values (code -1 picks it), masked to NA below.
    table = np.array([*mapped, (0,) * BLOOM_WORDS], dtype=np.int64)
    rows = table[codes]
    missing = codes < 0
    return pd.DataFrame(
        {
            name: pd.arrays.IntegerArray(rows[:, position], missing.copy())
            for position, name in enumerate(bloom_word_columns(column))
        },
        index=values.index,
    )


# ------------------------------------------------------------------------------------ encode
def encode(
    standardized: pd.DataFrame,
    secret: str | bytes,
    *,
    keep_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Encode a standardized table (migrant_linkage.standardize) for privacy-preserving linkage.

    Returns record_id, state and the other CLEAR_COLUMNS, every HASHED_COLUMNS column replaced
    by its keyed hash (same column name), Bloom-filter columns for BLOOM_COLUMNS, and
    `encoding_version` / `encoding_key` (the key fingerprint). Raw input columns and free-text
    standardized columns are dropped. `keep_columns` carries extra columns through unchanged
    (the synthetic benchmark keeps its truth columns; never pass identifying columns).
    """
    missing = [c for c in (UNIQUE_ID_COLUMN, *HASHED_COLUMNS) if c not in standardized.columns]
    if missing:
        raise EncodingError(
            f"encode() needs a standardized table (migrant_linkage.standardize); missing "
            f"columns: {missing}"
        )
    unknown = [c for c in keep_columns if c not in standardized.columns]
    if unknown:
        raise EncodingError(f"keep_columns {unknown} are not columns of the table")
    master = master_key(secret)
    keys = {d: domain_key(master, d) for d in sorted(set(HASHED_COLUMNS.values()))}

    out = pd.DataFrame(index=standardized.index)
    for column in CLEAR_COLUMNS:
        if column in standardized.columns:
            out[column] = standardized[column]
    out[UNIQUE_ID_COLUMN] = standardized[UNIQUE_ID_COLUMN].astype("str")
    for column, domain in HASHED_COLUMNS.items():
        out[column] = _hash_column(standardized[column], keys[domain], column in UNIT_KEYED_COLUMNS)
    for column in BLOOM_COLUMNS:
        bloom_key = domain_key(master, f"bloom/{HASHED_COLUMNS[column]}")
        salts = (
            standardized[BLOOM_SALT_COLUMN]
            if BLOOM_SALT_COLUMN is not None
            else pd.Series("", index=standardized.index)
        )
        out = pd.concat(
            [out, _bloom_columns(standardized[column], salts, column, bloom_key)], axis=1
        )
    for column in keep_columns:
        out[column] = standardized[column]
    out["encoding_version"] = ENCODING_VERSION
    out["encoding_key"] = key_fingerprint(secret)
    return out.reset_index(drop=True)
