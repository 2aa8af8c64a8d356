"""Blocking rules: which record pairs are worth scoring at all.

Every rule pairs a weak key with a strong one, so no rule ever blocks on a common surname alone:
a quarter of Hispanic people share about 26 surnames, and a rule on GARCIA by itself would compare
every GARCIA with every other GARCIA (quadratic in the population). Each rule below has a key
whose block size stays roughly constant as the population grows (a full birth date, or a given
name plus surname plus year), so comparisons per input record stay roughly flat with size.

The rules are Splink blocking-rule creators or plain `l.`/`r.` SQL that every Splink dialect
accepts, so the same rules run on DuckDB and Spark. What each rule is for:

* birth date + given name (canonical, so LUPE = GUADALUPE): catches any surname problem
  (dropped, swapped, joined, misspelt) when the given name and birth date survived;
* birth date + paternal surname, birth date + maternal surname, and the two cross rules
  (paternal on one side = maternal on the other): catch nicknames missing from the table and
  swapped or dropped surnames;
* transposed birth date (day and month swapped) + a shared surname unit;
* birth year + given name + phonetic surname, and month + day + given name + surname: catch a
  slipped digit in the day, month or year (and, with the phonetic key, BENITEZ / VENITEZ);
* given name + surname + both parents' given names: catches a missing or unparseable birth date;
* phonetic given name + phonetic surname + birth date: catches recruiters' phonetic spellings;
* when one birth date is missing: given name + both surnames, and given name + phonetic surname
  + one parent's given name (the other parent is often missing too), and given name + both
  parents' given names (the surname was mangled too);
* birth year + given name + both parents' given names: a mangled surname and a slipped date;
* phonetic paternal surname + both parents' given names, when a birth date is missing or with
  the same birth month: the same child when the given name went wrong too (a nickname, the
  other half of a compound name) and the year or day slipped;
* the same MSIX ID (the national migrant student ID): whatever else disagrees. A block holds
  the records of one child, so it stays small at any population.

The training rules (`training_*`) are separate on purpose: they are chosen to keep families
apart while the model learns (see model.py).
"""

from __future__ import annotations

from splink import block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator

BlockingRuleLike = BlockingRuleCreator | str


def _cross(left: str, right: str, *also_equal: str) -> list[str]:
    """Two rules: `left` on one record equals `right` on the other, each way round, plus exact
    equality on `also_equal`. Two rules rather than one OR, because an OR cannot be a hash join
    (the database would compare every pair). Plain `l.`/`r.` SQL, portable across dialects."""
    same = "".join(f" AND l.{c} = r.{c}" for c in also_equal)
    return [f"l.{left} = r.{right}{same}", f"l.{right} = r.{left}{same}"]


def _when_a_birth_date_missing(rule: BlockingRuleCreator) -> str:
    """The rule, restricted to pairs where at least one birth date is missing. Without a birth
    date, name-only keys are the only way in; the restriction keeps those (larger) blocks from
    adding pairs for the records that do have a date, which other rules already cover."""
    sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
    return f"({sql}) AND (l.birth_date_std IS NULL OR r.birth_date_std IS NULL)"


def prediction_blocking_rules() -> list[BlockingRuleLike]:
    """The rules that generate candidate pairs for scoring, most productive first.

    Splink reports, for each pair, the first rule that found it (`match_key`), so the order
    also decides how comparisons are attributed in the run summary."""
    return [
        block_on("birth_date_std", "given_name_1_canonical"),
        block_on("birth_date_std", "surname_paternal"),
        block_on("birth_date_std", "surname_maternal"),
        *_cross("surname_paternal", "surname_maternal", "birth_date_std"),
        # Swapping day and month twice gives the date back, so one direction finds every pair.
        "l.birth_date_std = r.birth_date_transposed AND l.surname_paternal = r.surname_paternal",
        "l.birth_date_std = r.birth_date_transposed "
        "AND l.given_name_1_canonical = r.given_name_1_canonical",
        block_on("birth_year", "given_name_1_canonical", "surname_paternal_phonetic"),
        block_on("birth_month", "birth_day", "given_name_1_canonical", "surname_paternal"),
        block_on("given_name_1_canonical", "surname_paternal", "parent_given_a", "parent_given_b"),
        block_on("birth_date_std", "given_name_1_phonetic", "surname_paternal_phonetic"),
        _when_a_birth_date_missing(
            block_on("given_name_1_canonical", "surname_paternal", "surname_maternal")
        ),
        _when_a_birth_date_missing(
            block_on("given_name_1_canonical", "surname_paternal_phonetic", "parent_given_a")
        ),
        _when_a_birth_date_missing(
            block_on("given_name_1_canonical", "parent_given_a", "parent_given_b")
        ),
        block_on("birth_year", "given_name_1_canonical", "parent_given_a", "parent_given_b"),
        _when_a_birth_date_missing(
            block_on("surname_paternal_phonetic", "parent_given_a", "parent_given_b")
        ),
        block_on("surname_paternal_phonetic", "parent_given_a", "parent_given_b", "birth_month"),
        block_on("msix_id_std"),
    ]


def rule_descriptions() -> list[str]:
    """One short SQL text per prediction rule, in order (what `match_key` numbers refer to)."""
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator

    return [
        to_blocking_rule_creator(rule).get_blocking_rule("duckdb").blocking_rule_sql
        for rule in prediction_blocking_rules()
    ]


def deterministic_match_rules() -> list[BlockingRuleLike]:
    """Rules that admit almost no false matches: used only to estimate the prior (how likely two
    random records are the same child). Twins share birth date and surnames but not given names,
    so the given name is always part of the key."""
    return [
        block_on("given_name_1_canonical", "surname_paternal", "birth_date_std"),
        block_on("given_name_1_canonical", "surname_maternal", "birth_date_std"),
    ]


def training_rule_names_and_place() -> BlockingRuleLike:
    """EM training block for surnames, parents, place, sex and IDs: same given name and birth
    date. Siblings and twins differ in at least one of the two, so families stay apart."""
    return block_on("given_name_1_canonical", "birth_date_std")


def training_rule_birth_date() -> BlockingRuleLike:
    """EM training block for the birth date: same surname set and given name. Siblings differ
    in given name, so the block holds the same child plus unrelated namesakes."""
    return block_on("surname_units_key", "given_name_1_canonical")
