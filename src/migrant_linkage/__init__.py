"""migrant-linkage: find which student records, sent by different US states, belong to the
same migrant child.

The public surface is small on purpose; everything else is importable but not promised.

    import migrant_linkage as ml
    result = ml.dedupe("texas.csv", "california.csv", out_dir="run")
    result.clusters, result.worklist, result.summary
    ml.explain(record_a, record_b)

The jobs load Splink and DuckDB on first use, so `import migrant_linkage` (and the CLI's
`--help`) stays fast. Standardization alone: `from migrant_linkage.standardize import
standardize` (a subpackage of that name exists, so it is not re-exported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrant_linkage.schema import QualityFlag, RejectCode

if TYPE_CHECKING:
    from migrant_linkage.engine import Result, dedupe, explain, link
    from migrant_linkage.model import Model
    from migrant_linkage.zones import Thresholds

__version__ = "0.1.0"

_LAZY = {
    "dedupe": "migrant_linkage.engine",
    "link": "migrant_linkage.engine",
    "explain": "migrant_linkage.engine",
    "Result": "migrant_linkage.engine",
    "Model": "migrant_linkage.model",
    "Thresholds": "migrant_linkage.zones",
}

__all__ = [
    "Model",
    "QualityFlag",
    "RejectCode",
    "Result",
    "Thresholds",
    "__version__",
    "dedupe",
    "explain",
    "link",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'migrant_linkage' has no attribute {name!r}")
