"""The synthetic generator: error rates, family structure, determinism, ground truth.

Rate checks use a binomial tolerance of 4 standard deviations (not tuned): with about 55 checks
per run, a correct generator fails one by chance with probability below 0.4%.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import jellyfish
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage import schema
from migrant_linkage.synthetic import (
    ERROR_CODES,
    EXCLUSIVE_GROUPS,
    ErrorRates,
    PopulationParams,
    generate,
    generate_detailed,
    tables,
    write,
)
from migrant_linkage.synthetic.records import NAME_FIELDS
from migrant_linkage.synthetic.text import strip_accents, two_keying_slips

N_STUDENTS = 6000  # about 17,000 records: every default rate is expected at least ~50 times
SIGMAS = 4.0


@pytest.fixture(scope="module")
def default_run():
    return generate_detailed(N_STUDENTS, seed=11)


@pytest.fixture(scope="module")
def clean_run():
    return generate_detailed(3000, seed=12, rates=ErrorRates.none())


def _within_binomial(k: int, n: int, p: float) -> bool:
    sd = math.sqrt(n * p * (1 - p))
    return abs(k - n * p) <= SIGMAS * sd + 1  # +1: counts are integers


def _has_code(records: pd.DataFrame, code: str) -> np.ndarray:
    return records["true_error_types"].fillna("").str.split(";").map(lambda c: code in c).to_numpy()


def _fold(values: pd.Series) -> pd.Series:
    return values.map(lambda v: strip_accents(v).upper() if isinstance(v, str) else v)


# --- output shape and ground truth -----------------------------------------------------------


def test_columns_are_the_contract_then_truth_all_text(default_run):
    records = default_run.records
    expected = [*schema.INPUT_COLUMNS, *schema.TRUTH_COLUMNS, "true_error_types"]
    assert list(records.columns) == expected
    for col in records.columns:
        assert pd.api.types.is_string_dtype(records[col]), col


def test_record_ids_are_unique_across_states(default_run):
    ids = default_run.records["record_id"]
    assert ids.notna().all()
    assert ids.is_unique
    assert (ids.str.split("-").str[0] == default_run.records["state"]).all()


def test_each_student_belongs_to_one_family(default_run):
    per_student = default_run.records.groupby("true_student_id")["true_family_id"].nunique()
    assert (per_student == 1).all()


def test_every_student_has_a_record_and_moves_between_states(default_run):
    records = default_run.records
    assert records["true_student_id"].nunique() == N_STUDENTS
    states_per_student = records.groupby("true_student_id")["state"].nunique()
    assert (states_per_student >= 2).mean() > 0.5  # most migrant children cross a state line


def test_states_argument_restricts_the_moves():
    records = generate(300, seed=2, states=["TX", "MI"])
    assert set(records["state"]) == {"TX", "MI"}


def test_states_without_a_documented_circuit_still_get_families():
    # TX-GA is not a documented circuit; GA must still appear, and a lone state stays home.
    assert set(generate(300, seed=2, states=["tx", "ga"])["state"]) == {"TX", "GA"}
    assert set(generate(50, seed=2, states=["MI"])["state"]) == {"MI"}


def test_unknown_state_is_a_clear_error():
    with pytest.raises(ValueError, match="ZZ"):
        generate(10, seed=1, states=["TX", "ZZ"])


def test_population_parameters_are_checked():
    with pytest.raises(ValueError, match="us_born"):
        PopulationParams(us_born=2.0)
    with pytest.raises(ValueError, match="children_per_family"):
        PopulationParams(children_per_family=())


def test_no_twins_when_multiple_births_are_switched_off():
    run = generate_detailed(500, seed=4, population=PopulationParams(multiple_birth=0.0))
    assert not run.children["multiple_birth"].any()
    assert run.records["multiple_birth"].dropna().eq("N").all()


def test_rates_outside_zero_one_or_overfull_groups_are_refused():
    with pytest.raises(ValueError, match="dob_missing"):
        ErrorRates(dob_missing=1.5)
    with pytest.raises(ValueError, match="sex"):
        ErrorRates(sex_flipped=0.6, sex_missing=0.6)


@st.composite
def _any_rates(draw) -> ErrorRates:
    """Any valid ErrorRates: independent rates in [0, 1], each exclusive group summing to <= 1."""
    values = {f.name: draw(st.floats(0, 1)) for f in fields(ErrorRates)}
    for names in EXCLUSIVE_GROUPS.values():
        total = sum(values[n] for n in names)
        if total > 1:
            for n in names:
                values[n] = values[n] / total * 0.999
    values["reject_missing_record_id"] = 0.0  # record ids are checked below
    return ErrorRates(**values)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), rates=_any_rates())
def test_any_valid_rates_give_a_well_formed_file(n, seed, rates):
    run = generate_detailed(n, seed=seed, rates=rates)
    records = run.records
    assert records["true_student_id"].nunique() == n
    assert records["record_id"].notna().all() and records["record_id"].is_unique
    assert (records.groupby("true_student_id")["true_family_id"].nunique() == 1).all()
    for code, applied in run.applied.items():
        assert applied <= run.eligible[code]


# --- error processes -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_type_appears_at_its_configured_rate(default_run, code):
    rate = getattr(ErrorRates(), code.lower())
    eligible, applied = default_run.eligible[code], default_run.applied[code]
    observed = int(_has_code(default_run.records, code).sum())
    assert observed == applied  # the truth column tells exactly which records got it
    if rate == 0:
        assert applied == 0
        return
    assert eligible * rate >= 20, f"{code}: too few eligible records to measure the rate"
    assert _within_binomial(applied, eligible, rate), (code, applied, eligible, rate)


def test_caller_rates_change_what_is_written():
    rates = replace(ErrorRates.none(), dob_missing=0.2, sex_missing=0.1, surname_combined=0.3)
    records = generate(2000, seed=5, rates=rates)
    n = len(records)
    assert _within_binomial(int(records["birth_date"].isna().sum()), n, 0.2)
    assert _within_binomial(int(records["sex"].isna().sum()), n, 0.1)
    combined = records["last_name_2"].isna() & records["last_name_1"].str.contains(" ")
    # a particle surname (DE LA CRUZ) also holds a space, so count at least the requested share
    assert _within_binomial(int(_has_code(records, "SURNAME_COMBINED").sum()), n, 0.3)
    assert combined.sum() >= _has_code(records, "SURNAME_COMBINED").sum()


def test_no_errors_when_every_rate_is_zero(clean_run):
    records = clean_run.records
    assert records["true_error_types"].isna().all()
    assert records["birth_date"].notna().all() and records["sex"].notna().all()
    assert records["last_name_2"].notna().all()


def test_surname_errors_do_what_their_code_says(default_run):
    records = default_run.records
    children = default_run.children.set_index(
        "S" + default_run.children["student"].astype(str).str.zfill(7)
    )
    truth = children.loc[records["true_student_id"]].reset_index(drop=True)
    l1, l2 = _fold(records["last_name_1"]), _fold(records["last_name_2"])
    pat, mat = _fold(truth["paternal"]), _fold(truth["maternal"])
    clean_surnames = ~(
        _has_code(records, "SURNAME_TYPO")
        | _has_code(records, "SURNAME_PHONETIC")
        | _has_code(records, "PARTICLE_JOINED")
        | _has_code(records, "PARTICLE_DROPPED")
        | _has_code(records, "ACCENT_MOJIBAKE")
        | _has_code(records, "GIVEN_SURNAME_SWAPPED")
    )
    hyph = _has_code(records, "SURNAME_HYPHENATED") & clean_surnames
    assert hyph.sum() > 0 and (l1[hyph] == pat[hyph] + "-" + mat[hyph]).all()
    assert l2[hyph].isna().all()
    swapped = _has_code(records, "SURNAME_ORDER_SWAPPED") & clean_surnames
    assert swapped.sum() > 0
    assert (l1[swapped] == mat[swapped]).all() and (l2[swapped] == pat[swapped]).all()
    in_middle = _has_code(records, "SURNAME_PATERNAL_IN_MIDDLE") & clean_surnames
    assert in_middle.sum() > 0
    initial = _has_code(records, "MIDDLE_INITIAL_ONLY")
    middle = _fold(records["middle_name"])
    assert (middle[in_middle & ~initial] == pat[in_middle & ~initial]).all()
    assert (middle[in_middle & initial] == pat[in_middle & initial].str[0]).all()
    assert (l1[in_middle] == mat[in_middle]).all()
    plain = clean_surnames & ~records["true_error_types"].fillna("").str.contains("SURNAME_")
    assert (l1[plain] == pat[plain]).all() and (l2[plain] == mat[plain]).all()


def test_birth_date_errors_do_what_their_code_says(default_run):
    records = default_run.records
    children = default_run.children
    truth = pd.to_datetime(children["birth_date"]).to_numpy()[
        records["true_student_id"].str[1:].astype(int).to_numpy()
    ]
    truth = pd.Series(truth)
    iso = records["birth_date"].str.match(r"^\d{4}-\d{2}-\d{2}$").fillna(False)
    written = pd.to_datetime(records["birth_date"].where(iso), format="%Y-%m-%d")
    us = records["birth_date"].str.match(r"^\d{2}/\d{2}/\d{4}$").fillna(False)
    written = written.fillna(pd.to_datetime(records["birth_date"].where(us), format="%m/%d/%Y"))
    assert (iso | us | records["birth_date"].isna()).all()  # only the two declared formats

    swapped = _has_code(records, "DOB_DAY_MONTH_SWAPPED")
    assert swapped.sum() > 0
    assert (written[swapped].dt.month == truth[swapped].dt.day).all()
    assert (written[swapped].dt.day == truth[swapped].dt.month).all()
    year = _has_code(records, "DOB_YEAR_OFF_BY_ONE")
    assert ((written[year].dt.year - truth[year].dt.year).abs() == 1).all()
    slip = _has_code(records, "DOB_DIGIT_SLIP")
    assert ((written[slip] - truth[slip]).abs() == pd.Timedelta(days=1)).all()
    default = _has_code(records, "DOB_DEFAULT_JAN1")
    assert ((written[default].dt.month == 1) & (written[default].dt.day == 1)).all()
    assert (written[default].dt.year == truth[default].dt.year).all()
    missing = _has_code(records, "DOB_MISSING")
    assert records["birth_date"][missing].isna().all()
    year_digit = _has_code(records, "DOB_YEAR_DIGIT")
    assert year_digit.sum() > 0
    assert _only_the_years_tens_digit_differs(written[year_digit], truth[year_digit]).all()
    on_top = _has_code(records, "DOB_ERROR_WITH_NAME_ERROR")
    assert on_top.sum() > 0
    assert (
        ((written[on_top] - truth[on_top]).abs() == pd.Timedelta(days=1))
        | ((written[on_top].dt.year - truth[on_top].dt.year).abs() == 1)
        | _only_the_years_tens_digit_differs(written[on_top], truth[on_top])
    ).all()
    untouched = ~(swapped | year | slip | default | missing | year_digit | on_top)
    assert (written[untouched] == truth[untouched]).all()


def _only_the_years_tens_digit_differs(written: pd.Series, truth: pd.Series) -> pd.Series:
    tens = (written.dt.year // 10 % 10) != (truth.dt.year // 10 % 10)
    same_rest = (written.dt.year // 100 == truth.dt.year // 100) & (
        written.dt.year % 10 == truth.dt.year % 10
    )
    # 29 February of the true year becomes 28 February when the keyed year is a common one
    same_day = (written.dt.month == truth.dt.month) & (
        (written.dt.day == truth.dt.day) | ((truth.dt.month == 2) & (truth.dt.day == 29))
    )
    return tens & same_rest & same_day


def test_mojibake_reads_utf8_bytes_as_windows_1252(default_run):
    records = default_run.records
    moji = _has_code(records, "ACCENT_MOJIBAKE")
    assert moji.sum() > 0
    names = records.loc[moji, list(NAME_FIELDS)].fillna("")
    assert names.apply(lambda col: col.str.contains("Ã")).any(axis=1).all()


def test_accents_follow_the_state_convention(default_run):
    records = default_run.records
    conventions = tables.state_conventions()
    dropping = records["state"].map(conventions["accents"]).eq("drop")
    assert not records.loc[dropping, "first_name"].dropna().map(str.isascii).eq(False).any()
    keeping = ~dropping & ~pd.Series(_has_code(records, "ACCENT_MOJIBAKE"))
    assert records.loc[keeping, "last_name_1"].dropna().str.contains("[ÁÉÍÓÚáéíóú]").any()


# --- error kinds seen in outside data (issue 13) ----------------------------------------------

ADDED_KINDS = (
    "given_replaced",
    "given_english_nickname",
    "given_two_typos",
    "given_placeholder",
    "middle_initial_only",
    "given_surname_swapped",
    "dob_year_digit",
    "dob_error_with_name_error",
)
# Kinds whose every draw is made for all records and which change no later draw: switching one
# off must change exactly the records that carried it.
LOCAL_KINDS = (
    "given_two_typos",
    "given_placeholder",
    "middle_initial_only",
    "given_surname_swapped",
    "dob_year_digit",
    "dob_error_with_name_error",
)
MISSPELT = ("GIVEN_TYPO", "GIVEN_TWO_TYPOS", "GIVEN_PHONETIC")


def _truth_of(run) -> pd.DataFrame:
    """One row of the true child per record, in record order."""
    children = run.children.set_index("S" + run.children["student"].astype(str).str.zfill(7))
    return children.loc[run.records["true_student_id"]].reset_index(drop=True)


def _any_code(records: pd.DataFrame, codes) -> np.ndarray:
    return np.logical_or.reduce([_has_code(records, c) for c in codes])


@pytest.mark.parametrize("kind", ADDED_KINDS)
def test_an_added_error_kind_never_appears_at_rate_zero(kind):
    run = generate_detailed(1500, seed=31, rates=replace(ErrorRates(), **{kind: 0.0}))
    code = kind.upper()
    assert run.eligible[code] > 0  # the records it could touch are there
    assert run.applied[code] == 0
    assert not _has_code(run.records, code).any()


@pytest.fixture(scope="module")
def paired_base():
    return generate_detailed(1500, seed=32)


@pytest.mark.parametrize("kind", LOCAL_KINDS)
def test_an_added_error_changes_only_its_records_and_keeps_their_truth(paired_base, kind):
    base = paired_base.records
    without = generate(1500, seed=32, rates=replace(ErrorRates(), **{kind: 0.0}))
    carried = _has_code(base, kind.upper())
    assert carried.sum() > 0
    inputs = list(schema.INPUT_COLUMNS)
    changed = (base[inputs].fillna("\0") != without[inputs].fillna("\0")).any(axis=1).to_numpy()
    assert changed[carried].all()
    assert not changed[~carried].any()
    for col in schema.TRUTH_COLUMNS:
        assert (base[col] == without[col]).all(), col

    on = base[carried]
    off = without[carried]
    if kind == "given_surname_swapped":
        assert (on["first_name"] == off["last_name_1"]).all()
        assert (on["last_name_1"] == off["first_name"]).all()
    elif kind == "middle_initial_only":
        assert (on["middle_name"].str.len() == 1).all()
        assert (on["middle_name"] == off["middle_name"].str[0]).all()
    elif kind == "given_two_typos":
        plain = ~_any_code(on, ("GIVEN_SURNAME_SWAPPED", "GIVEN_PLACEHOLDER"))
        assert plain.sum() > 0
        distance = [
            jellyfish.damerau_levenshtein_distance(a, b)
            for a, b in zip(on["first_name"][plain], off["first_name"][plain], strict=True)
        ]
        assert min(distance) >= 1 and max(distance) <= 2


def test_placeholder_names_go_only_to_records_without_a_birth_certificate(default_run):
    records = default_run.records
    placeholder = _has_code(records, "GIVEN_PLACEHOLDER")
    assert placeholder.sum() > 0
    assert not records["birth_date_verification"][placeholder].eq("BIRTH CERTIFICATE").any()
    truth = _truth_of(default_run)
    clean = placeholder & ~_has_code(records, "GIVEN_SURNAME_SWAPPED")
    written = _fold(records["first_name"])[clean]
    for sex in ("F", "M"):
        of_sex = truth["sex"][clean] == sex
        assert written[of_sex].isin(tables.placeholder_names(sex)).all(), sex


def test_a_replaced_given_name_is_the_childs_one_other_name(default_run):
    records, children = default_run.records, default_run.children
    assert (children["other_given"] != children["given"]).all()
    taken = pd.MultiIndex.from_frame(children[["family", "given"]])
    assert (
        not pd.MultiIndex.from_frame(
            children[["family", "other_given"]].set_axis(["family", "given"], axis=1)
        )
        .isin(taken)
        .any()
    )  # never a sibling's name either

    replaced = _has_code(records, "GIVEN_REPLACED")
    codes = records["true_error_types"].fillna("")
    other_given_codes = codes.str.replace("GIVEN_REPLACED", "").str.contains("GIVEN_|MOJIBAKE")
    plain = replaced & ~other_given_codes.to_numpy()
    assert plain.sum() > 0
    truth = _truth_of(default_run)
    assert (_fold(records["first_name"])[plain] == _fold(truth["other_given"])[plain]).all()


def test_english_nicknames_come_from_the_childs_own_name(default_run):
    records = default_run.records
    nicknamed = _has_code(records, "GIVEN_ENGLISH_NICKNAME")
    assert nicknamed.sum() > 0
    nicknames = tables.english_nicknames()
    variants = tables.name_variants().groupby("name")["variant"].agg(tuple).to_dict()

    def reachable(*names: str) -> set[str]:
        forms = {n for name in names for n in (name, *name.split(" "))}
        forms |= {v for f in list(forms) for v in variants.get(f, ())}
        return {nick for f in forms for nick in nicknames.get(f, ())}

    truth = _truth_of(default_run)
    clean = nicknamed & ~_any_code(
        records, (*MISSPELT, "GIVEN_PLACEHOLDER", "GIVEN_SURNAME_SWAPPED", "ACCENT_MOJIBAKE")
    )
    assert clean.sum() > 0
    for written, own, other in zip(
        _fold(records["first_name"])[clean],
        truth["given"][clean],
        truth["other_given"][clean],
        strict=True,
    ):
        assert written in reachable(own, other), written


def test_date_errors_meet_given_name_errors_more_often_than_by_chance(default_run):
    records = default_run.records
    date_wrong = records["true_error_types"].fillna("").str.contains("DOB_").to_numpy()
    misspelt = _any_code(records, MISSPELT)
    alone = float(date_wrong[~misspelt].mean())  # a date error where the name is right
    on_top = ErrorRates().dob_error_with_name_error
    expected = alone + (1 - alone) * on_top
    assert _within_binomial(int(date_wrong[misspelt].sum()), int(misspelt.sum()), expected)


def test_without_the_added_co_occurrence_date_and_name_errors_are_independent():
    run = generate_detailed(N_STUDENTS, seed=33, rates=ErrorRates(dob_error_with_name_error=0.0))
    date_wrong = run.records["true_error_types"].fillna("").str.contains("DOB_").to_numpy()
    misspelt = _any_code(run.records, MISSPELT)
    alone = float(date_wrong[~misspelt].mean())
    assert _within_binomial(int(date_wrong[misspelt].sum()), int(misspelt.sum()), alone)


@settings(max_examples=200, deadline=None)
@given(name=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZÁÉÍÓÚÑ ", min_size=1, max_size=20))
def test_two_keying_slips_are_one_or_two_edits_away(name):
    if not any(c.isalpha() for c in name):
        assert two_keying_slips(name, 3) == name  # nothing to slip on
        return
    for key in range(4):
        slipped = two_keying_slips(name, key)
        assert 1 <= jellyfish.damerau_levenshtein_distance(name, slipped) <= 2


# --- families --------------------------------------------------------------------------------


def test_twins_share_everything_but_given_names(clean_run):
    children = clean_run.children
    multiples = children[children["multiple_birth"]]
    assert multiples["multiple_group"].nunique() >= 10
    for col in ("family", "birth_date", "paternal", "maternal", "birth_country"):
        assert (multiples.groupby("multiple_group")[col].nunique() == 1).all(), col
    assert (
        multiples.groupby("multiple_group")["given"].nunique()
        == multiples.groupby("multiple_group").size()
    ).all()
    # in the records too: twins have the same written birth date and surnames
    records = clean_run.records
    twin_ids = "S" + multiples["student"].astype(str).str.zfill(7)
    twin_records = records[records["true_student_id"].isin(twin_ids)]
    same_family = twin_records.groupby(["true_family_id", "state"])
    assert (same_family["last_name_1"].nunique() == 1).all()


def test_some_twins_share_their_sex_and_some_do_not(clean_run):
    multiples = clean_run.children[clean_run.children["multiple_birth"]]
    sexes = multiples.groupby("multiple_group")["sex"].nunique()
    assert (sexes == 1).any() and (sexes == 2).any()


def test_siblings_share_surnames_and_parents_not_birth_dates(clean_run):
    children = clean_run.children
    families = children.groupby("family")
    big = families.size() >= 2
    shared = ["paternal", "maternal", "father_given", "mother_given", "father_s2", "mother_s2"]
    for col in shared:
        assert (families[col].nunique()[big] == 1).all(), col
    singles = children[~children["multiple_birth"]]
    by_family = singles.sort_values(["family", "birth_date"]).groupby("family")["birth_date"]
    gaps = by_family.diff().dropna()
    assert len(gaps) > 100 and (gaps >= pd.Timedelta(days=300)).all()
    assert (families["given"].nunique() == families.size()).all()


def test_cousins_share_the_paternal_surname_of_another_family(clean_run):
    children = clean_run.children
    cousins = children[children["cousin_of_family"] >= 0]
    assert cousins["family"].nunique() >= 20
    father_of = children.groupby("family")[["father_s1", "father_s2"]].first()
    related = father_of.loc[cousins["cousin_of_family"]].reset_index(drop=True)
    assert (cousins["father_s1"].reset_index(drop=True) == related["father_s1"]).all()
    assert (cousins["father_s2"].reset_index(drop=True) == related["father_s2"]).all()
    assert (cousins["paternal"] == cousins["father_s1"]).all()


def test_common_surnames_cover_about_a_quarter_of_fathers(default_run):
    top = tables.surnames()
    top_names = set(top.names[:26])
    fathers = default_run.children.drop_duplicates("family")
    originals = fathers[fathers["cousin_of_family"] < 0]  # cousins copy an uncle's surname
    hits = int(originals["father_s1"].isin(top_names).sum())
    assert _within_binomial(hits, len(originals), float(top.probs[:26].sum()))
    assert abs(float(top.probs[:26].sum()) - 0.25) < 0.01


def test_compound_given_names_and_nicknames_occur(default_run):
    records = default_run.records
    first = _fold(records["first_name"]).dropna()
    assert first.str.contains(" ").any()  # MARIA GUADALUPE kept whole
    assert first.isin(["LUPE", "PEPE", "CHUY", "PACO", "JOSEPH", "JOHN"]).any()


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_same_seed_gives_the_same_file_byte_for_byte(tmp_path, suffix):
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    write(generate(400, seed=7), a)
    write(generate(400, seed=7), b)
    assert a.read_bytes() == b.read_bytes()
    back = pd.read_parquet(a) if suffix == ".parquet" else pd.read_csv(a, dtype=str)
    assert len(back) == len(generate(400, seed=7))


def test_different_seeds_give_different_records():
    a, b = generate(400, seed=7), generate(400, seed=8)
    assert not a.equals(b)
    assert set(a["first_name"].dropna()) != set(b["first_name"].dropna())


def test_write_refuses_an_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        write(generate(5, seed=1), tmp_path / "records.xlsx")


def test_every_rate_field_has_a_documented_code():
    assert [f.name.upper() for f in fields(ErrorRates)] == list(ERROR_CODES)


# --- the standardizer accepts what the generator writes --------------------------------------

standardize_module = pytest.importorskip("migrant_linkage.standardize")


def test_generated_records_standardize_with_zero_rejects_at_default_rates(default_run):
    result = standardize_module.standardize(default_run.records)
    assert result.counts["rejected"] == 0
    assert result.counts["standardized"] == len(default_run.records)
    flags = result.standardized["quality_flags"].fillna("")
    assert not flags.str.contains("BIRTH_DATE_UNPARSEABLE|STATE_UNRECOGNISED").any()
    assert not flags.str.contains("BIRTH_PLACE_UNRECOGNISED|SEX_UNRECOGNISED").any()


def test_clean_records_standardize_to_the_true_birth_date(clean_run):
    result = standardize_module.standardize(clean_run.records)
    std = result.standardized
    truth = (
        clean_run.children["birth_date"]
        .astype(str)
        .to_numpy()[std["true_student_id"].str[1:].astype(int).to_numpy()]
    )
    assert (std["birth_date_std"].to_numpy() == truth).all()


def test_requested_reject_rates_give_exactly_that_many_rejects():
    rates = ErrorRates(reject_missing_record_id=0.02, reject_missing_name=0.03)
    run = generate_detailed(1500, seed=21, rates=rates)
    result = standardize_module.standardize(run.records)
    counts = result.counts
    assert counts["rejected_MISSING_RECORD_ID"] == run.applied["REJECT_MISSING_RECORD_ID"] > 0
    assert counts["rejected_MISSING_NAME"] == run.applied["REJECT_MISSING_NAME"] > 0
    assert (
        counts["rejected"] == counts["rejected_MISSING_RECORD_ID"] + counts["rejected_MISSING_NAME"]
    )
