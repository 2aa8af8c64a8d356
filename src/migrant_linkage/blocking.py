"""Blocking rules: which record pairs are worth scoring at all.

Every rule pairs a weak key with a strong one, so no rule ever blocks on a common surname alone:
a quarter of Hispanic people share about 26 surnames, and a rule on GARCIA by itself would compare
every GARCIA with every other GARCIA (quadratic in the population). Each rule below has a key
whose block size grows slowly with the population (a full birth date, or a given name plus
surname plus year), and the rules keyed on a birth date or year carry corroboration checks (see
below), so comparisons per input record stay roughly flat with size (measured in
benchmarks/blocking_comparisons.py).

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

Typo-robust rules (issue 13). The rules above need an exact given name or surname and an exact
date, or a parent; a pair escaped when a typo hit a name *and* anything hit the date, or when
the record has no parents (most data outside the migrant programme). So, in addition:

* birth date + first two letters of the given name and of the surname (typos in both names);
* the given name of one record = the surname of the other, with the birth date, or both ways
  round whatever the date (fields swapped);
* surnames + birth year + month, surnames + month + day (a name error with a date error: the
  surnames and the two parts of the date that survived), and given name + month + day with a
  surname that sounds alike or shares its start or end (a surname error with a date error);
* paternal surname + a parent + birth year (day or month shared), or + month + day: a name
  error with a date error, inside a family's block;
* given name + surnames whatever the date says (a date keyed wrong or copied from a sibling);
* no birth date: given name + paternal surname, the maternal one compatible (one surname kept);
* birth date + given name also accepts a middle initial that agrees or a missing surname.

Every rule but the MSIX ID's also drops the pairs whose records each list two parents and
share neither (PARENTS_NOT_CONFLICTING): at national size those are namesakes in two families,
and they were most of what grows. On benchmarks/scale.py's records (seed 42): 1.45 -> 1.38
candidates per record at 100k and 2.16 -> 1.78 at 1M, the same true pairs found; docs/comparisons.md
("Blocking") has the figures.

The blocks without a full date grow with the population (JOSE GARCIA LOPEZ's namesakes), so
they carry a frequency cap: a block is kept only while it holds at most NAME_BLOCK_MAX_RECORDS
records (one child's records; the training cap's reasoning). The sizes are counted once per
record, by a window, before the joins (with_block_sizes_sql; candidate_pairs_sql does it
itself). Measured with benchmarks/blocking_comparisons.py (figures in docs/comparisons.md,
"Blocking"). Tried and dropped, marginal over the 4c569a1 rules on our generator at 100k and
1M records (candidates per record) unless said otherwise:

* the same blocks uncapped, corroborated instead: given name + month + day with a shared
  surname, 0.018 -> 0.177 candidates per record (tenfold with tenfold records); capped, 0.002;
  a missing date with given name + paternal surname, 0.014 -> 0.159; capped, 0.001; the
  both-ways swap 0.022 -> 0.258 (capped 0.005 -> 0.004); paternal surname + parent + year
  0.023 -> 0.187 and + month + day 0.018 -> 0.075 (capped 0.009 -> 0.019, 0.011 -> 0.037),
  on the widened generator (branch synth). Uncapped, the 1M end-to-end run compared 2.43 pairs
  per record and took 83 s (benchmarks/scale.py);
* birth date + paternal surname accepting a dropped maternal surname as corroboration: 0.010
  -> 0.078 candidates per record for +0.09% of true pairs;
* given name + surnames without a date, corroborated by a shared month, day or year +-1 instead
  of capped: +0.10% of true pairs on our generator, +0.3% FEBRL4, +0.6% pseudopeople, against
  +0.12%, +4.5% and +4.8% capped;
* given name + surname + middle initial without a date: +4.7% on pseudopeople but 0.080
  candidates per record at 100k for +0.02% on ours; the capped block finds the same pairs;
* a full second given name as a check on birth date + given name: 0.013 -> 0.113 for +0.005%
  (compound names are common among namesakes), so only an initial counts; the last three
  letters of the surname as that check: weak where the population is densest (HERNANDEZ,
  FERNANDEZ, MENDEZ);
* surnames + year + day (+0 true pairs), given name + year + month with a fuzzy surname
  (+0.04% for 0.046 at 100k), birth date + last three letters of both names (+0.03%);
* exploded deletion-neighbourhood keys (the given name with each letter deleted in turn, an
  array exploded into one key per variant) + surnames, capped at 6, on top of the rules here:
  +0.07% of true pairs on ours (0.010 candidates per record), +1.0% FEBRL4 (0.033), +0.1%
  pseudopeople; uncapped, with the surname and no date: +0.13% for 3.1 candidates per record.
  Not adopted: it needs an array column and Splink's exploding rules, and the engine's
  link-only side condition (pipeline.scoring.rules_for renders rules as SQL text), the index-upload
  scoring and the encoded linkage carry rules only as SQL text. Exploded n-grams have the
  same obstacle; sorted neighbourhood is not a hash join and Splink has no such blocking.

The training rules (`training_*`) are separate on purpose: they are chosen to keep families
apart while the model learns (see model.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from splink import block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator

from migrant_linkage.schema import UNIQUE_ID_COLUMN

BlockingRuleLike = BlockingRuleCreator | str


def rule_sql(rule: BlockingRuleLike) -> str:
    """A rule as DuckDB SQL text (the Spark path translates plain-SQL rules with sqlglot).
    The rules here are conjunctions of equalities, so the text can be extended with `AND`."""
    if isinstance(rule, str):
        return rule
    return rule.get_blocking_rule("duckdb").blocking_rule_sql


def _cross(left: str, right: str, *also_equal: str) -> list[str]:
    """Two rules: `left` on one record equals `right` on the other, each way round, plus exact
    equality on `also_equal`. Two rules rather than one OR, because an OR cannot be a hash join
    (the database would compare every pair). Plain `l.`/`r.` SQL, portable across dialects."""
    same = "".join(f" AND l.{c} = r.{c}" for c in also_equal)
    return [f"l.{left} = r.{right}{same}", f"l.{right} = r.{left}{same}"]


def _when_a_birth_date_missing(rule: BlockingRuleLike, *any_of: str) -> list[str]:
    """The rule (with the `any_of` checks, when given), restricted to pairs where at least one
    birth date is missing. Without a birth date, name-only keys are the only way in; the
    restriction keeps those (larger) blocks from adding pairs for the records that do have a
    date, which other rules already cover. Two rules, the left record missing and then the
    right one, rather than one OR: a condition on one side alone is applied before the join,
    so the join reads only the few records without a date instead of every record."""
    sql = _corroborated(rule, *any_of) if any_of else rule_sql(rule)
    return [f"{sql} AND l.birth_date_std IS NULL", f"{sql} AND r.birth_date_std IS NULL"]


# Corroboration checks. A rule's key decides which records meet (a hash join); a check then
# drops the pairs in that block that share nothing else. Blocks keyed on a birth date or a
# birth year grow with the population (a national file has some 150 children per birth date,
# and many of them called JOSE or GARCIA), so without a check the comparisons per record grow
# with the population; with one, the pairs kept are the block's records that agree on a second,
# independent piece of evidence. Every check is equality on keys standardization computed once
# per record (no similarity function per pair, only a two-letter prefix) and accepts the spelling errors the rule is there
# to catch: sounds (phonetic keys), the first two letters (a typo later in the word), either
# order (swapped surnames, parents listed in another order, the second given name used as the
# first). Measured on 1M synthetic records: 8.1 comparisons per record without the checks and
# 1.8 with them, for 0.17% of the true pairs that scored in review or match range (most of
# them joined anyway through another record of the same child); docs/scale.md has the table.
SURNAME_SHARED = (
    "(l.surname_paternal_phonetic IN (r.surname_paternal_phonetic, r.surname_maternal_phonetic)"
    " OR l.surname_maternal_phonetic IN (r.surname_paternal_phonetic, r.surname_maternal_phonetic)"
    " OR substr(l.surname_paternal, 1, 2) = substr(r.surname_paternal, 1, 2))"
)
GIVEN_NAME_SHARED = (
    "(l.given_name_1_canonical IN (r.given_name_1_canonical, r.given_name_2_canonical)"
    " OR l.given_name_2_canonical = r.given_name_1_canonical"
    " OR l.given_name_1_phonetic = r.given_name_1_phonetic"
    " OR substr(l.given_name_1, 1, 2) = substr(r.given_name_1, 1, 2))"
)
PARENT_SHARED = (
    "(l.parent_given_a IN (r.parent_given_a, r.parent_given_b)"
    " OR l.parent_given_b IN (r.parent_given_a, r.parent_given_b))"
)
#: Both surnames, as a set: the block is then one family (a child, twins, siblings), small at
#: any population, and holds the same child under a name used at home or at school.
SURNAMES_EQUAL = "l.surname_units_key = r.surname_units_key"
BIRTH_MONTH_OR_DAY_SHARED = "(l.birth_month = r.birth_month OR l.birth_day = r.birth_day)"
#: Not a check of agreement but of no conflict: a missing maternal surname is no evidence
#: either way, two clearly different ones are (cousins and namesakes share the paternal one).
MATERNAL_SURNAME_COMPATIBLE = (
    "(l.surname_maternal IS NULL OR r.surname_maternal IS NULL"
    " OR l.surname_maternal_phonetic = r.surname_maternal_phonetic"
    " OR substr(l.surname_maternal, 1, 2) = substr(r.surname_maternal, 1, 2))"
)


def _corroborated(rule: BlockingRuleLike, *any_of: str, and_: str | None = None) -> str:
    """The rule, keeping only pairs that pass at least one of the `any_of` checks (and `and_`,
    when given). The checks are a filter after the join, not join keys, so the join stays a
    hash join on the rule's key. The rule must be a plain conjunction (no top-level OR): it is
    extended without parentheses so that Splink still sees its equi-join keys."""
    sql = f"{rule_sql(rule)} AND ({' OR '.join(any_of)})"
    return f"{sql} AND {and_}" if and_ else sql


#: Typo-robust checks: a one-letter slip leaves either the start or the end of a name intact
#: (in a name of six letters or more, always), so "the last three letters agree" accepts the
#: typos "the first two letters agree" does not (TAPAIA / TAPIA, SOOORRO / SOCORRO).
SURNAME_END_SHARED = "substr(l.surname_paternal, -3) = substr(r.surname_paternal, -3)"
GIVEN_NAME_END_SHARED = "substr(l.given_name_1, -3) = substr(r.given_name_1, -3)"
#: A middle initial agrees with the other record's middle name (or initial): the trace a
#: system keeping only initials leaves. Two full second names are not counted, as the other
#: checks do not count them: a compound name (MARIA GUADALUPE) is common among namesakes.
#: (Written without AND: Splink finds no join keys in a rule whose checks nest an AND in an OR.)
MIDDLE_INITIAL_SHARED = "(l.given_name_2 = substr(r.given_name_2, 1, 1) OR r.given_name_2 = substr(l.given_name_2, 1, 1))"
#: Not agreement but no conflict: a record without a surname brings no evidence against.
SURNAME_MISSING = "(l.surname_paternal IS NULL OR r.surname_paternal IS NULL)"
SURNAME_FUZZY = (SURNAME_SHARED, SURNAME_END_SHARED)
GIVEN_NAME_FUZZY = (GIVEN_NAME_SHARED, GIVEN_NAME_END_SHARED)


#: Not a check of agreement but of no conflict: both records list two parents and neither
#: parent's given name is among the other's (the model's `parents` else level, about -8 bits,
#: with full information on both sides). Such a pair is two families, whatever the child's
#: name and date say: at national size they are namesakes (JOSE GARCIA born the same day in
#: two families), the comparisons that grow with the population. A record listing one parent
#: or none is no evidence either way (one state keeps the mother, another the father), and a
#: parent in common (a step-parent) is the model's `one_given` level: kept. A name cut by a
#: short field (MAR for MARIA, V for VICTOR) is the same parent: one name the other's start.
#: Standardization sorts the two names (parent_given_a <= parent_given_b, a missing one last),
#: so b present means both are.
def _one_starts_the_other(x: str, y: str) -> str:
    return f"starts_with({y}, {x}) OR starts_with({x}, {y})"


PARENTS_NOT_CONFLICTING = (
    "(l.parent_given_b IS NULL OR r.parent_given_b IS NULL OR "
    + " OR ".join(
        _one_starts_the_other(f"l.parent_given_{x}", f"r.parent_given_{y}")
        for x in "ab"
        for y in "ab"
    )
    + ")"
)

#: Frequency cap. A block of the same given name and surnames holds one child's records, and
#: also the namesakes (other children called JOSE GARCIA LOPEZ), whose number grows with the
#: population. Blocked without a birth date, such a block is kept only while it holds no more
#: records than one child has: the reasoning, and the count, of the training cap
#: (TRAINING_BLOCK_MAX_RECORDS and SURNAMES_BLOCK_RECORDS below, the same block), so a common
#: name's block never compares more than a few records, at any population.
NAME_BLOCK_MAX_RECORDS = 6


def with_block_sizes_sql(records_table: str) -> str:
    """The records of `records_table` (an internal table name) with the block-size columns the
    frequency-capped rules read (CAPPED_BLOCKS): one count per key value, once per record (a
    window, no pair). The same counts as training_block_sizes (0 when a key part is missing);
    stale copies of the columns in `records_table` are replaced.

    candidate_pairs_sql computes them itself; a table that Splink blocks on directly (the Spark
    path, an index upload, encoded linkage) must be built with this query first."""
    stale = ", ".join(f"'{column}'" for column in CAPPED_BLOCKS)
    counts = ", ".join(
        f"count(*) FILTER ({' AND '.join(f'{k} IS NOT NULL' for k in keys)}) "
        f"OVER (PARTITION BY {', '.join(keys)}) AS {column}"
        for column, keys in CAPPED_BLOCKS.items()
    )
    return f"SELECT COLUMNS(lambda c: c NOT IN ({stale})), {counts} FROM {records_table}"


def _capped(column: str) -> str:
    """Equality on the key that `column` counts, in blocks of at most NAME_BLOCK_MAX_RECORDS
    records (the count is the same on both sides of a pair, so one side is checked)."""
    rule = rule_sql(block_on(*CAPPED_BLOCKS[column]))
    return f"{rule} AND l.{column} <= {NAME_BLOCK_MAX_RECORDS}"


def prediction_blocking_rules() -> list[BlockingRuleLike]:
    """The rules that generate candidate pairs for scoring, most productive first.

    Splink reports, for each pair, the first rule that found it (`match_key`), so the order
    also decides how comparisons are attributed in the run summary. One rule reads the block
    size of with_block_sizes_sql (or training_block_sizes).

    Every rule but the MSIX ID's keeps only pairs whose parents do not conflict
    (PARENTS_NOT_CONFLICTING): a filter after the join, like the checks."""
    by_person = [f"{rule_sql(rule)} AND {PARENTS_NOT_CONFLICTING}" for rule in _rules_by_person()]
    # The same national ID is one child's records whatever else disagrees.
    return [*by_person, block_on("msix_id_std")]


def without_parents_filter(rule: str) -> str:
    """A prediction rule's SQL without the parents' no-conflict filter. Splink's Spark blocking
    repeats every earlier rule, negated, inside each rule, and with the filter in each of them
    that expression outgrew the JVM's heap (tests/test_spark.py); the Spark path blocks with
    these rules and applies the filter to the scored pairs instead (spark_backend), which keeps
    the same pairs: the MSIX ID's rule is the only one without it."""
    return rule.replace(f" AND {PARENTS_NOT_CONFLICTING}", "")


