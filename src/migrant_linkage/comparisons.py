"""Splink comparisons for migrant-student records, and the family guard.

Each comparison is a Splink *creator*: it holds no SQL dialect and is rendered per engine with
``creator.get_comparison("duckdb" | "spark")``, so the DuckDB and Spark paths cannot drift apart.
Everything a comparison needs from Python (nickname canonical forms, phonetic keys, the
transposed birth date, surname units padded for a substring test, names run together, the
birth date's keyed digits: standardize/pair_inputs.py) was computed once per record by the
standardizer; the levels here only compare those columns with plain SQL (=, instr, LIKE, ||,
split_part, length, coalesce) and Splink's own string-distance levels. No Python UDFs, no array
functions.

Levels are evaluated first match wins, so each level only sees the pairs no earlier level took.
Every level has a short stable *label* (``exact_set``, ``nickname``, ``transposed``, ...). The
label is what the cheat sheet (``data/cheatsheet/``, run by cheatsheet.py) names, what ``docs/comparisons.md`` documents,
and it starts the level's chart label (``"exact_set: ..."``), so a weight in a Splink chart can be
traced back to this file. ``docs/comparisons.md`` explains the order of every comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from splink.comparison_level_library import (
    AbsoluteDateDifferenceLevel,
    And,
    ColumnsReversedLevel,
    CustomLevel,
    DamerauLevenshteinLevel,
    ElseLevel,
    ExactMatchLevel,
    JaroWinklerLevel,
    Not,
    NullLevel,
    Or,
)
from splink.comparison_library import CustomComparison
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.dialects import SplinkDialect

from migrant_linkage.schema import RAW_COLUMNS_COMPARED, SURNAME_UNIT_COLUMNS

__all__ = [
    "COMPARISON_NAMES",
    "EITHER_BIRTH_DATE_IS_DEFAULT",
    "FAMILY_GUARD_COLUMNS",
    "RAW_COLUMNS_COMPARED",
    "LevelInfo",
    "comparison_levels",
    "gamma_case_sql",
    "migrant_comparisons",
    "nickname_readings_sql",
    "units_subset_sql",
]

#: Splink ``output_column_name`` of each comparison, in model order. The gamma column of a
#: comparison in Splink's predict output is ``gamma_<name>``.
COMPARISON_NAMES: tuple[str, ...] = (
    "surname",
    "given_name",
    "birth_date",
    "sex",
    "parents",
    "birth_place",
    "multiple_birth",
    "state_student_id",
)

#: Thresholds, named once. They are conventional values for names (Jaro-Winkler 0.9 is Splink's
#: own "close" threshold for names), not values fitted to a data set.
NAME_JARO_WINKLER = 0.9
SURNAME_DAMERAU_LEVENSHTEIN = 1
#: The surname `two_edits` level: keying slips in whole surnames of this many letters or more.
SURNAME_TWO_EDITS = 2
SURNAME_TWO_EDITS_MIN_LENGTH = 5
BIRTH_DATE_NEAR_DAYS = 7

#: How many space-separated units of a key the portable SQL looks at. Keys are built by the
#: standardizer ("GARCIA LOPEZ"); a child rarely has more than three surname units, and two
#: parents rarely more than four between them. Units past these counts are ignored.
MAX_SURNAME_UNITS = 3
MAX_PARENT_SURNAME_UNITS = 4

BASE_DIALECT = "duckdb"  # CustomLevel SQL below is written in DuckDB SQL; sqlglot translates it


@dataclass(frozen=True)
class LevelInfo:
    """One comparison level as documented: its stable label and what it means."""

    label: str
    meaning: str
    is_null_level: bool


@dataclass(frozen=True)
class _Level:
    label: str
    meaning: str
    creator: ComparisonLevelCreator


# ------------------------------------------------------------------------------------------
# Small SQL helpers (DuckDB SQL; CustomLevel translates to the target dialect with sqlglot)
# ------------------------------------------------------------------------------------------


def _sql(condition: str) -> CustomLevel:
    return CustomLevel(condition, base_dialect_str=BASE_DIALECT)


def _word_in(word: str, words: str) -> str:
    """True when `word` is one of the space-separated words of `words`.

    Padding both sides with spaces makes 'CRUZ' match ' DE CRUZ ' but not ' CRUZADO '. An empty
    word (split_part past the last unit) gives the pattern '%  %', which never matches a
    single-spaced key, so callers need no separate empty check.
    """
    return f"(' ' || {words} || ' ') LIKE ('% ' || {word} || ' %')"


def _unit(key: str, position: int) -> str:
    return f"split_part({key}, ' ', {position})"


def _unit_count(key: str) -> str:
    """Number of units in a key, minus one (the number of separating spaces)."""
    return f"(length({key}) - length(replace({key}, ' ', '')))"


def _units_within(small: str, big: str, max_units: int) -> str:
    """Every unit of key `small` is a unit of key `big`."""
    parts = [
        f"({_unit(small, i)} = '' OR {_word_in(_unit(small, i), big)})"
        for i in range(1, max_units + 1)
    ]
    return "(" + " AND ".join(parts) + ")"


def _any_unit_in(key: str, words: str, max_units: int) -> str:
    """Some unit of key `key` is one of the words of `words`."""
    return "(" + " OR ".join(_word_in(_unit(key, i), words) for i in range(1, max_units + 1)) + ")"


class _CrossColumnSimilarityLevel(ComparisonLevelCreator):
    """String similarity between column `a` of one record and column `b` of the other.

    Splink's JaroWinklerLevel compares one column with itself. Parents need a cross comparison
    either way round (parent_given_a of one record against parent_given_b of the other, because
    a record that lists one parent sorts it into slot a); fields keyed in each other's places
    need it both ways at once (`both_ways`: a given name and a surname swapped on one form, with
    a keying slip in either, CHELSEA AYRES / AYRES CHELSRA). The function name comes from the
    dialect, exactly as Splink's own levels do it, so Spark gets its jar function and DuckDB its
    built-in.
    """

    def __init__(self, col_a: str, col_b: str, threshold: float, *, both_ways: bool = False):
        self.col_a = col_a
        self.col_b = col_b
        self.threshold = threshold
        self.both_ways = both_ways

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        jw = sql_dialect.jaro_winkler_function_name
        a, b, t = self.col_a, self.col_b, self.threshold
        joiner = "AND" if self.both_ways else "OR"
        return f"{jw}({a}_l, {b}_r) >= {t} {joiner} {jw}({b}_l, {a}_r) >= {t}"

    def create_label_for_charts(self) -> str:
        how = "crossed both ways" if self.both_ways else "vs"
        return f"Jaro-Winkler of {self.col_a} {how} {self.col_b} >= {self.threshold}"


def _joined(column: str) -> str:
    """A name compared between the two records with spaces and hyphens removed: a name written
    as one word on one form and as two on another (MARTINEZCRUZ / MARTINEZ CRUZ, BRI DGET /
    BRIDGET). `column` holds each record's name already run together (standardize/pair_inputs:
    once per record, not on every pair)."""
    return f"{column}_l = {column}_r"


class _TrueOnly(ComparisonLevelCreator):
    """A condition where NULL counts as false, so it can be negated safely.

    SQL's NOT(NULL) is NULL, which a CASE WHEN treats as false; without this wrapper "names share
    nothing" would silently fail whenever a canonical or phonetic key is missing.
    """

    def __init__(self, inner: ComparisonLevelCreator):
        self.inner = inner

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        return f"coalesce(({self.inner.create_sql(sql_dialect)}), false)"

    def create_label_for_charts(self) -> str:
        return self.inner.create_label_for_charts()


def _with_tf(
    creator: ComparisonLevelCreator, column: str, *, term_frequency: bool
) -> ComparisonLevelCreator:
    """Term-frequency adjust a level that is not a plain `col_l = col_r`.

    Splink adjusts relative to the u of the exact-match level on `column`; our adjusted levels
    carry extra conditions, so Splink cannot find such a level and we tell it to use this level's
    own u instead (disable_tf_exact_match_detection).
    """
    if term_frequency:
        creator.configure(
            tf_adjustment_column=column,
            tf_adjustment_weight=1.0,
            disable_tf_exact_match_detection=True,
        )
    return creator


# ------------------------------------------------------------------------------------------
# Surname
# ------------------------------------------------------------------------------------------

_P, _M, _K = "surname_paternal", "surname_maternal", "surname_units_key"


def units_subset_sql(key: str) -> str:
    """SQL over a pair: one record's units of `key` are all among the other's, which has more
    (the surname `subset` level; encoded linkage runs it over unit-hashed keys too)."""
    return (
        f"({_unit_count(key + '_l')} < {_unit_count(key + '_r')} "
        f"AND {_units_within(key + '_l', key + '_r', MAX_SURNAME_UNITS)}) "
        f"OR ({_unit_count(key + '_r')} < {_unit_count(key + '_l')} "
        f"AND {_units_within(key + '_r', key + '_l', MAX_SURNAME_UNITS)})"
    )


# The surname units, split and padded once per record (standardize/pair_inputs.py): a unit
# column holds ' GARCIA ', or two spaces past the key's last unit.
_KP, _KN, _GW = "surname_units_padded", "surname_unit_count", "given_words_padded"
_NO_UNIT = "'  '"
if len(SURNAME_UNIT_COLUMNS) != MAX_SURNAME_UNITS:
    raise RuntimeError("schema.SURNAME_UNIT_COLUMNS must hold MAX_SURNAME_UNITS columns")


def _padded_in(padded_word: str, padded_words: str) -> str:
    """The word is one of the words: both are padded with spaces, so ' CRUZ ' is found in
    ' DE CRUZ ' but not in ' CRUZADO ' (the per-record form of `_word_in`)."""
    return f"instr({padded_words}, {padded_word}) > 0"


def _surname_units_within(small: str, big: str) -> str:
    """Every unit of side `small`'s key (up to MAX_SURNAME_UNITS) is a unit of side `big`'s."""
    return (
        "("
        + " AND ".join(
            f"({u}_{small} = {_NO_UNIT} OR {_padded_in(f'{u}_{small}', f'{_KP}_{big}')})"
            for u in SURNAME_UNIT_COLUMNS
        )
        + ")"
    )


def _surname_unit_in(side: str, padded_words: str) -> str:
    """Some unit of side `side`'s key (up to MAX_SURNAME_UNITS) is one of `padded_words`. A
    missing unit ('  ') is found only in words with two spaces running: the padded given words
    of a record with no given or middle name, as the per-pair SQL before it found them."""
    return (
        "("
        + " OR ".join(_padded_in(f"{u}_{side}", padded_words) for u in SURNAME_UNIT_COLUMNS)
        + ")"
    )


def _surname_levels(term_frequency: bool) -> list[_Level]:
    # Counting units with surname_count (not spaces in the key) keeps HERNANDEZ HERNANDEZ, whose
    # key holds the repeated unit once, a two-surname record.
    several = "surname_count_l >= 2 AND surname_count_r >= 2"
    subset = (
        f"({_KN}_l < {_KN}_r AND {_surname_units_within('l', 'r')}) "
        f"OR ({_KN}_r < {_KN}_l AND {_surname_units_within('r', 'l')})"
    )
    common = _surname_unit_in("l", f"{_KP}_r")
    in_given = f"{_surname_unit_in('l', f'{_GW}_r')} OR {_surname_unit_in('r', f'{_GW}_l')}"
    paternal_equal = ExactMatchLevel(_P, term_frequency_adjustments=term_frequency)
    return [
        _Level("null", "a record has no surname", NullLevel(_K)),
        _Level(
            "exact_set",
            "the same two or more surnames in the same order",
            _with_tf(
                _sql(f"{_K}_l = {_K}_r AND {several} AND {_P}_l = {_P}_r"),
                _K,
                term_frequency=term_frequency,
            ),
        ),
        _Level(
            "swapped",
            "the same two or more surnames, order swapped (LOPEZ GARCIA vs GARCIA LOPEZ)",
            _sql(f"{_K}_l = {_K}_r AND {several}"),
        ),
        _Level(
            "subset",
            "one record's surnames are all among the other's, which has more "
            "(second surname dropped: GARCIA LOPEZ vs GARCIA)",
            _with_tf(_sql(subset), _P, term_frequency=term_frequency),
        ),
        _Level(
            "maternal_differs",
            "same paternal surname, both records give a clearly different maternal one "
            "(half-siblings, cousins)",
            And(
                _sql(f"{_P}_l = {_P}_r AND {_M}_l <> {_M}_r"),
                Not(
                    _TrueOnly(
                        Or(
                            ExactMatchLevel(f"{_M}_phonetic"),
                            JaroWinklerLevel(_M, NAME_JARO_WINKLER),
                        )
                    )
                ),
            ),
        ),
        _Level(
            "paternal_equal",
            "same paternal surname (both give only one, or the maternal ones are spelling "
            "variants); term-frequency adjusted: GARCIA weak, XIQUIN strong",
            paternal_equal,
        ),
        _Level(
            "joined",
            "the same surname text but for spaces and hyphens: two surnames written as one word "
            "on one form (MARTINEZCRUZ / MARTINEZ CRUZ), a stray space (AL LIK / ALLIK)",
            _sql(f"surname_full_l <> surname_full_r AND {_joined('surname_joined')}"),
        ),
        _Level(
            "swapped_with_given",
            "the paternal surname and the first given name keyed in each other's fields, "
            "also with a slip in either (FLYNN WELLER / WELLER FLYNN): the surname half of the "
            "given_name comparison's swapped_with_surname evidence (fixed prior)",
            _CrossColumnSimilarityLevel("given_name_1", _P, NAME_JARO_WINKLER, both_ways=True),
        ),
        _Level(
            "any_common",
            "some surname in common in any position (maternal-only records, "
            "one record's paternal is the other's maternal)",
            _sql(common),
        ),
        _Level(
            "in_given",
            "a surname of one record is among the other's given or middle names "
            "(paternal surname keyed into the middle-name field)",
            _sql(in_given),
        ),
        _Level(
            "phonetic",
            "paternal or maternal surnames sound the same (Z/S, V/B, LL/Y)",
            Or(ExactMatchLevel(f"{_P}_phonetic"), ExactMatchLevel(f"{_M}_phonetic")),
        ),
        _Level(
            "fuzzy",
            f"paternal surnames within Jaro-Winkler {NAME_JARO_WINKLER} or "
            f"Damerau-Levenshtein {SURNAME_DAMERAU_LEVENSHTEIN}",
            Or(
                JaroWinklerLevel(_P, NAME_JARO_WINKLER),
                DamerauLevenshteinLevel(_P, SURNAME_DAMERAU_LEVENSHTEIN),
            ),
        ),
        _Level(
            "two_edits",
            f"the whole surnames, spaces and hyphens left out, within {SURNAME_TWO_EDITS} edits and "
            f"{SURNAME_TWO_EDITS_MIN_LENGTH}+ letters, and not both listed surnames: keying "
            "slips (GRYOSLER / GROSSER, HEU SOTN / HEUSTON); two listed surnames that close "
            "(GARCIA / GARZA) are two names",
            _surname_two_edits(),
        ),
        _Level("else", "surnames share nothing", ElseLevel()),
    ]


def _surname_two_edits() -> ComparisonLevelCreator:
    """Damerau-Levenshtein over the surname text run together (surname_joined: a stray space
    or hyphen is no edit), both long enough, and at least one side not a listed surname."""
    return And(
        _sql(
            f"length(surname_joined_l) >= {SURNAME_TWO_EDITS_MIN_LENGTH} "
            f"AND length(surname_joined_r) >= {SURNAME_TWO_EDITS_MIN_LENGTH} "
            "AND NOT (coalesce(surname_known_l, false) AND coalesce(surname_known_r, false))"
        ),
        DamerauLevenshteinLevel("surname_joined", SURNAME_TWO_EDITS),
    )


# ------------------------------------------------------------------------------------------
# Given name
# ------------------------------------------------------------------------------------------

_G1, _G2 = "given_name_1", "given_name_2"
#: Names this long tolerate two edits (the `two_edits` level); shorter ones are too often two
#: different names two letters apart (ANA / EVA, JUAN / IVAN).
TWO_EDIT_MIN_LENGTH = 5
#: Names this long tolerate one edit beyond Jaro-Winkler's reach (same level).
ONE_EDIT_MIN_LENGTH = 4
_C1, _C2 = "given_name_1_canonical", "given_name_2_canonical"
#: The given-name level for a first name and a second one that agree, and its term-frequency
#: column (a pair input: standardize/pair_inputs.py). Its m is a fixed prior
#: (data/model_priors.csv says why the share of records giving a second name cancels out).
EXACT_WITH_SECOND = "exact_with_second"
GIVEN_NAMES_WITH_INITIAL = "given_names_with_initial"
_R1 = "given_name_1_readings"


def _second_names_compatible() -> ComparisonLevelCreator:
    """The second given names do not contradict each other: one is missing, they are equal,
    nickname-equal, one is the initial of the other, or they are spelling variants. An initial
    of another letter than the full name (BRITNEY L / BRITNEY MALE in outside data) reaches
    `second_differs`; the family guard sends such a pair to review rather than holding it
    apart (zones.family_guard_sql): a keying slip in one letter, or twin sisters MARIA G and
    MARIA FERNANDA."""
    return Or(
        _sql(
            f"{_G2}_l IS NULL OR {_G2}_r IS NULL OR {_G2}_l = {_G2}_r OR {_C2}_l = {_C2}_r "
            f"OR ((length({_G2}_l) = 1 OR length({_G2}_r) = 1) "
            f"AND substr({_G2}_l, 1, 1) = substr({_G2}_r, 1, 1))"
        ),
        JaroWinklerLevel(_G2, NAME_JARO_WINKLER),
        # Initials are letters, not sounds: C and K share a phonetic key but not a name.
        And(
            _sql(f"length({_G2}_l) > 1 AND length({_G2}_r) > 1"),
            ExactMatchLevel(f"{_G2}_phonetic"),
        ),
    )


def _first_and_second_agree() -> ComparisonLevelCreator:
    """The first given names are equal and both records give a second one, compatible with
    the other's (equal, nickname-equal, initial-equal, a spelling variant): EVERETT J and
    EVERETT J, MARIA G and MARIA GUADALUPE. A subset of `exact` that weighs the second name
    too; its term frequency is that of the first name with the second's initial."""
    return And(
        ExactMatchLevel(_G1),
        _sql(f"{_G2}_l IS NOT NULL AND {_G2}_r IS NOT NULL"),
        _second_names_compatible(),
    )


