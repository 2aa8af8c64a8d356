"""The record contract: input columns, standardized columns, quality flags and reject codes.

This module is the single place that names columns. Every other module imports the names from
here, so a column can be renamed or documented in one place. `docs/record-contract.md` explains
each entry for data specialists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# --------------------------------------------------------------------------------------------
# Input: the MSIX-style minimum data elements, as a state system sends them (all read as text).
# --------------------------------------------------------------------------------------------

INPUT_COLUMNS: tuple[str, ...] = (
    "record_id",
    "state",
    "state_student_id",
    "msix_id",
    "first_name",
    "middle_name",
    "last_name_1",
    "last_name_2",
    "suffix",
    "sex",
    "birth_date",
    "birth_date_verification",
    "multiple_birth",
    "birth_city",
    "birth_state",
    "birth_country",
    "parent1_first",
    "parent1_last",
    "parent2_first",
    "parent2_last",
    "enrollment_date",
)

#: Optional enrolment columns, for jobs that compare a state's own systems (reconcile.py,
#: districts.py): carried through standardization like any extra column (dedupe and link never
#: read them) and checked by `migrant_linkage.enrolment`, which adds the `_std` columns below.
ENROLMENT_COLUMNS: tuple[str, ...] = (
    "migrant_flag",  # Y/N: the record is flagged as a migrant (MEP-eligible) child
    "district_id",  # the district (LEA) the child is enrolled in
    "school_id",  # the school within the district
    "enrollment_end_date",  # withdrawal / exit date; empty while enrolled
    "active_status",  # Y/N: the enrolment (or eligibility) is active
)


class EnrolmentFlag(StrEnum):
    """Problems in the optional enrolment columns (kept, flagged in `enrolment_flags`)."""

    MIGRANT_FLAG_UNRECOGNISED = "MIGRANT_FLAG_UNRECOGNISED"  # not a yes/no value
    ACTIVE_STATUS_UNRECOGNISED = "ACTIVE_STATUS_UNRECOGNISED"  # not a yes/no value
    ENROLLMENT_END_DATE_UNPARSEABLE = "ENROLLMENT_END_DATE_UNPARSEABLE"
    ENROLLMENT_DATES_INVERTED = "ENROLLMENT_DATES_INVERTED"  # exit before entry
    DISTRICT_MISSING = "DISTRICT_MISSING"  # no district: no district master list can hold it


#: Columns that must exist in the input (after the column map). A record missing a value in one
#: of them may still be rejected row by row; see RejectCode.
REQUIRED_INPUT_COLUMNS: tuple[str, ...] = ("record_id", "state")

#: Ground-truth columns written by the synthetic generator. The linkage never reads them; they
#: are carried through standardization untouched so benchmarks can score results.
TRUTH_COLUMNS: tuple[str, ...] = ("true_student_id", "true_family_id")


class RejectCode(StrEnum):
    """Why a record could not enter the standardized table. Only records that cannot be
    identified or addressed are rejected; everything else is kept with quality flags."""

    UNBALANCED_QUOTE = "UNBALANCED_QUOTE"  # a quote ran over line breaks and swallowed records
    FIELD_TOO_LONG = "FIELD_TOO_LONG"  # a contract field longer than MAX_FIELD_LENGTH
    HEADER_ROW = "HEADER_ROW"  # the row repeats the header (exports concatenated with headers)
    MISSING_RECORD_ID = "MISSING_RECORD_ID"
    DUPLICATE_RECORD_ID = "DUPLICATE_RECORD_ID"
    MISSING_STATE = "MISSING_STATE"
    MISSING_NAME = "MISSING_NAME"  # neither first_name nor last_name_1 holds a usable name


class QualityFlag(StrEnum):
    """Soft problems: the record is kept, the flag tells staff and the comparisons what to trust."""

    GIVEN_NAME_MISSING = "GIVEN_NAME_MISSING"
    SURNAME_MISSING = "SURNAME_MISSING"
    NAME_HAS_DIGITS = "NAME_HAS_DIGITS"
    NAME_TRUNCATED_OR_INITIAL = "NAME_TRUNCATED_OR_INITIAL"  # a single letter where a name goes
    SUFFIX_IN_NAME = "SUFFIX_IN_NAME"  # JR/SR/III found in a name field and moved out
    SURNAME_FROM_MIDDLE_NAME = "SURNAME_FROM_MIDDLE_NAME"  # paternal surname guessed from middle
    NAME_PLACEHOLDER = "NAME_PLACEHOLDER"  # UNKNOWN, BABY GIRL, FNU in a name field: made missing
    BIRTH_DATE_MISSING = "BIRTH_DATE_MISSING"
    BIRTH_DATE_UNPARSEABLE = "BIRTH_DATE_UNPARSEABLE"  # includes impossible dates (31/02/2012)
    BIRTH_DATE_AMBIGUOUS = "BIRTH_DATE_AMBIGUOUS"  # day and month both <= 12, no declared format
    #: a declared format's month field above 12: read with day and month exchanged
    BIRTH_DATE_DAY_MONTH_SWAPPED = "BIRTH_DATE_DAY_MONTH_SWAPPED"
    BIRTH_DATE_DEFAULT = "BIRTH_DATE_DEFAULT"  # 1 January, 1900-01-01 and similar placeholders
    BIRTH_DATE_IMPLAUSIBLE = "BIRTH_DATE_IMPLAUSIBLE"  # in the future, or too old for a student
    TWO_DIGIT_YEAR = "TWO_DIGIT_YEAR"  # century inferred; see docs/record-contract.md
    SEX_UNRECOGNISED = "SEX_UNRECOGNISED"  # a value was given but is not a known code
    STATE_UNRECOGNISED = "STATE_UNRECOGNISED"
    BIRTH_PLACE_UNRECOGNISED = "BIRTH_PLACE_UNRECOGNISED"
    MSIX_ID_MALFORMED = "MSIX_ID_MALFORMED"  # not 12 digits
    ENROLLMENT_DATE_UNPARSEABLE = "ENROLLMENT_DATE_UNPARSEABLE"


#: Separator used in the `quality_flags` column (a plain string, so CSV, Parquet, DuckDB and
#: Spark all carry it the same way). Flags are sorted and unique within a record.
FLAG_SEPARATOR = ";"


@dataclass(frozen=True)
class StandardizedColumn:
    name: str
    sql_type: str  # DuckDB type name; Spark maps VARCHAR->string, INTEGER->int, BOOLEAN->boolean
    meaning: str


#: The surname units a comparison looks at, one column each (comparisons.MAX_SURNAME_UNITS).
SURNAME_UNIT_COLUMNS: tuple[str, ...] = (
    "surname_unit_1_padded",
    "surname_unit_2_padded",
    "surname_unit_3_padded",
)

#: Inputs of the pair comparisons, computed once per record (standardize/pair_inputs.py holds
#: each one's SQL): the string work that depends on one record only, which the comparison
#: levels used to redo on every pair. Derived from the columns above, never shown to people.
PAIR_INPUTS: tuple[StandardizedColumn, ...] = (
    StandardizedColumn(
        "surname_units_padded", "VARCHAR", "surname_units_key with one space each side"
    ),
    *(
        StandardizedColumn(
            column,
            "VARCHAR",
            f"unit {i} of surname_units_key with one space each side; two spaces past the last",
        )
        for i, column in enumerate(SURNAME_UNIT_COLUMNS, start=1)
    ),
    StandardizedColumn("surname_unit_count", "INTEGER", "number of units in surname_units_key"),
    StandardizedColumn(
        "given_words_padded",
        "VARCHAR",
        "given_name_full and middle_name_std joined by a space, with one space each side",
    ),
    StandardizedColumn("surname_joined", "VARCHAR", "surname_full without spaces and hyphens"),
    StandardizedColumn(
        "given_name_joined",
        "VARCHAR",
        "given_name_full and middle_name_std run together, without spaces and hyphens",
    ),
    StandardizedColumn(
        "given_names_with_initial",
        "VARCHAR",
        "given_name_1, a space and the first letter of given_name_2 (EVERETT J), when both "
        "are present: the term-frequency column of the given-name level exact_with_second",
    ),
    StandardizedColumn(
        "birth_date_keyed_digits",
        "VARCHAR",
        "the raw birth_date without its separators (- / . space), when 6 characters or more",
    ),
)
PAIR_INPUT_COLUMNS: tuple[str, ...] = tuple(c.name for c in PAIR_INPUTS)

#: The standardized table: the raw INPUT_COLUMNS kept verbatim (raw values preserved), plus
#: these derived columns. All name values are upper case, accent-folded, punctuation-normalised.
#: A "unit" is one name part with particles handled (DE LA CRUZ -> CRUZ; see names.py).
STANDARDIZED_COLUMNS: tuple[StandardizedColumn, ...] = (
    StandardizedColumn("source_name", "VARCHAR", "label of the input the record came from"),
    StandardizedColumn("source_row", "BIGINT", "1-based row number in that input"),
    StandardizedColumn("state_std", "VARCHAR", "submitting state, 2-letter USPS code"),
    StandardizedColumn("state_student_id_std", "VARCHAR", "state ID, trimmed, upper case"),
    StandardizedColumn("msix_id_std", "VARCHAR", "12-digit MSIX ID or null"),
    # Given names
    StandardizedColumn("given_name_full", "VARCHAR", "whole first-name field, folded"),
    StandardizedColumn("middle_name_std", "VARCHAR", "whole middle-name field, folded"),
    StandardizedColumn(
        "given_name_1", "VARCHAR", "first given-name unit (MARIA of MARIA GUADALUPE)"
    ),
    StandardizedColumn(
        "given_name_2", "VARCHAR", "second given-name unit: rest of first name, else middle name"
    ),
    StandardizedColumn("given_name_1_canonical", "VARCHAR", "given_name_1 via the nickname table"),
    StandardizedColumn("given_name_2_canonical", "VARCHAR", "given_name_2 via the nickname table"),
    StandardizedColumn(
        "given_name_1_readings",
        "VARCHAR",
        "every formal name given_name_1 may stand for (AL: ALAN ALBERTO ALFRED ...), "
        "space-separated; null unless it is more than the canonical form",
    ),
    StandardizedColumn("given_name_1_phonetic", "VARCHAR", "phonetic key of given_name_1"),
    StandardizedColumn("given_name_2_phonetic", "VARCHAR", "phonetic key of given_name_2"),
    StandardizedColumn(
        "given_name_1_known",
        "BOOLEAN",
        "given_name_1 is a real given name (the given-name list or the nickname table), not a "
        "typo or garbled value; null when there is no given name",
    ),
    StandardizedColumn("suffix_std", "VARCHAR", "JR, SR, II, III, IV, V or null"),
    # Surnames
    StandardizedColumn("surname_full", "VARCHAR", "all surname text as recorded, folded"),
    StandardizedColumn("surname_paternal", "VARCHAR", "best guess of the first (paternal) unit"),
    StandardizedColumn("surname_maternal", "VARCHAR", "best guess of the second (maternal) unit"),
    StandardizedColumn(
        "surname_units_key", "VARCHAR", "sorted distinct surname units joined by one space"
    ),
    StandardizedColumn(
        "surname_known",
        "BOOLEAN",
        "every surname unit is a listed surname (data/known_surnames.csv), not a keying slip "
        "or a surname the list lacks; null when there is no surname",
    ),
    StandardizedColumn("surname_count", "INTEGER", "number of surname units"),
    StandardizedColumn(
        "surname_form",
        "VARCHAR",
        "how the surnames arrived: SPLIT, COMBINED, HYPHENATED, SINGLE, FROM_MIDDLE, NONE",
    ),
    StandardizedColumn("surname_paternal_phonetic", "VARCHAR", "phonetic key of surname_paternal"),
    StandardizedColumn("surname_maternal_phonetic", "VARCHAR", "phonetic key of surname_maternal"),
    # Birth date
    StandardizedColumn("birth_date_std", "VARCHAR", "ISO YYYY-MM-DD or null"),
    StandardizedColumn(
        "birth_date_transposed",
        "VARCHAR",
        "ISO date with day and month swapped; null when the swap is invalid or identical",
    ),
    StandardizedColumn("birth_year", "INTEGER", "year of birth_date_std"),
    StandardizedColumn("birth_month", "INTEGER", "month of birth_date_std"),
    StandardizedColumn("birth_day", "INTEGER", "day of birth_date_std"),
    StandardizedColumn("birth_date_is_default", "BOOLEAN", "placeholder-looking date"),
    # Other identity evidence
    StandardizedColumn("sex_std", "VARCHAR", "F, M, X or null (never guessed)"),
    StandardizedColumn("multiple_birth_std", "VARCHAR", "Y, N or null"),
    StandardizedColumn(
        "birth_date_verified", "BOOLEAN", "birth date verified by a birth certificate"
    ),
    StandardizedColumn("birth_city_std", "VARCHAR", "birth city, folded"),
    StandardizedColumn("birth_state_std", "VARCHAR", "ISO 3166-2 style code: US-TX, MX-MIC"),
    StandardizedColumn("birth_country_std", "VARCHAR", "ISO 3166-1 alpha-2: US, MX, GT, ..."),
    # Parents (order not trusted, so stored order-free)
    StandardizedColumn(
        "parent_given_a", "VARCHAR", "first given unit of one parent; a <= b alphabetically"
    ),
    StandardizedColumn("parent_given_b", "VARCHAR", "first given unit of the other parent"),
    StandardizedColumn(
        "parent_surnames_key", "VARCHAR", "sorted distinct surname units of both parents"
    ),
    StandardizedColumn("enrollment_date_std", "VARCHAR", "ISO date or null"),
    StandardizedColumn(
        "quality_flags", "VARCHAR", "sorted QualityFlag codes joined by ';', empty when clean"
    ),
    *PAIR_INPUTS,
)

STANDARDIZED_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in STANDARDIZED_COLUMNS)

#: Raw input fields (as keyed, before standardization) a comparison level reads: the birth
#: date's digits, to see the slip behind a date that is not a real one (the birth_date
#: comparison's `unparseable_one_digit` level).
RAW_COLUMNS_COMPARED: tuple[str, ...] = ("birth_date",)

#: Every column a scoring session needs besides the id: the standardized ones and the raw
#: fields the comparisons read. Whoever copies records into a scoring session copies these.
SCORED_COLUMN_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys((*STANDARDIZED_COLUMN_NAMES, *RAW_COLUMNS_COMPARED))
)

#: The derived enrolment columns `migrant_linkage.enrolment.standardize_enrolment` adds (not
#: part of the standardized table: only the jobs that read the enrolment columns add them).
ENROLMENT_STANDARDIZED_COLUMNS: tuple[StandardizedColumn, ...] = (
    StandardizedColumn("migrant_flag_std", "VARCHAR", "Y, N or null"),
    StandardizedColumn("district_id_std", "VARCHAR", "district (LEA) id, trimmed, upper case"),
    StandardizedColumn("school_id_std", "VARCHAR", "school id, trimmed, upper case"),
    StandardizedColumn("enrollment_end_date_std", "VARCHAR", "ISO exit date or null"),
    StandardizedColumn("active_std", "VARCHAR", "Y, N or null"),
    StandardizedColumn(
        "enrolment_flags", "VARCHAR", "sorted EnrolmentFlag codes joined by ';', empty when clean"
    ),
)

#: Columns of the rejects table.
REJECT_COLUMNS: tuple[str, ...] = ("source_name", "source_row", "record_id", "reason", "message")

#: The id column Splink uses. We keep the contract's name rather than Splink's `unique_id`.
UNIQUE_ID_COLUMN = "record_id"
