"""Opening capture files (plain, gzip or zstd) and the record every reader yields."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

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


def _open_raw(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, not a capture file") from None
    except PermissionError:
        raise CaptureError(f"{path}: permission denied") from None


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    """Wrap `raw` in a gzip or zstd reader by its magic bytes (not by the file name)."""
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if magic == ZSTD_MAGIC:
        import zstandard

        return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(raw))
    return raw


Progress = Callable[[int], None]
"""Called now and then with how many bytes of the file (as stored on disk) were read so far."""


def numbered_lines(path: Path, progress: Progress | None = None) -> Iterator[tuple[int, bytes | None, str]]:
    """(line number, line without newline, '') per line; a damaged stream ends with (n, None, why)."""
    line_no = 0
    with _open_raw(path) as raw:
        stream = _decompressed(raw)
        reader = (
            stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(cast(Any, stream), 1 << 20)
        )
        try:
            for line in reader:
                line_no += 1
                if progress is not None and line_no % 4096 == 0:
                    progress(raw.tell())
                yield line_no, line.rstrip(b"\r\n"), ""
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            what = "truncated" if isinstance(exc, EOFError) else f"damaged ({exc})"
            yield line_no + 1, None, f"compressed stream {what} after line {line_no}"
        except Exception as exc:  # zstandard raises its own ZstdError for damaged frames
            yield line_no + 1, None, f"compressed stream damaged after line {line_no} ({exc})"
        if progress is not None:
            progress(raw.tell())


def first_line(path: Path) -> bytes:
    """The first non-empty line of a capture (decompressed), for format sniffing."""
    for _, line, error in numbered_lines(path):
        if error:
            raise CaptureError(f"{path}: {error}")
        if line and line.strip():
            return line
    raise CaptureError(f"{path}: empty file")