def _rules_by_person() -> list[BlockingRuleLike]:
    """The rules on names, dates and parents, before the parents' no-conflict filter."""
    surname_or_parent = (SURNAME_SHARED, PARENT_SHARED)
    given_or_parent = (GIVEN_NAME_SHARED, PARENT_SHARED, SURNAMES_EQUAL)
    compatible = MATERNAL_SURNAME_COMPATIBLE
    return [
        _corroborated(
            block_on("birth_date_std", "given_name_1_canonical"),
            *surname_or_parent,
            MIDDLE_INITIAL_SHARED,
            SURNAME_MISSING,
        ),
        _corroborated(block_on("birth_date_std", "surname_paternal"), *given_or_parent),
        _corroborated(block_on("birth_date_std", "surname_maternal"), *given_or_parent),
        *(
            _corroborated(rule, *given_or_parent)
            for rule in _cross("surname_paternal", "surname_maternal", "birth_date_std")
        ),
        # Swapping day and month twice gives the date back, so one direction finds every pair.
        _corroborated(
            "l.birth_date_std = r.birth_date_transposed "
            "AND l.surname_paternal = r.surname_paternal",
            *given_or_parent,
        ),
        _corroborated(
            "l.birth_date_std = r.birth_date_transposed "
            "AND l.given_name_1_canonical = r.given_name_1_canonical",
            *surname_or_parent,
        ),
        _corroborated(
            block_on("birth_year", "given_name_1_canonical", "surname_paternal_phonetic"),
            BIRTH_MONTH_OR_DAY_SHARED,
            PARENT_SHARED,
            SURNAMES_EQUAL,
            and_=compatible,
        ),
        _corroborated(
            block_on("birth_month", "birth_day", "given_name_1_canonical", "surname_paternal"),
            compatible,
        ),
        _corroborated(
            block_on(
                "given_name_1_canonical", "surname_paternal", "parent_given_a", "parent_given_b"
            ),
            compatible,
        ),
        block_on("birth_date_std", "given_name_1_phonetic", "surname_paternal_phonetic"),
        # Typos in both names, the date intact: the first two letters of each.
        block_on("birth_date_std", "substr(given_name_1, 1, 2)", "substr(surname_paternal, 1, 2)"),
        # The given name keyed as the surname and the surname as the given name: both ways
        # round (any date), or one way with the same birth date.
        # (Capped on both records' name blocks: one swapped JOSE GARCIA meets every GARCIA JOSE.)
        "l.given_name_1 = r.surname_paternal AND l.surname_paternal = r.given_name_1"
        f" AND l.{GIVEN_PATERNAL_BLOCK_RECORDS} <= {NAME_BLOCK_MAX_RECORDS}"
        f" AND r.{GIVEN_PATERNAL_BLOCK_RECORDS} <= {NAME_BLOCK_MAX_RECORDS}",
        *_cross("given_name_1", "surname_paternal", "birth_date_std"),
        # A date error with a given-name error (typo, nickname, placeholder): the surnames and
        # the two parts of the date that survived.
        _capped(SURNAMES_MONTH_BLOCK_RECORDS),
        _capped(SURNAMES_DAY_BLOCK_RECORDS),
        # A date error with a surname error: the given name and the day and month.
        _corroborated(_capped(GIVEN_DAY_BLOCK_RECORDS), *SURNAME_FUZZY, and_=compatible),
        # A name error with a date error in a family: paternal surname, a parent and the
        # date parts that survived (capped too: MARIA and JOSE are common parents' names).
        _corroborated(_capped(FAMILY_YEAR_BLOCK_RECORDS), BIRTH_MONTH_OR_DAY_SHARED),
        _capped(FAMILY_DAY_BLOCK_RECORDS),
        # Whatever happened to the date: the given name and surnames.
        _capped(SURNAMES_BLOCK_RECORDS),
        # No birth date, and one surname recorded (or two that agree).
        *_when_a_birth_date_missing(_capped(GIVEN_PATERNAL_BLOCK_RECORDS), compatible),
        *_when_a_birth_date_missing(
            block_on("given_name_1_canonical", "surname_paternal_phonetic", "parent_given_a")
        ),
        *_when_a_birth_date_missing(
            block_on("given_name_1_canonical", "parent_given_a", "parent_given_b"),
            SURNAME_SHARED,
        ),
        _corroborated(
            block_on("birth_year", "given_name_1_canonical", "parent_given_a", "parent_given_b"),
            SURNAME_SHARED,
        ),
        *_when_a_birth_date_missing(
            block_on("surname_paternal_phonetic", "parent_given_a", "parent_given_b"),
            GIVEN_NAME_SHARED,
            SURNAMES_EQUAL,
        ),
        _corroborated(
            block_on(
                "surname_paternal_phonetic", "parent_given_a", "parent_given_b", "birth_month"
            ),
            GIVEN_NAME_SHARED,
        ),
    ]


