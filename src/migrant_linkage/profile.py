"""The naming-convention profile: per state and district, the share of records showing each
naming or date convention, so staff know which conventions to expect from a system (seed
guide §2.1.2, "reports that identify cultural groups").

    from migrant_linkage.profile import naming_profile
    naming_profile(standardize("roster.csv").standardized)

Every share is computed from what standardization already recorded (the derived surname
columns and the quality flags), in one SQL aggregate over the standardized table: no name is
re-read. The profile holds counts and shares only, never a name, so `validate` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from migrant_linkage.db import connect, quote_identifier, quote_literal
from migrant_linkage.schema import FLAG_SEPARATOR, QualityFlag

__all__ = [
    "CONVENTIONS",
    "NAMING_PROFILE_FILE",
    "PROFILED_COLUMNS",
    "Convention",
    "format_profile",
    "naming_profile",
]


@dataclass(frozen=True)
class Convention:
    name: str
    meaning: str
    sql: str  # a condition on one standardized record


def _has_flag(flag: QualityFlag) -> str:
    # quality_flags is ';'-joined: wrap it in separators so a flag never matches a longer one.
    sep = quote_literal(FLAG_SEPARATOR)
    return f"contains({sep} || coalesce(quality_flags, '') || {sep}, {quote_literal(';' + flag.value + ';')})"


#: The conventions profiled, in report order (docs/names.md explains the surname forms).
CONVENTIONS: tuple[Convention, ...] = (
    Convention("two_surnames", "two or more surname units (GARCIA LOPEZ)", "surname_count >= 2"),
    Convention(
        "surnames_in_one_field",
        "both surnames joined in one field with a space (last_name_1 = GARCIA LOPEZ)",
        "surname_form = 'COMBINED'",
    ),
    Convention(
        "hyphenated", "surnames joined by a hyphen (GARCIA-LOPEZ)", "surname_form = 'HYPHENATED'"
    ),
    Convention(
        "separate_fields",
        "paternal and maternal surname in their own fields",
        "surname_form = 'SPLIT'",
    ),
    Convention(
        "single_surname",
        "one surname only (the paternal, or a one-surname tradition)",
        "surname_form = 'SINGLE' AND surname_paternal IS NOT NULL",
    ),
    Convention(
        "maternal_only",
        "only the maternal-surname field filled",
        "surname_paternal IS NULL AND surname_maternal IS NOT NULL",
    ),
    Convention(
        "surname_in_middle_name",
        "the paternal surname recorded in the middle-name field",
        _has_flag(QualityFlag.SURNAME_FROM_MIDDLE_NAME),
    ),
    Convention(
        "compound_given_name",
        "a compound given name in the first-name field (MARIA GUADALUPE)",
        "contains(coalesce(given_name_full, ''), ' ')",
    ),
    Convention(
        "ambiguous_birth_date",
        "birth date in a day/month order that cannot be told (04/05/2012)",
        _has_flag(QualityFlag.BIRTH_DATE_AMBIGUOUS),
    ),
    Convention(
        "two_digit_year",
        "birth year written with two digits",
        _has_flag(QualityFlag.TWO_DIGIT_YEAR),
    ),
)

#: The standardized columns the conventions read.
PROFILED_COLUMNS: tuple[str, ...] = (
    "state_std",
    "surname_count",
    "surname_form",
    "surname_paternal",
    "surname_maternal",
    "given_name_full",
    "quality_flags",
)
#: The district column read when the table has it (the optional enrolment column, raw or std).
DISTRICT_COLUMNS: tuple[str, ...] = ("district_id_std", "district_id")
ALL_DISTRICTS = "(all)"


#: The profile a run writes into its folder (counts and shares only, no student data).
NAMING_PROFILE_FILE = "naming_profile.csv"


def naming_profile(standardized: pd.DataFrame) -> pd.DataFrame:
    """One row per state (district "(all)") and, when the table has a district column, per
    state and district: `records`, then `<convention>` (count) and `<convention>_share`."""
    district = next((c for c in DISTRICT_COLUMNS if c in standardized.columns), None)
    missing = sorted(set(PROFILED_COLUMNS) - set(standardized.columns))
    if missing:
        raise ValueError(f"naming_profile needs the standardized table; missing columns {missing}")
    district_sql = (
        f"upper(trim({quote_identifier(district)}))" if district else "CAST(NULL AS VARCHAR)"
    )
    counts = ", ".join(
        f"count(*) FILTER (WHERE {c.sql}) AS {quote_identifier(c.name)}" for c in CONVENTIONS
    )
    shares = ", ".join(
        f"round({quote_identifier(c.name)} / records, 4) AS {quote_identifier(c.name + '_share')}"
        for c in CONVENTIONS
    )
    frame = standardized[[*PROFILED_COLUMNS, *([district] if district else [])]]
    con = connect()
    try:
        con.register("ml_profile_records", frame)
        profile = con.execute(
            f"""
            WITH grouped AS (
                SELECT coalesce(state_std, '(unrecognised)') AS state,
                       CASE WHEN grouping(district) = 1 THEN {quote_literal(ALL_DISTRICTS)}
                            ELSE coalesce(district, '(none)') END AS district_id,
                       count(*) AS records, {counts}
                FROM (SELECT *, {district_sql} AS district FROM ml_profile_records)
                GROUP BY GROUPING SETS ((state), (state, district))
            )
            SELECT state, district_id, records, {", ".join(quote_identifier(c.name) for c in CONVENTIONS)}, {shares}
            FROM grouped
            ORDER BY state, district_id = {quote_literal(ALL_DISTRICTS)} DESC, district_id
            """
        ).df()
    finally:
        con.close()
    if district is None:  # per state only
        profile = profile[profile["district_id"] == ALL_DISTRICTS].reset_index(drop=True)
    return profile


def format_profile(profile: pd.DataFrame) -> str:
    """The profile as a plain-text table of shares (percent), one line per state/district."""
    if profile.empty:
        return "naming-convention profile: no records"
    shown = profile[["state", "district_id", "records"]].copy()
    for convention in CONVENTIONS:
        shown[convention.name] = (profile[convention.name + "_share"] * 100).map("{:.1f}%".format)
    return "naming-convention profile (share of records):\n" + shown.to_string(index=False)
