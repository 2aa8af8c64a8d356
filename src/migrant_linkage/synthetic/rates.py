"""Error rates and population parameters of the synthetic generator, with documented defaults.

docs/synthetic-data.md explains every default. A rate is the fraction of the *eligible* unit it
applies to (named in each comment); records that cannot carry an error (a day/month swap of
2014-07-25, an accent error on a name without accents) are not eligible and stay untouched.
Rates that share a comment block "one of" are exclusive outcomes of a single draw; their sum
must not exceed 1.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# Groups of mutually exclusive outcomes (one uniform draw per record decides among them).
EXCLUSIVE_GROUPS: dict[str, tuple[str, ...]] = {
    "given_form": (
        "given_nickname",
        "given_english_form",
        "given_compound_first_only",
        "given_compound_second_only",
        "given_compound_split",
    ),
    "particle": ("particle_joined", "particle_dropped"),
    "surname_form": (
        "surname_combined",
        "surname_hyphenated",
        "surname_paternal_only",
        "surname_paternal_in_middle",
        "surname_order_swapped",
        "surname_maternal_only",
    ),
    "birth_date": (
        "dob_day_month_swapped",
        "dob_digit_slip",
        "dob_year_off_by_one",
        "dob_default_jan1",
        "dob_missing",
        "dob_year_digit",  # last, so adding it moved none of the earlier outcomes
    ),
    "sex": ("sex_flipped", "sex_missing"),
    "parents_present": ("parent_one_missing", "parents_missing"),
    "reject": ("reject_missing_record_id", "reject_missing_name"),
}


@dataclass(frozen=True)
class ErrorRates:
    """Rate of every error process. Units in the comments; see docs/synthetic-data.md."""

    # Enrolment history (unit: enrolment / repeat record)
    duplicate_enrolment: float = 0.03  # enrolments keyed twice in the same state
    new_state_id: float = 0.25  # repeat records in a state (return visit, duplicate) given a new ID
    msix_id_absent: float = 0.85  # records sent without the MSIX ID
    # Given name, one of (unit: records whose given name qualifies)
    given_nickname: float = 0.04  # names with a nickname in given_name_variants.csv
    given_english_form: float = 0.03  # names with an English form
    given_compound_first_only: float = 0.15  # compound names: MARÍA GUADALUPE -> MARÍA
    given_compound_second_only: float = 0.05  # compound names: -> GUADALUPE
    given_compound_split: float = 0.30  # compound names: first=MARÍA, middle=GUADALUPE
    # Given name spelling (unit: records with a phonetic variant / all records)
    given_phonetic: float = 0.02
    given_typo: float = 0.015
    # Error kinds seen in outside data (issue 13). Each is its own draw, independent of the
    # others, so they co-occur with each other and with the kinds above at the product of their
    # rates. Defaults are judgement calls (docs/synthetic-data.md).
    given_replaced: float = 0.01  # records: the child's other name (one per child) written
    given_english_nickname: float = 0.05  # records whose first name or its English form has an
    # English nickname in english_nicknames.csv: RICHARD -> RICHIE, JOSÉ -> (JOSEPH) -> JOE
    given_two_typos: float = 0.005  # records: two keying slips in the first name (VQVID)
    given_placeholder: float = 0.01  # records without a birth certificate: BABY, FEMALE, UNK
    middle_initial_only: float = 0.20  # records with a middle name: LYNN -> L
    given_surname_swapped: float = 0.005  # records: first name and last_name_1 exchanged
    # Particles, one of (unit: records whose surnames carry DE / DEL / DE LA ...)
    particle_joined: float = 0.15  # DE LA CRUZ -> DELACRUZ
    particle_dropped: float = 0.15  # DE LA CRUZ -> CRUZ
    # Surname storage, one of (unit: records)
    surname_combined: float = 0.12  # last_name_1 = "GARCÍA LÓPEZ", last_name_2 empty
    surname_hyphenated: float = 0.04  # last_name_1 = "GARCÍA-LÓPEZ"
    surname_paternal_only: float = 0.12  # maternal surname dropped
    surname_paternal_in_middle: float = 0.03  # middle = GARCÍA, last_name_1 = LÓPEZ
    surname_order_swapped: float = 0.02  # last_name_1 = LÓPEZ, last_name_2 = GARCÍA
    surname_maternal_only: float = 0.01  # last_name_1 = LÓPEZ only
    # Paternal surname spelling (unit: records with a phonetic variant / all records)
    surname_phonetic: float = 0.02
    surname_typo: float = 0.015
    # Accents (unit: records in accent-keeping states whose names carry accents)
    accent_mojibake: float = 0.02  # JOSÉ -> JOSÃ‰
    # Birth date, one of (unit: records; the swap only where day <= 12 and day != month,
    # the default date only where the true date is not 1 January)
    dob_day_month_swapped: float = 0.03
    dob_digit_slip: float = 0.015  # day's last digit off by one
    dob_year_off_by_one: float = 0.01
    dob_default_jan1: float = 0.005  # 1 January of the true year
    dob_missing: float = 0.02
    dob_year_digit: float = 0.005  # the year's tens digit keyed wrong: 2016 -> 2006
    # A date keying error on top of a given-name spelling error (unit: records with a given-name
    # typo, two typos or phonetic respelling and no date error from the group above): the same
    # careless keying makes both, so they meet more often than the product of their rates.
    dob_error_with_name_error: float = 0.10
    # Sex, one of (unit: records)
    sex_flipped: float = 0.005
    sex_missing: float = 0.02
    # Parents (unit: records)
    parents_swapped: float = 0.30  # mother listed as parent 1
    parent_one_surname: float = 0.40  # parents' last names with the first surname only
    parent_one_missing: float = 0.08  # one of: one parent blank ...
    parents_missing: float = 0.05  # ... or both blank
    # Other fields (unit: records)
    birth_place_missing: float = 0.15
    multiple_birth_missing: float = 0.30
    # Records the contract must reject, one of (unit: records). Zero unless asked for.
    reject_missing_record_id: float = 0.0
    reject_missing_name: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"ErrorRates.{f.name} must be in [0, 1], got {value}")
        for group, names in EXCLUSIVE_GROUPS.items():
            total = sum(getattr(self, n) for n in names)
            if total > 1.0 + 1e-12:
                raise ValueError(f"ErrorRates {group} rates {names} sum to {total} > 1")

    @classmethod
    def none(cls) -> ErrorRates:
        """Every error rate zero: records render the truth in each state's conventions."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True)
