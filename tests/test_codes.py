"""Code lists: sex, multiple birth, verification, states, birth places, identifiers."""

from __future__ import annotations

import csv
from importlib import resources

import pandas as pd
import pytest

from migrant_linkage.standardize import codes


def one(function, value):
    result = function(pd.Series([value]))
    if isinstance(result, tuple):
        return tuple(r.iloc[0] for r in result)
    return result.iloc[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("F", "F"),
        ("f", "F"),
        ("Female", "F"),
        ("2", "F"),
        ("Femenino", "F"),
        ("Mujer", "F"),
        ("niña", "F"),
        ("girl", "F"),
        ("M", "M"),
        ("Male", "M"),
        ("1", "M"),
        ("Masculino", "M"),
        ("H", "M"),
        ("Hombre", "M"),
        ("boy", "M"),
        ("X", "X"),
        ("Non-binary", "X"),
        ("nonbinary", "X"),
    ],
)
def test_sex_codes_from_every_convention(raw, expected):
    sex, unrecognised = one(codes.standardize_sex, raw)
    assert sex == expected
    assert not unrecognised


@pytest.mark.parametrize("raw", ["U", "Unknown", "0", "9", "Not Selected", "", None])
def test_known_unknown_sex_is_null_without_a_flag(raw):
    sex, unrecognised = one(codes.standardize_sex, raw)
    assert pd.isna(sex)
    assert not unrecognised


@pytest.mark.parametrize("raw", ["Q", "3", "GUADALUPE", "?"])
def test_unknown_sex_value_is_flagged_never_guessed(raw):
    sex, unrecognised = one(codes.standardize_sex, raw)
    assert pd.isna(sex)
    assert unrecognised


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Y", "Y"), ("yes", "Y"), ("Sí", "Y"), ("1", "Y"), ("true", "Y")]
    + [("N", "N"), ("No", "N"), ("0", "N"), ("FALSE", "N")],
)
def test_multiple_birth_yes_no(raw, expected):
    assert one(codes.standardize_multiple_birth, raw) == expected


def test_multiple_birth_blank_or_unknown_is_null():
    result = codes.standardize_multiple_birth(pd.Series(["", None, "twins?"]))
    assert result.isna().all()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Birth Certificate", True),
        ("BC", True),
        ("Acta de nacimiento", True),
        ("Passport", False),
        ("Parent's affidavit", False),
        ("Baptismal or church certificate", False),
    ],
)
def test_only_a_birth_certificate_counts_as_verified(raw, expected):
    assert bool(one(codes.standardize_birth_date_verification, raw)) is expected


def test_verification_blank_is_unknown_not_false():
    assert pd.isna(one(codes.standardize_birth_date_verification, ""))


@pytest.mark.parametrize(
    ("raw", "expected"), [("TX", "TX"), ("tx", "TX"), ("Texas", "TX"), (" Puerto Rico ", "PR")]
)
def test_submitting_state_from_code_or_name(raw, expected):
    assert one(codes.standardize_state, raw) == (expected, False)


@pytest.mark.parametrize("raw", ["XX", "Jalisco", "Mexico"])
def test_submitting_state_that_is_not_a_us_state_is_flagged(raw):
    state, unrecognised = one(codes.standardize_state, raw)
    assert pd.isna(state)
    assert unrecognised


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Michoacán", "MX-MIC"),
        ("MICH", "MX-MIC"),
        ("Mich.", "MX-MIC"),
        ("Michoacan de Ocampo", "MX-MIC"),
        ("Jalisco", "MX-JAL"),
        ("JAL", "MX-JAL"),
        ("Oaxaca", "MX-OAX"),
        ("Guanajuato", "MX-GUA"),
        ("GTO", "MX-GUA"),
        ("Estado de México", "MX-MEX"),
        ("Edo. Mex.", "MX-MEX"),
        ("CDMX", "MX-CMX"),
        ("D.F.", "MX-CMX"),
        ("Nuevo León", "MX-NLE"),
        ("Texas", "US-TX"),
        ("TX", "US-TX"),
        ("California", "US-CA"),
        ("Georgia", "US-GA"),
    ],
)
def test_birth_state_to_iso_subdivision(raw, expected):
    state, country, unrecognised = one(
        lambda s: codes.standardize_birth_place(s, pd.Series([None])), raw
    )
    assert state == expected
    assert country == expected[:2]  # country inferred from the state when not given
    assert not unrecognised


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("USA", "US"),
        ("US", "US"),
        ("United States", "US"),
        ("Estados Unidos", "US"),
        ("EE.UU.", "US"),
        ("Mexico", "MX"),
        ("México", "MX"),
        ("MX", "MX"),
        ("MEX", "MX"),
        ("Guatemala", "GT"),
        ("GT", "GT"),
        ("Honduras", "HN"),
        ("El Salvador", "SV"),
        ("República Dominicana", "DO"),
    ],
)
def test_birth_country_to_iso_alpha2(raw, expected):
    state, country, unrecognised = one(
        lambda s: codes.standardize_birth_place(pd.Series([None]), s), raw
    )
    assert pd.isna(state)
    assert country == expected
    assert not unrecognised


def test_country_written_in_the_state_field_fills_the_country():
    state, country, unrecognised = codes.standardize_birth_place(
        pd.Series(["Mexico", "Guatemala"]), pd.Series([None, None])
    )
    assert state.isna().all()
    assert country.tolist() == ["MX", "GT"]
    assert not unrecognised.any()


def test_given_country_wins_over_the_country_of_the_state():
    _, country, _ = codes.standardize_birth_place(pd.Series(["Texas"]), pd.Series(["Mexico"]))
    assert country.iloc[0] == "MX"


def test_unknown_birth_place_is_null_and_flagged():
    state, country, unrecognised = codes.standardize_birth_place(
        pd.Series(["Huehuetenango", None, None]), pd.Series([None, "Atlantis", None])
    )
    assert state.isna().all()
    assert country.isna().all()
    assert unrecognised.tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("raw", "expected", "malformed"),
    [
        ("123456789012", "123456789012", False),
        (" 1234-5678-9012 ", "123456789012", False),
        ("12345678901", None, True),
        ("12345678901A", None, True),
        ("", None, False),
    ],
)
def test_msix_id_is_twelve_digits(raw, expected, malformed):
    msix, is_malformed = one(codes.standardize_msix_id, raw)
    assert (None if pd.isna(msix) else msix) == expected
    assert bool(is_malformed) is malformed


def test_state_student_id_trimmed_upper_and_keeps_leading_zeros():
    result = codes.standardize_state_student_id(pd.Series([" ab00123 ", "  ", None]))
    assert result.iloc[0] == "AB00123"
    assert result.iloc[1:].isna().all()


@pytest.mark.parametrize(
    "filename",
    [
        "sex_codes.csv",
        "yes_no_codes.csv",
        "birth_date_verification_codes.csv",
        "us_states.csv",
        "mx_states.csv",
        "countries.csv",
        "placeholder_birth_dates.csv",
    ],
)
def test_every_code_list_row_names_its_source(filename):
    with resources.files("migrant_linkage.data").joinpath(filename).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows
    assert all(row["source"].strip() for row in rows)


def test_us_and_mexican_state_aliases_never_collide():
    us, mx = codes.us_state_codes(), codes.mx_state_codes()
    assert set(us) & set(mx) == set()


def test_every_us_state_and_mexican_state_is_listed():
    assert len(set(codes.us_state_codes().values())) == 57  # 50 states, DC, 6 territories
    assert len(set(codes.mx_state_codes().values())) == 32
