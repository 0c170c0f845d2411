"""Opening capture files (plain, gzip or zstd) and the record every reader yields."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any, NamedTuple

from fxcli.errors import FxError
from fxcli.model.events import Event

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Record(NamedTuple):
    """One line of a capture: a venue frame, a REST snapshot, or an error with its line number."""

    line_no: int
    received_ts_ns: int
    kind: str  # "stream" | "snapshot" | "error"
    payload: bytes  # the JSON frame, or the error message for kind "error"
    symbol: str | None = None  # known from the capture itself (e.g. a REST URL), else None


class Decoded(NamedTuple):
    """One event for the store: where it belongs, and whether its exchange time is an estimate."""

    exchange: str
    symbol: str
    event: Event
    ts_estimated: bool = False


class CaptureError(FxError):
    """A file that cannot be read as a capture at all; the message names the file."""


def open_raw(path: Path) -> IO[bytes]:
    """`path` opened for reading bytes; a missing, folder or forbidden path is a CaptureError."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise CaptureError(f"{path}: permission denied") from None


class _DamagedError(Exception):
    """The compressed stream ends early or is corrupt; every complete line before it was yielded."""


def _chunks(raw: IO[bytes], size: int = 1 << 18) -> Iterator[bytes]:
    """Decompressed bytes of `raw` (gzip or zstd by magic bytes, else as is), chunk by chunk.

    Incremental decompression yields everything before a truncation point, which a buffered
    `GzipFile` read would lose, and raises `_DamagedError` where the data stops making sense.
    """
    magic = raw.read(4)
    raw.seek(0)
    factory: Callable[[], Any]
    if magic.startswith(GZIP_MAGIC):
        factory = partial(zlib.decompressobj, wbits=31)
    elif magic == ZSTD_MAGIC:
        import zstandard

        factory = zstandard.ZstdDecompressor().decompressobj
    else:
        while chunk := raw.read(size):
            yield chunk
        return
    decoder = factory()
    in_member = False
    while chunk := raw.read(size):
        while chunk:
            try:
                out = decoder.decompress(chunk)
            except Exception as exc:  # zlib.error or zstandard.ZstdError: corrupt data
                raise _DamagedError(f"damaged ({exc})") from None
            in_member = True
            if out:
                yield out
            if decoder.eof:  # another gzip member or zstd frame may follow
                chunk, decoder, in_member = decoder.unused_data, factory(), False
            else:
                chunk = b""
    if in_member:
        raise _DamagedError("truncated")


Progress = Callable[[int], None]
"""Called now and then with how many bytes of the file (as stored on disk) were read so far."""


def numbered_lines(path: Path, progress: Progress | None = None) -> Iterator[tuple[int, bytes | None, str]]:
    """(line number, line without newline, '') per line; a damaged file ends with (n, None, why)."""
    line_no = 0
    pending = b""
    with open_raw(path) as raw:
        try:
            for chunk in _chunks(raw):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    line_no += 1
                    yield line_no, line.rstrip(b"\r"), ""
                if progress is not None:
                    progress(raw.tell())
        except _DamagedError as exc:
            yield line_no + 1, None, f"compressed stream {exc} after line {line_no}"
            return
        if pending:
            yield line_no + 1, pending.rstrip(b"\r"), ""


def first_lines(path: Path, count: int) -> list[bytes]:
    """The first `count` non-empty lines of a capture (decompressed), fewer if it has fewer."""
    found: list[bytes] = []
    for _, line, error in numbered_lines(path):
        if error:
            raise CaptureError(f"{path}: {error}")
        if line and line.strip():
            found.append(line)
            if len(found) == count:
                break
    return found


def first_line(path: Path) -> bytes:
    """The first non-empty line of a capture (decompressed), for format sniffing."""
    lines = first_lines(path, 1)
    if not lines:
        raise CaptureError(f"{path}: empty file")
    return lines[0]
