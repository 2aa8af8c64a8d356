"""An index upload decides a compound name cut to each half as dedupe does
(pipeline.clusters.explained_by_a_compound_name_sql): MARIA GUADALUPE in Texas, MARIA in
California and GUADALUPE in Washington are one girl; MARIA and GUADALUPE beside a MARIA JOSEFA
stay two."""

from __future__ import annotations

import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.review import MasterIndex
from migrant_linkage.schema import TRUTH_COLUMNS
from test_engine import FAMILY

#: One girl of test_engine's family (the records of its compound-name tests).
GIRL = {**FAMILY, "sex": "F", "birth_date": "2012-08-21", "multiple_birth": None}


@pytest.fixture(scope="module")
def background() -> pd.DataFrame:
    frame = synthetic.generate(300, seed=5)
    return frame.drop(columns=[c for c in TRUTH_COLUMNS if c in frame])


def _students_after_upload(tmp_path, background, *given) -> dict[str, str]:
    girl = pd.DataFrame(
        [
            {**GIRL, "record_id": rid, "state": state, "first_name": first, "middle_name": middle}
            for rid, state, first, middle in given
        ]
    )
    index = MasterIndex.create(tmp_path / "index.duckdb", administrator="admin")
    index.upload(pd.concat([background, girl], ignore_index=True), actor="admin")
    return {rid: index.student_of(f"{state}:{rid}") for rid, state, _, _ in given}


def test_an_upload_keeps_a_compound_name_cut_to_each_half_as_one_student(tmp_path, background):
    students = _students_after_upload(
        tmp_path,
        background,
        ("G-1", "TX", "MARIA", "GUADALUPE"),
        ("G-2", "CA", "MARIA", None),
        ("G-3", "WA", "GUADALUPE", None),
    )
    assert students["G-1"] == students["G-2"] == students["G-3"]


def test_an_upload_keeps_the_two_halves_apart_without_the_whole_name(tmp_path, background):
    students = _students_after_upload(
        tmp_path,
        background,
        ("H-1", "TX", "MARIA", "JOSEFA"),
        ("H-2", "CA", "MARIA", None),
        ("H-3", "WA", "GUADALUPE", None),
    )
    assert students["H-2"] != students["H-3"]
