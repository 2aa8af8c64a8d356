"""Several inputs read and standardized as one population.

Each source keeps a readable `source_name` (its file name, or input1, input2, ...); a record_id
already used by an earlier source is rejected (DUPLICATE_RECORD_ID), so records_in =
standardized + rejected across all inputs of one run. A `SourceSpec` carries a source's own
layout (column map, date format, encoding), so two states' files link in one run; each source's
quality-flag counts and layout warnings (input_checks.py) go into its counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from migrant_linkage.input_checks import flag_counts, source_warnings
from migrant_linkage.io import RecordContractError, describe_source
from migrant_linkage.schema import REJECT_COLUMNS, UNIQUE_ID_COLUMN, RejectCode

logger = logging.getLogger(__name__)

#: Set on the log records of layout warnings, so a front end that shows them its own way can
#: filter the log lines out.
LAYOUT_WARNING = "layout_warning"

Source = Any  # anything migrant_linkage.standardize accepts, or a SourceSpec


@dataclass(frozen=True)
class SourceSpec:
    """One input and its own layout: what a `[[source]]` of a job file says (jobfile.py).

    Settings left as None fall back to the run's `column_map` / `date_format`. `state` is the
    submitting state (index uploads use it); `strict` refuses the run when this source draws a
    layout warning (input_checks.py) instead of only warning."""

    source: Any
    name: str | None = None
    table: str | None = None
    state: str | None = None
    column_map: Mapping[str, str] | None = None
    date_format: str | Mapping[str, str] | None = None
    encoding: str | None = None
    strict: bool = False


class DataQualityError(RecordContractError):
    """A strict run refused its inputs: a source drew a layout warning (see input_checks)."""


def _unpack_source(source: Source) -> tuple[Any, str | None]:
    """A source as standardize takes it: a DuckDB relation becomes a DataFrame; a
    (database path, table name) pair becomes the path plus table=."""
    if isinstance(source, SourceSpec):
        inner, table = _unpack_source(source.source)
        return inner, source.table or table
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source.df(), None
    if isinstance(source, tuple) and len(source) == 2:
        return source[0], str(source[1])
    return source, None


def _label(source: Source, index: int) -> str:
    if isinstance(source, SourceSpec):
        if source.name:
            return source.name
        if source.table is not None and not isinstance(source.source, pd.DataFrame):
            return describe_source(source.source, source.table)
        return _label(source.source, index)
    if isinstance(source, pd.DataFrame | duckdb.DuckDBPyRelation):
        return f"input{index}"
    if isinstance(source, tuple) and len(source) == 2:
        return describe_source(source[0], str(source[1]))
    return describe_source(source)


def source_names(sources: Sequence[Source]) -> list[str]:
    """A distinct readable label per source: its given name, the file name, or input1, ..."""
    names: list[str] = []
    for index, source in enumerate(sources, start=1):
        name = _label(source, index)
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
    """Standardize each source (with its own layout when it is a SourceSpec), count its quality
    flags and check its layout; then reject a record_id seen in an earlier source. A strict
    source with warnings raises DataQualityError once every source has been checked."""
    from migrant_linkage.standardize import standardize

    frames, rejects, records_in, per_source = [], [], 0, {}
    refused: list[str] = []
    for source, name in zip(sources, names, strict=True):
        spec = source if isinstance(source, SourceSpec) else SourceSpec(source)
        its_map = spec.column_map if spec.column_map is not None else column_map
        its_format = spec.date_format if spec.date_format is not None else date_format
        data, table = _unpack_source(spec)
        result = standardize(
            data,
            column_map=its_map,
            date_format=its_format,
            source_name=name,
            table=table,
            encoding=spec.encoding,
        )
        n_in = len(result.standardized) + len(result.rejects)
        records_in += n_in
        warnings = source_warnings(
            result.standardized, name, column_map=its_map, date_format=its_format
        )
        for warning in warnings:  # the CLI prints these itself (LAYOUT_WARNING marks them)
            logger.warning(warning, extra={LAYOUT_WARNING: True})
        per_source[name] = {
            "records_in": n_in,
            **{k: v for k, v in result.counts.items()},
            "quality_flags": flag_counts(result.standardized["quality_flags"]),
            "warnings": warnings,
        }
        if spec.strict:
            refused.extend(warnings)
        frames.append(result.standardized)
        rejects.append(result.rejects)
    if refused:
        raise DataQualityError(
            f"--strict: {len(refused)} layout warning(s), nothing linked: " + " | ".join(refused)
        )
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
