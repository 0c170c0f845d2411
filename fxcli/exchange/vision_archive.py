"""Binance's public archive over HTTP: which files cover a date range, and fetching them verified.

Each file `<base>/data/<spot|futures/um>/<daily|monthly>/<kind>/<SYMBOL>/<SYMBOL>-<kind>-<period>.zip`
has `<file>.CHECKSUM` beside it, in `sha256sum` format (`<64 hex>  <file name>`). A file is fetched
into `<cache>/<same path>.part` and renamed into place only once its sha256 matches: a file in the
cache with its CHECKSUM beside it is verified, and is never fetched again. An interrupted `.part` is
resumed with an HTTP Range request (a server that ignores Range sends the whole file: it is started
over). Connection errors, timeouts and 5xx answers are retried with doubling pauses, a bounded number
of times; a 404 means the archive does not have the file.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from fxcli.errors import FxError
from fxcli.exchange.binance import Market
from fxcli.exchange.captures.binance_vision import ZIP_MAGIC, Kind, archive_path
from fxcli.outfile import make_folder, write_output

DEFAULT_BASE_URL = "https://data.binance.vision"
BLOCK = 1 << 16
MAX_PAUSE_S = 10.0
_T = TypeVar("_T")
_CHECKSUM = re.compile(r"^([0-9a-fA-F]{64}) [ *](\S+)\s*$")


class DownloadError(FxError):
    """A file that could not be fetched or verified; the message names its URL."""


class Progress(Protocol):
    """Where a download reports its bytes (a progress bar, or nothing)."""

    def start(self, name: str, total: int | None) -> None:
        """A new file begins; `total` bytes are expected (None when unknown)."""

    def advance(self, n: int) -> None:
        """`n` more bytes arrived."""


@dataclass(frozen=True)
class ArchiveFile:
    """One file of the archive: a day (`period` YYYY-MM-DD) or a month (YYYY-MM) of one symbol."""

    market: Market
    kind: Kind
    symbol: str
    period: str

    @property
    def path(self) -> str:
        """Its path under the base URL, and under the cache folder."""
        return archive_path(self.market, self.kind, self.symbol, self.period)

    @property
    def is_monthly(self) -> bool:
        """True for a month's file."""
        return len(self.period) == 7

    def days(self) -> list[ArchiveFile]:
        """The daily files a monthly one stands for (itself for a daily file)."""
        if not self.is_monthly:
            return [self]
        year, month = int(self.period[:4]), int(self.period[5:])
        last = calendar.monthrange(year, month)[1]
        return [
            ArchiveFile(self.market, self.kind, self.symbol, date(year, month, d).isoformat())
            for d in range(1, last + 1)
        ]


def plan(symbol: str, market: Market, kind: Kind, start: date, end: date, today: date) -> list[ArchiveFile]:
    """Files covering `start..end` (inclusive): a monthly file for each whole calendar month inside
    the range that is over before `today`'s month (the current month has no monthly file yet), daily
    files for the rest."""
    files: list[ArchiveFile] = []
    day = start
    while day <= end:
        last = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        whole = day.day == 1 and last <= end and (day.year, day.month) < (today.year, today.month)
        if whole:
            files.append(ArchiveFile(market, kind, symbol, day.isoformat()[:7]))
            day = last + timedelta(days=1)
        else:
            files.append(ArchiveFile(market, kind, symbol, day.isoformat()))
            day += timedelta(days=1)
    return files


class Status(StrEnum):
    """What fetching one file came to."""

    DOWNLOADED = "downloaded"
    CACHED = "cached"  # already in the cache and matching its CHECKSUM: not fetched
    MISSING = "missing"  # the archive answered 404


@dataclass(frozen=True)
class Fetched:
    """One file's outcome: where it is on disk, and how many bytes came over the network."""

    file: ArchiveFile
    url: str
    local: Path
    status: Status
    bytes_fetched: int = 0
    resumed_from: int = 0


class _RetryableError(Exception):
    """A failure worth another attempt (connection dropped, timeout, 5xx)."""


def sha256_of(path: Path) -> str:
    """The file's sha256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def parse_checksum(text: str, name: str, url: str) -> str:
    """The sha256 of `name` from a CHECKSUM file's text; anything else is a one-line error."""
    found = _CHECKSUM.match(text.strip())
    if found is None or found[2] != name:
        raise DownloadError(f"{url}: not a CHECKSUM file for {name} (got {text.strip()[:60]!r})")
    return found[1].lower()