class PopulationParams:
    """Shape of the simulated population (not errors). See docs/synthetic-data.md."""

    # P(1..6 children) per family (children of school age in the file)
    children_per_family: tuple[float, ...] = (0.30, 0.30, 0.22, 0.11, 0.05, 0.02)
    multiple_birth: float = 0.03  # later-born children who are a twin of the previous child
    multiple_same_sex: float = 0.6  # twins/triplets of the same sex (identical twins exist)
    cousin_families: float = 0.15  # families whose father is the brother of another's father
    cousins_travel_together: float = 0.5  # such families following the same circuit
    us_born: float = 0.45  # children born in the family's home state
    # P(1..6 enrolments) per family: alternating home state and work state
    enrolments_per_family: tuple[float, ...] = (0.15, 0.35, 0.25, 0.13, 0.08, 0.04)
    reference_date: str = "2026-09-01"  # fixed "today" so output never depends on the clock

    def __post_init__(self) -> None:
        shares = ("multiple_birth", "multiple_same_sex", "cousin_families")
        for name in (*shares, "cousins_travel_together", "us_born"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"PopulationParams.{name} must be in [0, 1]")
        for name in ("children_per_family", "enrolments_per_family"):
            probs = getattr(self, name)
            if not probs or min(probs) < 0 or sum(probs) <= 0:
                raise ValueError(
                    f"PopulationParams.{name} must be non-negative weights for 1, 2, ... "
                    "with a positive sum"
                )
