"""migrant-linkage: find which student records, sent by different US states, belong to the
same migrant child.

The public surface is small on purpose; everything else is importable but not promised.
"""

from migrant_linkage.schema import QualityFlag, RejectCode

__version__ = "0.1.0"

__all__ = ["QualityFlag", "RejectCode", "__version__"]
