"""The model: unsupervised training learns "same child", not "same family"; labels, priors,
save/load and the shipped default model."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.model import (
    MAX_GIVEN_NAME_ELSE_WEIGHT,
    MIN_EXACT_BIRTH_DATE_WEIGHT,
    Model,
    ModelCheckError,
    ModelNotTrainedError,
    apply_priors,
    check_weights,
    untrained_settings,
)
from migrant_linkage.standardize import standardize


@pytest.fixture(scope="module")
def standardized() -> pd.DataFrame:
    records = synthetic.generate(1500, seed=11)
    return standardize(records, source_name="synthetic").standardized


@pytest.fixture(scope="module")
def trained(standardized) -> Model:
    return Model().train(standardized, seed=1, max_u_pairs=2e5, check=False)


def _weight(model: Model, comparison: str, level: str) -> float:
    weights = model.weights().set_index(["comparison", "level"])["match_weight"]
    return float(weights[(comparison, level)])


def test_trained_model_gives_an_exact_birth_date_strong_positive_weight(trained):
    assert _weight(trained, "birth_date", "exact") > 4


def test_trained_model_gives_different_given_names_strong_negative_weight(trained):
    assert _weight(trained, "given_name", "else") < -4


def test_training_learns_child_not_family_surnames_agree_more_among_matches(trained):
    """EM learnt on blocks that keep families apart: the same surnames are strong evidence,
    surnames sharing nothing strong evidence against."""
    assert _weight(trained, "surname", "exact_set") > 4
    assert _weight(trained, "surname", "else") < -4


def test_weights_table_has_one_row_per_level(trained):
    weights = trained.weights()
    assert list(weights.columns) == [
        "comparison",
        "level",
        "description",
        "m_probability",
        "u_probability",
        "match_weight",
    ]
    assert not weights.duplicated(["comparison", "level"]).any()
    assert set(weights["comparison"]) >= {"surname", "given_name", "birth_date", "parents"}


def test_save_and_load_round_trip(trained, tmp_path):
    path = tmp_path / "model.json"
    trained.save(path)
    loaded = Model.load(path)
    pd.testing.assert_frame_equal(loaded.weights(), trained.weights())
    assert not list(tmp_path.glob("*.tmp"))


def test_load_of_a_non_model_file_says_what_is_wrong(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match="no 'comparisons'"):
        Model.load(path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Model.load(tmp_path / "missing.json")


def test_untrained_model_refuses_to_report_weights():
    with pytest.raises(ModelNotTrainedError, match="train"):
        Model().weights()


def test_default_model_ships_trained_and_sensible():
    model = Model.default()
    assert model.is_trained
    check_weights(model)  # raises if the shipped model had learnt "same family"


def test_check_catches_a_model_that_learnt_same_family(trained):
    """A family-trained model: different given names barely count against a match."""
    settings = trained.trained_settings()
    for comparison in settings["comparisons"]:
        if comparison["output_column_name"] == "given_name":
            else_level = comparison["comparison_levels"][-1]
            else_level["m_probability"] = else_level["u_probability"]
    with pytest.raises(ModelCheckError, match="given names"):
        check_weights(Model(settings))


def test_a_prior_naming_an_unknown_level_is_an_error():
    settings = untrained_settings()
    with pytest.raises(ValueError, match="levels are"):
        apply_priors(
            settings,
            [{"comparison": "given_name", "level_label": "no_such_level", "m_probability": "0.5"}],
        )


def test_training_from_labelled_pairs(standardized):
    """Reviewed pairs (here: the synthetic truth) give the m-probabilities directly."""
    matches = []
    for _, group in standardized.groupby("true_student_id"):
        matches.extend(itertools.combinations(sorted(group["record_id"]), 2))
    labels = pd.DataFrame(matches, columns=["record_id_l", "record_id_r"]).assign(is_match=True)
    model = Model().train(standardized, labels=labels, seed=1, max_u_pairs=2e5)
    # The labelled weights pass the model's own plausibility bounds (check_weights).
    assert _weight(model, "birth_date", "exact") > MIN_EXACT_BIRTH_DATE_WEIGHT
    assert _weight(model, "given_name", "else") < MAX_GIVEN_NAME_ELSE_WEIGHT


def test_labels_naming_unknown_records_are_rejected(standardized):
    labels = pd.DataFrame({"record_id_l": ["nope"], "record_id_r": ["nada"], "is_match": [True]})
    with pytest.raises(ValueError, match="not in the training records"):
        Model().train(standardized, labels=labels)


def test_u_estimated_side_by_side_is_splinks_own(standardized):
    """settings_with_u runs each comparison's u estimate on its own cursor; every level's u is
    the one Splink's estimate_u_using_random_sampling gives over all comparisons at once."""
    from splink import Linker

    from migrant_linkage import blocking
    from migrant_linkage.db import make_db_api
    from migrant_linkage.model import U_SAMPLE_CHUNKS, _training_columns, settings_with_u

    records = blocking.training_block_sizes(_training_columns(standardized))
    settings = untrained_settings()
    db_api, con = make_db_api()
    try:
        side_by_side = settings_with_u(db_api, records, settings, seed=3, max_pairs=2e5)
        linker = Linker(db_api.register(records), settings, log_level=None)
        linker.training.estimate_u_using_random_sampling(
            max_pairs=2e5, seed=3, num_chunks=U_SAMPLE_CHUNKS
        )
        splinks = linker.misc.save_model_to_json()
    finally:
        con.close()

    def u_values(trained: dict) -> list:
        return [
            (c["output_column_name"], lv.get("label_for_charts"), lv.get("u_probability"))
            for c in trained["comparisons"]
            for lv in c["comparison_levels"]
        ]

    assert u_values(side_by_side) == u_values(splinks)
    assert sum(u is not None for *_, u in u_values(side_by_side)) > 30
