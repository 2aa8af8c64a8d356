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
from dataclasses import dataclass

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
    """

    match_weight: float = DEFAULT_MATCH_WEIGHT
    review_weight: float = DEFAULT_REVIEW_WEIGHT
    strong_disagreement_weight: float = DEFAULT_STRONG_DISAGREEMENT_WEIGHT

    def __post_init__(self) -> None:
        for name in ("match_weight", "review_weight", "strong_disagreement_weight"):
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

        `family_review` marks guarded pairs a person should still see (comparisons.py,
        `family_review_sql`: a record says "not a multiple birth", so the pair is not twins):
        at or above review_weight they go to the worklist, never to auto-merge."""
        return (
            f"CASE WHEN {family_guard} THEN CASE WHEN {family_review} "
            f"AND {weight_column} >= {self.review_weight!r} THEN '{NEAR_MATCH_ZONE}' "
            f"ELSE '{NON_MATCH_ZONE}' END "
            f"WHEN {birth_dates_differ} THEN CASE WHEN {weight_column} >= {self.match_weight!r} "
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
