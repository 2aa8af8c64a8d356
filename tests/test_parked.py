"""Records parked on disk while the database works (pipeline.parked): the frame comes back as
it was, the file is private and gone once read back, and a frame Arrow cannot give back as it
is stays in memory."""

from __future__ import annotations

import stat

import numpy as np
import pandas as pd
import pytest

from migrant_linkage import synthetic
from migrant_linkage.db import TEMP_DIRECTORY_ENV
from migrant_linkage.pipeline.parked import ParkedFrame, park
from migrant_linkage.standardize import standardize


@pytest.fixture
def spill(tmp_path, monkeypatch):
    folder = tmp_path / "spill"
    monkeypatch.setenv(TEMP_DIRECTORY_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def standardized() -> pd.DataFrame:
    return standardize(synthetic.generate(60, seed=3)).standardized


def test_standardized_records_come_back_exactly_as_parked(spill, standardized):
    parked = park(standardized)
    assert isinstance(parked, ParkedFrame)
    assert len(parked) == len(standardized)
    back = parked.restore()
    pd.testing.assert_frame_equal(back, standardized, check_exact=True)
    assert list(back.dtypes) == list(standardized.dtypes)


def test_the_parked_file_is_private_and_removed_once_read_back(spill, standardized):
    parked = park(standardized)
    assert isinstance(parked, ParkedFrame)
    assert parked.path.parent == spill
    assert stat.S_IMODE(parked.path.stat().st_mode) == 0o600
    parked.restore()
    assert not parked.path.exists()


def test_the_database_gets_the_records_in_memory_first_then_from_the_file(spill, standardized):
    parked = park(standardized)
    assert isinstance(parked, ParkedFrame)
    first, second = parked.table(), parked.table()
    assert first.equals(second)
    assert first.num_rows == len(standardized)
    parked.discard()
    assert not parked.path.exists()


def test_a_frame_holding_python_objects_stays_in_memory(spill):
    frame = pd.DataFrame({"record_id": ["1", "2"], "extra": pd.Series([np.nan, "x"], dtype=object)})
    assert park(frame) is frame


def test_a_spill_folder_that_cannot_be_made_leaves_the_frame_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(TEMP_DIRECTORY_ENV, str(blocker / "spill"))
    frame = pd.DataFrame({"record_id": ["1", "2"]})
    assert park(frame) is frame
