"""REST calls around the market-data sockets: depth snapshots and server time.

Every call has a timeout, is paced by a token bucket (after a reconnect, 75 symbols resyncing at
once would be a 429 risk) and goes through a circuit breaker. HTTP is stdlib `urllib` run in a worker
thread, so the event loop never waits on the network and fx needs no HTTP dependency.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from fxcli.exchange.adapter import Endpoints
from fxcli.exchange.pacing import CircuitBreaker, TokenBucket
from fxcli.model.events import BookSnapshot
from fxcli.model.units import NS_PER_MS

MAX_BODY_BYTES = 32 * 1024 * 1024  # a 5000-level snapshot is well under 1 MB


class RestError(Exception):
    """A REST call failed; `status` is the HTTP status when there was one."""

    def __init__(self, url: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"GET {url}: {detail}")
        self.url = url
        self.status = status


class RateLimitedError(RestError):
    """HTTP 429 / 418: the venue asks us to slow down for `retry_after_s` seconds."""

    def __init__(self, url: str, status: int, retry_after_s: float) -> None:
        super().__init__(url, f"HTTP {status}, retry after {retry_after_s:g} s", status)
        self.retry_after_s = retry_after_s


class SnapshotSource(Protocol):
    """The part of an `Adapter` a snapshot fetch needs."""

    venue: str
    endpoints: Endpoints

    def snapshot_url(self, symbol: str) -> str: ...

    def decode_snapshot(self, body: bytes, symbol: str, received_ts_ns: int) -> BookSnapshot: ...


@dataclass(frozen=True)
class ClockSample:
    """One server-time reading: the venue's clock against ours at the midpoint of the round trip."""

    server_ms: int
    local_mid_ns: int
    rtt_ns: int

    @property
    def offset_ms(self) -> float:
        """Venue clock minus local clock, in ms (positive: the venue is ahead)."""
        return self.server_ms - self.local_mid_ns / NS_PER_MS


def retry_after_s(value: str | None, default_s: float = 1.0) -> float:
    """Seconds from a Retry-After header (delta seconds or an HTTP date); `default_s` if absent or bad."""
    if not value:
        return default_s
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default_s
    return max(0.0, when.timestamp() - time.time())


def time_url(source: SnapshotSource) -> str:
    """The venue's server-time URL (spot `/api/v3/time`, futures `/api/v1/contract/ping`)."""
    base = source.endpoints.rest_url.rstrip("/")
    if "futures" in source.venue or "contract" in source.venue:
        if base.endswith("/api/v1/contract"):
            return f"{base}/ping"
        return f"{base}/api/v1/contract/ping"
    return f"{base}/api/v3/time"


def parse_server_time_ms(body: bytes) -> int:
    """The server time in ms from `{"serverTime": ms}` (spot) or `{"success": true, "data": ms}` (futures)."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"server time answer is not JSON: {exc}") from None
    value = doc.get("serverTime", doc.get("data")) if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**14:
        raise ValueError(f"no server time in answer: {body[:200]!r}")
    return value


class RestClient:
    """GETs with a timeout, a token bucket and a circuit breaker; one per venue."""

    def __init__(
        self,
        *,
        timeout_s: float = 5.0,
        breaker: CircuitBreaker | None = None,
        bucket: TokenBucket | None = None,
        user_agent: str = "fx/0.1",
    ) -> None:
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker("rest")
        self.bucket = bucket or TokenBucket(5, 5.0)
        self.user_agent = user_agent
        self.calls = 0
        self.failures = 0

    async def get(self, url: str) -> tuple[bytes, int]:
        """The body of a 200 answer and its receive time (ns).

        Raises `BreakerOpenError` without calling while the breaker is open, `RateLimitedError` on
        429/418, `RestError` on any other failure (status, timeout, network, oversized body).
        """
        if not url.startswith(("http://", "https://")):
            raise RestError(url, "only http(s) URLs are fetched")
        self.breaker.check()
        await self.bucket.acquire()
        self.breaker.check()
        self.calls += 1
        try:
            body = await asyncio.wait_for(asyncio.to_thread(self._get_blocking, url), self.timeout_s + 1.0)
        except TimeoutError:
            self._failed()
            raise RestError(url, f"no answer within {self.timeout_s:g} s") from None
        except RestError:
            self._failed()
            raise
        received_ts_ns = time.time_ns()
        self.breaker.record_success()
        return body, received_ts_ns

    async def fetch_snapshot(self, source: SnapshotSource, symbol: str) -> BookSnapshot:
        """A full REST depth snapshot of `symbol`, decoded by the adapter; a bad body counts as a failure."""
        url = source.snapshot_url(symbol)
        body, received_ts_ns = await self.get(url)
        try:
            return source.decode_snapshot(body, symbol, received_ts_ns)
        except ValueError as exc:
            self.breaker.record_failure()
            raise RestError(url, f"bad snapshot: {exc}") from None

    async def fetch_server_time(self, source: SnapshotSource) -> ClockSample:
        """The venue's clock against ours (for clock-offset tracking and order signing)."""
        url = time_url(source)
        sent_ns = time.time_ns()
        body, received_ts_ns = await self.get(url)
        try:
            server_ms = parse_server_time_ms(body)
        except ValueError as exc:
            self.breaker.record_failure()
            raise RestError(url, str(exc)) from None
        return ClockSample(server_ms, (sent_ns + received_ts_ns) // 2, received_ts_ns - sent_ns)

    def _failed(self) -> None:
        self.failures += 1
        self.breaker.record_failure()

    def _get_blocking(self, url: str) -> bytes:
        request = urllib.request.Request(
            url, headers={"User-Agent": self.user_agent, "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                body: bytes = answer.read(MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                if exc.code in (418, 429):
                    raise RateLimitedError(
                        url, exc.code, retry_after_s(exc.headers.get("Retry-After"))
                    ) from None
                raise RestError(url, f"HTTP {exc.code} {exc.reason}", exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RestError(url, f"{type(exc).__name__}: {reason}") from None
        if len(body) > MAX_BODY_BYTES:
            raise RestError(url, f"answer larger than {MAX_BODY_BYTES} bytes")
        return body
