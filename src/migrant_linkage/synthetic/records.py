"""Render the true population as the records each state's system would hold, with errors.

Every error process is a vectorised draw over records; `ErrorLog` records, per process, which
records were eligible and which received it, so rates can be measured exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from migrant_linkage import schema
from migrant_linkage.synthetic import tables, text
from migrant_linkage.synthetic.rates import EXCLUSIVE_GROUPS, ErrorRates

ERROR_CODES: tuple[str, ...] = tuple(f.name.upper() for f in fields(ErrorRates))
_BIT = {code: np.uint64(1) << np.uint64(i) for i, code in enumerate(ERROR_CODES)}
NAME_FIELDS = (
    "first_name",
    "middle_name",
    "last_name_1",
    "last_name_2",
    "parent1_first",
    "parent1_last",
    "parent2_first",
    "parent2_last",
)
_VARIANT_KEYS = 12  # how many distinct variant choices per name (a phonetic rule, a typo)
_MSIX_MODULUS = 900_000_000_000
_MSIX_STEP = 1_000_003  # prime, coprime with the modulus: student -> MSIX ID is one-to-one


@dataclass
class ErrorLog:
    """Which records were eligible for, and received, each error process."""

    n: int
    bits: np.ndarray = field(init=False)
    eligible: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bits = np.zeros(self.n, dtype=np.uint64)

    def mark(self, name: str, applied: np.ndarray, eligible: np.ndarray | None = None) -> None:
        code = name.upper()
        self.bits[applied] |= _BIT[code]
        self.eligible[code] = int(self.n if eligible is None else eligible.sum())
        self.applied[code] = int(applied.sum())

    def codes_column(self) -> np.ndarray:
        def to_text(bits: int) -> str | None:
            names = [c for c in ERROR_CODES if bits & int(_BIT[c])]
            return ";".join(names) if names else None

        return text.map_distinct(self.bits.astype(np.int64).astype(object), to_text)


def _bins(u: np.ndarray, rates: ErrorRates, group: str) -> dict[str, np.ndarray]:
    """Split one uniform draw into the exclusive outcomes of `group` (each at its rate)."""
    out, low = {}, 0.0
    for name in EXCLUSIVE_GROUPS[group]:
        high = low + getattr(rates, name)
        out[name] = (u >= low) & (u < high)
        low = high
    return out


def _pick_variant(
    values: np.ndarray, mask: np.ndarray, rng: np.random.Generator, variants_of
) -> np.ndarray:
    """For records in `mask`, replace the value by one of `variants_of(value)` (non-empty)."""
    out = values.copy()
    keys = rng.integers(_VARIANT_KEYS, size=int(mask.sum()))
    out[mask] = text.map_distinct_keyed(
        values[mask], keys, lambda v, k: (vs := variants_of(v))[k % len(vs)]
    )
    return out


def _join(a: np.ndarray, sep: str, b: np.ndarray) -> np.ndarray:
    return (pd.Series(a, dtype=object) + sep + pd.Series(b, dtype=object)).to_numpy(dtype=object)


def _nickname_table() -> dict[str, dict[str, tuple[str, ...]]]:
    v = tables.name_variants()
    out: dict[str, dict[str, tuple[str, ...]]] = {"nickname": {}, "english": {}}
    for kind, frame in v.groupby("kind"):
        out[kind] = {name: tuple(g["variant"]) for name, g in frame.groupby("name")}
    return out


def _given_variants(kind: str):
    table = _nickname_table()[kind]

    def variants(given: str) -> tuple[str, ...]:
        parts = given.split(" ", 1)
        found: list[str] = list(table.get(given, ()))
        if len(parts) == 2:
            found += [v for p in parts for v in table.get(p, ())]
        return tuple(dict.fromkeys(found))

    return variants


def _english_nicknames():
    """English nicknames of a name, or of its English forms: JOSÉ -> JOSEPH -> JOE, JOEY..."""
    table, forms = tables.english_nicknames(), _nickname_table()["english"]

    def of(first: str) -> tuple[str, ...]:
        found = list(table.get(first, ()))
        for form in forms.get(first, ()):
            found += table.get(form, ())
        return tuple(dict.fromkeys(found))

    return of


def _render_given(
    rec: pd.DataFrame,
    rates: ErrorRates,
    rng: np.random.Generator,
    extra: np.random.Generator,
    log: ErrorLog,
    pim: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (first, middle, mask of records whose first name carries a spelling error)."""
    n = len(rec)
    # The whole name replaced by the child's other name; it then goes through every step below.
    replaced = extra.random(n) < rates.given_replaced
    log.mark("given_replaced", replaced)
    given = np.where(replaced, rec["other_given"], rec["given"]).astype(object)
    first = given.copy()
    middle = np.full(n, None, dtype=object)
    compound = text.map_distinct(given, lambda g: " " in g).astype(bool)
    g1 = text.map_distinct(given, lambda g: g.split(" ", 1)[0])
    g2 = text.map_distinct(given, lambda g: g.split(" ", 1)[-1])
    nick, eng = _given_variants("nickname"), _given_variants("english")
    has_nick = text.map_distinct(given, lambda g: bool(nick(g))).astype(bool)
    has_eng = text.map_distinct(given, lambda g: bool(eng(g))).astype(bool)

    b = _bins(rng.random(n), rates, "given_form")
    eligible = {
        "given_nickname": has_nick,
        "given_english_form": has_eng,
        "given_compound_first_only": compound,
        "given_compound_second_only": compound,
        # a split would put the second name where this record keeps the paternal surname
        "given_compound_split": compound & ~pim,
    }
    applied = {k: b[k] & eligible[k] for k in eligible}
    for k in eligible:
        log.mark(k, applied[k], eligible[k])
    first = np.where(applied["given_compound_first_only"], g1, first)
    first = np.where(applied["given_compound_second_only"], g2, first)
    split = applied["given_compound_split"]
    first = np.where(split, g1, first)
    middle = np.where(split, g2, middle)
    first = _pick_variant(first, applied["given_nickname"], rng, nick)
    first = _pick_variant(first, applied["given_english_form"], rng, eng)
    en_nicks = _english_nicknames()
    has_en_nick = text.map_distinct(first, lambda f: bool(en_nicks(f))).astype(bool)
    en_nick = has_en_nick & (extra.random(n) < rates.given_english_nickname)
    log.mark("given_english_nickname", en_nick, has_en_nick)
    # Draws of the added kinds are made for every record (not per record hit), so that changing
    # one added kind's rate changes only the records that kind touches.
    keys = extra.integers(_VARIANT_KEYS, size=n)
    first[en_nick] = text.map_distinct_keyed(
        first[en_nick], keys[en_nick], lambda v, k: (vs := en_nicks(v))[k % len(vs)]
    )

    has_phon = text.map_distinct(first, lambda s: bool(text.phonetic_variants(s))).astype(bool)
    phon = has_phon & (rng.random(n) < rates.given_phonetic)
    log.mark("given_phonetic", phon, has_phon)
    first = _pick_variant(first, phon, rng, text.phonetic_variants)
    typo = rng.random(n) < rates.given_typo
    log.mark("given_typo", typo)
    first[typo] = text.map_distinct_keyed(
        first[typo], rng.integers(_VARIANT_KEYS, size=int(typo.sum())), text.keyboard_typo
    )
    two = extra.random(n) < rates.given_two_typos
    log.mark("given_two_typos", two)
    keys = extra.integers(_VARIANT_KEYS, size=n)
    first[two] = text.map_distinct_keyed(first[two], keys[two], text.two_keying_slips)
    return first, middle, phon | typo | two


