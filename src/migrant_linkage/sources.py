"""Several inputs read and standardized as one population.

Each source keeps a readable `source_name` (its file name, or input1, input2, ...); a record_id
already used by an earlier source is rejected (DUPLICATE_RECORD_ID), so records_in =
standardized + rejected across all inputs of one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.io import describe_source
from migrant_linkage.schema import REJECT_COLUMNS, UNIQUE_ID_COLUMN, RejectCode

Source = Any  # anything migrant_linkage.standardize accepts


def _unpack_source(source: Source) -> tuple[Any, str | None]:
    """A source as standardize takes it: a DuckDB relation becomes a DataFrame; a
    (database path, table name) pair becomes the path plus table=."""
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source.df(), None
    if isinstance(source, tuple) and len(source) == 2:
        return source[0], str(source[1])
    return source, None


def source_names(sources: Sequence[Source]) -> list[str]:
    """A distinct readable label per source: the file name, or input1, input2, ..."""
    names: list[str] = []
    for index, source in enumerate(sources, start=1):
        if isinstance(source, pd.DataFrame | duckdb.DuckDBPyRelation):
            name = f"input{index}"
        elif isinstance(source, tuple) and len(source) == 2:
            name = describe_source(source[0], str(source[1]))
        else:
            name = describe_source(source)
        base, n = name, 2
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.append(name)
    return names


@dataclass
class Standardized:
    records: pd.DataFrame
    rejects: pd.DataFrame
    records_in: int
    counts: dict[str, Any]


def standardize_all(
    sources: Sequence[Source],
    names: Sequence[str],
    column_map: Mapping[str, str] | None,
    date_format: str | None,
) -> Standardized:
    """Standardize each source; then reject a record_id seen in an earlier source."""
    from migrant_linkage.standardize import standardize

    frames, rejects, records_in, per_source = [], [], 0, {}
    for source, name in zip(sources, names, strict=True):
        source, table = _unpack_source(source)
        result = standardize(
            source, column_map=column_map, date_format=date_format, source_name=name, table=table
        )
        n_in = len(result.standardized) + len(result.rejects)
        records_in += n_in
        per_source[name] = {"records_in": n_in, **{k: v for k, v in result.counts.items()}}
        frames.append(result.standardized)
        rejects.append(result.rejects)
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    records[UNIQUE_ID_COLUMN] = records[UNIQUE_ID_COLUMN].astype(str)
    duplicated = records.duplicated(UNIQUE_ID_COLUMN, keep="first")
    if duplicated.any():
        first_source = records.drop_duplicates(UNIQUE_ID_COLUMN).set_index(UNIQUE_ID_COLUMN)[
            "source_name"
        ]
        dups = records.loc[duplicated]
        rejects.append(
            pd.DataFrame(
                {
                    "source_name": dups["source_name"].to_numpy(),
                    "source_row": dups["source_row"].to_numpy(),
                    "record_id": dups[UNIQUE_ID_COLUMN].to_numpy(),
                    "reason": str(RejectCode.DUPLICATE_RECORD_ID),
                    "message": [
                        f"record_id {rid} in {src} was already used in {first_source[rid]}; "
                        "record ids must be unique across all inputs of one run"
                        for rid, src in zip(
                            dups[UNIQUE_ID_COLUMN], dups["source_name"], strict=True
                        )
                    ],
                }
            )
        )
        records = records.loc[~duplicated].reset_index(drop=True)
    all_rejects = [r for r in rejects if len(r)]
    reject_frame = (
        pd.concat(all_rejects, ignore_index=True)[list(REJECT_COLUMNS)]
        if all_rejects
        else pd.DataFrame({c: pd.Series(dtype=str) for c in REJECT_COLUMNS})
    )
    return Standardized(records, reject_frame, records_in, per_source)
