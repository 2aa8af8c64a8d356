"""Exception types the front ends share.

This module imports nothing from the package, so any layer may raise these and any front end
(the command line, a vendor's service) may catch them without importing the layer that raised
them. The command line turns a UsageError into exit code 2 with its message.
"""

from __future__ import annotations

import errno

__all__ = ["UsageError", "describe_system_error"]


class UsageError(Exception):
    """Bad usage or bad input; the message says what to do. Exit code 2."""


#: What to do about a filesystem error, by errno.
_WHAT_TO_DO = {
    errno.EACCES: "not allowed: check the permissions, or choose another place",
    errno.EPERM: "not allowed: check the permissions, or choose another place",
    errno.EROFS: "the file system is read-only: choose another place",
    errno.ENOSPC: "the disk is full: free space, or choose another place (--out, --database, "
    "MIGRANT_LINKAGE_DUCKDB_TEMP_DIRECTORY)",
    errno.EDQUOT: "the disk quota is used up: free space, or choose another place",
    errno.EFBIG: "the file would be larger than this process may write (a file-size limit, "
    "`ulimit -f`, or a full disk): raise the limit or choose another place",
    errno.ELOOP: "a symbolic link that leads back to itself: fix or remove the link",
    errno.EEXIST: "exists and is not a usable folder (a file, or a symbolic link that leads "
    "nowhere): name a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "not found",
}

#: DuckDB error types that are about files (opening, writing, locking), never about values.
_DUCKDB_FILE_ERRORS = ("IOException", "PermissionException")
_DUCKDB_FILE_WORDS = ("Cannot open file", "Permission denied", "No space left", "File too large")


def describe_system_error(error: BaseException) -> str | None:
    """A message naming the path and the cause of a filesystem or database-file failure, or
    None when `error` is not one. Such messages hold paths and system causes only, never a
    record value (FERPA)."""
    if isinstance(error, OSError) and error.errno is not None:
        path = error.filename if error.filename is not None else "a file"
        cause = error.strerror or type(error).__name__
        hint = _WHAT_TO_DO.get(error.errno)
        return f"{path}: {cause}" + (f" ({hint})" if hint else "")
    kind = type(error).__name__
    text = str(error)
    if kind in _DUCKDB_FILE_ERRORS or (
        type(error).__module__.startswith(("duckdb", "_duckdb"))
        and any(word in text for word in _DUCKDB_FILE_WORDS)
    ):
        return f"database file: {text.splitlines()[0] if text else kind}"
    return None
