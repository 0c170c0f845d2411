"""Folder locks: writers of one date folder take it exclusively, so two processes never merge into
one file at once; readers that must see a consistent folder (verify, a second look before calling a
file damaged) take it shared."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on one date folder (the lock file is created if needed)."""
    with (folder / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def shared_lock(folder: Path) -> Iterator[None]:
    """Shared lock on one date folder, opened read-only so a read-only account can take it; without
    a lock file (no writer ever wrote here) or without the right to open it, no lock is taken."""
    try:
        handle = (folder / LOCK_NAME).open("rb")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