def _given_name_share_conditions() -> dict[str, ComparisonLevelCreator]:
    """The levels that say "these given names are related", keyed by label (fresh creators)."""
    return {
        "exact": And(ExactMatchLevel(_G1), _second_names_compatible()),
        "nickname": And(
            Or(ExactMatchLevel(_C1), _sql(nickname_readings_sql())), _second_names_compatible()
        ),
        "swapped": ColumnsReversedLevel(_G1, _G2, symmetrical=True),
        "joined": _sql(_joined("given_name_joined")),
        "swapped_with_surname": _CrossColumnSimilarityLevel(
            _G1, "surname_paternal", NAME_JARO_WINKLER, both_ways=True
        ),
        "second_as_first": _sql(
            f"{_G1}_l = {_G2}_r OR {_G2}_l = {_G1}_r OR {_C1}_l = {_C2}_r OR {_C2}_l = {_C1}_r"
        ),
    }


def nickname_readings_sql() -> str:
    """SQL over a pair: one record's first given name may stand for the other's canonical form
    (AL / ALFRED, MATTIE / MADISON), so a nickname with several readings is not reduced to one
    canonical (the `nickname` level; encoded linkage runs it over unit-hashed readings too)."""
    return f"{_word_in(f'{_C1}_r', f'{_R1}_l')} OR {_word_in(f'{_C1}_l', f'{_R1}_r')}"


