"""The master student index and the near-match review workflow.

Public surface: MasterIndex (create/open, upload, worklist, show, decide, validate, merge,
split, undo, consolidated, reports, export, audit), retrain_from_decisions, and the errors.
See docs/review-workflow.md.
"""

from migrant_linkage.review.index import MasterIndex
from migrant_linkage.review.store import IndexBusyError, IndexNotFoundError, ReviewError
from migrant_linkage.review.training import retrain_from_decisions
from migrant_linkage.review.upload import UploadReport

__all__ = [
    "IndexBusyError",
    "IndexNotFoundError",
    "MasterIndex",
    "ReviewError",
    "UploadReport",
    "retrain_from_decisions",
]
