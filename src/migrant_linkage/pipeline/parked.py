"""Records parked on disk while the database does the work, and read back when the run ends.

From the load on, the job's database holds its own copy of the standardized records; the
pandas frame is wanted again only for `Result.standardized` once the run is done. At 1M
records that frame is about 1 GB, and held through blocking, scoring, clustering and the write
it sat beside the database at its peak (docs/scale.md, fifth round). Parked, it is an Arrow
file in the database's private spill directory (db.spill_directory: 0700, removed when the
process ends; the file itself 0600, removed when it is read back). The database loads the
frame's own Arrow buffers, which are then let go, and the frame is read back memory-mapped,
without copying its text, after the database is closed (at 1M records 0.4 s to write, 0.2 s
to read back).

A frame with a column that pandas holds as Python objects is not parked: Arrow would not give
such a column back as it was (a NaN among strings comes back as None), so it stays in memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from migrant_linkage.db import spill_directory

__all__ = ["ParkedFrame", "park"]


class ParkedFrame:
    """A frame written to `path` by `park`. `table()` gives the records to the database as
    Arrow, `restore()` gives the frame back and removes the file."""

    def __init__(self, path: Path, table: pa.Table):
        self.path = path
        self.rows = table.num_rows
        self._in_memory: pa.Table | None = table

    def __len__(self) -> int:
        return self.rows

    def table(self) -> pa.Table:
        """The records as an Arrow table. The first call hands over the one `park` made from
        the frame (its own buffers, nothing copied: the database loads it at twice the speed of
        the memory-mapped file) and keeps no reference to it; later calls map the file."""
        table, self._in_memory = self._in_memory, None
        return table if table is not None else feather.read_table(self.path, memory_map=True)

    def restore(self) -> pd.DataFrame:
        """The frame as it was parked (dtypes, index, values), its text still memory-mapped
        from the file; the file's name is removed at once (its space is freed with the
        frame)."""
        self._in_memory = None
        try:
            return feather.read_table(self.path, memory_map=True).to_pandas()
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the file (a run that fails before reading it back)."""
        self._in_memory = None
        self.path.unlink(missing_ok=True)


def _parkable(frame: pd.DataFrame) -> bool:
    return frame.columns.is_unique and not any(
        pd.api.types.is_object_dtype(dtype) for dtype in frame.dtypes
    )


def park(frame: pd.DataFrame) -> ParkedFrame | pd.DataFrame:
    """`frame` written to a private temporary Arrow file (uncompressed: the database reads it
    right away), or `frame` itself when Arrow would not give it back as it is (see the module
    docstring) or the file cannot be written (the run then only holds more memory). The caller
    drops its own references to the frame: only then is its memory freed."""
    if not _parkable(frame):
        return frame
    try:
        table = pa.Table.from_pandas(frame)  # its pandas metadata brings dtypes and index back
    except pa.ArrowException:
        return frame
    try:
        folder = Path(spill_directory())
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix="ml-records-", suffix=".arrow", dir=folder)
    except OSError:
        return frame
    os.close(descriptor)  # mkstemp made it 0600
    path = Path(name)
    try:
        feather.write_feather(table, path, compression="uncompressed")
    except (OSError, pa.ArrowException):
        path.unlink(missing_ok=True)
        return frame
    return ParkedFrame(path, table)