def _second_differs() -> ComparisonLevelCreator:
    # Only reached once `exact` and `nickname` failed, i.e. when the second names conflict.
    return _sql(f"{_G1}_l = {_G1}_r OR {_C1}_l = {_C1}_r")


def _given_name_near_conditions() -> dict[str, ComparisonLevelCreator]:
    return {
        "fuzzy": JaroWinklerLevel(_G1, NAME_JARO_WINKLER),
        "phonetic": And(
            _sql(f"length({_G1}_l) > 1 AND length({_G1}_r) > 1"),
            ExactMatchLevel(f"{_G1}_phonetic"),
        ),
    }


def _given_name_levels(term_frequency: bool) -> list[_Level]:
    share = _given_name_share_conditions()
    near = _given_name_near_conditions()
    return [
        _Level("null", "a record has no given name", NullLevel(_G1)),
        _Level(
            EXACT_WITH_SECOND,
            "same first given name and both records give a compatible second one (EVERETT J / "
            "EVERETT J, MARIA G / MARIA GUADALUPE); term-frequency adjusted on the first name "
            "and the second's initial",
            _with_tf(
                _first_and_second_agree(), GIVEN_NAMES_WITH_INITIAL, term_frequency=term_frequency
            ),
        ),
        _Level(
            "exact",
            "same first given name and the second ones do not conflict (one record or both "
            "give none); term-frequency adjusted: MARIA weak, XOCHITL strong",
            _with_tf(share["exact"], _G1, term_frequency=term_frequency),
        ),
        _Level(
            "nickname",
            "same canonical first given name (LUPE = GUADALUPE, PEPE = JOSE, CHUY = JESUS) or a "
            "nickname of several names read as the other's (AL = ALFRED, MATTIE = MADISON), "
            "second ones do not conflict",
            share["nickname"],
        ),
        _Level(
            "swapped",
            "first and second given names swapped (LUIS JOSE vs JOSE LUIS)",
            share["swapped"],
        ),
        _Level(
            "joined",
            "the same given names but for spaces and hyphens (JOSELUIS / JOSE LUIS, a stray "
            "space: BRI DGET / BRIDGET)",
            share["joined"],
        ),
        _Level(
            "swapped_with_surname",
            "the first given name and the paternal surname keyed in each other's fields, also "
            f"with a slip in either (FLYNN WELLER vs WELLER FLYNN, Jaro-Winkler {NAME_JARO_WINKLER})",
            share["swapped_with_surname"],
        ),
        _Level(
            "second_as_first",
            "one record's first given name is the other's second "
            "(MARIA GUADALUPE vs GUADALUPE), also through nicknames",
            share["second_as_first"],
        ),
        _Level(
            "second_differs",
            "same first given name but clearly different second ones "
            "(MARIA GUADALUPE vs MARIA FERNANDA: often sisters or twins)",
            _second_differs(),
        ),
        _Level(
            "fuzzy",
            f"first given names within Jaro-Winkler {NAME_JARO_WINKLER}",
            near["fuzzy"],
        ),
        _Level(
            "phonetic", "first given names sound the same (Y/J, B/V, silent H)", near["phonetic"]
        ),
        _Level(
            "two_edits",
            f"first given names of {TWO_EDIT_MIN_LENGTH}+ letters within two edits (DAVID / "
            f"VQVID), of {ONE_EDIT_MIN_LENGTH} letters within one (JADK / JACK): keying slips, "
            "or two different names (ELENA / ELISA); when both are real given names the guard "
            "sends the pair to review, never to auto-merge",
            _two_edits(),
        ),
        _Level("else", "given names share nothing", ElseLevel()),
    ]