def _particle_form(how: str):
    def apply(name: str) -> str:
        parts = text.particle_parts(name)
        if parts is None:
            return name
        return (parts[0] + parts[1]).replace(" ", "") if how == "joined" else parts[1]

    return apply


def _render_surnames(
    rec: pd.DataFrame, rates: ErrorRates, rng: np.random.Generator, log: ErrorLog
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (last_name_1, last_name_2, paternal_in_middle mask, middle value)."""
    pat = rec["paternal"].to_numpy(dtype=object)
    mat = rec["maternal"].to_numpy(dtype=object)
    n = len(pat)
    has_particle = text.map_distinct(pat, lambda s: text.particle_parts(s) is not None).astype(
        bool
    ) | text.map_distinct(mat, lambda s: text.particle_parts(s) is not None).astype(bool)
    b = _bins(rng.random(n), rates, "particle")
    for name, how in (("particle_joined", "joined"), ("particle_dropped", "dropped")):
        applied = b[name] & has_particle
        log.mark(name, applied, has_particle)
        pat[applied] = text.map_distinct(pat[applied], _particle_form(how))
        mat[applied] = text.map_distinct(mat[applied], _particle_form(how))

    has_phon = text.map_distinct(pat, lambda s: bool(text.phonetic_variants(s))).astype(bool)
    phon = has_phon & (rng.random(n) < rates.surname_phonetic)
    log.mark("surname_phonetic", phon, has_phon)
    pat = _pick_variant(pat, phon, rng, text.phonetic_variants)
    typo = rng.random(n) < rates.surname_typo
    log.mark("surname_typo", typo)
    pat[typo] = text.map_distinct_keyed(
        pat[typo], rng.integers(_VARIANT_KEYS, size=int(typo.sum())), text.keyboard_typo
    )

    form = _bins(rng.random(n), rates, "surname_form")
    for name, mask in form.items():
        log.mark(name, mask)
    none = np.full(n, None, dtype=object)
    l1, l2 = pat.copy(), mat.copy()
    l1 = np.where(form["surname_combined"], _join(pat, " ", mat), l1)
    l1 = np.where(form["surname_hyphenated"], _join(pat, "-", mat), l1)
    one_field = (
        form["surname_combined"]
        | form["surname_hyphenated"]
        | form["surname_paternal_only"]
        | form["surname_paternal_in_middle"]
        | form["surname_maternal_only"]
    )
    maternal_first = (
        form["surname_paternal_in_middle"]
        | form["surname_order_swapped"]
        | form["surname_maternal_only"]
    )
    l1 = np.where(maternal_first, mat, l1)
    l2 = np.where(form["surname_order_swapped"], pat, l2)
    l2 = np.where(one_field, none, l2)
    pim = form["surname_paternal_in_middle"]
    return l1, l2, pim, np.where(pim, pat, none)


def _render_parents(
    rec: pd.DataFrame, rates: ErrorRates, rng: np.random.Generator, log: ErrorLog
) -> dict[str, np.ndarray]:
    n = len(rec)
    one = rng.random(n) < rates.parent_one_surname
    log.mark("parent_one_surname", one)
    f_last = np.where(one, rec["father_s1"], _join(rec["father_s1"], " ", rec["father_s2"]))
    m_last = np.where(one, rec["mother_s1"], _join(rec["mother_s1"], " ", rec["mother_s2"]))
    f_first = rec["father_given"].to_numpy(dtype=object)
    m_first = rec["mother_given"].to_numpy(dtype=object)
    swap = rng.random(n) < rates.parents_swapped
    log.mark("parents_swapped", swap)
    p1f, p1l = np.where(swap, m_first, f_first), np.where(swap, m_last, f_last)
    p2f, p2l = np.where(swap, f_first, m_first), np.where(swap, f_last, m_last)
    b = _bins(rng.random(n), rates, "parents_present")
    for name, mask in b.items():
        log.mark(name, mask)
    drop_first = b["parents_missing"] | (b["parent_one_missing"] & (rng.random(n) < 0.5))
    drop_second = b["parents_missing"] | (b["parent_one_missing"] & ~drop_first)
    out = {}
    for col, values, drop in (
        ("parent1_first", p1f, drop_first),
        ("parent1_last", p1l, drop_first),
        ("parent2_first", p2f, drop_second),
        ("parent2_last", p2l, drop_second),
    ):
        out[col] = np.where(drop, None, values).astype(object)
    return out


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    start = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    return start.dt.days_in_month.to_numpy()


def _year_digit_keyed_wrong(year: np.ndarray, extra: np.random.Generator) -> np.ndarray:
    """The year with its tens digit replaced by another digit: 2016 -> 2006, 2013 -> 2063."""
    tens = (year // 10) % 10
    other = (tens + extra.integers(1, 10, size=len(year))) % 10
    return year + (other - tens) * 10


def _render_birth_date(
    rec: pd.DataFrame,
    rates: ErrorRates,
    rng: np.random.Generator,
    extra: np.random.Generator,
    log: ErrorLog,
    name_error: np.ndarray,
) -> tuple[pd.Series, np.ndarray]:
    """Return (recorded dates as datetime, mask of records whose date is wrong or missing)."""
    true = pd.to_datetime(rec["birth_date"])
    y, m, d = true.dt.year.to_numpy(), true.dt.month.to_numpy(), true.dt.day.to_numpy()
    n = len(y)
    b = _bins(rng.random(n), rates, "birth_date")
    eligible = {
        "dob_day_month_swapped": (d <= 12) & (d != m),
        "dob_digit_slip": np.ones(n, bool),
        "dob_year_off_by_one": np.ones(n, bool),
        "dob_default_jan1": ~((m == 1) & (d == 1)),
        "dob_missing": np.ones(n, bool),
        "dob_year_digit": np.ones(n, bool),
    }
    applied = {k: b[k] & eligible[k] for k in eligible}
    for k in eligible:
        log.mark(k, applied[k], eligible[k])
    ny, nm, nd = y.copy(), m.copy(), d.copy()
    sw = applied["dob_day_month_swapped"]
    nm[sw], nd[sw] = d[sw], m[sw]
    # One digit slips: the day's last digit moves by one, staying a real date.
    dim = _days_in_month(y, m)
    step = np.where(rng.random(n) < 0.5, 1, -1)
    flip = ((d % 10 == 9) & (step == 1)) | ((d % 10 == 0) & (step == -1))
    flip |= (d + step < 1) | (d + step > dim)
    step = np.where(flip, -step, step)
    step = np.where((d + step < 1) | (d + step > dim), -step, step)
    sl = applied["dob_digit_slip"]
    nd[sl] = d[sl] + step[sl]
    yo = applied["dob_year_off_by_one"]
    ny[yo] = y[yo] + np.where(rng.random(int(yo.sum())) < 0.5, 1, -1)
    nd[yo] = np.minimum(nd[yo], _days_in_month(ny[yo], nm[yo]))  # 29 Feb in a common year
    df = applied["dob_default_jan1"]
    nm[df], nd[df] = 1, 1
    wrong = np.logical_or.reduce(list(applied.values()))
    # A keying error on top of a name error: digit slip, year off by one or year digit, equally.
    on_top_eligible = name_error & ~wrong
    on_top = on_top_eligible & (extra.random(n) < rates.dob_error_with_name_error)
    log.mark("dob_error_with_name_error", on_top, on_top_eligible)
    kind = extra.integers(3, size=n)
    year_digit = applied["dob_year_digit"] | (on_top & (kind == 2))
    nd = np.where(on_top & (kind == 0), d + step, nd)
    ny = np.where(on_top & (kind == 1), y + np.where(extra.random(n) < 0.5, 1, -1), ny)
    ny = np.where(year_digit, _year_digit_keyed_wrong(y, extra), ny)
    changed_year = year_digit | (on_top & (kind == 1))
    nd[changed_year] = np.minimum(
        nd[changed_year], _days_in_month(ny[changed_year], nm[changed_year])
    )
    recorded = pd.to_datetime(pd.DataFrame({"year": ny, "month": nm, "day": nd}))
    recorded[applied["dob_missing"]] = pd.NaT
    return recorded, wrong | on_top


def _format_dates(dates: pd.Series, state: np.ndarray) -> np.ndarray:
    """Each state's date format, formatted once per distinct (date, format)."""
    formats = tables.state_conventions()["birth_date_format"]
    fmt = formats.reindex(state).to_numpy()
    days = dates.to_numpy(dtype="datetime64[D]")
    out = np.full(len(dates), None, dtype=object)
    for f in np.unique(fmt):
        sel = (fmt == f) & ~np.isnat(days)
        codes, uniques = pd.factorize(days[sel])
        written = pd.DatetimeIndex(uniques).strftime(f).to_numpy(dtype=object)
        out[sel] = written[codes]
    return out


def _apply_conventions(
    cols: dict[str, np.ndarray],
    state: np.ndarray,
    rates: ErrorRates,
    rng: np.random.Generator,
    log: ErrorLog,
) -> None:
    conv = tables.state_conventions().reindex(state)
    accents = conv["accents"].to_numpy()
    case = conv["name_case"].to_numpy()
    n = len(state)
    non_ascii = np.zeros(n, dtype=bool)
    for col in NAME_FIELDS:
        non_ascii |= text.map_distinct(cols[col], lambda s: not s.isascii()).astype(bool)
    eligible = (accents == "keep") & non_ascii
    moji = eligible & (rng.random(n) < rates.accent_mojibake)
    log.mark("accent_mojibake", moji, eligible)

    def transform(drop: bool, title: bool, garble: bool):
        def apply(s: str) -> str:
            s = text.strip_accents(s) if drop else s
            s = s.title() if title else s
            return text.mojibake(s) if garble else s

        return apply

    combos = pd.factorize(pd.MultiIndex.from_arrays([accents == "drop", case == "title", moji]))
    for col in NAME_FIELDS:
        codes, uniques = pd.factorize(cols[col])  # once per field; NA is -1
        result = np.empty(n, dtype=object)
        result[codes < 0] = None
        for c, (drop, title, garble) in enumerate(combos[1]):
            fn = transform(drop, title, garble)
            sel = (combos[0] == c) & (codes >= 0)
            used = np.unique(codes[sel])
            table = np.empty(len(uniques), dtype=object)
            table[used] = [fn(u) for u in uniques[used]]
            result[sel] = table[codes[sel]]
        cols[col] = result


def _apply_name_field_errors(
    cols: dict[str, np.ndarray],
    rec: pd.DataFrame,
    conv: pd.DataFrame,
    undocumented: np.ndarray,
    middle_is_given: np.ndarray,
    rates: ErrorRates,
    extra: np.random.Generator,
    log: ErrorLog,
) -> None:
    """Placeholder first names, middle initials and first/last swaps, on the written fields."""
    n = len(rec)
    placeholder = undocumented & (extra.random(n) < rates.given_placeholder)
    log.mark("given_placeholder", placeholder, undocumented)
    sex = rec["sex"].to_numpy(dtype=object)
    pick = extra.random(n)
    for s in ("F", "M"):
        sel = placeholder & (sex == s)
        choices = tables.placeholder_names(s)
        cols["first_name"][sel] = choices[(pick[sel] * len(choices)).astype(int)]
    title = placeholder & (conv["name_case"] == "title").to_numpy()
    cols["first_name"][title] = text.map_distinct(cols["first_name"][title], str.title)
    # A placeholder stands for the whole given name; a surname in the middle field stays.
    cols["middle_name"] = np.where(
        placeholder & middle_is_given, np.array(None, dtype=object), cols["middle_name"]
    )

    has_middle = pd.notna(cols["middle_name"])
    initial = has_middle & (extra.random(n) < rates.middle_initial_only)
    log.mark("middle_initial_only", initial, has_middle)
    cols["middle_name"][initial] = text.map_distinct(cols["middle_name"][initial], lambda m: m[0])

    swap = extra.random(n) < rates.given_surname_swapped
    log.mark("given_surname_swapped", swap)
    first, last = cols["first_name"].copy(), cols["last_name_1"]
    cols["first_name"] = np.where(swap, last, first).astype(object)
    cols["last_name_1"] = np.where(swap, first, last).astype(object)


def _state_ids(rec: pd.DataFrame, rates: ErrorRates, rng: np.random.Generator) -> tuple:
    """State student IDs: kept on a return visit or re-keying, unless a new one is issued."""
    key = pd.MultiIndex.from_arrays([rec["student"], rec["state"]])
    repeat = key.duplicated()
    new_id = repeat & (rng.random(len(rec)) < rates.new_state_id)
    epoch = pd.Series(new_id.astype(int)).groupby([rec["student"], rec["state"]]).cumsum()
    id_key = pd.MultiIndex.from_arrays([rec["student"], rec["state"], epoch.to_numpy()])
    codes, uniques = id_key.factorize()
    number = rng.integers(100_000_000, 1_000_000_000, size=len(uniques))
    ids = rec["state"].to_numpy(dtype=object) + text.digits(number[codes])
    return ids, repeat, new_id


def render_records(
    children: pd.DataFrame,
    enrolments: pd.DataFrame,
    rates: ErrorRates,
    rng: np.random.Generator,
    seed: int,
    extra: np.random.Generator,
) -> tuple[pd.DataFrame, ErrorLog]:
    """`rng` drives the original error kinds, `extra` the kinds added for issue 13, so that
    with the added kinds at rate 0 a seed gives the records it gave before they existed."""
    rec = enrolments.merge(children, on="student", how="left", sort=False)
    # Duplicate keying: a second record for the same enrolment, a few days later.
    dup = rng.random(len(rec)) < rates.duplicate_enrolment
    copies = rec[dup].copy()
    copies["enrollment_date"] = copies["enrollment_date"] + pd.to_timedelta(
        rng.integers(1, 30, size=len(copies)), unit="D"
    )
    n_original = len(rec)
    rec = pd.concat([rec.assign(is_copy=False), copies.assign(is_copy=True)], ignore_index=True)
    rec = rec.sort_values(["student", "enrollment_date", "is_copy"], kind="stable")
    rec = rec.reset_index(drop=True)
    state_id, repeat, new_id = _state_ids(rec, rates, rng)
    rec["state_student_id"] = state_id
    rec["_repeat"], rec["_new_id"] = repeat, new_id
    # Output order: each state's file in enrolment order.
    rec = rec.sort_values(["state", "enrollment_date", "student", "is_copy"], kind="stable")
    rec = rec.reset_index(drop=True)
    n = len(rec)
    log = ErrorLog(n)
    is_copy = rec["is_copy"].to_numpy()
    log.mark("duplicate_enrolment", is_copy)
    log.eligible["DUPLICATE_ENROLMENT"] = n_original
    log.mark("new_state_id", rec["_new_id"].to_numpy(), rec["_repeat"].to_numpy())
    state = rec["state"].to_numpy(dtype=object)
    seq = rec.groupby("state", sort=False).cumcount().to_numpy() + 1
    record_id = _join(state, "-", text.digits(seq, 7))

    l1, l2, pim, middle_surname = _render_surnames(rec, rates, rng, log)
    first, middle, given_misspelt = _render_given(rec, rates, rng, extra, log, pim)
    middle_is_given = pd.notna(middle)
    middle = np.where(pim, middle_surname, middle)
    cols: dict[str, np.ndarray] = {
        "first_name": first,
        "middle_name": middle,
        "last_name_1": l1,
        "last_name_2": l2,
        **_render_parents(rec, rates, rng, log),
    }
    _apply_conventions(cols, state, rates, rng, log)

    dates, dob_wrong = _render_birth_date(rec, rates, rng, extra, log, given_misspelt)
    conv = tables.state_conventions().reindex(state)
    b = _bins(rng.random(n), rates, "sex")
    for name, mask in b.items():
        log.mark(name, mask)
    sex = rec["sex"].to_numpy(dtype=object)
    sex = np.where(b["sex_flipped"], np.where(sex == "F", "M", "F"), sex)
    long_codes = (conv["sex_codes"] == "MALE/FEMALE").to_numpy()
    sex = np.where(long_codes, np.where(sex == "F", "FEMALE", "MALE"), sex)
    sex = np.where(b["sex_missing"], None, sex).astype(object)

    place_missing = rng.random(n) < rates.birth_place_missing
    log.mark("birth_place_missing", place_missing)
    country = rec["birth_country"].to_numpy(dtype=object)
    sub = rec["birth_subdivision"].to_numpy(dtype=object)
    birth_state = text.map_distinct(sub, lambda s: (s[3:] if s.startswith("US-") else s) or None)
    country = np.where(place_missing, None, country).astype(object)
    birth_state = np.where(place_missing, None, birth_state).astype(object)

    mb_missing = rng.random(n) < rates.multiple_birth_missing
    log.mark("multiple_birth_missing", mb_missing)
    multiple = np.where(rec["multiple_birth"].to_numpy(), "Y", "N").astype(object)
    multiple = np.where(mb_missing, None, multiple).astype(object)

    certificate = ~dob_wrong & (rng.random(n) < 0.6)
    verification = np.where(certificate, "BIRTH CERTIFICATE", "PARENTS AFFIDAVIT").astype(object)
    verification = np.where(pd.isna(dates).to_numpy(), None, verification).astype(object)
    _apply_name_field_errors(cols, rec, conv, ~certificate, middle_is_given, rates, extra, log)

    msix_absent = rng.random(n) < rates.msix_id_absent
    log.mark("msix_id_absent", msix_absent)
    msix = msix_ids(rec["student"].to_numpy(np.int64), seed)
    msix = np.where(msix_absent, None, msix).astype(object)

    rj = _bins(rng.random(n), rates, "reject")
    for name, mask in rj.items():
        log.mark(name, mask)
    record_id = np.where(rj["reject_missing_record_id"], None, record_id).astype(object)
    for col in ("first_name", "middle_name", "last_name_1", "last_name_2"):
        cols[col] = np.where(rj["reject_missing_name"], None, cols[col]).astype(object)

    enrol = pd.to_datetime(rec["enrollment_date"])
    out = {
        "record_id": record_id,
        "state": state,
        "state_student_id": rec["state_student_id"].to_numpy(dtype=object),
        "msix_id": msix,
        **{c: cols[c] for c in ("first_name", "middle_name", "last_name_1", "last_name_2")},
        "suffix": np.full(n, None, dtype=object),
        "sex": sex,
        "birth_date": _format_dates(dates, state),
        "birth_date_verification": verification,
        "multiple_birth": multiple,
        "birth_city": np.full(n, None, dtype=object),
        "birth_state": birth_state,
        "birth_country": country,
        **{c: cols[c] for c in ("parent1_first", "parent1_last", "parent2_first", "parent2_last")},
        "enrollment_date": _format_dates(enrol, state),
        "true_student_id": _ids("S", rec["student"].to_numpy()),
        "true_family_id": _ids("F", rec["family"].to_numpy()),
        "true_error_types": log.codes_column(),
    }
    assert tuple(out)[: len(schema.INPUT_COLUMNS)] == schema.INPUT_COLUMNS
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in out.items()})
    return frame.astype("str"), log


def msix_ids(students: np.ndarray, seed: int) -> np.ndarray:
    """Each child's 12-digit MSIX ID: one-to-one in the student number for a given seed."""
    msix_num = (students.astype(np.int64) * _MSIX_STEP + seed % _MSIX_MODULUS) % _MSIX_MODULUS
    return text.digits(msix_num + 100_000_000_000)


def _ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    width = max(7, len(str(int(numbers.max()) if len(numbers) else 0)))
    return prefix + text.digits(numbers, width)
