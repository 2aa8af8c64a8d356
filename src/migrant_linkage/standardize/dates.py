"""Birth and enrollment dates: many written forms in, one ISO date plus quality flags out.

Rules (docs/record-contract.md, "Dates", explains them for data specialists):

* Accepted without a declared format: ISO ``YYYY-MM-DD`` (a trailing time is ignored),
  ``YYYYMMDD``, ``MM/DD/YYYY``, ``DD/MM/YYYY``, ``M/D/YY``, with ``-``, ``.`` or ``/`` between
  the parts, and written-out months ("3 March 2012", via python-dateutil). Eight digits are
  YYYYMMDD when that is a real date, otherwise MMDDYYYY / DDMMYYYY as below (21042030).
* A slash form whose first number is > 12 is DD/MM. When both numbers are <= 12 and differ, the
  date is read the US way (MM/DD) and flagged BIRTH_DATE_AMBIGUOUS; `birth_date_transposed` then
  holds the other reading so the comparisons can still find the child.
* A two-digit year ``yy`` becomes the most recent year <= this year that ends in ``yy``
  (in 2026: 25 -> 2025, 26 -> 2026, 27 -> 1927), flagged TWO_DIGIT_YEAR. Students are children, so
  the recent reading is almost always right, and the flag lets staff check.
* Six bare digits (``010203``) could be three different dates; they are not guessed.
* A declared format (``"%d/%m/%Y"`` or ``"DD/MM/YYYY"``) wins over all of the above. A value
  it cannot read whose "month" is above 12 and whose "day" is 12 or less is read with day and
  month exchanged and flagged BIRTH_DATE_DAY_MONTH_SWAPPED (21/04/2030 in an MM/DD file).
* Impossible dates (31/02/2012, 00/00/0000) are null with BIRTH_DATE_UNPARSEABLE; the raw text
  stays in the raw column. Empty is BIRTH_DATE_MISSING. 1 January and the dates in
  data/placeholder_birth_dates.csv are BIRTH_DATE_DEFAULT. Future dates and dates more than 30
  years before today are BIRTH_DATE_IMPLAUSIBLE. Flagged dates are still returned: the
  comparisons decide how much to trust them.

Parsing is done once per *distinct* value (pd.factorize) and spread back over the column, so a
million rows with a few thousand distinct dates costs a few thousand small Python calls.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from dateutil import parser as dateutil_parser

from migrant_linkage.io import RecordContractError
from migrant_linkage.schema import FLAG_SEPARATOR, QualityFlag
from migrant_linkage.standardize.codes import placeholder_birth_dates

#: Students older than this at parse time are implausible (MEP serves ages 3-21; margin kept).
MAX_PLAUSIBLE_AGE_YEARS = 30

_ISO = re.compile(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[T ][0-9:.+Z-]*)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NUMBERS_FIRST = re.compile(r"(\d{1,2})[-./](\d{1,2})[-./](\d{4}|\d{2})")
_LONG_YEAR = re.compile(r"\d{3,4}")
_FORMAT_TOKENS = re.compile(r"YYYY|YY|MM|DD|M|D")
_DATE_DIRECTIVES = {"%Y", "%y", "%m", "%b", "%B", "%d", "%%"}
_TOKEN_TO_STRPTIME = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "DD": "%d", "M": "%m", "D": "%d"}


@dataclass(frozen=True)
class _Reading:
    """What one distinct raw value turned into."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    missing: bool = False
    two_digit_year: bool = False
    ambiguous: bool = False
    swapped: bool = False  # the declared format's day and month exchanged (_read_declared)


def normalise_format(date_format: str) -> str:
    """Accept strptime formats ("%d/%m/%Y") and the spelled form data specialists write
    ("DD/MM/YYYY", "M/D/YY")."""
    if "%" in date_format:
        converted = date_format
    else:
        converted = _FORMAT_TOKENS.sub(
            lambda m: _TOKEN_TO_STRPTIME[m.group(0)], date_format.upper()
        )
    directives = set(re.findall(r"%.", converted))
    has_parts = {"%Y", "%y"} & directives and {"%m", "%b", "%B"} & directives and "%d" in directives
    if not has_parts or not directives <= _DATE_DIRECTIVES:
        # A typo here would silently flag every birth date unparseable: refuse it instead.
        raise RecordContractError(
            f"date format {date_format!r} is not a day-month-year format: write it like "
            "DD/MM/YYYY or MM-DD-YY, or as strptime codes like %d/%m/%Y"
        )
    return converted


