"""Exception types the front ends share.

This module imports nothing from the package, so any layer may raise these and any front end
(the command line, a vendor's service) may catch them without importing the layer that raised
them. The command line turns a UsageError into exit code 2 with its message.
"""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad usage or bad input; the message says what to do. Exit code 2."""
