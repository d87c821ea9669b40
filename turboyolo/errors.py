"""Errors caused by what a user typed or pointed at (a key, a file, a device, a full disk).

cli.py prints any `UserError` as one line, with no traceback: the message names the key or file at
fault and the fix. Bugs of turboyolo itself stay ordinary exceptions and keep their tracebacks.
This module imports nothing heavy, so the command line can catch these without importing torch.
"""
from __future__ import annotations

import errno
from pathlib import Path

# A full disk and an exhausted quota mean the same to a user: free space or write elsewhere.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class UserError(Exception):
    """Base of the errors a user can fix; `exit_code` is what the command line returns."""

    exit_code = 1


class DiskFullError(UserError, OSError):
    """No space (or quota) left where a file was being written; the message names the folder."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]" prefix
        return self.strerror


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS


def disk_full_error(err: OSError, path: str | Path | None, kept: bool = False) -> DiskFullError:
    """The one-line error for `err` (ENOSPC/EDQUOT) raised while writing `path` (None: not known).

    kept: the write was atomic, so the file that was at `path` before is still there, whole.
    """
    if path is None:
        where, what = (Path(err.filename).parent if err.filename else "the disk being written"), ""
    else:
        where, what = Path(path).parent, f" while writing {Path(path).name}"
    note = f"; the previous {Path(path).name} is kept" if kept and path is not None else ""
    return DiskFullError(err.errno, f"no space left on {where}{what} ({err.strerror or 'disk full'}){note}; "
                                    "free some space there or point project= to another disk")


class MissingExtraError(UserError, ImportError):
    """An optional dependency a command needs is not installed; the message names the pip extra."""


def require_extra(module: str, extra: str, needed_by: str):
    """Import `module` (an optional dependency) or raise the one-line MissingExtraError naming `extra`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{needed_by} needs the optional package {module!r}: "
                                f"pip install 'turboyolo[{extra}]'") from None