def expand_two_digit_year(yy: int, today: date) -> int:
    """The most recent year <= today's year that ends in `yy`."""
    year = today.year - today.year % 100 + yy
    return year if year <= today.year else year - 100


def _is_real_date(year: int, month: int, day: int) -> bool:
    return (
        1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
    )


def _read_numbers_first(first: int, second: int) -> tuple[int, int, bool]:
    """(month, day, ambiguous) for a `first/second/year` form with no declared format."""
    if first > 12:
        return second, first, False  # must be DD/MM
    if second > 12:
        return first, second, False  # must be MM/DD
    return first, second, first != second  # both could be a month: read US MM/DD, flag it


def _read_auto(text: str, today: date) -> _Reading:
    if match := _ISO.fullmatch(text):
        y, m, d = (int(g) for g in match.groups())
        return _Reading(y, m, d)
    if (match := _COMPACT.fullmatch(text)) and int(match.group(1)) >= 1800:
        y, m, d = (int(g) for g in match.groups())
        if _is_real_date(y, m, d):
            return _Reading(y, m, d)
    if match := _COMPACT.fullmatch(text):  # 8 digits, not a YYYYMMDD date: MMDDYYYY/DDMMYYYY
        text = f"{text[0:2]}/{text[2:4]}/{text[4:8]}"
    if match := _NUMBERS_FIRST.fullmatch(text):
        first, second, year_text = match.groups()
        month, day, ambiguous = _read_numbers_first(int(first), int(second))
        two_digit = len(year_text) == 2
        year = expand_two_digit_year(int(year_text), today) if two_digit else int(year_text)
        return _Reading(year, month, day, two_digit_year=two_digit, ambiguous=ambiguous)
    if any(ch.isalpha() for ch in text):
        return _read_written_month(text, today)
    return _Reading()


def _read_written_month(text: str, today: date) -> _Reading:
    """'3 March 2012', 'Mar 3, 2012': dateutil, but only when year, month and day are all
    present (parsing against two different defaults shows whether any part was filled in)."""
    try:
        first = dateutil_parser.parse(text, default=datetime(2000, 1, 1))
        second = dateutil_parser.parse(text, default=datetime(2001, 2, 2))
    except (ValueError, OverflowError):
        return _Reading()
    if first != second:
        return _Reading()
    if _LONG_YEAR.search(text) is None:
        year = expand_two_digit_year(first.year % 100, today)
        return _Reading(year, first.month, first.day, two_digit_year=True)
    return _Reading(first.year, first.month, first.day)


def _day_month_exchanged(strptime_format: str) -> str | None:
    """The declared format with its day and month fields exchanged (None without both)."""
    if strptime_format.count("%d") != 1 or strptime_format.count("%m") != 1:
        return None
    return strptime_format.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _read_declared(text: str, strptime_format: str, today: date) -> _Reading:
    swapped = False
    try:
        parsed = datetime.strptime(text, strptime_format)
    except ValueError:
        # A month above 12 where the declared format says month is a day keyed in the month's
        # place (DOMAIN.md: day and month swapped); read it so and flag it. Only when the
        # declared reading is impossible: a valid date is never second-guessed.
        exchanged = _day_month_exchanged(strptime_format)
        if exchanged is None:
            return _Reading()
        try:
            parsed = datetime.strptime(text, exchanged)
        except ValueError:
            return _Reading()
        swapped = True
    if "%y" in strptime_format:  # re-pivot: strptime's own rule (69-99 -> 1900s) is not ours
        year = expand_two_digit_year(parsed.year % 100, today)
        return _Reading(year, parsed.month, parsed.day, two_digit_year=True, swapped=swapped)
    return _Reading(parsed.year, parsed.month, parsed.day, swapped=swapped)