def _two_edits() -> ComparisonLevelCreator:
    """Both first given names have TWO_EDIT_MIN_LENGTH letters or more and are within
    Damerau-Levenshtein 2, or ONE_EDIT_MIN_LENGTH letters or more and within 1 (a slip the
    Jaro-Winkler of a four-letter name misses: JADK / JACK is 0.87). Not one of the near
    conditions of `_given_names_differ`: for a twin pair these are two names."""

    def long_enough(letters: int) -> str:
        return f"length({_G1}_l) >= {letters} AND length({_G1}_r) >= {letters}"

    return Or(
        And(_sql(long_enough(TWO_EDIT_MIN_LENGTH)), DamerauLevenshteinLevel(_G1, 2)),
        And(_sql(long_enough(ONE_EDIT_MIN_LENGTH)), DamerauLevenshteinLevel(_G1, 1)),
    )


def _given_names_differ() -> ComparisonLevelCreator:
    """Both records have a given name and no related-name level of the given_name comparison
    applies (it would land in `second_differs` or `else`). Built from the same conditions as
    the given_name levels, so the two cannot drift apart."""
    share = list(_given_name_share_conditions().values())
    near = list(_given_name_near_conditions().values())
    # Mirrors the level order: no sharing level applies, and then either the second_differs
    # level takes the pair (same first name, so fuzzy/phonetic would also be true) or no
    # near level does.
    return And(
        _sql(f"{_G1}_l IS NOT NULL AND {_G1}_r IS NOT NULL"),
        Not(_TrueOnly(Or(*share))),
        Or(_TrueOnly(_second_differs()), Not(_TrueOnly(Or(*near)))),
    )


