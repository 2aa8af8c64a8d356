"""Privacy-preserving linkage: link two states' records without sharing names or birth dates.

For states that may not exchange raw identifiers, each state standardizes its own file, then
`encode`s it with a secret both states share (and the linking party does not need to know):

* exact-level columns (names, name keys, birth date and its parts, IDs, birth place, parents)
  become keyed hashes: HMAC-SHA256(secret, value), hex. Equal values give equal hashes, so every
  equality-based blocking rule and comparison level still works; nothing else is learnable
  from a hash without the secret. Space-separated keys (surname units, parents' surnames) are
  hashed unit by unit, so "shares a surname unit" still works.
* fuzzy name levels get a Bloom filter of the name's bigrams (Schnell, Bachteler and Reiher
  2009): each padded bigram (_M, MA, AR, ...) sets `BLOOM_HASHES` bits chosen by keyed hashes.
  The Dice coefficient of two filters approximates the Dice coefficient of the two names'
  bigram sets, so MARIA and MARYA are still close.

A Bloom filter is stored as `BLOOM_WORDS` signed 64-bit integer columns (`<col>_bf0`, ...)
plus its number of set bits (`<col>_bf_bits`). Dice is then plain integer SQL,
`2 * (bit_count(l.w0 & r.w0) + ...) / (l.bits + r.bits)`, which DuckDB and Spark SQL both
evaluate natively (`&` on BIGINT and `bit_count`): no UDF, no array or bit-string type whose
functions differ between engines (DuckDB's BITSTRING has no Spark counterpart; hex strings
would need per-engine conversion).

`dedupe_encoded` / `link_encoded` score encoded files with a model whose comparisons read only
encoded columns (`encoded_comparisons`), trained without labels the same way as the plain model
(`train_encoded`). docs/privacy.md says what this protects, what it does not, and what it costs
in accuracy (benchmarks/privacy_accuracy.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from migrant_linkage.comparisons import units_subset_sql
from migrant_linkage.schema import REJECT_COLUMNS, UNIQUE_ID_COLUMN

__all__ = [
    "BLOOM_BITS",
    "BLOOM_COLUMNS",
    "BLOOM_HASHES",
    "CLEAR_COLUMNS",
    "DROPPED_COLUMNS",
    "ENCODING_VERSION",
    "FUZZY_DICE",
    "HASHED_COLUMNS",
    "EncodingError",
    "bloom_dice_sql",
    "dedupe_encoded",
    "encode",
    "encoded_comparisons",
    "key_fingerprint",
    "link_encoded",
    "train_encoded",
]

#: Written into every encoded file; two files can only be linked with the same version and key.
ENCODING_VERSION = "hmac-sha256+bloom-bigram-v2"  # v2: given_name_1_known in clear

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
UNIT_KEYED_COLUMNS: tuple[str, ...] = ("surname_units_key", "parent_surnames_key")

#: Columns that also get a Bloom filter for the fuzzy levels.
BLOOM_COLUMNS: tuple[str, ...] = ("given_name_1", "surname_paternal", "surname_maternal")

#: Standardized columns with no encoded form: free text or not used by the encoded model.
DROPPED_COLUMNS: tuple[str, ...] = (
    "given_name_full",
    "middle_name_std",
    "surname_full",
    "enrollment_date_std",
)

#: Levels of the plain comparisons the encoded ones cannot have: they compare free text across
#: fields (given names against surnames), parents by string similarity, dates by arithmetic, or
#: names by edit distance, none of which survives hashing (tests/test_pipeline.py runs the
#: cheat sheet over the encoded comparisons and checks this list).
LEVELS_NOT_ENCODED: frozenset[tuple[str, str]] = frozenset(
    {
        ("surname", "maternal_differs"),
        ("surname", "in_given"),
        ("birth_date", "year_off_by_one"),
        ("birth_date", "one_digit"),
        ("birth_date", "within_days"),
        ("parents", "fuzzy"),
        ("given_name", "two_edits"),
        ("given_name", "swapped_with_surname"),  # names and surnames hash in different domains
    }
)

#: Dice thresholds of the fuzzy levels (bigram Dice 0.8 is about Jaro-Winkler 0.9 on names).
FUZZY_DICE = 0.8


class EncodingError(ValueError):
    """Encoded inputs cannot be used together (different secret or encoding version), or the
    input to `encode` is not a standardized table."""


# ------------------------------------------------------------------------------------ keys
def _domain_key(secret: bytes, domain: str) -> bytes:
    """One key per hashing domain, derived from the shared secret (HMAC as a KDF)."""
    return hmac.new(
        secret, f"migrant-linkage/{ENCODING_VERSION}/{domain}".encode(), "sha256"
    ).digest()


def _as_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(raw) < 16:
        raise EncodingError(
            "the shared secret must be at least 16 bytes (use e.g. secrets.token_hex(32)); a "
            "short secret can be guessed, and then every hash can be reversed by trying names"
        )
    return raw


def key_fingerprint(secret: str | bytes) -> str:
    """A short public check value of the secret: two states compare fingerprints (or the
    `encoding_key` column of their files) to confirm they used the same secret without
    revealing it."""
    return _domain_key(_as_bytes(secret), "fingerprint").hex()[:16]


@lru_cache(maxsize=1_000_000)
def _hash_one(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]


@lru_cache(maxsize=1_000_000)
def _hash_units(key: bytes, value: str) -> str:
    # Sorted after hashing, so the encoded key is a set like the plain one.
    return " ".join(sorted({_hash_one(key, unit) for unit in value.split()}))


@lru_cache(maxsize=1_000_000)
def _bloom_one(key: bytes, value: str) -> tuple[int, ...]:
    """The Bloom filter of the padded bigrams of `value`: BLOOM_WORDS signed int64 words, then
    the number of set bits."""
    padded = f"_{value}_"
    bits = 0
    for gram in {padded[i : i + 2] for i in range(len(padded) - 1)}:
        digest = hmac.new(key, gram.encode("utf-8"), hashlib.sha256).digest()
        # Double hashing (Kirsch-Mitzenmacher): position j = h1 + j * h2 mod BLOOM_BITS.
        h1 = int.from_bytes(digest[:8], "big")
        h2 = int.from_bytes(digest[8:16], "big") | 1
        for j in range(BLOOM_HASHES):
            bits |= 1 << ((h1 + j * h2) % BLOOM_BITS)
    words = []
    for w in range(BLOOM_WORDS):
        word = (bits >> (64 * w)) & 0xFFFFFFFFFFFFFFFF
        words.append(word - (1 << 64) if word >= 1 << 63 else word)  # as signed BIGINT
    return (*words, bits.bit_count())


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


def _bloom_columns(values: pd.Series, column: str, key: bytes) -> pd.DataFrame:
    """BLOOM_WORDS + 1 nullable BIGINT columns: the filter's words, then its set-bit count."""
    codes, mapped = _per_distinct(values, lambda v: _bloom_one(key, v))
    # One all-zero row appended for missing values (code -1 picks it), masked to NA below.
    table = np.array([*mapped, (0,) * (BLOOM_WORDS + 1)], dtype=np.int64)
    rows = table[codes]
    missing = codes < 0
    names = [f"{column}_bf{w}" for w in range(BLOOM_WORDS)] + [f"{column}_bf_bits"]
    return pd.DataFrame(
        {
            name: pd.arrays.IntegerArray(rows[:, position], missing.copy())
            for position, name in enumerate(names)
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
    secret_bytes = _as_bytes(secret)
    keys = {d: _domain_key(secret_bytes, d) for d in sorted(set(HASHED_COLUMNS.values()))}

    out = pd.DataFrame(index=standardized.index)
    for column in CLEAR_COLUMNS:
        if column in standardized.columns:
            out[column] = standardized[column]
    out[UNIQUE_ID_COLUMN] = standardized[UNIQUE_ID_COLUMN].astype("str")
    for column, domain in HASHED_COLUMNS.items():
        out[column] = _hash_column(standardized[column], keys[domain], column in UNIT_KEYED_COLUMNS)
    for column in BLOOM_COLUMNS:
        bloom_key = _domain_key(secret_bytes, f"bloom/{HASHED_COLUMNS[column]}")
        out = pd.concat([out, _bloom_columns(standardized[column], column, bloom_key)], axis=1)
    for column in keep_columns:
        out[column] = standardized[column]
    out["encoding_version"] = ENCODING_VERSION
    out["encoding_key"] = key_fingerprint(secret_bytes)
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------ comparisons
def bloom_dice_sql(column: str) -> str:
    """Dice coefficient of the Bloom filters of `column` on the two records of a pair, in SQL
    that DuckDB and Spark both run (BIGINT `&` and `bit_count`). Null when either is missing."""
    common = " + ".join(
        f"bit_count({column}_bf{w}_l & {column}_bf{w}_r)" for w in range(BLOOM_WORDS)
    )
    total = f"({column}_bf_bits_l + {column}_bf_bits_r)"
    return f"(2.0 * ({common}) / nullif({total}, 0))"


def _bloom_close(column: str, threshold: float = FUZZY_DICE) -> str:
    return f"coalesce({bloom_dice_sql(column)} >= {threshold!r}, false)"


def _bloom_retained_columns() -> list[str]:
    return [
        f"{c}_bf{suffix}"
        for c in BLOOM_COLUMNS
        for suffix in [*map(str, range(BLOOM_WORDS)), "_bits"]
    ]


def _word_in(word: str, words: str) -> str:
    return f"coalesce((' ' || {words} || ' ') LIKE ('% ' || {word} || ' %'), false)"


def _any_unit_common(key_l: str, key_r: str, max_units: int) -> str:
    return (
        "("
        + " OR ".join(
            f"(split_part({key_l}, ' ', {i}) <> '' AND {_word_in(f'split_part({key_l}, {chr(39)} {chr(39)}, {i})', key_r)})"
            for i in range(1, max_units + 1)
        )
        + ")"
    )


def _given_conditions() -> dict[str, str]:
    g2_ok = (
        "(given_name_2_l IS NULL OR given_name_2_r IS NULL OR given_name_2_l = given_name_2_r "
        "OR given_name_2_canonical_l = given_name_2_canonical_r "
        "OR given_name_2_phonetic_l = given_name_2_phonetic_r)"
    )
    return {
        "exact": f"given_name_1_l = given_name_1_r AND {g2_ok}",
        "nickname": f"given_name_1_canonical_l = given_name_1_canonical_r AND {g2_ok}",
        "swapped": "given_name_1_l = given_name_2_r AND given_name_2_l = given_name_1_r",
        "second_as_first": (
            "given_name_1_l = given_name_2_r OR given_name_2_l = given_name_1_r "
            "OR given_name_1_canonical_l = given_name_2_canonical_r "
            "OR given_name_2_canonical_l = given_name_1_canonical_r"
        ),
        "second_differs": (
            "given_name_1_l = given_name_1_r OR given_name_1_canonical_l = given_name_1_canonical_r"
        ),
        "fuzzy": _bloom_close("given_name_1"),
        "phonetic": "given_name_1_phonetic_l = given_name_1_phonetic_r",
    }


def _given_names_differ_sql() -> str:
    """Both have a given name and the pair would land in `second_differs` or `else`."""
    c = {k: f"coalesce(({v}), false)" for k, v in _given_conditions().items()}
    share = " OR ".join(c[k] for k in ("exact", "nickname", "swapped", "second_as_first"))
    near = f"{c['fuzzy']} OR {c['phonetic']}"
    return (
        "(given_name_1_l IS NOT NULL AND given_name_1_r IS NOT NULL "
        f"AND NOT ({share}) AND ({c['second_differs']} OR NOT ({near})))"
    )


def _levels() -> dict[str, list[tuple[str, str, str | None, str | None]]]:
    """comparison -> [(label, meaning, SQL condition or None for else, term-frequency column)]."""
    several = "surname_count_l >= 2 AND surname_count_r >= 2"
    key = "surname_units_key"
    g = _given_conditions()
    one_parent = (
        "parent_given_a_l = parent_given_a_r OR parent_given_a_l = parent_given_b_r "
        "OR parent_given_b_l = parent_given_a_r OR parent_given_b_l = parent_given_b_r"
    )
    return {
        "surname": [
            ("null", "a record has no surname", f"{key}_l IS NULL OR {key}_r IS NULL", None),
            (
                "exact_set",
                "same surname units, same paternal",
                f"{key}_l = {key}_r AND {several} AND surname_paternal_l = surname_paternal_r",
                key,
            ),
            (
                "swapped",
                "same surname units, order swapped",
                f"{key}_l = {key}_r AND {several}",
                None,
            ),
            (
                "subset",
                "one record's surname units are all among the other's, which has more",
                units_subset_sql(key),
                None,
            ),
            (
                "paternal_equal",
                "same paternal surname",
                "surname_paternal_l = surname_paternal_r",
                "surname_paternal",
            ),
            (
                "any_common",
                "some surname unit in common, any position",
                _any_unit_common(f"{key}_l", f"{key}_r", 3),
                None,
            ),
            (
                "phonetic",
                "paternal or maternal surnames sound the same",
                "surname_paternal_phonetic_l = surname_paternal_phonetic_r "
                "OR surname_maternal_phonetic_l = surname_maternal_phonetic_r",
                None,
            ),
            (
                "fuzzy",
                f"paternal surnames' bigram Bloom filters Dice >= {FUZZY_DICE}",
                _bloom_close("surname_paternal"),
                None,
            ),
            ("else", "surnames share nothing", None, None),
        ],
        "given_name": [
            (
                "null",
                "a record has no given name",
                "given_name_1_l IS NULL OR given_name_1_r IS NULL",
                None,
            ),
            ("exact", "same first given name, second ones compatible", g["exact"], "given_name_1"),
            ("nickname", "same canonical first given name", g["nickname"], None),
            ("swapped", "first and second given names swapped", g["swapped"], None),
            (
                "second_as_first",
                "one's first given name is the other's second",
                g["second_as_first"],
                None,
            ),
            (
                "second_differs",
                "same first given name, different second ones",
                g["second_differs"],
                None,
            ),
            (
                "fuzzy",
                f"first given names' bigram Bloom filters Dice >= {FUZZY_DICE}",
                g["fuzzy"],
                None,
            ),
            ("phonetic", "first given names sound the same", g["phonetic"], None),
            ("else", "given names share nothing", None, None),
        ],
        "birth_date": [
            (
                "null",
                "a birth date is missing",
                "birth_date_std_l IS NULL OR birth_date_std_r IS NULL",
                None,
            ),
            (
                "default_equal",
                "the same placeholder-looking date",
                "birth_date_std_l = birth_date_std_r AND (coalesce(birth_date_is_default_l, false) "
                "OR coalesce(birth_date_is_default_r, false))",
                "birth_date_std",
            ),
            ("exact", "the same birth date", "birth_date_std_l = birth_date_std_r", None),
            (
                "transposed",
                "day and month swapped",
                "birth_date_transposed_l = birth_date_std_r OR birth_date_std_l = birth_date_transposed_r",
                None,
            ),
            (
                "month_day",
                "same month and day, different year (a slipped year)",
                "birth_month_l = birth_month_r AND birth_day_l = birth_day_r",
                None,
            ),
            (
                "same_month_year",
                "same month and year",
                "birth_year_l = birth_year_r AND birth_month_l = birth_month_r",
                None,
            ),
            ("else", "different birth dates", None, None),
        ],
        "sex": [
            ("null", "sex not recorded", "sex_std_l IS NULL OR sex_std_r IS NULL", None),
            ("equal", "same sex", "sex_std_l = sex_std_r", None),
            ("different", "different sex", None, None),
        ],
        "parents": [
            (
                "null",
                "a record has no parent information",
                " OR ".join(
                    f"(parent_given_a_{s} IS NULL AND parent_given_b_{s} IS NULL "
                    f"AND parent_surnames_key_{s} IS NULL)"
                    for s in "lr"
                ),
                None,
            ),
            (
                "both_given",
                "both parents' given names agree",
                "parent_given_a_l = parent_given_a_r AND parent_given_b_l = parent_given_b_r",
                None,
            ),
            ("one_given", "one parent's given name agrees", one_parent, None),
            (
                "surnames",
                "parents share a surname",
                _any_unit_common("parent_surnames_key_l", "parent_surnames_key_r", 4),
                None,
            ),
            ("else", "parents share nothing", None, None),
        ],
        "birth_place": [
            (
                "null",
                "birth country not recorded",
                "birth_country_std_l IS NULL OR birth_country_std_r IS NULL",
                None,
            ),
            (
                "country_state_city",
                "same country, state and city",
                "birth_country_std_l = birth_country_std_r AND birth_state_std_l = birth_state_std_r "
                "AND birth_city_std_l = birth_city_std_r",
                None,
            ),
            (
                "country_state",
                "same country and state",
                "birth_country_std_l = birth_country_std_r AND birth_state_std_l = birth_state_std_r",
                None,
            ),
            ("country", "same country", "birth_country_std_l = birth_country_std_r", None),
            ("else", "different countries", None, None),
        ],
        "multiple_birth": [
            (
                "twins_names_differ",
                "both from a multiple birth, given names share nothing",
                f"multiple_birth_std_l = 'Y' AND multiple_birth_std_r = 'Y' "
                f"AND {_given_names_differ_sql()}",
                None,
            ),
            (
                "both_yes",
                "both records are from a multiple birth",
                "multiple_birth_std_l = 'Y' AND multiple_birth_std_r = 'Y'",
                None,
            ),
            ("else", "anything else", None, None),
        ],
        "state_student_id": [
            (
                "same_msix",
                "same MSIX ID, from any states",
                "msix_id_std_l = msix_id_std_r",
                None,
            ),
            (
                "null",
                "an ID is missing or the states differ",
                "state_student_id_std_l IS NULL OR state_student_id_std_r IS NULL "
                "OR state_std_l IS NULL OR state_std_r IS NULL OR state_std_l <> state_std_r",
                None,
            ),
            (
                "same_id",
                "same state and same state student ID",
                "state_student_id_std_l = state_student_id_std_r",
                None,
            ),
            ("different_id", "same state, different ID", None, None),
        ],
    }


def encoded_comparisons() -> list[Any]:
    """Splink comparison creators over encoded columns only (same comparison names and, where
    the meaning is the same, the same level labels as migrant_linkage.comparisons, so the
    fixed given-name and multiple-birth priors in data/model_priors.csv apply)."""
    from splink.comparison_level_library import CustomLevel, ElseLevel
    from splink.comparison_library import CustomComparison

    comparisons = []
    for name, levels in _levels().items():
        creators = []
        for label, meaning, condition, tf_column in levels:
            if condition is None:
                creator = ElseLevel()
            else:
                creator = CustomLevel(condition, base_dialect_str="duckdb")
                if label == "null":
                    creator.configure(is_null_level=True)
                if tf_column is not None:
                    creator.configure(
                        tf_adjustment_column=tf_column,
                        tf_adjustment_weight=1.0,
                        disable_tf_exact_match_detection=True,
                    )
            creator.configure(label_for_charts=f"{label}: {meaning}")
            creators.append(creator)
        comparisons.append(CustomComparison(comparison_levels=creators, output_column_name=name))
    return comparisons


# ------------------------------------------------------------------------------------ training
def _checked(frames: Sequence[pd.DataFrame]) -> None:
    """All frames are encoded with one version and one secret; no raw name column slipped in."""
    for frame in frames:
        for column in ("encoding_version", "encoding_key", *HASHED_COLUMNS):
            if column not in frame.columns:
                raise EncodingError(
                    f"an input is not an encoded table (column {column!r} is missing); "
                    "run migrant_linkage.privacy.encode on the standardized records first"
                )
    versions = {v for f in frames for v in f["encoding_version"].dropna().unique()}
    keys = {k for f in frames for k in f["encoding_key"].dropna().unique()}
    if versions != {ENCODING_VERSION}:
        raise EncodingError(
            f"encoding versions {sorted(versions)} cannot be linked by this library version "
            f"({ENCODING_VERSION}); re-encode the files"
        )
    if len(keys) > 1:
        raise EncodingError(
            f"the inputs were encoded with different secrets (key fingerprints {sorted(keys)}); "
            "hashes from different secrets never match, so linking them would find nothing"
        )


def _model_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Only what the encoded model reads (no truth or extra columns reach Splink)."""
    keep = [
        c
        for c in (*CLEAR_COLUMNS, *HASHED_COLUMNS, *_bloom_retained_columns(), "_link_side")
        if c in frame.columns
    ]
    return frame[keep]


def train_encoded(
    encoded: pd.DataFrame,
    *,
    seed: int = 42,
    max_u_pairs: float = 1e6,
    deterministic_recall: float = 0.7,
):
    """Train the encoded model without labels, the way model.Model.train trains the plain one:
    prior from deterministic rules, u from random pairs, EM on family-safe blocks, given-name
    m-probabilities fixed at the priors. Blocking keys are hashed, and equality of hashes is
    equality of values, so the plain rules (blocking.py) are used unchanged. Returns a trained
    migrant_linkage.model.Model holding the encoded comparisons."""

    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import (
        Model,
        estimate_m_without_labels,
        estimate_prior_and_u,
        floor_m_probabilities,
        quiet_splink,
        training_linker,
        untrained_settings,
    )

    quiet_splink()
    _checked([encoded])
    if len(encoded) < 2:
        raise ValueError("train_encoded() needs at least two encoded records")
    settings = untrained_settings(encoded_comparisons(), absent_levels=LEVELS_NOT_ENCODED)
    db_api, con = make_db_api()
    try:
        # The training-block sizes count hashed keys: equal hashes are equal values.
        linker = training_linker(db_api, _model_columns(encoded), settings, "encoded_train")
        estimate_prior_and_u(
            linker.training,
            seed=seed,
            max_u_pairs=max_u_pairs,
            deterministic_recall=deterministic_recall,
        )
        estimate_m_without_labels(linker.training)
        trained = linker.misc.save_model_to_json()
    finally:
        con.close()
    trained["link_type"] = "dedupe_only"
    floor_m_probabilities(trained)
    return Model(trained)


# ------------------------------------------------------------------------------------ running
def _run_encoded(
    frames: Sequence[pd.DataFrame],
    sides: Sequence[int],
    *,
    link_type: str,
    model: Any,
    thresholds: Any,
    out_dir: Any,
):
    """Encoded linkage as a front end of the pipeline: the same blocking, scoring, routing
    (guards derived from the encoded model's level labels), clustering and worklist as the
    plain engine; the worklist names record ids only (each state looks its own records up)."""
    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import Model, quiet_splink
    from migrant_linkage.pipeline import Stages, run_stages
    from migrant_linkage.pipeline.run import empty_result, prepare_out_dir
    from migrant_linkage.zones import Thresholds

    quiet_splink()
    _checked(frames)
    thresholds = thresholds or Thresholds()
    records = pd.concat(
        [f.assign(_link_side=side) for f, side in zip(frames, sides, strict=True)],
        ignore_index=True,
    )
    records[UNIQUE_ID_COLUMN] = records[UNIQUE_ID_COLUMN].astype("str")
    duplicated = records[UNIQUE_ID_COLUMN].duplicated()
    if duplicated.any():
        raise EncodingError(
            f"{int(duplicated.sum())} record_id(s) appear more than once across the inputs "
            f"(first: {records.loc[duplicated, UNIQUE_ID_COLUMN].iloc[0]}); record ids must be "
            "unique across all inputs of one run"
        )
    chosen = model if isinstance(model, Model) else train_encoded(records)
    summary: dict[str, Any] = {
        "job": f"{link_type} (encoded)",
        "encoding_version": ENCODING_VERSION,
        "encoding_key": str(records["encoding_key"].iloc[0]) if len(records) else None,
        "records_in": len(records),
        "rejected": 0,
        "standardized": len(records),
        "thresholds": {
            "match_weight": thresholds.match_weight,
            "review_weight": thresholds.review_weight,
            "strong_disagreement_weight": thresholds.strong_disagreement_weight,
        },
    }
    rejects = pd.DataFrame({c: pd.Series(dtype="str") for c in REJECT_COLUMNS})
    stages = Stages(None)
    out = prepare_out_dir(out_dir)
    if len(records) == 0:
        return empty_result(records, rejects, chosen, summary, stages, out)
    db_api, con = make_db_api()
    return run_stages(
        con,
        db_api,
        _model_columns(records),
        model=chosen,
        link_type=link_type,
        thresholds=thresholds,
        summary=summary,
        stages=stages,
        rejects=rejects,
        column_types={},
        worklist_columns=(),
        out=out,
    )


def dedupe_encoded(
    *encoded: pd.DataFrame, model: Any = None, thresholds: Any = None, out_dir: Any = None
):
    """Find records of the same child among encoded files (one population). Trains the encoded
    model on the data unless a trained `model` (from `train_encoded`) is given. Returns an
    engine.Result whose tables hold record ids, hashes and scores only."""
    if not encoded:
        raise ValueError("dedupe_encoded() needs at least one encoded input")
    return _run_encoded(
        encoded,
        [0] * len(encoded),
        link_type="dedupe_only",
        model=model,
        thresholds=thresholds,
        out_dir=out_dir,
    )


def link_encoded(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    model: Any = None,
    thresholds: Any = None,
    out_dir: Any = None,
):
    """Link two states' encoded files: only pairs with one record from each side are scored."""
    return _run_encoded(
        [left, right],
        [0, 1],
        link_type="link_only",
        model=model,
        thresholds=thresholds,
        out_dir=out_dir,
    )
