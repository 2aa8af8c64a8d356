"""The fields a search or match query may give (kept apart from search.py so the command
parser can list them without loading pandas, DuckDB or Splink)."""

from __future__ import annotations

from migrant_linkage.schema import INPUT_COLUMNS

#: Contract columns that say nothing about who the child is.
NOT_SEARCHED = ("record_id", "birth_date_verification", "enrollment_date")

#: Query fields: the record contract's identity columns, by their contract names.
QUERY_FIELDS: tuple[str, ...] = tuple(c for c in INPUT_COLUMNS if c not in NOT_SEARCHED)