# ------------------------------------------------------------------------------------------
# Birth date
# ------------------------------------------------------------------------------------------

_D, _T = "birth_date_std", "birth_date_transposed"
#: One of the two dates is a placeholder (1 January, 1900-01-01: standardize's
#: birth_date_is_default); the default levels of the plain and the encoded models read it.
EITHER_BIRTH_DATE_IS_DEFAULT = (
    "(coalesce(birth_date_is_default_l, false) OR coalesce(birth_date_is_default_r, false))"
)


_KD = "birth_date_keyed_digits"


def _keyed_one_slip() -> ComparisonLevelCreator:
    """The birth dates as keyed within one edit: the keyed digits (the raw field without
    separators, null under six characters, taken once per record by standardize/pair_inputs)
    of two records keyed in the same format (one file's, or two files that share a format)."""
    return DamerauLevenshteinLevel(_KD, 1)


def _unparseable_one_slip() -> ComparisonLevelCreator:
    """One birth date is not a real date (30 February, a 15th month) and the keyed digits are
    one slip apart: the slip that made it unreal."""
    return And(_sql(f"{_D}_l IS NULL OR {_D}_r IS NULL"), _keyed_one_slip())


def _birth_date_levels(term_frequency: bool) -> list[_Level]:
    return [
        _Level(
            "unparseable_one_digit",
            "one birth date is not a real date (30 February, month 15) and its keyed digits "
            "are one slip from the other's (19060229 / 19060129)",
            _unparseable_one_slip(),
        ),
        _Level("null", "a birth date is missing or unparseable", NullLevel(_D)),
        _Level(
            "default_equal",
            "the same placeholder-looking date (1 January, 1900-01-01): weak evidence; "
            "term-frequency adjusted, so a placeholder many records share weighs little",
            _with_tf(
                _sql(f"{_D}_l = {_D}_r AND {EITHER_BIRTH_DATE_IS_DEFAULT}"),
                _D,
                term_frequency=term_frequency,
            ),
        ),
        _Level("exact", "the same birth date", ExactMatchLevel(_D)),
        _Level(
            "transposed",
            "day and month swapped (2010-03-04 vs 2010-04-03)",
            _sql(f"{_T}_l = {_D}_r OR {_D}_l = {_T}_r"),
        ),
        _Level(
            "year_off_by_one",
            "same month and day, year one apart",
            _sql(
                "birth_month_l = birth_month_r AND birth_day_l = birth_day_r "
                "AND abs(birth_year_l - birth_year_r) = 1"
            ),
        ),
        _Level(
            "one_digit",
            "one character of the ISO date differs, or two neighbouring digits swapped (a "
            "keying slip in day, month or year: 1983-10-24 / 1983-01-24); or the dates as "
            "keyed are one slip apart though they read as far-apart dates (20/06/2009, no "
            "month 20, read day first, against 10/06/2009)",
            Or(DamerauLevenshteinLevel(_D, 1), _keyed_one_slip()),
        ),
        _Level(
            "within_days",
            f"at most {BIRTH_DATE_NEAR_DAYS} days apart",
            AbsoluteDateDifferenceLevel(
                _D, input_is_string=True, threshold=BIRTH_DATE_NEAR_DAYS, metric="day"
            ),
        ),
        _Level(
            "same_month_year",
            "same month and year",
            _sql("birth_year_l = birth_year_r AND birth_month_l = birth_month_r"),
        ),
        _Level(
            "default_same_year",
            "one date is a placeholder (1 January: the usual default for a child without "
            "documents) in the other's year: the day and month are unknown, not different",
            _sql(f"birth_year_l = birth_year_r AND {EITHER_BIRTH_DATE_IS_DEFAULT}"),
        ),
        _Level("else", "different birth dates", ElseLevel()),
    ]


