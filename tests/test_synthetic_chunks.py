"""Chunked generation of a very large synthetic population: no id collides across chunks."""

from __future__ import annotations

import pandas as pd
import pytest

from migrant_linkage.synthetic import generate
from migrant_linkage.synthetic.chunks import chunk_seed, chunk_students_list, generate_in_chunks

N_STUDENTS, CHUNK = 1000, 300  # four chunks, the last one short


@pytest.fixture(scope="module")
def chunks() -> list[pd.DataFrame]:
    return list(generate_in_chunks(N_STUDENTS, seed=5, chunk_students=CHUNK))


@pytest.fixture(scope="module")
def records(chunks) -> pd.DataFrame:
    return pd.concat(chunks, ignore_index=True)


def test_every_child_is_generated_once_across_chunks(chunks, records):
    assert [frame["true_student_id"].nunique() for frame in chunks] == [300, 300, 300, 100]
    assert records["true_student_id"].nunique() == N_STUDENTS


def test_no_child_or_family_is_shared_between_chunks(chunks):
    seen_students: set[str] = set()
    seen_families: set[str] = set()
    for frame in chunks:
        students, families = set(frame["true_student_id"]), set(frame["true_family_id"])
        assert not students & seen_students
        assert not families & seen_families
        seen_students |= students
        seen_families |= families


def test_record_ids_are_unique_across_chunks_and_keep_the_state_prefix(records):
    ids = records["record_id"].dropna()
    assert ids.is_unique
    assert (ids.str.split("-").str[0] == records.loc[ids.index, "state"]).all()


def test_rejects_without_a_record_id_stay_without_one(chunks):
    plain = generate(CHUNK, seed=chunk_seed(5, 1))  # the second chunk before its ids shift
    assert chunks[1]["record_id"].isna().tolist() == plain["record_id"].isna().tolist()


def test_one_msix_id_per_child_and_one_child_per_msix_id(records):
    with_msix = records.dropna(subset=["msix_id"])
    assert with_msix.groupby("true_student_id")["msix_id"].nunique().max() == 1
    assert with_msix.groupby("msix_id")["true_student_id"].nunique().max() == 1
    assert with_msix["msix_id"].str.fullmatch(r"\d{12}").all()


def test_a_run_that_fits_one_chunk_is_plain_generate():
    (only,) = generate_in_chunks(400, seed=9, chunk_students=400)
    assert only.equals(generate(400, seed=9))


def test_chunks_differ_from_one_another_but_repeat_with_the_seed(chunks):
    again = list(generate_in_chunks(N_STUDENTS, seed=5, chunk_students=CHUNK))
    assert all(a.equals(b) for a, b in zip(chunks, again, strict=True))
    names = [set(frame["first_name"] + " " + frame["birth_date"].fillna("")) for frame in chunks]
    assert len(names[0] & names[1]) < len(names[0]) / 2


def test_children_per_chunk_add_up():
    assert chunk_students_list(1000, 300) == [300, 300, 300, 100]
    assert chunk_students_list(900, 300) == [300, 300, 300]
    with pytest.raises(ValueError, match="chunk_students"):
        chunk_students_list(10, 0)