def candidate_pairs_sql(records_table: str, rules: Sequence[BlockingRuleLike]) -> str:
    """A query for every pair that at least one rule finds, once, as Splink's blocked-pairs
    table (match_key: the index of the first rule that finds the pair, as text; join_key_l <
    join_key_r: the record ids), for `linker.table_management.register_blocked_pairs_for_predict`.

    The pairs are exactly Splink's own blocking for a dedupe on with_block_sizes_sql(records_table),
    computed differently: one hash join per rule, then a GROUP BY that keeps each pair once.
    Splink instead adds to every rule the negation of all the rules before it (`AND NOT (rule
    0) AND NOT (rule 1) ...`), which evaluates every earlier rule, checks included, on every
    candidate row; at 1M records that was two thirds of the predict time. The block sizes are
    computed once, before the joins. `records_table` is an internal table name."""
    uid = UNIQUE_ID_COLUMN
    sized = "ml_blocking_records"
    joins = "\nUNION ALL\n".join(
        f"SELECT {i} AS rule, l.{uid} AS join_key_l, r.{uid} AS join_key_r "
        f"FROM {sized} AS l JOIN {sized} AS r "
        f"ON ({rule_sql(rule)}) AND l.{uid} < r.{uid}"
        for i, rule in enumerate(rules)
    )
    return (
        f"WITH {sized} AS MATERIALIZED ({with_block_sizes_sql(records_table)}) "
        "SELECT CAST(min(rule) AS VARCHAR) AS match_key, join_key_l, join_key_r "
        f"FROM ({joins}) GROUP BY join_key_l, join_key_r"
    )