# ------------------------------------------------------------------------------------------
# Sex, parents, birth place, multiple birth, state student id
# ------------------------------------------------------------------------------------------


def _sex_levels() -> list[_Level]:
    return [
        _Level("null", "sex not recorded", NullLevel("sex_std")),
        _Level("equal", "same sex", ExactMatchLevel("sex_std")),
        _Level("different", "different sex (a flip is a known data-entry error)", ElseLevel()),
    ]


_PA, _PB, _PK = "parent_given_a", "parent_given_b", "parent_surnames_key"


def _parents_levels() -> list[_Level]:
    no_parents = " OR ".join(
        f"({_PA}_{s} IS NULL AND {_PB}_{s} IS NULL AND {_PK}_{s} IS NULL)" for s in "lr"
    )
    one_given = f"{_PA}_l = {_PA}_r OR {_PA}_l = {_PB}_r OR {_PB}_l = {_PA}_r OR {_PB}_l = {_PB}_r"
    surnames = (
        f"{_PK}_l = {_PK}_r OR {_any_unit_in(_PK + '_l', _PK + '_r', MAX_PARENT_SURNAME_UNITS)}"
    )
    return [
        _Level(
            "null",
            "a record has no parent information",
            _sql(no_parents).configure(is_null_level=True),
        ),
        _Level(
            "both_given",
            "both parents' given names agree, in either order",
            _sql(f"{_PA}_l = {_PA}_r AND {_PB}_l = {_PB}_r"),
        ),
        _Level(
            "one_given",
            "one parent's given name agrees (the other parent is missing on one side, "
            "or differs: a step-parent)",
            _sql(one_given),
        ),
        _Level(
            "surnames",
            "parents' surnames agree or share a surname, given names do not",
            _sql(surnames),
        ),
        _Level(
            "fuzzy",
            f"a parent's given name within Jaro-Winkler {NAME_JARO_WINKLER}",
            Or(
                JaroWinklerLevel(_PA, NAME_JARO_WINKLER),
                JaroWinklerLevel(_PB, NAME_JARO_WINKLER),
                _CrossColumnSimilarityLevel(_PA, _PB, NAME_JARO_WINKLER),
            ),
        ),
        _Level("else", "parents share nothing", ElseLevel()),
    ]


