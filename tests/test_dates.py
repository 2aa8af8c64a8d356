"""Birth-date parsing: every written form, the day/month swap, placeholders and bad values."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrant_linkage.standardize.dates import (
    expand_two_digit_year,
    normalise_format,
    parse_dates,
    parse_enrollment_dates,
)

TODAY = date(2026, 11, 29)


def parse_one(raw, date_format=None, today=TODAY) -> dict:
    return parse_dates(pd.Series([raw]), date_format, today=today).iloc[0].to_dict()


def flags_of(raw, date_format=None) -> set[str]:
    return set(filter(None, parse_one(raw, date_format)["flags"].split(";")))


@pytest.mark.parametrize(
    "raw",
    [
        "2012-03-14",
        "2012/03/14",
        "2012.3.14",
        "20120314",
        "03/14/2012",
        "3/14/2012",
        "14/03/2012",
        "14.03.2012",
        "14-3-2012",
        "2012-03-14T00:00:00",
        "2012-03-14 00:00:00",
        "14 March 2012",
        "Mar 14, 2012",
        " 2012-03-14 ",
    ],
)
def test_every_written_form_of_the_same_birthday_gives_one_iso_date(raw):
    parsed = parse_one(raw)
    assert parsed["birth_date_std"] == "2012-03-14"
    assert (parsed["birth_year"], parsed["birth_month"], parsed["birth_day"]) == (2012, 3, 14)
    assert "BIRTH_DATE_AMBIGUOUS" not in parsed["flags"]


def test_first_number_over_twelve_must_be_the_day():
    assert parse_one("25/12/2011")["birth_date_std"] == "2011-12-25"


def test_day_and_month_both_twelve_or_less_read_us_way_and_flagged_ambiguous():
    parsed = parse_one("04/05/2012")
    assert parsed["birth_date_std"] == "2012-04-05"
    assert parsed["birth_date_transposed"] == "2012-05-04"
    assert flags_of("04/05/2012") == {"BIRTH_DATE_AMBIGUOUS"}


def test_same_day_and_month_is_not_ambiguous_and_has_no_transposed_reading():
    parsed = parse_one("05/05/2012")
    assert parsed["birth_date_std"] == "2012-05-05"
    assert pd.isna(parsed["birth_date_transposed"])
    assert parsed["flags"] == ""


def test_transposed_date_is_null_when_the_swap_is_not_a_date():
    parsed = parse_one("2012-03-14")
    assert pd.isna(parsed["birth_date_transposed"])


def test_iso_date_carries_its_day_month_swap_for_the_comparisons():
    assert parse_one("2012-03-04")["birth_date_transposed"] == "2012-04-03"


def test_declared_day_first_format_wins_over_the_us_default():
    assert parse_one("04/05/2012", "DD/MM/YYYY")["birth_date_std"] == "2012-05-04"
    assert parse_one("04/05/2012", "%d/%m/%Y")["birth_date_std"] == "2012-05-04"
    assert flags_of("04/05/2012", "DD/MM/YYYY") == set()


def test_value_not_matching_the_declared_format_is_unparseable():
    assert flags_of("2012-05-04", "DD/MM/YYYY") == {"BIRTH_DATE_UNPARSEABLE"}


def test_declared_two_digit_year_uses_our_pivot_not_strptimes():
    parsed = parse_one("04/05/70", "MM/DD/YY")
    assert parsed["birth_date_std"] == "1970-04-05"  # strptime agrees here...
    parsed = parse_one("04/05/26", "MM/DD/YY")
    assert parsed["birth_date_std"] == "2026-04-05"
    parsed = parse_one("04/05/27", "MM/DD/YY")
    assert parsed["birth_date_std"] == "1927-04-05"  # ...but strptime would say 2027
    assert "TWO_DIGIT_YEAR" in parsed["flags"]


def test_normalise_format_translates_spelled_formats():
    assert normalise_format("DD/MM/YYYY") == "%d/%m/%Y"
    assert normalise_format("M/D/YY") == "%m/%d/%y"
    assert normalise_format("%Y%m%d") == "%Y%m%d"


@pytest.mark.parametrize(
    ("yy", "expected"), [(0, 2000), (15, 2015), (25, 2025), (26, 2026), (27, 1927), (99, 1999)]
)
def test_two_digit_year_is_the_most_recent_year_not_after_this_one(yy, expected):
    assert expand_two_digit_year(yy, TODAY) == expected


def test_two_digit_year_in_a_slash_date_is_flagged():
    parsed = parse_one("3/14/15")
    assert parsed["birth_date_std"] == "2015-03-14"
    assert flags_of("3/14/15") == {"TWO_DIGIT_YEAR"}


@pytest.mark.parametrize(
    "raw", ["31/02/2012", "00/00/0000", "2012-02-30", "2011-02-29", "13/13/2012"]
)
def test_impossible_dates_are_null_and_unparseable(raw):
    parsed = parse_one(raw)
    assert pd.isna(parsed["birth_date_std"])
    assert flags_of(raw) == {"BIRTH_DATE_UNPARSEABLE"}


def test_leap_day_is_a_real_date():
    assert parse_one("2012-02-29")["birth_date_std"] == "2012-02-29"


def test_six_bare_digits_are_not_guessed():
    # 010203 could be 2001-02-03, 2003-01-02 or 2003-02-01
    assert flags_of("010203") == {"BIRTH_DATE_UNPARSEABLE"}


def test_eight_digits_starting_with_month_and_day_read_as_us_date():
    assert parse_one("03142012")["birth_date_std"] == "2012-03-14"


@pytest.mark.parametrize("raw", ["not a date", "March 2012", "2012", "12/2012", "--"])
def test_partial_or_garbage_dates_are_unparseable_not_filled_in(raw):
    assert flags_of(raw) == {"BIRTH_DATE_UNPARSEABLE"}


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_empty_birth_date_is_missing(raw):
    parsed = parse_one(raw)
    assert pd.isna(parsed["birth_date_std"])
    assert flags_of(raw) == {"BIRTH_DATE_MISSING"}


@pytest.mark.parametrize("raw", ["2012-01-01", "1900-01-01", "1899-12-31", "9999-12-31"])
def test_placeholder_dates_are_flagged_default(raw):
    parsed = parse_one(raw)
    assert parsed["birth_date_is_default"]
    assert "BIRTH_DATE_DEFAULT" in flags_of(raw)


def test_ordinary_birthday_is_not_default():
    assert not parse_one("2012-01-02")["birth_date_is_default"]


def test_future_birth_date_is_implausible_but_kept():
    parsed = parse_one("2099-01-01")
    assert parsed["birth_date_std"] == "2099-01-01"
    assert flags_of("2099-01-01") == {"BIRTH_DATE_DEFAULT", "BIRTH_DATE_IMPLAUSIBLE"}
    assert flags_of("2026-11-30") == {"BIRTH_DATE_IMPLAUSIBLE"}


def test_birth_date_more_than_thirty_years_ago_is_implausible_for_a_student():
    assert flags_of("1990-06-15") == {"BIRTH_DATE_IMPLAUSIBLE"}
    assert flags_of("2000-06-15") == set()


def test_output_keeps_the_input_index_and_row_order():
    values = pd.Series(["2012-03-14", None, "03/14/2012"], index=[10, 5, 7])
    parsed = parse_dates(values, today=TODAY)
    assert list(parsed.index) == [10, 5, 7]
    assert parsed["birth_date_std"].tolist()[0::2] == ["2012-03-14", "2012-03-14"]


def test_enrollment_date_only_flags_unparseable():
    parsed = parse_enrollment_dates(pd.Series(["2024-08-19", "", "31/02/2024"]), today=TODAY)
    assert parsed["enrollment_date_std"].tolist()[0] == "2024-08-19"
    assert parsed["flags"].tolist() == ["", "", "ENROLLMENT_DATE_UNPARSEABLE"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=30))
def test_date_parser_never_raises_and_every_output_is_a_real_iso_date(values):
    parsed = parse_dates(pd.Series(values, dtype=object), today=TODAY)
    assert len(parsed) == len(values)
    for iso in parsed["birth_date_std"].dropna():
        assert date.fromisoformat(iso).isoformat() == iso
    for iso in parsed["birth_date_transposed"].dropna():
        assert date.fromisoformat(iso).isoformat() == iso


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_any_real_iso_date_round_trips(day):
    parsed = parse_one(day.isoformat())
    assert parsed["birth_date_std"] == day.isoformat()


def test_a_month_above_12_under_a_declared_format_is_a_day_keyed_in_the_months_place():
    parsed = parse_one("21042030", "%m%d%Y", today=date(2040, 1, 1))
    assert parsed["birth_date_std"] == "2030-04-21"
    assert parsed["flags"] == "BIRTH_DATE_DAY_MONTH_SWAPPED"
    assert parse_one("25/12/2011", "DD/MM/YYYY")["birth_date_std"] == "2011-12-25"  # as declared
    assert parse_one("12/25/2011", "DD/MM/YYYY")["birth_date_std"] == "2011-12-25"


def test_a_declared_date_no_exchange_makes_real_stays_unparseable():
    assert flags_of("04/31/2012", "MM/DD/YYYY") == {"BIRTH_DATE_UNPARSEABLE"}  # 31 April
    assert flags_of("13/13/2012", "MM/DD/YYYY") == {"BIRTH_DATE_UNPARSEABLE"}
    assert flags_of("2012-13-04", "%Y-%m-%d") == {"BIRTH_DATE_DAY_MONTH_SWAPPED"}


def test_eight_digits_that_are_no_date_year_first_are_read_day_or_month_first():
    assert parse_one("20120314")["birth_date_std"] == "2012-03-14"  # a real YYYYMMDD
    assert parse_one("21042015")["birth_date_std"] == "2015-04-21"  # no month 20 in 2104
    assert parse_one("19022015")["birth_date_std"] == "2015-02-19"
    assert parse_one("12192015")["birth_date_std"] == "2015-12-19"  # 1219: no year we read
