"""Course-title normalization: the state styles become one form, and the function is safe on
anything a state file can hold."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrant_linkage.courses.normalize import (
    DATA_DIR,
    TERM_TABLES,
    load_terms,
    normalize_title,
    normalize_titles,
    read_term_rows,
    split_title,
)

TERMS = load_terms()
TABLE_WORDS = sorted({w for form in TERMS.expansions for w in form.split()})

#: Titles built from the tables' own words, accents, punctuation and numbers: the inputs where
#: the tables could interact (one expansion creating another form).
title_like = st.lists(
    st.one_of(
        st.sampled_from(TABLE_WORDS),
        st.sampled_from(["ÁLGEBRA", "INGLÉS", "ESPAÑOL", "Matemáticas", "(H)", "9th", "ALG1H"]),
        st.from_regex(r"[0-9]{1,3}", fullmatch=True),
        st.sampled_from([".", "-", "/", "&", " ", "(", ")", "'"]),
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=300)
@given(st.one_of(st.text(), title_like))
def test_normalizing_a_normalized_title_changes_nothing(title):
    once = normalize_title(title)
    assert normalize_title(once) == once


@settings(max_examples=300)
@given(st.one_of(st.text(), st.none(), st.integers(), st.floats()))
def test_normalization_never_crashes_and_keeps_only_letters_digits_and_single_spaces(value):
    result = normalize_title(value)
    assert isinstance(result, str)
    assert re.fullmatch(r"(?:[A-Z0-9]+(?: [A-Z0-9]+)*)?", result)


ascii_title = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-()/"),
    st.lists(st.sampled_from(TABLE_WORDS), max_size=6).map(" ".join),
)
_ACCENTED = str.maketrans("aeiounAEIOUN", "áéíóúñÁÉÍÓÚÑ")


@settings(max_examples=300)
@given(ascii_title)
def test_accents_and_case_do_not_change_the_normalized_title(title):
    expected = normalize_title(title)
    assert normalize_title(title.lower()) == expected
    assert normalize_title(title.upper().translate(_ACCENTED)) == expected
    assert normalize_title(unicodedata.normalize("NFD", title.translate(_ACCENTED))) == expected


@pytest.mark.parametrize(
    ("state_style", "expected"),
    [
        ("ALG I", "ALGEBRA 1"),
        ("Algebra 1", "ALGEBRA 1"),
        ("ALGEBRA-I", "ALGEBRA 1"),
        ("ÁLGEBRA I", "ALGEBRA 1"),
        ("ALG1", "ALGEBRA 1"),
    ],
)
def test_algebra_one_written_any_state_way_is_one_title(state_style, expected):
    assert normalize_title(state_style) == expected


@pytest.mark.parametrize("marker", ["HONORS", "HON", "(H)", "H", "Hnrs", "Honores"])
def test_every_honors_marker_becomes_honors(marker):
    assert split_title(normalize_title(f"Geometry {marker}")).markers == "HONORS"


def test_advanced_placement_spelled_out_is_ap():
    assert normalize_title("Advanced Placement Biology") == normalize_title("AP Bio")


@pytest.mark.parametrize(
    ("spanish", "english"),
    [
        ("MATEMÁTICAS 8", "Math 8"),
        ("INGLÉS I", "English 1"),
        ("Historia de Estados Unidos", "US History"),
        ("Educación Física", "P.E."),
        ("Biología", "Biology"),
        ("Español para hispanohablantes I", "Spanish for Native Speakers I"),
    ],
)
def test_spanish_titles_read_as_their_english_course(spanish, english):
    assert sorted(normalize_title(spanish).split()) == sorted(normalize_title(english).split())


@pytest.mark.parametrize(
    ("dotted", "joined"), [("A.P. Biology", "AP Biology"), ("U.S. Hist", "US Hist")]
)
def test_letters_written_with_full_stops_are_one_word(dotted, joined):
    assert normalize_title(dotted) == normalize_title(joined)


def test_ordinals_and_leading_zeros_become_plain_numbers():
    assert normalize_title("ENGLISH 09") == "ENGLISH 9"
    assert normalize_title("9th Grade English") == "9 ENGLISH"


def test_split_title_separates_words_numbers_and_level():
    parts = split_title(normalize_title("AP Calculus AB"))
    assert (parts.core, parts.numbers, parts.markers) == ("CALCULUS AB", "", "AP")
    parts = split_title(normalize_title("Algebra II (H)"))
    assert (parts.core, parts.numbers, parts.markers) == ("ALGEBRA", "2", "HONORS")


def test_a_column_is_normalized_once_per_distinct_title_and_keeps_missing_rows():
    column = pd.Series(["ALG I", None, "ALG I", "Geom"], dtype="str")
    assert normalize_titles(column).tolist() == ["ALGEBRA 1", "", "ALGEBRA 1", "GEOMETRY"]


def test_every_word_table_row_names_its_source():
    for name in TERM_TABLES:
        rows = read_term_rows(DATA_DIR / name)
        assert (rows["source"].str.strip() != "").all(), name


def test_no_expansion_is_itself_rewritten_by_the_tables():
    """An expansion is final: running the tables over it gives it back, so tables cannot loop."""
    for form, expansion in TERMS.expansions.items():
        assert normalize_title(expansion) == " ".join(dict.fromkeys(expansion.split())), form


def test_a_form_listed_in_two_tables_is_refused(tmp_path):
    for name in TERM_TABLES:
        (tmp_path / name).write_text(
            "form,expansion,kind,note,source\nALG,ALGEBRA,abbreviation,,test\n", encoding="utf-8"
        )
    with pytest.raises(ValueError, match="more than once"):
        load_terms.__wrapped__(tmp_path)
