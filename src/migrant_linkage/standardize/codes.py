"""Code lists: sex, multiple birth, birth-date verification, states, countries, identifiers.

Every lookup works on the *distinct* values of a column (a few dozen, even in a million rows),
so the Python work per call is tiny; the result is mapped back onto the column with pandas.
The code lists live as CSV in `migrant_linkage/data/` with a source column; this module only
reads them. See docs/record-contract.md for what each list accepts and why.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from migrant_linkage.schema import QualityFlag

_PUNCT_DROPPED = re.compile(r"[.'’`´]")  # "Mich." -> MICH, "U.S.A." -> USA, "Parent's" -> PARENTS
_PUNCT_SPACED = re.compile(r"[^0-9A-Z]+")  # hyphens, slashes, commas, ... become one space


def fold_code(value: str) -> str:
    """Fold a code or place name for lookup: accents off, upper case, dots and apostrophes
    dropped, other punctuation and runs of spaces collapsed to one space."""
    decomposed = unicodedata.normalize("NFKD", value)
    no_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    upper = _PUNCT_DROPPED.sub("", no_accents.upper())
    return _PUNCT_SPACED.sub(" ", upper).strip()


@cache
def _load_aliases(filename: str, value_column: str = "code") -> dict[str, str]:
    """alias (folded) -> code, from a shipped CSV. Two aliases folding to the same key with
    different codes are a data error and raise (a silent last-one-wins would hide it)."""
    table: dict[str, str] = {}
    with resources.files("migrant_linkage.data").joinpath(filename).open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = fold_code(row["alias"])
            code = row[value_column]
            if table.get(key, code) != code:
                raise ValueError(f"{filename}: alias {row['alias']!r} maps to two codes")
            table[key] = code
    return table


@cache
def placeholder_birth_dates() -> frozenset[str]:
    """ISO dates that systems write when the real birth date is unknown (besides 1 January)."""
    path = resources.files("migrant_linkage.data").joinpath("placeholder_birth_dates.csv")
    with path.open(encoding="utf-8") as f:
        return frozenset(row["date"] for row in csv.DictReader(f))


def us_state_codes() -> dict[str, str]:
    return _load_aliases("us_states.csv")


def mx_state_codes() -> dict[str, str]:
    return _load_aliases("mx_states.csv")


def country_codes() -> dict[str, str]:
    return _load_aliases("countries.csv")


def _map_distinct(values: pd.Series, lookup: Callable[[str], object]) -> pd.Series:
    """Apply `lookup` once per distinct non-blank value and spread the answers over the column.
    Blank or NA input gives NA without calling `lookup`."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    answers = [lookup(str(u)) if str(u).strip() else None for u in uniques]
    table = np.array([*answers, None], dtype=object)  # last slot serves the NA sentinel (-1)
    return pd.Series(table[codes], index=values.index, dtype=object)


def _is_blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype("str").str.strip() == "")


def _text_result(mapped: pd.Series) -> pd.Series:
    return mapped.where(mapped.notna() & (mapped != ""), None).astype("str")


def standardize_sex(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """F, M, X or null. Returns (sex_std, unrecognised mask). Known "unknown" markers (U, 0, 9,
    Not Selected) give null without a flag; anything else not in sex_codes.csv is flagged,
    never guessed."""
    table = _load_aliases("sex_codes.csv")
    mapped = _map_distinct(values, lambda v: table.get(fold_code(v), "?"))
    unrecognised = (mapped == "?").fillna(False).astype(bool)
    return _text_result(mapped.where(~unrecognised, None)), unrecognised


def standardize_multiple_birth(values: pd.Series) -> pd.Series:
    """Y, N or null from Y/N/Yes/No/Sí/1/0/true/false."""
    table = _load_aliases("yes_no_codes.csv")
    return _text_result(_map_distinct(values, lambda v: table.get(fold_code(v))))


def standardize_birth_date_verification(values: pd.Series) -> pd.Series:
    """True when the birth date was verified by a birth certificate, False when another (or no)
    document is named, NA when the column is empty or holds an unknown word."""
    table = _load_aliases("birth_date_verification_codes.csv", value_column="verified")
    mapped = _map_distinct(values, lambda v: table.get(fold_code(v)))
    return mapped.map({"true": True, "false": False}).astype("boolean")


def standardize_state(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Submitting state as a 2-letter USPS code (US states, DC and territories), from a code or
    a name. Returns (state_std, unrecognised mask for non-blank values that are not a state)."""
    table = us_state_codes()
    mapped = _map_distinct(values, lambda v: table.get(fold_code(v), "?"))
    unrecognised = (mapped == "?").fillna(False).astype(bool)
    return _text_result(mapped.where(~unrecognised, None)), unrecognised


@cache
def _birth_state_lookup(value: str) -> tuple[str | None, str | None]:
    """(subdivision code, country code) for one birth_state value. A country written in the
    state field (MEXICO, GUATEMALA) gives no subdivision but does give the country."""
    key = fold_code(value)
    if key in us_state_codes():
        return "US-" + us_state_codes()[key], "US"
    if key in mx_state_codes():
        return mx_state_codes()[key], "MX"
    if key in country_codes() and len(key) > 2:  # two letters here are US states, never countries
        return None, country_codes()[key]
    return None, None


def standardize_birth_place(
    birth_state: pd.Series, birth_country: pd.Series
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(birth_state_std, birth_country_std, unrecognised mask).

    birth_state_std is US-XX or MX-XXX (ISO 3166-2); birth_country_std is ISO alpha-2. When the
    country column is blank, the country is taken from the recognised state (US-TX -> US). A
    non-blank value in either column that is not recognised stays null and is flagged.
    """
    countries = country_codes()
    state_std = _map_distinct(birth_state, lambda v: _birth_state_lookup(v)[0])
    country_from_state = _map_distinct(birth_state, lambda v: _birth_state_lookup(v)[1])
    country_std = _map_distinct(birth_country, lambda v: countries.get(fold_code(v)))

    state_given = ~_is_blank(birth_state)
    country_given = ~_is_blank(birth_country)
    unrecognised = (state_given & country_from_state.isna()) | (country_given & country_std.isna())
    country_std = country_std.where(country_given, country_from_state)
    return _text_result(state_std), _text_result(country_std), unrecognised.astype(bool)


def standardize_msix_id(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """12-digit MSIX ID (spaces and hyphens removed) or null. Returns (msix_id_std, malformed
    mask for non-blank values that are not 12 digits)."""
    compact = values.astype("str").str.replace(r"[\s-]", "", regex=True)
    valid = compact.str.fullmatch(r"[0-9]{12}").fillna(False).astype(bool)
    malformed = ~valid & ~_is_blank(values)
    return compact.where(valid, None).astype("str"), malformed.astype(bool)


def standardize_state_student_id(values: pd.Series) -> pd.Series:
    """State student ID, trimmed and upper case; blank becomes null."""
    trimmed = values.astype("str").str.strip().str.upper()
    return trimmed.where(trimmed != "", None).astype("str")


def flag_series(mask: pd.Series, flag: QualityFlag) -> pd.Series:
    """A flags column holding `flag` where mask is true and '' elsewhere."""
    return pd.Series(np.where(mask.to_numpy(dtype=bool), flag.value, ""), index=mask.index)