class ArchiveClient:
    """Fetches archive files into a cache folder; use as a context manager."""

    def __init__(
        self,
        base_url: str,
        cache_dir: Path,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        pause_s: float = 0.5,
        proxy: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = cache_dir
        self.timeout_s = timeout_s
        self.retries = retries
        self.pause_s = pause_s
        self.progress = progress
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": "fx/0.1"},
            proxy=proxy,
            trust_env=False,  # a stray http_proxy must not reroute a download (see proxy.py)
            follow_redirects=True,
        )

    def __enter__(self) -> ArchiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def url(self, file: ArchiveFile) -> str:
        """The file's URL under this client's base."""
        return f"{self.base_url}/{file.path}"

    def fetch(self, file: ArchiveFile) -> Fetched:
        """The file in the cache, verified against its CHECKSUM; MISSING if the archive lacks it."""
        try:
            return self._fetch(file)
        except OSError as exc:  # the cache folder: full, read-only, not a folder
            where = exc.filename or self.cache_dir
            raise DownloadError(f"{where}: {exc.strerror or exc}") from None

    def _fetch(self, file: ArchiveFile) -> Fetched:
        url, local = self.url(file), self.cache_dir / file.path
        name = local.name
        stored_sum = local.with_name(f"{name}.CHECKSUM")
        if local.is_file() and stored_sum.is_file():
            expected = parse_checksum(stored_sum.read_text("utf-8", "replace"), name, str(stored_sum))
            if sha256_of(local) == expected:
                return Fetched(file, url, local, Status.CACHED)
        checksum_text = self._attempts(url + ".CHECKSUM", lambda: self._get_text(url + ".CHECKSUM"))
        if checksum_text is None:
            return Fetched(file, url, local, Status.MISSING)
        expected = parse_checksum(checksum_text, name, url + ".CHECKSUM")
        make_folder(local.parent)
        if local.is_file() and sha256_of(local) == expected:
            write_output(stored_sum, checksum_text.encode())
            return Fetched(file, url, local, Status.CACHED)
        part = local.with_name(f"{name}.part")
        resumed_from = self._attempts(url, lambda: self._get_file(url, part))
        if resumed_from is None:
            part.unlink(missing_ok=True)
            return Fetched(file, url, local, Status.MISSING)
        _verify(part, expected, url)
        part.replace(local)
        write_output(stored_sum, checksum_text.encode())
        size = local.stat().st_size
        return Fetched(file, url, local, Status.DOWNLOADED, size - resumed_from, resumed_from)

    def _attempts(self, url: str, call: Callable[[], _T | None]) -> _T | None:
        """`call()` until it succeeds, with doubling pauses; None when the server says 404."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except _RetryableError as why:
                if attempt == self.retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise DownloadError(f"{url}: {why}{tries}") from None
                time.sleep(min(MAX_PAUSE_S, self.pause_s * 2**attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _get_text(self, url: str) -> str | None:
        with self._request(url, {}) as answer:
            if answer is None:
                return None
            return b"".join(self._body(answer, url)).decode("utf-8", "replace")

    def _get_file(self, url: str, part: Path) -> int | None:
        """Fetch into `part`, continuing it if the server honours Range; the offset the body of the
        successful answer started at (0: the whole file), None on 404."""
        have = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._request(url, headers) as answer:
            if answer is None:
                return None
            if answer.status_code == 416:  # the part is longer than the file: start over
                part.unlink()
                raise _RetryableError("the partial download was longer than the file; starting over")
            resume = answer.status_code == 206 and answer.headers.get("content-range", "").startswith(
                f"bytes {have}-"
            )
            length = answer.headers.get("content-length")
            total = int(length) + (have if resume else 0) if length and length.isdigit() else None
            if self.progress is not None:
                self.progress.start(part.name.removesuffix(".part"), total)
                if resume:
                    self.progress.advance(have)
            with part.open("ab" if resume else "wb") as out:
                for block in self._body(answer, url):
                    out.write(block)
        return have if resume else 0

    def _request(self, url: str, headers: dict[str, str]) -> _Answer:
        return _Answer(self._http, url, headers, self.timeout_s)

    def _body(self, answer: httpx.Response, url: str) -> Iterator[bytes]:
        try:
            for block in answer.iter_bytes(BLOCK):
                yield block
                if self.progress is not None and not url.endswith(".CHECKSUM"):
                    self.progress.advance(len(block))
        except httpx.TimeoutException:
            raise _RetryableError(f"no data for {self.timeout_s:g} s (the server is too slow)") from None
        except httpx.TransportError as exc:
            raise _RetryableError(f"the connection broke ({type(exc).__name__}: {exc})") from None


class _Answer:
    """A streamed GET as a context manager: the response, None on 404; retryable failures raise."""

    def __init__(self, http: httpx.Client, url: str, headers: dict[str, str], timeout_s: float) -> None:
        self._stream = http.stream("GET", url, headers=headers)
        self._url, self._timeout_s = url, timeout_s

    def __enter__(self) -> httpx.Response | None:
        try:
            answer = self._stream.__enter__()
        except httpx.TimeoutException:
            raise _RetryableError(
                f"no answer within {self._timeout_s:g} s (the server is too slow)"
            ) from None
        except httpx.TransportError as exc:
            raise _RetryableError(f"cannot connect ({type(exc).__name__}: {exc})") from None
        if answer.status_code == 404:
            return None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise _RetryableError(f"the server answered {answer.status_code} {answer.reason_phrase}")
        if answer.status_code not in (200, 206, 416):
            raise DownloadError(
                f"{self._url}: the server answered {answer.status_code} {answer.reason_phrase}"
            )
        return answer

    def __exit__(self, *exc: object) -> None:
        self._stream.__exit__(None, None, None)


def _verify(part: Path, expected: str, url: str) -> None:
    """Raise DownloadError (and delete the download) unless it is a zip with the expected sha256."""
    with part.open("rb") as handle:
        head = handle.read(64)
    got = sha256_of(part)
    if got == expected:
        return
    part.unlink()  # a bad download must not look like a file half-way to verified
    if not head.startswith(ZIP_MAGIC):
        shown = head[:40].decode("utf-8", "replace")
        raise DownloadError(f"{url}: not a zip archive (the server sent {shown!r}...); nothing kept")
    raise DownloadError(f"{url}: sha256 {got} does not match its CHECKSUM {expected}; nothing kept")