def _birth_place_levels() -> list[_Level]:
    country = "birth_country_std_l = birth_country_std_r"
    state = "birth_state_std_l = birth_state_std_r"
    city = "birth_city_std_l = birth_city_std_r"
    return [
        _Level("null", "birth country not recorded", NullLevel("birth_country_std")),
        _Level(
            "country_state_city",
            "same country, state and city",
            _sql(f"{country} AND {state} AND {city}"),
        ),
        _Level("country_state", "same country and state", _sql(f"{country} AND {state}")),
        _Level("country", "same country", _sql(country)),
        _Level("else", "different countries", ElseLevel()),
    ]


def _multiple_birth_levels() -> list[_Level]:
    both_yes = "multiple_birth_std_l = 'Y' AND multiple_birth_std_r = 'Y'"
    return [
        _Level(
            "twins_names_differ",
            "both records are from a multiple birth and their given names share nothing: "
            "the signature of twins",
            And(_sql(both_yes), _given_names_differ()),
        ),
        _Level("both_yes", "both records are from a multiple birth", _sql(both_yes)),
        _Level("else", "anything else (either is N or unknown)", ElseLevel()),
    ]


def _state_student_id_levels() -> list[_Level]:
    """The identifier comparison: MSIX ID and state student ID in one comparison, because they
    are the same kind of evidence (an ID an agency gave the child) and usually agree together;
    two comparisons would count one enrolment's paperwork twice. A different MSIX ID is not
    counted against: MSIX itself merges children who were given two IDs."""
    not_comparable = (
        "state_student_id_std_l IS NULL OR state_student_id_std_r IS NULL "
        "OR state_std_l IS NULL OR state_std_r IS NULL OR state_std_l <> state_std_r"
    )
    return [
        _Level(
            "same_msix",
            "same MSIX ID (the national migrant student ID), from any states: near-certain",
            _sql("msix_id_std_l = msix_id_std_r"),
        ),
        _Level(
            "null",
            "no shared MSIX ID, and a state ID is missing or the records come from different "
            "states (state IDs not comparable)",
            _sql(not_comparable).configure(is_null_level=True),
        ),
        _Level(
            "same_id",
            "same state and same state student ID: near-certain",
            _sql("state_student_id_std_l = state_student_id_std_r"),
        ),
        _Level(
            "different_id",
            "same state, different ID: weak evidence against (re-enrolment under a new ID "
            "is common)",
            ElseLevel(),
        ),
    ]


