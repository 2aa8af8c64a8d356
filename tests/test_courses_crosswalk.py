"""The course crosswalk: which catalogue course a state's title is placed in, and why."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrant_linkage.courses import (
    CourseFileError,
    example_catalogue_path,
    map_titles,
    read_catalogue,
)
from migrant_linkage.courses import crosswalk as crosswalk_module

CATALOGUE = read_catalogue(example_catalogue_path())


def _top(title: str, **given) -> pd.Series:
    frame = pd.DataFrame({"title": [title], **{k: [v] for k, v in given.items()}})
    result = map_titles(frame, CATALOGUE, state="TX")
    return result.suggestions.iloc[0]


def _ranked(title: str, **given) -> list[str]:
    frame = pd.DataFrame({"title": [title], **{k: [v] for k, v in given.items()}})
    return map_titles(frame, CATALOGUE, state="TX").suggestions["course_id"].tolist()


@pytest.mark.parametrize(
    ("title", "course"),
    [
        ("ALG I", "EX-MA-ALG1"),
        ("Algebra 1", "EX-MA-ALG1"),
        ("ÁLGEBRA I", "EX-MA-ALG1"),
        ("ALGEBRA II", "EX-MA-ALG2"),
        ("Geom", "EX-MA-GEOM"),
        ("US Hist", "EX-SS-USH"),
        ("P.E.", "EX-PE-HS"),
    ],
)
def test_state_abbreviations_find_the_catalogue_course(title, course):
    assert _top(title)["course_id"] == course


def test_honors_title_puts_the_honors_course_first_and_the_regular_one_next():
    assert _ranked("ALGEBRA 1 (H)")[:2] == ["EX-MA-ALG1H", "EX-MA-ALG1"]


def test_the_review_says_how_far_the_first_candidate_leads_when_both_score_100():
    title = pd.DataFrame({"title": ["ALGEBRA 1 (H)"], "subject": ["MATH"], "grade": ["9"]})
    review = map_titles(title, CATALOGUE, state="TX").review
    assert review[["score_1", "score_2"]].values.tolist() == [[100.0, 100.0]]
    assert review["lead"].iloc[0] > 0


@pytest.mark.parametrize("title", ["Biology", "Algebra I", "English 10", "US History"])
def test_a_regular_title_is_never_placed_in_honors_or_ap_first(title):
    top = _top(title)
    level = CATALOGUE.variants.loc[
        CATALOGUE.variants["course_index"]
        == CATALOGUE.courses.index[CATALOGUE.courses["course_id"] == top["course_id"]][0],
        "markers",
    ]
    assert set(level) == {""}, top["course_id"]


def test_an_honors_title_falls_back_to_the_regular_course_when_the_catalogue_has_no_honors_one():
    top = _top("Physics Honors")
    assert top["course_id"] == "EX-SC-PHY"
    assert "level HONORS vs regular" in top["reasons"]


def test_algebra_one_ranks_algebra_two_below_every_algebra_one_course():
    frame = pd.DataFrame({"title": ["ALG 1"]})
    everything = map_titles(frame, CATALOGUE, state="TX", top=len(CATALOGUE.courses))
    ranked = everything.suggestions["course_id"].tolist()
    assert ranked[:2] == ["EX-MA-ALG1", "EX-MA-ALG1H"]
    assert ranked.index("EX-MA-ALG2") > 1


def test_a_typo_still_finds_the_course_and_names_the_typo():
    top = _top("CHEMESTRY")
    assert top["course_id"] == "EX-SC-CHEM"
    assert "CHEMESTRY~CHEMISTRY" in top["reasons"]


@pytest.mark.parametrize(
    ("spanish", "course"),
    [
        ("MATEMÁTICAS 8", "EX-MA-08"),
        ("INGLÉS I", "EX-EN-1"),
        ("Biología", "EX-SC-BIO"),
        ("Historia de Estados Unidos", "EX-SS-USH"),
        ("Español para hispanohablantes I", "EX-WL-SNS1"),
    ],
)
def test_a_spanish_title_is_placed_in_its_english_course(spanish, course):
    assert _top(spanish)["course_id"] == course


def test_a_course_is_found_by_its_alias():
    top = _top("ENGLISH 9")
    assert top["course_id"] == "EX-EN-1"
    assert "English 9" in top["reasons"]


def test_the_grade_decides_between_grade_level_courses():
    assert _top("MATH", grade="7")["course_id"] == "EX-MA-07"
    assert _top("MATH", grade="06")["course_id"] == "EX-MA-06"


def test_a_subject_that_disagrees_lowers_the_score_and_says_so():
    agree = _top("Biology", subject="Science")
    differ = _top("Biology", subject="Mathematics")
    assert agree["course_id"] == differ["course_id"] == "EX-SC-BIO"
    assert agree["score"] > differ["score"]
    assert "subject differs" in differ["reasons"]


def test_reasons_name_the_matched_words_and_the_number():
    reasons = _top("ALG I")["reasons"]
    assert "matched ALGEBRA" in reasons and "number 1 agrees" in reasons


def test_unreadable_grade_or_credits_are_ignored_not_fatal():
    top = _top("Geometry", grade="ninth", credits="one")
    assert top["course_id"] == "EX-MA-GEOM"


def test_empty_and_wordless_titles_are_rejected_with_a_reason():
    frame = pd.DataFrame({"title": ["ALG I", None, "  ", "-- / --"]})
    result = map_titles(frame, CATALOGUE, state="TX")
    assert result.rejects[["row", "reason"]].values.tolist() == [
        [2, "title_missing"],
        [3, "title_missing"],
        [4, "title_without_words"],
    ]
    assert result.counts["rows"] == 4 and result.counts["mapped"] == 1


def test_each_row_gets_top_n_candidates_ranked_by_score():
    result = map_titles(
        pd.DataFrame({"title": ["Geometry", "Chemistry"]}), CATALOGUE, state="TX", top=4
    )
    for _, ranks in result.suggestions.groupby("row"):
        assert ranks["rank"].tolist() == [1, 2, 3, 4]
        assert ranks["score"].is_monotonic_decreasing
        assert ranks["score"].between(0, 100).all()


def test_the_same_title_in_many_rows_is_scored_once(monkeypatch):
    seen = []
    real = crosswalk_module._total_scores

    def counting(left, right, same_subject):
        seen.append(len(left.core))
        return real(left, right, same_subject)

    monkeypatch.setattr(crosswalk_module, "_total_scores", counting)
    frame = pd.DataFrame({"title": ["ALG I", "Alg. I", "ALGEBRA 1"] * 50})
    result = map_titles(frame, CATALOGUE, state="TX")
    assert sum(seen) == 1
    assert result.counts["mapped"] == 150


def test_scoring_in_small_chunks_gives_the_same_suggestions(monkeypatch):
    frame = pd.DataFrame({"title": ["ALG I", "Geom H", "Biologia", "AP Calc BC", "Eng 11"]})
    whole = map_titles(frame, CATALOGUE, state="TX").suggestions
    monkeypatch.setattr(crosswalk_module, "_CHUNK_CELLS", 1)
    chunked = map_titles(frame, CATALOGUE, state="TX").suggestions
    pd.testing.assert_frame_equal(whole, chunked)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=12))
def test_every_row_is_mapped_or_rejected_exactly_once(titles):
    frame = pd.DataFrame({"title": pd.Series(titles, dtype="str")})
    result = map_titles(frame, CATALOGUE, state="TX", top=2)
    mapped = set(result.suggestions["row"])
    rejected = set(result.rejects["row"])
    assert mapped.isdisjoint(rejected)
    assert mapped | rejected == set(range(1, len(titles) + 1))
    assert result.counts["rows"] == result.counts["mapped"] + result.counts["rejected"]


def test_a_bad_state_code_is_a_usage_error():
    with pytest.raises(CourseFileError, match="two-letter"):
        map_titles(pd.DataFrame({"title": ["ALG I"]}), CATALOGUE, state="Texas")


# --- the catalogue ---------------------------------------------------------------------------


def test_the_shipped_catalogue_is_labelled_as_an_example_in_every_row():
    rows = pd.read_csv(example_catalogue_path(), dtype=str)
    assert rows["source"].str.contains("EXAMPLE").all()
    assert rows["source"].str.contains("not an official").all()


def _catalogue(tmp_path, text: str):
    path = tmp_path / "cat.csv"
    path.write_text(text, encoding="utf-8")
    return read_catalogue(path)


def test_a_catalogue_without_course_id_says_which_column_is_missing(tmp_path):
    with pytest.raises(CourseFileError, match=r"course_id"):
        _catalogue(tmp_path, "id,title\nA,Algebra I\n")


def test_a_repeated_course_id_is_refused_with_its_rows(tmp_path):
    with pytest.raises(CourseFileError, match=r"repeated in data row\(s\) 1, 3"):
        _catalogue(tmp_path, "course_id,title\nA,Algebra I\nB,Geometry\nA,Algebra II\n")


def test_an_unreadable_catalogue_grade_is_refused_with_its_row(tmp_path):
    with pytest.raises(CourseFileError, match=r"grade not readable in data row\(s\) 2"):
        _catalogue(tmp_path, "course_id,title,grade\nA,Algebra I,9\nB,Geometry,tenth\n")


def test_catalogue_grades_read_kindergarten_and_ranges(tmp_path):
    cat = _catalogue(tmp_path, "course_id,title,grade\nA,Reading,K-2\nB,Geometry,9 - 10\nC,Art,\n")
    assert cat.courses["grade_low"].tolist()[:2] == [0, 9]
    assert cat.courses["grade_high"].tolist()[:2] == [2, 10]
    assert pd.isna(cat.courses["grade_low"].iloc[2])


def test_a_grade_stored_as_a_number_is_read(tmp_path):
    path = tmp_path / "titles.parquet"
    pd.DataFrame({"title": ["MATH"], "grade": [7.0]}).to_parquet(path)
    assert _top_of(map_titles(path, CATALOGUE, state="TX")) == "EX-MA-07"


def _top_of(result) -> str:
    return result.suggestions.iloc[0]["course_id"]


def test_an_empty_catalogue_file_is_a_clear_error(tmp_path):
    with pytest.raises(CourseFileError, match="empty"):
        _catalogue(tmp_path, "")


def test_a_cp1252_catalogue_is_read(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_bytes("course_id,title\nA,Álgebra I\n".encode("cp1252"))
    assert read_catalogue(path).variants["key"].tolist() == ["ALGEBRA 1"]


def test_a_titles_file_without_its_header_row_does_not_echo_the_first_row(tmp_path):
    path = tmp_path / "enrolments.csv"
    path.write_text("GARCIA LOPEZ,MARIA,2010-04-03\nRUIZ,JOSE,2011-01-09\n", encoding="utf-8")
    with pytest.raises(CourseFileError) as error:
        map_titles(path, CATALOGUE, state="TX")
    assert "title" in str(error.value)
    assert "GARCIA" not in str(error.value) and "2010" not in str(error.value)


def test_a_header_with_a_control_character_is_not_echoed_raw(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('code,"ti\x1b[2Jtle"\n1,ALG I\n', encoding="utf-8")
    with pytest.raises(CourseFileError) as error:
        map_titles(path, CATALOGUE, state="TX")
    assert "\x1b" not in str(error.value)