def rule_descriptions() -> list[str]:
    """One short SQL text per prediction rule, in order (what `match_key` numbers refer to)."""
    return [rule_sql(rule) for rule in prediction_blocking_rules()]


def deterministic_match_rules() -> list[BlockingRuleLike]:
    """Rules that admit almost no false matches: used only to estimate the prior (how likely two
    random records are the same child). Twins share birth date and surnames but not given names,
    so the given name is always part of the key."""
    return [
        block_on("given_name_1_canonical", "surname_paternal", "birth_date_std"),
        block_on("given_name_1_canonical", "surname_maternal", "birth_date_std"),
    ]


#: Training blocks with more records than this are left out of EM. A child has a few records
#: (2.85 on average in the synthetic data); a block of given name + birth date, or of surnames +
#: given name, holding more is mostly namesakes: other children called JOSE GARCIA LOPEZ. Their
#: share grows with the population (on 1M synthetic records, 59% and 52% of the pairs in the two
#: blocks were different children, against about 13% at 100k), and past half EM learns "same
#: name" instead of "same child": trained on 1M records, a different birth date weighed -1.0
#: instead of -5.0 and parents' surnames without their given names +2.9 instead of -5.0.
#: Capped at 6 records, the share at 1M is 17% and 12%; at 20,000 children (the shipped model)
#: the cap leaves out almost nothing. benchmarks/scale.py shows the effect on accuracy.
TRAINING_BLOCK_MAX_RECORDS = 6
#: Columns the training frame carries for the cap (training_block_sizes).
NAMES_BLOCK_RECORDS = "_names_block_records"
SURNAMES_BLOCK_RECORDS = "_surnames_block_records"
_NAMES_BLOCK_KEYS = ("given_name_1_canonical", "birth_date_std")
_SURNAMES_BLOCK_KEYS = ("surname_units_key", "given_name_1_canonical")


