"""A very large synthetic population generated a chunk of children at a time (bounded memory).

    for frame in generate_in_chunks(3_700_000, seed=0, chunk_students=500_000):
        ...  # about 1.4M records each; write them out before the next chunk is built

One `generate` call holds every child and record of the run in pandas at once (about 5 GB per
million children); chunks bound that to one chunk's worth. Each chunk is `generate` with a seed
of its own, derived from the run's seed and the chunk's number; the first chunk uses the run's
seed, so a run that fits in one chunk gives exactly `generate(n_students, seed)`. Families never
span chunks. Ids are shifted so that none collides across chunks: student and family numbers
continue from the previous chunk, record ids continue each state's sequence, and MSIX IDs are
recomputed from the run-wide student number and the run's seed (one-to-one, as in `generate`).
State student IDs are random 9-digit numbers in `generate` too, so they may repeat by chance
there as here.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from migrant_linkage.synthetic import generate
from migrant_linkage.synthetic.records import msix_ids
from migrant_linkage.synthetic.text import digits

ID_WIDTH = 7  # as generate() pads student, family and record sequence numbers


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of chunk number `chunk` (0 for the first): the run's own seed for the first."""
    if chunk == 0:
        return seed
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def chunk_students_list(n_students: int, chunk_students: int) -> list[int]:
    """Children per chunk: full chunks of `chunk_students`, the rest in the last."""
    if chunk_students < 1:
        raise ValueError(f"chunk_students must be at least 1, got {chunk_students}")
    full, rest = divmod(n_students, chunk_students)
    return [chunk_students] * full + ([rest] if rest else [])


def generate_in_chunks(
    n_students: int, seed: int = 0, chunk_students: int = 500_000
) -> Iterator[pd.DataFrame]:
    """Records for `n_students` children, yielded one chunk's frame at a time (default rates)."""
    if n_students < 1:
        raise ValueError(f"n_students must be at least 1, got {n_students}")
    next_student, next_family = 0, 0
    next_record: dict[str, int] = {}  # per state: record sequence numbers already used
    for chunk, n in enumerate(chunk_students_list(n_students, chunk_students)):
        frame = generate(n, seed=chunk_seed(seed, chunk))
        if chunk == 0:  # as generate() gives it, ids already start at 0
            students = _numbers(frame["true_student_id"])
            families = _numbers(frame["true_family_id"])
        else:
            students = _numbers(frame["true_student_id"]) + next_student
            families = _numbers(frame["true_family_id"]) + next_family
            frame = _shift_ids(frame, students, families, next_record, seed)
        next_student += n  # generate() numbers its children 0 .. n-1
        next_family = int(families.max()) + 1
        for state, rows in frame["state"].value_counts().items():
            next_record[str(state)] = next_record.get(str(state), 0) + int(rows)
        yield frame


def _numbers(ids: pd.Series) -> np.ndarray:
    """'S0001234' -> 1234 (a one-letter prefix, then digits)."""
    return ids.str.slice(1).astype(np.int64).to_numpy()


def _shift_ids(
    frame: pd.DataFrame,
    students: np.ndarray,
    families: np.ndarray,
    next_record: dict[str, int],
    seed: int,
) -> pd.DataFrame:
    frame = frame.copy()
    frame["true_student_id"] = "S" + pd.Series(digits(students, ID_WIDTH), index=frame.index)
    frame["true_family_id"] = "F" + pd.Series(digits(families, ID_WIDTH), index=frame.index)
    # Record ids are STATE-sequence, numbered per state file; rejects without one stay empty.
    has_id = frame["record_id"].notna().to_numpy()
    state = frame["state"].to_numpy(dtype=object)
    seq = frame["record_id"].str.rsplit("-", n=1).str[1].astype("float64").to_numpy()
    offset = pd.Series(state).map(next_record).fillna(0).to_numpy(np.int64)
    shifted = state[has_id] + "-" + digits(seq[has_id].astype(np.int64) + offset[has_id], ID_WIDTH)
    record_id = np.full(len(frame), None, dtype=object)
    record_id[has_id] = shifted
    frame["record_id"] = pd.Series(record_id, index=frame.index, dtype=frame["record_id"].dtype)
    has_msix = frame["msix_id"].notna().to_numpy()
    msix = np.full(len(frame), None, dtype=object)
    msix[has_msix] = msix_ids(students[has_msix], seed)
    frame["msix_id"] = pd.Series(msix, index=frame.index, dtype=frame["msix_id"].dtype)
    return frame
