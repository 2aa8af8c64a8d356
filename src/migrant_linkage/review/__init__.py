"""The master student index and the near-match review workflow.

Public surface: MasterIndex (create/open, upload, worklist, show, decide, validate, merge,
split, undo, consolidated, reports, export, audit), retrain_from_decisions, and the errors.
See docs/review-workflow.md.

Names are imported on first use (PEP 562), so `migrant_linkage.cli.index` can build the command
parser without loading pandas, DuckDB or Splink.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IndexBusyError": "migrant_linkage.review.store",
    "IndexNotFoundError": "migrant_linkage.review.store",
    "ReviewError": "migrant_linkage.review.store",
    "MasterIndex": "migrant_linkage.review.index",
    "UploadReport": "migrant_linkage.review.upload",
    "retrain_from_decisions": "migrant_linkage.review.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'migrant_linkage.review' has no attribute {name!r}")