#: The frequency-capped prediction blocks: the block-size column and the key it counts.
SURNAMES_MONTH_BLOCK_RECORDS = "_surnames_month_block_records"
SURNAMES_DAY_BLOCK_RECORDS = "_surnames_day_block_records"
GIVEN_DAY_BLOCK_RECORDS = "_given_day_block_records"
GIVEN_PATERNAL_BLOCK_RECORDS = "_given_paternal_block_records"
FAMILY_YEAR_BLOCK_RECORDS = "_family_year_block_records"
FAMILY_DAY_BLOCK_RECORDS = "_family_day_block_records"
CAPPED_BLOCKS: dict[str, tuple[str, ...]] = {
    SURNAMES_BLOCK_RECORDS: _SURNAMES_BLOCK_KEYS,
    SURNAMES_MONTH_BLOCK_RECORDS: ("surname_units_key", "birth_year", "birth_month"),
    SURNAMES_DAY_BLOCK_RECORDS: ("surname_units_key", "birth_month", "birth_day"),
    GIVEN_DAY_BLOCK_RECORDS: ("given_name_1_canonical", "birth_month", "birth_day"),
    GIVEN_PATERNAL_BLOCK_RECORDS: ("given_name_1_canonical", "surname_paternal"),
    FAMILY_YEAR_BLOCK_RECORDS: ("surname_paternal", "parent_given_a", "birth_year"),
    FAMILY_DAY_BLOCK_RECORDS: ("surname_paternal", "parent_given_a", "birth_month", "birth_day"),
}


