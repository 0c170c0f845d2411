"""Files fx writes for the user (exports, results, charts, variants files): whole or not at all.

A regular file is written to a temp file in its folder, fsynced, then renamed over it: a reader, or
a rerun after a full disk, finds the old file or the new one, never half of one. A new file gets the
mode the umask allows (0644 under umask 022); a replaced file keeps its mode (and its owner where the
account may keep it). A path that exists and is not a regular file (/dev/stdout, a FIFO, /dev/full)
is written in place. Every failure is an FxError (exit 2) naming the path:

    with output_file(Path("trades.parquet")) as handle:
        frame.write_parquet(handle)
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from fxcli.errors import FxError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

NEW_FILE_MODE = 0o666  # the umask takes away what the user does not want others to have


class _Descriptor(io.RawIOBase):
    """A file descriptor as a writable file that remembers the OSError it raised: polars and
    matplotlib wrap a failed write in their own exceptions, and this tells the disk's error from a
    bug. It has no `fileno()`, so libraries write through it rather than around it."""

    def __init__(self) -> None:
        super().__init__()
        self.fd = -1
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                done += os.write(self.fd, view[done:])
        except OSError as exc:
            self.error = exc
            raise
        return done


@contextmanager
def output_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write `path` through; it replaces `path` only when the block ends without an
    error (see the module doc). Raises FxError naming `path` when the disk or the path fails."""
    try:
        old: os.stat_result | None = path.stat()
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise FxError(f"{path}: {_reason(exc, path)}") from None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise FxError(f"{path}: is a folder, not a file")
    in_place = old is not None and not stat.S_ISREG(old.st_mode)
    # A link to a file: the file it points to is replaced, the link stays.
    target = Path(os.path.realpath(path)) if path.is_symlink() and not in_place else path
    written = path if in_place else target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_TRUNC if in_place else os.O_CREAT | os.O_EXCL)
    sink = _Descriptor()
    try:
        with _disk_errors(path, target, sink):
            try:
                sink.fd = os.open(written, flags, NEW_FILE_MODE)
                if old is not None and not in_place:
                    _keep_owner_and_mode(sink.fd, old)
                yield cast(BinaryIO, sink)
                if not in_place:
                    os.fsync(sink.fd)
            finally:
                if sink.fd >= 0:
                    os.close(sink.fd)
            if not in_place:
                written.replace(target)
    except BaseException:
        if not in_place:
            with suppress(OSError):
                written.unlink(missing_ok=True)
        raise
    if not in_place:
        # The rename is done: only its durability across a power cut depends on this, never an error.
        with suppress(OSError):
            fsync_folder(target.parent)


def write_output(path: Path, payload: bytes) -> None:
    """Write `payload` as the whole content of `path` (see `output_file`)."""
    with output_file(path) as handle:
        handle.write(payload)


def make_folder(path: Path) -> None:
    """Create folder `path` and its parents if missing; FxError names what stands in the way."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FxError(f"{_not_a_folder(path)}: is a file, not a folder") from None
    except OSError as exc:
        raise FxError(f"{exc.filename or path}: cannot create the folder: {exc.strerror}") from None


@contextmanager
def _disk_errors(path: Path, target: Path, sink: _Descriptor) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        error = sink.error or (exc if isinstance(exc, OSError) else None)
        if error is None:
            raise  # not the disk: a bug, reported as one
        raise FxError(f"{path}: {_reason(error, target)}") from None


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        with suppress(PermissionError):  # only root (or a member of the group) may keep them
            os.fchown(fd, old.st_uid, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


def fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError, target: Path) -> str:
    if exc.errno == errno.ENOENT:
        return f"folder {target.parent} does not exist"
    if exc.errno == errno.ENOTDIR:
        return f"{_not_a_folder(target.parent)} is a file, not a folder"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a file"
    return f"cannot write: {exc.strerror or exc}"


def _not_a_folder(path: Path) -> Path:
    """The first of `path` and its parents that exists and is not a folder (else `path`)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return path if candidate.is_dir() else candidate
    return path