# ------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------

_DESCRIPTIONS: dict[str, str] = {
    "surname": "Two-surname aware comparison of surname units",
    "given_name": "Compound given names with nicknames and second-name use",
    "birth_date": "Birth date with transposition, keying slips and placeholder dates",
    "sex": "Recorded sex",
    "parents": "Parents' given names (order-free) and surnames",
    "birth_place": "Country, state and city of birth",
    "multiple_birth": "Multiple-birth flag, with the twin signature",
    "state_student_id": "Identifiers: MSIX ID, and state student ID within the same state",
}


def _levels(name: str, term_frequency: bool) -> list[_Level]:
    builders: dict[str, Callable[[], list[_Level]]] = {
        "surname": lambda: _surname_levels(term_frequency),
        "given_name": lambda: _given_name_levels(term_frequency),
        "birth_date": lambda: _birth_date_levels(term_frequency),
        "sex": _sex_levels,
        "parents": _parents_levels,
        "birth_place": _birth_place_levels,
        "multiple_birth": _multiple_birth_levels,
        "state_student_id": _state_student_id_levels,
    }
    if name not in builders:
        raise ValueError(
            f"Unknown comparison {name!r}; choose one of {', '.join(COMPARISON_NAMES)}"
        )
    return builders[name]()


def _comparison(name: str, term_frequency: bool) -> ComparisonCreator:
    levels = []
    for level in _levels(name, term_frequency):
        level.creator.configure(label_for_charts=f"{level.label}: {level.meaning}")
        levels.append(level.creator)
    return CustomComparison(
        comparison_levels=levels,
        output_column_name=name,
        comparison_description=_DESCRIPTIONS[name],
    )


def migrant_comparisons(*, term_frequency: bool = True) -> list[ComparisonCreator]:
    """The Splink comparison creators of the model, in the order of COMPARISON_NAMES.

    Render one for an engine with ``creator.get_comparison("duckdb")`` (or "spark"), or pass the
    list as ``SettingsCreator(comparisons=...)``. With ``term_frequency=False`` no level is
    term-frequency adjusted (useful when the input is too small for stable frequencies).
    """
    return [_comparison(name, term_frequency) for name in COMPARISON_NAMES]


def gamma_case_sql(name: str, dialect: str = "duckdb", *, term_frequency: bool = True) -> str:
    """The CASE expression Splink evaluates for comparison `name`, aliased ``gamma_<name>``.

    It reads ``<col>_l`` / ``<col>_r`` columns of a pair table, exactly like Splink's own
    comparison step; the cheat-sheet tests and analysts' notebooks use it to see which level a
    pair lands in without running a model.
    """
    comparison = _comparison(name, term_frequency).get_comparison(dialect)
    whens = "\n".join(
        cl._when_then_comparison_vector_value_sql for cl in comparison.comparison_levels
    )
    return f"CASE\n{whens}\nEND AS gamma_{name}"


def comparison_levels(name: str) -> tuple[LevelInfo, ...]:
    """The levels of one comparison, in evaluation order, with their labels and meanings."""
    return tuple(
        LevelInfo(lv.label, lv.meaning, lv.creator.is_null_level)
        for lv in _levels(name, term_frequency=False)
    )


#: Standardized columns the guards (zones.py) read as ``<col>_l`` / ``<col>_r`` in Splink's
#: predict output. All are comparison inputs, so Splink keeps them when
#: ``retain_matching_columns`` is on (its default); otherwise add them to
#: ``additional_columns_to_retain`` (pipeline.scoring does).
FAMILY_GUARD_COLUMNS: tuple[str, ...] = (
    "sex_std",
    "multiple_birth_std",
    "given_name_2",
    "given_name_1_known",
)
