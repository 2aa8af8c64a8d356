"""Realistic synthetic migrant-student records with ground truth.

    from migrant_linkage.synthetic import generate, write, ErrorRates
    df = generate(10_000, seed=1)                      # defaults: docs/synthetic-data.md
    df = generate(10_000, seed=1, rates=ErrorRates(dob_missing=0.1))
    write(df, "records.parquet")                       # or .csv

Output columns: schema.INPUT_COLUMNS (strings or NA), then schema.TRUTH_COLUMNS and
`true_error_types` (';'-joined error codes applied to the record). The linkage never reads the
truth columns. Same seed, same output, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from migrant_linkage.synthetic.population import build_population, other_given_names
from migrant_linkage.synthetic.rates import EXCLUSIVE_GROUPS, ErrorRates, PopulationParams
from migrant_linkage.synthetic.records import ERROR_CODES, render_records

__all__ = [
    "ERROR_CODES",
    "EXCLUSIVE_GROUPS",
    "ErrorRates",
    "PopulationParams",
    "SyntheticResult",
    "generate",
    "generate_detailed",
    "write",
]

ERROR_TYPES_COLUMN = "true_error_types"


@dataclass(frozen=True)
class SyntheticResult:
    records: pd.DataFrame  # what generate() returns
    children: pd.DataFrame  # the true population, one row per child (family, parents, cousins)
    eligible: dict[str, int]  # per error code: records that could receive it
    applied: dict[str, int]  # per error code: records that received it


def generate_detailed(
    n_students: int,
    seed: int = 0,
    rates: ErrorRates | None = None,
    states: Sequence[str] | None = None,
    population: PopulationParams | None = None,
) -> SyntheticResult:
    """Like `generate`, also returning the true population and per-error counts."""
    # Checked here so a bad argument gets a message about the argument, not numpy's.
    if isinstance(n_students, bool) or not isinstance(n_students, int | np.integer):
        raise ValueError(f"n_students must be a whole number, got {n_students!r}")
    if n_students < 1:
        raise ValueError(f"n_students must be at least 1, got {n_students}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if states is not None and len(states) == 0:
        raise ValueError("states must name at least one state (or be None for all of them)")
    rng = np.random.default_rng(seed)
    children, enrolments = build_population(
        n_students, rng, population or PopulationParams(), states
    )
    # The error kinds added for issue 13 draw from a stream of their own (see render_records).
    extra = np.random.default_rng([seed, 13])
    children["other_given"] = other_given_names(children, extra)
    records, log = render_records(children, enrolments, rates or ErrorRates(), rng, seed, extra)
    return SyntheticResult(records, children, log.eligible, log.applied)


def generate(
    n_students: int,
    seed: int = 0,
    rates: ErrorRates | None = None,
    states: Sequence[str] | None = None,
    population: PopulationParams | None = None,
) -> pd.DataFrame:
    """Synthetic records for `n_students` children (about 2.8 records each at the defaults).

    `states` restricts the simulated moves to these states (documented circuits among them,
    else every pair); all states must appear in data/synthetic/state_conventions.csv.
    """
    return generate_detailed(n_students, seed, rates, states, population).records


def write(df: pd.DataFrame, path: str | Path) -> None:
    """Write CSV (UTF-8, '\\n' line ends, NA as empty) or Parquet, chosen by the extension.

    The bytes depend only on the frame (and the installed pyarrow for Parquet), so the same seed
    gives the same file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    elif suffix in (".parquet", ".pq"):
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.replace_schema_metadata(None)  # no pandas metadata: stable bytes
        pq.write_table(table, path, compression="zstd")
    else:
        raise ValueError(f"{path}: unknown extension {suffix!r}; use .csv or .parquet")