def training_block_sizes(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the number of records in each record's two training blocks and in each
    capped prediction block (0 when a key is missing: such a record is in no block). Splink's
    training reads every column a rule names, the prediction rules' too."""
    blocks = {NAMES_BLOCK_RECORDS: _NAMES_BLOCK_KEYS, **CAPPED_BLOCKS}
    sizes = {
        column: frame.groupby(list(keys), dropna=True, sort=False)[keys[0]]
        .transform("size")
        .fillna(0)
        .astype("int64")
        for column, keys in blocks.items()
    }
    return frame.assign(**sizes)  # copy-on-write: the record columns are not copied


def training_rule_names_and_place() -> BlockingRuleLike:
    """EM training block for surnames, parents, place, sex and IDs: same given name and birth
    date, in blocks of at most TRAINING_BLOCK_MAX_RECORDS records. Siblings and twins differ in
    at least one of the two, so families stay apart."""
    rule = rule_sql(block_on(*_NAMES_BLOCK_KEYS))
    return f"{rule} AND l.{NAMES_BLOCK_RECORDS} <= {TRAINING_BLOCK_MAX_RECORDS}"


def training_rule_birth_date() -> BlockingRuleLike:
    """EM training block for the birth date: same surname set and given name, in blocks of at
    most TRAINING_BLOCK_MAX_RECORDS records. Siblings differ in given name, so the block holds
    the same child plus unrelated namesakes (the cap keeps those few)."""
    rule = rule_sql(block_on(*_SURNAMES_BLOCK_KEYS))
    return f"{rule} AND l.{SURNAMES_BLOCK_RECORDS} <= {TRAINING_BLOCK_MAX_RECORDS}"
