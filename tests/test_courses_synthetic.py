"""Synthetic course titles in state styles, and the hand-labelled set the benchmark reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from migrant_linkage.courses import example_catalogue_path, read_catalogue
from migrant_linkage.synthetic.courses import COURSE_STYLE_STATES, generate_course_titles

CATALOGUE = read_catalogue(example_catalogue_path())
LABELLED = Path(__file__).parent / "data" / "course_titles_labelled.csv"


@pytest.fixture(scope="module")
def titles() -> pd.DataFrame:
    return generate_course_titles(3000, seed=7)


def test_the_same_seed_gives_the_same_titles():
    pd.testing.assert_frame_equal(
        generate_course_titles(200, seed=3), generate_course_titles(200, seed=3)
    )
    assert not generate_course_titles(200, seed=3).equals(generate_course_titles(200, seed=4))


def test_every_generated_title_names_a_catalogue_course_as_its_truth(titles):
    assert titles["true_course_id"].isin(CATALOGUE.courses["course_id"]).all()
    assert titles["title"].notna().all()


def test_every_state_style_is_used(titles):
    assert set(titles["state"]) == set(COURSE_STYLE_STATES)


def test_titles_come_in_the_styles_the_issue_names(titles):
    styles = set(titles["true_styles"].dropna().str.split(";").explode())
    assert {"abbreviated", "honors", "ap", "spanish", "typo", "numerals_arabic"} <= styles
    spanish = titles[titles["true_styles"].fillna("").str.contains("spanish")]
    assert spanish["title"].str.contains("[ÁÉÍÓÚÑ]").any()


def test_one_state_sends_one_code_for_one_course(titles):
    coded = titles.dropna(subset=["code"])
    codes_per_course = coded.groupby(["state", "true_course_id"])["code"].nunique()
    assert (codes_per_course == 1).all()


def test_a_styled_title_differs_from_the_catalogue_title(titles):
    """Styles must change the text a state sends, else the benchmark measures nothing."""
    exact = titles["title"].isin(CATALOGUE.variants["variant"])
    styled = titles["true_styles"].notna()
    assert (~exact[styled]).mean() > 0.9


def test_the_generator_refuses_unknown_states_and_bad_sizes():
    with pytest.raises(ValueError, match="states"):
        generate_course_titles(10, states=["ZZ"])
    with pytest.raises(ValueError, match="n_titles"):
        generate_course_titles(0)


def test_the_hand_labelled_set_is_well_formed():
    labelled = pd.read_csv(LABELLED, dtype=str, keep_default_na=False, na_values=[""])
    assert labelled["true_course_id"].isin(CATALOGUE.courses["course_id"]).all()
    assert labelled["source"].notna().all() and labelled["title"].notna().all()
    # Written in state styles, not copied: no title is written exactly as the catalogue has it
    # more than a few times (the benchmark prints how many normalize to a catalogue title).
    assert labelled["title"].isin(CATALOGUE.variants["variant"]).sum() < len(labelled) / 4
