"""Three zones by match weight: match (auto-merge), near match (worklist), non-match.

Why weights, and which weight. A pair's *evidence* is its log2 Bayes factor: the sum of the
comparison levels' weights. Splink adds a prior, log2 of the odds that two random records are the
same child; that prior is about 1/N in a population of N records, so a threshold on Splink's
probability gets stricter as the population grows and recall drops with size. Blocking keeps the
candidate pairs per record roughly constant, so among *compared* pairs the share of true matches
is stable; a threshold on the evidence alone therefore keeps accuracy stable with size. The engine
scores with even prior odds, so `match_weight` in the outputs is the evidence and
`match_probability` = 2^w / (1 + 2^w) is the probability given even odds among compared pairs.

Two guards refine the zones (see `Thresholds.zone_sql`): the family guard (twins and siblings are
never merged, and sent to review only when a record says it is not a multiple birth) and
different birth dates (never auto-merged; reviewed).

Grades use the words of FHIR's patient-match grading: certain (match zone), probable (upper half
of the near-match zone), possible (lower half).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from migrant_linkage.levels import ModelLevels

MATCH_ZONE = "match"
NEAR_MATCH_ZONE = "near_match"
NON_MATCH_ZONE = "non_match"
ZONES = (MATCH_ZONE, NEAR_MATCH_ZONE, NON_MATCH_ZONE)

GRADE_CERTAIN = "certain"
GRADE_PROBABLE = "probable"
GRADE_POSSIBLE = "possible"

#: Defaults, in log2 Bayes factor. docs/usage.md gives the reasoning and the measurements.
DEFAULT_MATCH_WEIGHT = 20.0
DEFAULT_REVIEW_WEIGHT = 12.0
DEFAULT_STRONG_DISAGREEMENT_WEIGHT = 0.0
#: Auto-merge only when the records that would show a pair's evidence by chance number at most
#: 2**this in the run's population (see Routing): at most one coincidence per 256 such pairs,
#: i.e. at least 99.6% of them are not a namesake, whatever the population size.
DEFAULT_CHANCE_WEIGHT = -8.0
#: Auto-merge below match_weight too where the model's prior makes that evidence as sure: when
#: the evidence plus the prior (log2 odds that two random records of the run are one child, as
#: training estimated it) reaches log2(99), a match probability of 0.99. A population where
#: most children appear twice (a program's files over several years) needs fewer bits than a
#: survey with few repeats or a national index; there the prior is far lower and match_weight
#: rules. See `Thresholds.given_prior`.
DEFAULT_MATCH_POSTERIOR_WEIGHT = math.log2(99)


def probability_to_weight(probability: float) -> float:
    """log2 odds of a probability (at even prior odds, the weight that gives it)."""
    if not 0 < probability < 1:
        raise ValueError(f"a match probability must be strictly between 0 and 1, got {probability}")
    return math.log2(probability / (1 - probability))


def weight_to_probability(weight: float) -> float:
    return 1 / (1 + 2 ** (-weight))


@dataclass(frozen=True)
class Thresholds:
    """Zone limits in match weight (log2 Bayes factor of the evidence).

    match_weight: at or above, the pair is a match (auto-merge), grade "certain".
    review_weight: at or above (and below match_weight), a near match for the worklist,
        grade "probable" in the upper half of the zone, "possible" in the lower half.
    strong_disagreement_weight: a pair below this inside a proposed student splits it.
    chance_weight: a pair is auto-merged only when the number of records in the population
        expected to show its evidence by chance is at most 2**chance_weight (namesakes at
        national size: see Routing); a pair above it goes to the worklist.
    match_posterior_weight: the posterior log2 odds (evidence plus the model's prior) that
        also make a match below match_weight (`given_prior`); None turns that off.
    """

    match_weight: float = DEFAULT_MATCH_WEIGHT
    review_weight: float = DEFAULT_REVIEW_WEIGHT
    strong_disagreement_weight: float = DEFAULT_STRONG_DISAGREEMENT_WEIGHT
    chance_weight: float = DEFAULT_CHANCE_WEIGHT
    match_posterior_weight: float | None = DEFAULT_MATCH_POSTERIOR_WEIGHT

    def __post_init__(self) -> None:
        names = ["match_weight", "review_weight", "strong_disagreement_weight", "chance_weight"]
        if self.match_posterior_weight is not None:
            names.append("match_posterior_weight")
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, int | float) or math.isnan(value):
                raise ValueError(f"Thresholds.{name} must be a number, got {value!r}")
        if self.review_weight > self.match_weight:
            raise ValueError(
                f"review_weight ({self.review_weight}) must not exceed match_weight "
                f"({self.match_weight})"
            )
        if self.strong_disagreement_weight > self.match_weight:
            raise ValueError(
                f"strong_disagreement_weight ({self.strong_disagreement_weight}) must be below "
                f"match_weight ({self.match_weight})"
            )

    @classmethod
    def from_probabilities(
        cls,
        match: float,
        review: float,
        strong_disagreement: float | None = None,
    ) -> Thresholds:
        """Thresholds given as match probabilities at even prior odds (see the module doc).
        `strong_disagreement` defaults to the default weight's probability (0.5)."""
        strong = (
            DEFAULT_STRONG_DISAGREEMENT_WEIGHT
            if strong_disagreement is None
            else probability_to_weight(strong_disagreement)
        )
        return cls(
            match_weight=probability_to_weight(match),
            review_weight=probability_to_weight(review),
            strong_disagreement_weight=strong,
        )

    def as_dict(self) -> dict[str, float | None]:
        """Every threshold by name: what `Thresholds(**d)` rebuilds (the index keeps it)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def given_prior(self, prior_weight: float | None) -> Thresholds:
        """The thresholds a model with this prior (log2 odds that two random records are one
        child: Model.prior_weight) routes with: match_weight lowered to
        match_posterior_weight - prior_weight where that is lower, never below review_weight
        (nor strong_disagreement_weight).

        The evidence a pair needs for a given confidence depends on how common duplicates are:
        18 bits are 0.99 sure where one pair of records in 2**11 is a child twice (WIC's files,
        prior -11.4 bits) and 0.79 sure in a survey where one in 2**18 is (ACS, -18.1). The
        prior is estimated by training on the run's records, so it is the population's own.
        Only lowered: where the prior is low (surveys, a national index) match_weight and the
        namesake check (chance_weight) already hold the evidence to account."""
        if self.match_posterior_weight is None or prior_weight is None:
            return self
        if not math.isfinite(prior_weight):
            return self
        floor = max(self.review_weight, self.strong_disagreement_weight)
        lowered = max(floor, self.match_posterior_weight - prior_weight)
        if lowered >= self.match_weight:
            return self
        return replace(self, match_weight=lowered)

    @property
    def probable_weight(self) -> float:
        """Near matches at or above this weight are graded probable, below it possible."""
        return (self.match_weight + self.review_weight) / 2

    def zone_sql(
        self,
        weight_column: str = "match_weight",
        family_guard: str = "FALSE",
        birth_dates_differ: str = "FALSE",
        family_review: str = "FALSE",
        held_back: str = "FALSE",
    ) -> str:
        """SQL CASE giving the zone of a pair (portable across DuckDB and Spark).

        The zone is the routing decision. By weight: match at or above match_weight, near match
        at or above review_weight. Two refinements: a pair the family guard flags (two children
        of one family) is never a match nor put on the worklist; a pair whose birth dates clearly
        differ is never auto-merged, however strong the rest of the evidence (siblings share
        surnames, parents and place, and a same-first-name sibling then scores like the same
        child). When the rest of the evidence reaches the match threshold it goes to the
        worklist, as the records-exchange guide asks staff to settle a birth-date disagreement
        with the other state; below it, a different birth date with moderate family evidence is
        the sibling signature, and the pair is a non-match.

        `family_review` marks guarded pairs a person should still see (`family_review_sql`: a
        record says "not a multiple birth", so the pair is not twins): at or above
        review_weight they go to the worklist, never to auto-merge. `held_back` marks pairs
        whose evidence cannot settle it (`family_unsure_sql`): the same routing, for pairs
        the family guard does not hold."""
        return (
            f"CASE WHEN {family_guard} THEN CASE WHEN {family_review} "
            f"AND {weight_column} >= {self.review_weight!r} THEN '{NEAR_MATCH_ZONE}' "
            f"ELSE '{NON_MATCH_ZONE}' END "
            f"WHEN {birth_dates_differ} THEN CASE WHEN {weight_column} >= {self.match_weight!r} "
            f"THEN '{NEAR_MATCH_ZONE}' ELSE '{NON_MATCH_ZONE}' END "
            f"WHEN {held_back} THEN CASE WHEN {weight_column} >= {self.review_weight!r} "
            f"THEN '{NEAR_MATCH_ZONE}' ELSE '{NON_MATCH_ZONE}' END "
            f"WHEN {weight_column} >= {self.match_weight!r} THEN '{MATCH_ZONE}' "
            f"WHEN {weight_column} >= {self.review_weight!r} THEN '{NEAR_MATCH_ZONE}' "
            f"ELSE '{NON_MATCH_ZONE}' END"
        )

    def grade_sql(self, zone_column: str = "zone", weight_column: str = "match_weight") -> str:
        """SQL CASE giving the FHIR-style grade from the zone (null for non-matches)."""
        return (
            f"CASE WHEN {zone_column} = '{MATCH_ZONE}' THEN '{GRADE_CERTAIN}' "
            f"WHEN {zone_column} = '{NEAR_MATCH_ZONE}' AND {weight_column} >= "
            f"{self.probable_weight!r} THEN '{GRADE_PROBABLE}' "
            f"WHEN {zone_column} = '{NEAR_MATCH_ZONE}' THEN '{GRADE_POSSIBLE}' "
            f"ELSE NULL END"
        )


# ------------------------------------------------------------------------------- guards
#: The guards below are written with level labels (levels.py). A label the model lacks drops
#: out of the rule; `month_day` is the encoded model's slipped-year level (the `privacy` package).
#: Any surname agreement counts as family evidence: with given names that share nothing, a
#: pair only reaches the match zone on family evidence, however its surnames were garbled.
_NO_SURNAME_EVIDENCE_LABELS = ("null", "else")
_CLOSE_BIRTH_DATE_LABELS = (
    "unparseable_one_digit",
    "default_equal",
    "exact",
    "transposed",
    "year_off_by_one",
    "one_digit",
    "within_days",
    "month_day",
    "default_same_year",
)
_SHARED_PARENT_LABELS = ("both_given", "one_given")
#: Given-name levels that say the names share nothing.
_GIVEN_NAMES_DIFFER_LABELS = ("second_differs", "else")
#: Given-name levels that say "same name" only partly: for a known twin they are not enough.
_GIVEN_NAMES_WEAK_LABELS = ("second_as_first", "fuzzy", "phonetic", "two_edits")
_GIVEN_NAMES_FULL_LABELS = ("exact_with_second", "exact", "nickname")
#: Identifier levels that outweigh the family guard: an agency's ID for the child.
_SAME_IDENTIFIER_LABELS = ("same_msix", "same_id")
#: Birth-date levels that say "born the same day" (a keying slip of the same date included).
_TWIN_BIRTH_DATE_LABELS = ("exact", "default_equal", "transposed")

_TWIN_FLAG = (
    "(coalesce(multiple_birth_std_l = 'Y', false) OR coalesce(multiple_birth_std_r = 'Y', false))"
)
_SEX_DIFFERS = "coalesce(sex_std_l <> sex_std_r, false)"
_BOTH_NAMES_KNOWN = "coalesce(given_name_1_known_l AND given_name_1_known_r, false)"
_SECOND_IS_AN_INITIAL = "coalesce(length(given_name_2_l) = 1 OR length(given_name_2_r) = 1, false)"


def _family_evidence_sql(levels: ModelLevels) -> str:
    """The pair agrees on family evidence: a family surname level, and a close birth date or
    a shared parent; and no agency identifier says it is one child."""
    surname_evidence = tuple(
        lv.label for lv in levels.levels("surname") if lv.label not in _NO_SURNAME_EVIDENCE_LABELS
    )
    return (
        f"({levels.gamma_in('surname', surname_evidence)}\n"
        f" AND ({levels.gamma_in('birth_date', _CLOSE_BIRTH_DATE_LABELS)}\n"
        f"      OR {levels.gamma_in('parents', _SHARED_PARENT_LABELS)})\n"
        f" AND {levels.gamma_not_in('state_student_id', _SAME_IDENTIFIER_LABELS)})"
    )


def family_guard_sql(levels: ModelLevels) -> str:
    """Boolean SQL over Splink's predict output: true for a pair that looks like two different
    children of one family (twins, or siblings with near birth dates): family evidence (a
    family surname level, and a close birth date or a shared parent), no shared agency ID, and
    something that says "two children":

    - the given names share nothing and both are real given names (`given_name_1_known`: the
      given-name list or the nickname table), or the first names agree and two full second
      names conflict (`second_differs`: JOSE LUIS / JOSE ANTONIO; an initial against a name
      of another letter is unsure instead: a slip in one letter, or twins); or
    - they share nothing, only partly agree (`second_as_first`, `fuzzy`, `phonetic`,
      `two_edits`: GUADALUPE vs MARIA GUADALUPE, DANIEL vs DANIELA) or one is missing, and the
      sexes differ or either record is flagged multiple birth (a husband and wife, or twins,
      whose surname and birth date agree and one of whose given names was not recorded: a
      different sex is the evidence of two people, and there is no name to outweigh it); or
    - either record is flagged multiple birth and the names agree (`exact`, `nickname`) except
      that one gives a second given name the other lacks, or the two second names are initials
      or an initial against a name with another first letter (twins JOSE LUIS and JOSE, or JOSE
      L and JOSE A, are indistinguishable from one child recorded two ways).

    Missing evidence never guards a pair: a given name the tables do not know within an edit
    or two of the other (JADK / JACK, VQVID / DAVID) is a keying slip and is scored as such; an
    unknown name that shares nothing with the other (a name the lists lack) is
    `family_unsure_sql`, reviewed, not held apart.
    Guarded pairs stay out of auto-merge and out of clustering.
    """
    second_name_on_one_side = "((given_name_2_l IS NULL) <> (given_name_2_r IS NULL))"
    second_initials_differ = (
        "coalesce((length(given_name_2_l) = 1 OR length(given_name_2_r) = 1) "
        "AND substr(given_name_2_l, 1, 1) <> substr(given_name_2_r, 1, 1), false)"
    )
    unrelated_real_names = f"({levels.gamma_in('given_name', ('else',))} AND {_BOTH_NAMES_KNOWN})"
    full_second_names_differ = (
        f"({levels.gamma_in('given_name', ('second_differs',))} AND NOT {_SECOND_IS_AN_INITIAL})"
    )
    return (
        f"({_family_evidence_sql(levels)}\n"
        f" AND ({unrelated_real_names}\n"
        f"      OR {full_second_names_differ}\n"
        f"      OR ({levels.gamma_in('given_name', ('null', *_GIVEN_NAMES_DIFFER_LABELS, *_GIVEN_NAMES_WEAK_LABELS))}\n"
        f"          AND ({_SEX_DIFFERS} OR {_TWIN_FLAG}))\n"
        f"      OR ({levels.gamma_in('given_name', _GIVEN_NAMES_FULL_LABELS)}\n"
        f"          AND {_TWIN_FLAG} AND ({second_name_on_one_side} OR {second_initials_differ}))))"
    )


def family_unsure_sql(levels: ModelLevels) -> str:
    """Boolean SQL: family evidence and given names that relate nothing the tables know
    (`else` with a name that is not a known given name, a first given name missing on one side
    while the second given names conflict, `two_edits` between two real given names, or the same first name with a second-name initial of another letter than the other's second name), with nothing that
    says "two children" (`family_guard_sql` is false): one child under a garbled or unlisted
    name, or two children. Never auto-merged; reviewed when the weight reaches the review
    threshold."""
    initial_against_name = (
        f"({levels.gamma_in('given_name', ('second_differs',))} AND {_SECOND_IS_AN_INITIAL})"
    )
    # Two real names an edit or two apart (ELENA / ELISA) may be two children; a real name
    # against a string no list knows (JACK / JADK, DAVID / VQVID) is a keying slip.
    real_names_near = f"({levels.gamma_in('given_name', ('two_edits',))} AND {_BOTH_NAMES_KNOWN})"
    # A record without a first given name (none keyed, or a placeholder: HUSBAND, DAD) whose
    # second given names conflict with the other's (HUSBAND B / NATHANIEL C): the only name
    # evidence left says two people, a household member whose birth date was copied.
    missing_first_second_conflicts = (
        f"({levels.gamma_in('given_name', ('null',))} AND "
        "coalesce(substr(given_name_2_l, 1, 1) <> substr(given_name_2_r, 1, 1), false))"
    )
    return (
        f"({_family_evidence_sql(levels)}\n"
        f" AND ({levels.gamma_in('given_name', ('else',))}"
        f" OR {real_names_near} OR {initial_against_name} OR {missing_first_second_conflicts}))"
    )


def family_review_sql(levels: ModelLevels) -> str:
    """Boolean SQL over Splink's predict output: among the pairs the family guard flags, those
    a person should still look at (listed on the worklist when their weight reaches the review
    threshold; never auto-merged).

    The guard flags every pair whose given names do not clearly say "same child". Many are the
    same child under a name the comparisons cannot relate: the first name on one record and
    the second on the other (JUAN CARLOS entered as JUAN, then as CARLOS), an English form or
    a nickname missing from the table, a badly garbled short name. Twins look the same, except
    for the multiple-birth flag. A pair is reviewed when:

    - at least one record says explicitly it is NOT from a multiple birth (N), and neither
      says it is (Y): two children of one family with the same or a transposed birth date are
      twins, and a record of a twin says Y or nothing;
    - the birth dates say "born the same day" (`exact`, `default_equal`, `transposed`): the
      twin signature, which the flag rules out. Siblings born apart, whose dates can still look
      close (one digit apart: 2010-05-03 / 2012-05-03) or be missing, stay out;
    - the given names are not `second_differs` (JOSE LUIS vs JOSE ANTONIO: brothers' names).

    Pure twins (flag Y or unknown on both sides) stay off the worklist: reviewing them costs
    staff time and they are never the same child.
    """
    explicit_no = (
        "(coalesce(multiple_birth_std_l = 'N', false) "
        "OR coalesce(multiple_birth_std_r = 'N', false))"
    )
    return (
        f"({explicit_no} AND NOT {_TWIN_FLAG}\n"
        f" AND {levels.gamma_in('birth_date', _TWIN_BIRTH_DATE_LABELS)}\n"
        f" AND {levels.gamma_not_in('given_name', ('second_differs',))})"
    )


#: Birth-date levels that disagree in no way a keying slip explains (another day of the same
#: month, a few days apart: not a swap, one digit, a year or a placeholder).
_BIRTH_DATES_DISAGREE_LABELS = ("same_month_year", "within_days")


def birth_dates_unsettled_sql(levels: ModelLevels) -> str:
    """True when the birth dates disagree in no way a keying slip explains and neither record
    lists parents: DOMAIN.md's rule for disagreeing dates is to look at the other evidence
    (the parents' names) before calling it one child, and here there is none to look at, so a
    person decides (two women called MICHELLE M NGUYEN born 1 and 20 February 1985). Held back
    from auto-merge, reviewed at the review threshold; it splits nothing."""
    return (
        f"({levels.gamma_in('birth_date', _BIRTH_DATES_DISAGREE_LABELS)}"
        f" AND {levels.gamma_in('parents', ('null',))})"
    )


#: Given-name levels that agree only in part: a first name missing on one side, a nickname, one
#: record's second name as the other's first, a spelling within reach of a slip. Within one
#: family these are also what two siblings look like (DANIEL / DANIELA, MARIA GUADALUPE /
#: GUADALUPE, JOSE / PEPE for JOSE and JOSE LUIS); a birth date usually tells them apart.
_GIVEN_NAMES_PARTIAL_LABELS = ("null", "nickname", *_GIVEN_NAMES_WEAK_LABELS)


def birth_date_missing_in_family_sql(levels: ModelLevels) -> str:
    """True when a record has no birth date, the pair agrees on family evidence (a surname
    level and a shared parent), and the given names agree only in part: nothing left tells the
    child from a sibling (DOMAIN.md: siblings share surnames, parents and birth place). Held back
    from auto-merge, reviewed at the review threshold; it splits nothing. A full given-name
    agreement (exact, exact_with_second) or an agency ID still merges."""
    return (
        f"({levels.gamma_in('birth_date', ('null',))}"
        f" AND {levels.gamma_in('given_name', _GIVEN_NAMES_PARTIAL_LABELS)}"
        f" AND {_family_evidence_sql(levels)})"
    )


def birth_dates_differ_sql(levels: ModelLevels) -> str:
    """True when the birth dates are both known and clearly different (the 'else' level)."""
    return f"({levels.gamma_in('birth_date', ('else',))})"


@dataclass(frozen=True)
class Routing:
    """How a model's scored pairs are routed: its levels (for the guards) and the thresholds.
    Every front end (dedupe, link, explain, encoded linkage, index uploads) routes a pair with
    this, so the same pair lands in the same zone everywhere."""

    levels: ModelLevels
    thresholds: Thresholds
    #: records in the population the pairs come from; None (explain: no population) skips the
    #: namesake check
    population: int | None = None

    def namesake_sql(self) -> str:
        """True for a pair whose evidence the population would show by chance too often to
        auto-merge: log2(population) + log2(chance that two unrelated records show these
        levels) > chance_weight. A common given name, a common surname and a birth date are
        strong evidence among 10,000 records and a coincidence among 5 million; with parents,
        birth place or an ID agreeing too they are not. Term-frequency levels count the
        frequency of the shared value (pipeline.scoring.add_frequency_columns)."""
        if not self.population:
            return "FALSE"
        chance = self.levels.chance_log2_sql()
        limit = self.thresholds.chance_weight - math.log2(self.population)
        return f"COALESCE(({chance}) > {limit!r}, FALSE)"

    def family_sql(self) -> str:
        return f"COALESCE(({family_guard_sql(self.levels)}), FALSE)"

    def family_review_sql(self) -> str:
        return f"COALESCE(({family_review_sql(self.levels)}), FALSE)"

    def family_unsure_sql(self) -> str:
        return f"COALESCE(({family_unsure_sql(self.levels)}), FALSE)"

    def dates_differ_sql(self) -> str:
        return birth_dates_differ_sql(self.levels)

    def dates_unsettled_sql(self) -> str:
        return f"COALESCE(({birth_dates_unsettled_sql(self.levels)}), FALSE)"

    def date_missing_in_family_sql(self) -> str:
        return f"COALESCE(({birth_date_missing_in_family_sql(self.levels)}), FALSE)"

    def guarded_sql(self) -> str:
        """A pair that must never be auto-merged nor held inside one proposed student."""
        return f"({self.family_sql()} OR {self.dates_differ_sql()})"

    def routed_pairs_sql(self, scored_table: str, extra_columns: Sequence[str] = ()) -> str:
        """A query over Splink's predict output giving one row per pair: ids, weight,
        probability, zone, grade, guarded, guard_reason, then `extra_columns`."""
        t = self.thresholds
        extra = "".join(f", {c}" for c in extra_columns)
        return f"""
        WITH scored AS (
            SELECT *,
                {self.family_sql()} AS _family,
                {self.dates_differ_sql()} AS _dates_differ,
                {self.family_review_sql()} AS _family_review,
                {self.family_unsure_sql()} AS _unsure,
                {self.namesake_sql()} AS _namesake,
                {self.dates_unsettled_sql()} AS _dates_unsettled,
                {self.date_missing_in_family_sql()} AS _date_missing_in_family
            FROM {scored_table}
        ), zoned AS (
            SELECT *,
                {
            t.zone_sql(
                "match_weight",
                "_family",
                "_dates_differ",
                "_family_review",
                "(_unsure OR _namesake OR _dates_unsettled OR _date_missing_in_family)",
            )
        }
                AS zone
            FROM scored
        )
        SELECT
            record_id_l, record_id_r, match_weight, match_probability,
            zone,
            {t.grade_sql()} AS grade,
            (_family OR _dates_differ) AS guarded,
            CASE WHEN _family THEN '{GUARD_FAMILY}' WHEN _dates_differ THEN '{GUARD_DATES}'
                 WHEN _unsure THEN '{GUARD_NAMES_UNRELATED}'
                 WHEN _dates_unsettled AND match_weight >= {t.match_weight!r}
                 THEN '{GUARD_DATES_UNSETTLED}'
                 WHEN _date_missing_in_family AND match_weight >= {t.match_weight!r}
                 THEN '{GUARD_DATE_MISSING_IN_FAMILY}'
                 WHEN _namesake AND match_weight >= {t.match_weight!r} THEN '{GUARD_NAMESAKE}'
                 END AS guard_reason{extra}
        FROM zoned
        """


#: guard_reason values: why a pair was held back from auto-merge. `guarded` pairs (family,
#: birth dates differ) also split a proposed student; a pair held back for unrelated names only
#: stays out of the merge.
GUARD_FAMILY = "family"
GUARD_DATES = "birth_dates_differ"
GUARD_NAMES_UNRELATED = "names_unrelated"
GUARD_NAMESAKE = "namesake"
GUARD_DATES_UNSETTLED = "birth_dates_unsettled"
GUARD_DATE_MISSING_IN_FAMILY = "birth_date_missing_in_family"
