"""Remembered course mappings: a data specialist's decision maps the next file by itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from migrant_linkage.cli import main
from migrant_linkage.courses import (
    CourseFileError,
    decisions_from_review,
    example_catalogue_path,
    map_titles,
    read_catalogue,
    read_mappings,
    remember,
)

CATALOGUE = read_catalogue(example_catalogue_path())
CAT = str(example_catalogue_path())


def _decision(state="TX", code=None, title="ALG I", course="EX-MA-ALG1", decision="accepted"):
    return pd.DataFrame(
        {
            "state": [state],
            "code": pd.Series([code], dtype="str"),
            "title": [title],
            "course_id": [course],
            "decision": [decision],
        }
    )


def _first(result) -> pd.Series:
    return result.suggestions.iloc[0]


def test_a_remembered_mapping_wins_over_the_suggestions_and_says_so(tmp_path):
    store = tmp_path / "mappings.csv"
    # Map ALG I to the honors course: not what the scorer would put first.
    remember(store, _decision(course="EX-MA-ALG1H", decision="corrected"), CATALOGUE)
    result = map_titles(
        pd.DataFrame({"title": ["Alg. I"]}), CATALOGUE, state="TX", mappings=read_mappings(store)
    )
    first = _first(result)
    assert (first["course_id"], first["match"], first["score"]) == (
        "EX-MA-ALG1H",
        "remembered",
        100,
    )
    assert "remembered" in first["reasons"] and "TX" in first["reasons"]
    assert result.counts["remembered"] == 1 and result.counts["suggested"] == 0


def test_a_mapping_remembered_for_one_state_does_not_map_another_states_file(tmp_path):
    store = tmp_path / "mappings.csv"
    remember(store, _decision(state="TX", course="EX-MA-ALG1H"), CATALOGUE)
    result = map_titles(
        pd.DataFrame({"title": ["ALG I"]}), CATALOGUE, state="CA", mappings=read_mappings(store)
    )
    assert _first(result)["match"] == "suggested"


def test_a_remembered_mapping_needs_the_same_course_code(tmp_path):
    store = tmp_path / "mappings.csv"
    remember(store, _decision(code="03100", course="EX-MA-ALG1H"), CATALOGUE)
    titles = pd.DataFrame({"title": ["ALG I", "ALG I"], "code": ["03100", "03101"]})
    result = map_titles(titles, CATALOGUE, state="TX", mappings=read_mappings(store))
    by_row = result.suggestions[result.suggestions["rank"] == 1].set_index("row")["match"]
    assert by_row.to_dict() == {1: "remembered", 2: "suggested"}


def test_a_correction_replaces_the_remembered_course_and_keeps_the_old_id(tmp_path):
    store = tmp_path / "mappings.csv"
    remember(store, _decision(course="EX-MA-ALG1"), CATALOGUE)
    update = remember(store, _decision(title="alg 1", course="EX-MA-ALG1H"), CATALOGUE)
    assert (update.added, update.replaced) == (0, 1)
    rows = read_mappings(store)
    assert rows[["course_id", "replaced_course_id"]].values.tolist() == [
        ["EX-MA-ALG1H", "EX-MA-ALG1"]
    ]


def test_remembering_the_same_decision_twice_changes_nothing(tmp_path):
    store = tmp_path / "mappings.csv"
    remember(store, _decision(), CATALOGUE, now=datetime(2026, 1, 1, tzinfo=UTC))
    update = remember(store, _decision(), CATALOGUE, now=datetime(2026, 2, 1, tzinfo=UTC))
    assert (update.added, update.replaced, update.unchanged) == (0, 0, 1)
    assert read_mappings(store)["decided_at"].tolist() == ["2026-01-01T00:00:00Z"]


def test_a_course_id_outside_the_catalogue_is_refused_and_nothing_is_written(tmp_path):
    store = tmp_path / "mappings.csv"
    with pytest.raises(CourseFileError, match="not in catalogue"):
        remember(store, _decision(course="MATH-101"), CATALOGUE)
    assert not store.exists()


def test_a_remembered_course_no_longer_in_the_catalogue_falls_back_to_suggestions(tmp_path):
    store = tmp_path / "mappings.csv"
    remember(store, _decision(course="EX-MA-ALG1H"), CATALOGUE)
    smaller = read_catalogue(CATALOGUE.courses[CATALOGUE.courses["course_id"] != "EX-MA-ALG1H"])
    result = map_titles(
        pd.DataFrame({"title": ["ALG I"]}), smaller, state="TX", mappings=read_mappings(store)
    )
    assert (_first(result)["course_id"], _first(result)["match"]) == ("EX-MA-ALG1", "suggested")


def _review(tmp_path, decisions: dict[str, str]):
    titles = pd.DataFrame({"title": list(decisions)})
    review = map_titles(titles, CATALOGUE, state="TX").review
    review["decision"] = review["title"].map(decisions)
    path = tmp_path / "review.csv"
    review.to_csv(path, index=False)
    return path, review


def test_review_decisions_accept_take_a_rank_correct_or_skip(tmp_path):
    path, review = _review(
        tmp_path, {"ALG I": "accept", "Geom": "2", "Biologia": "", "Chem": "EX-SC-CHEMH"}
    )
    decisions = decisions_from_review(path, "TX", CATALOGUE).set_index("title")
    by_title = review.set_index("title")
    assert decisions.loc["ALG I", "course_id"] == by_title.loc["ALG I", "course_id_1"]
    assert decisions.loc["ALG I", "decision"] == "accepted"
    assert decisions.loc["Geom", "course_id"] == by_title.loc["Geom", "course_id_2"]
    assert decisions.loc["Geom", "decision"] == "corrected"
    assert "Biologia" not in decisions.index
    assert decisions.loc["Chem", "course_id"] == "EX-SC-CHEMH"


def test_an_unreadable_review_decision_names_its_row_and_nothing_is_remembered(tmp_path):
    path, _ = _review(tmp_path, {"ALG I": "accept", "Geom": "maybe", "Chem": ""})
    with pytest.raises(CourseFileError, match=r"data row\(s\) \[\d\]"):
        decisions_from_review(path, "TX", CATALOGUE)


def test_map_accept_map_again_on_the_command_line(tmp_path, capsys):
    titles = tmp_path / "tx.csv"
    titles.write_text("code,title,grade\n03100,ALG I,9\n,MATEMATICAS 8,8\n,,9\n", encoding="utf-8")
    store, out = tmp_path / "tx_mappings.csv", tmp_path / "run1"
    base = ["--catalogue", CAT, "--state", "tx", "--mappings", str(store)]
    assert main(["courses", "map", str(titles), *base, "--out", str(out)]) == 0
    assert "2 suggested, 1 rejected" in capsys.readouterr().out
    review = pd.read_csv(out / "course_review.csv", dtype=str, keep_default_na=False)
    review["decision"] = "accept"
    review.to_csv(out / "course_review.csv", index=False)
    assert main(["courses", "accept", str(out / "course_review.csv"), *base]) == 0
    assert "2 new" in capsys.readouterr().out
    assert main(["courses", "map", str(titles), *base, "--out", str(tmp_path / "run2")]) == 0
    assert "2 remembered, 0 suggested, 1 rejected" in capsys.readouterr().out
    rejects = pd.read_csv(tmp_path / "run2" / "course_rejects.csv")
    assert rejects["reason"].tolist() == ["title_missing"]


def test_correct_on_the_command_line_replaces_a_mapping(tmp_path, capsys):
    store = tmp_path / "m.csv"
    base = ["--catalogue", CAT, "--state", "TX", "--mappings", str(store)]
    assert main(["courses", "correct", *base, "--title", "ALG I", "--course", "EX-MA-ALG1"]) == 0
    assert main(["courses", "correct", *base, "--title", "ALG. I", "--course", "EX-MA-PALG"]) == 0
    assert "replaced" in capsys.readouterr().out
    assert read_mappings(store)["course_id"].tolist() == ["EX-MA-PALG"]


def test_command_line_errors_exit_2_with_a_message(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert (
        main(
            [
                "courses",
                "map",
                str(missing),
                "--catalogue",
                CAT,
                "--state",
                "TX",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "file not found" in capsys.readouterr().err
    bad_cat = tmp_path / "cat.csv"
    bad_cat.write_text("course_id,title\nA,Algebra\nA,Geometry\n", encoding="utf-8")
    titles = tmp_path / "t.csv"
    titles.write_text("title\nALG I\n", encoding="utf-8")
    code = main(
        [
            "courses",
            "map",
            str(titles),
            "--catalogue",
            str(bad_cat),
            "--state",
            "TX",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "repeated" in capsys.readouterr().err


@pytest.mark.parametrize("action", [[], ["map"], ["accept"], ["correct"]])
def test_every_courses_action_has_help(action, capsys):
    with pytest.raises(SystemExit) as done:
        main(["courses", *action, "--help"])
    assert done.value.code == 0
    assert "usage: migrant-linkage courses" in capsys.readouterr().out
