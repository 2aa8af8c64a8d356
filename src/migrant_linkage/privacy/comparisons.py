"""The encoded model's comparisons: the plain model's, over hashed columns and Bloom filters.

Same comparison names and, where the meaning is the same, the same level labels as
migrant_linkage.comparisons, so the fixed priors of data/model_priors.csv apply. Levels that
need the value itself are listed in encoding.LEVELS_NOT_ENCODED.
"""

from __future__ import annotations

from typing import Any

from migrant_linkage.comparisons import (
    EITHER_BIRTH_DATE_IS_DEFAULT,
    nickname_readings_sql,
    units_subset_sql,
)
from migrant_linkage.privacy.encoding import FUZZY_DICE, bloom_word_columns

__all__ = ["bloom_dice_sql", "encoded_comparisons"]


def bloom_dice_sql(column: str) -> str:
    """Dice coefficient of the Bloom filters of `column` on the two records of a pair, in SQL
    that DuckDB and Spark both run (BIGINT `&` and `bit_count`). Null when either is missing.
    The set-bit counts are computed here, not stored: a clear count column told the name's
    length to anyone (it correlated 0.99 with it)."""
    words = bloom_word_columns(column)
    # DuckDB's bit_count is a TINYINT: sixteen of them overflow it, so each is widened first.
    common = " + ".join(f"CAST(bit_count({w}_l & {w}_r) AS INTEGER)" for w in words)
    total = " + ".join(f"CAST(bit_count({w}_{side}) AS INTEGER)" for side in "lr" for w in words)
    return f"(2.0 * ({common}) / nullif({total}, 0))"


def _bloom_close(column: str, threshold: float = FUZZY_DICE) -> str:
    return f"coalesce({bloom_dice_sql(column)} >= {threshold!r}, false)"


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
        "nickname": (
            "(given_name_1_canonical_l = given_name_1_canonical_r "
            f"OR coalesce({nickname_readings_sql()}, false)) AND {g2_ok}"
        ),
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
                f"birth_date_std_l = birth_date_std_r AND {EITHER_BIRTH_DATE_IS_DEFAULT}",
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
            (
                "default_same_year",
                "one date is a placeholder (1 January) in the other's year",
                f"birth_year_l = birth_year_r AND {EITHER_BIRTH_DATE_IS_DEFAULT}",
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
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

    comparisons = []
    for name, levels in _levels().items():
        creators: list[ComparisonLevelCreator | dict[str, Any]] = []
        for label, meaning, condition, tf_column in levels:
            creator: ComparisonLevelCreator
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