def _read(raw: object, strptime_format: str | None, today: date) -> _Reading:
    text = "" if raw is None or pd.isna(raw) else str(raw).strip()
    if not text:
        return _Reading(missing=True)
    if strptime_format is not None:
        return _read_declared(text, strptime_format, today)
    return _read_auto(text, today)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _describe(reading: _Reading, today: date, placeholders: frozenset[str]) -> dict:
    """The standardized columns and flags for one distinct raw value."""
    flags: list[str] = []
    out: dict = {
        "birth_date_std": None,
        "birth_date_transposed": None,
        "birth_year": None,
        "birth_month": None,
        "birth_day": None,
        "birth_date_is_default": False,
    }
    if reading.missing:
        flags.append(QualityFlag.BIRTH_DATE_MISSING)
    elif reading.year is None or not _is_real_date(reading.year, reading.month, reading.day):
        flags.append(QualityFlag.BIRTH_DATE_UNPARSEABLE)
    else:
        y, m, d = reading.year, reading.month, reading.day
        iso = f"{y:04d}-{m:02d}-{d:02d}"
        is_default = (m == 1 and d == 1) or iso in placeholders
        swapped_is_new = d != m and _is_real_date(y, d, m)
        out.update(
            birth_date_std=iso,
            birth_date_transposed=f"{y:04d}-{d:02d}-{m:02d}" if swapped_is_new else None,
            birth_year=y,
            birth_month=m,
            birth_day=d,
            birth_date_is_default=is_default,
        )
        if is_default:
            flags.append(QualityFlag.BIRTH_DATE_DEFAULT)
        born = date(y, m, d)
        if born > today or born < _years_before(today, MAX_PLAUSIBLE_AGE_YEARS):
            flags.append(QualityFlag.BIRTH_DATE_IMPLAUSIBLE)
        if reading.ambiguous:
            flags.append(QualityFlag.BIRTH_DATE_AMBIGUOUS)
        if reading.two_digit_year:
            flags.append(QualityFlag.TWO_DIGIT_YEAR)
        if reading.swapped:
            flags.append(QualityFlag.BIRTH_DATE_DAY_MONTH_SWAPPED)
    out["flags"] = FLAG_SEPARATOR.join(sorted(str(f) for f in flags))
    return out


def parse_dates(
    values: pd.Series, date_format: str | None = None, *, today: date | None = None
) -> pd.DataFrame:
    """Parse birth dates. Returns a frame on `values.index` with birth_date_std,
    birth_date_transposed, birth_year, birth_month, birth_day, birth_date_is_default and flags
    (sorted QualityFlag codes joined by ';', '' when clean). Never raises on bad values.

    `today` fixes the reference day for two-digit years and plausibility (tests); default is
    the day of the call.
    """
    today = today or date.today()
    strptime_format = normalise_format(date_format) if date_format else None
    placeholders = placeholder_birth_dates()
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    rows = [_describe(_read(u, strptime_format, today), today, placeholders) for u in uniques]
    rows.append(_describe(_Reading(missing=True), today, placeholders))  # serves code -1 (NA)
    distinct = pd.DataFrame(rows)
    result = distinct.take(codes)
    result.index = values.index
    return result.astype(
        {
            "birth_date_std": "str",
            "birth_date_transposed": "str",
            "birth_year": "Int64",
            "birth_month": "Int64",
            "birth_day": "Int64",
            "birth_date_is_default": "boolean",
            "flags": "str",
        }
    )


def parse_enrollment_dates(
    values: pd.Series, date_format: str | None = None, *, today: date | None = None
) -> pd.DataFrame:
    """Parse enrollment dates with the same rules. Returns enrollment_date_std and flags, where
    the only flag is ENROLLMENT_DATE_UNPARSEABLE (a blank enrollment date is not a problem)."""
    parsed = parse_dates(values, date_format, today=today)
    unparseable = parsed["flags"].str.contains(QualityFlag.BIRTH_DATE_UNPARSEABLE.value)
    return pd.DataFrame(
        {
            "enrollment_date_std": parsed["birth_date_std"],
            "flags": unparseable.map(
                {True: QualityFlag.ENROLLMENT_DATE_UNPARSEABLE.value, False: ""}
            ).astype("str"),
        },
        index=values.index,
    )
