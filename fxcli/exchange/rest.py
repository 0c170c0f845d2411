"""REST calls around the market-data sockets (depth snapshots, server time), and later signed orders.

One pooled `httpx.AsyncClient` per `RestClient`: connections are reused, every call has per-phase
timeouts (connect, read, write, pool) and an overall deadline, and an abandoned call closes its
connection instead of leaving a thread behind. Calls are paced by a token bucket (after a reconnect,
75 symbols resyncing at once would be a 429 risk) and go through a circuit breaker. Every failure
surfaces as `RestError` (or `RateLimitedError`, `BreakerOpenError`), and every failed call counts
against the breaker, so callers' backoff always applies.

Proxies come only from the `proxy` argument, never from the environment; redirects are not followed.

Who closes: the code that constructs a `RestClient` closes it (`async with RestClient() as rest:` or
`await rest.aclose()`); objects it is lent to (`LiveBooks`) never do. The httpx client is created on
the first call, so a `RestClient` that never called holds nothing. Use one `RestClient` on one event
loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import httpx

from fxcli.exchange.adapter import Endpoints
from fxcli.exchange.pacing import CircuitBreaker, TokenBucket
from fxcli.exchange.proxy import ProxyUser, proxy_problem, redact
from fxcli.model.events import BookSnapshot
from fxcli.model.units import NS_PER_MS

MAX_BODY_BYTES = 32 * 1024 * 1024  # a 5000-level snapshot is well under 1 MB
ERROR_BODY_BYTES = 64 * 1024  # enough for any venue error document; an error page beyond is cut
MAX_CONNECTIONS = 16  # snapshot fetches are paced at 5/s; more sockets would only hide a slow venue
KEEPALIVE_EXPIRY_S = 15.0  # well under common server idle timeouts (60-75 s): a reused socket is alive
ERROR_SNIPPET_CHARS = 200


class RestError(Exception):
    """A REST call failed.

    `status` is the HTTP status when the venue answered, and `body` its (capped) answer, where a venue
    puts its error code. `is_unsent` is True only when the request certainly never reached the venue
    (no connection was made), which is what an order path needs to know before it retries.
    """

    def __init__(
        self,
        url: str,
        detail: str,
        status: int | None = None,
        *,
        method: str = "GET",
        body: bytes = b"",
        is_unsent: bool = False,
    ) -> None:
        super().__init__(f"{method} {url}: {detail}")
        self.url = url
        self.status = status
        self.method = method
        self.body = body
        self.is_unsent = is_unsent


class RateLimitedError(RestError):
    """HTTP 429 / 418: the venue asks us to slow down for `retry_after_s` seconds."""

    def __init__(
        self, url: str, status: int, retry_after_s: float, *, method: str = "GET", body: bytes = b""
    ) -> None:
        super().__init__(
            url, f"HTTP {status}, retry after {retry_after_s:g} s", status, method=method, body=body
        )
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


@dataclass(frozen=True)
class RestAnswer:
    """A 2xx answer: status, headers (names lower-case), body, and when the call left and its body arrived."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    sent_ts_ns: int
    received_ts_ns: int


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
    """HTTP calls with a deadline, a token bucket and a circuit breaker; one per venue (and purpose).

    async with RestClient(timeout_s=5.0) as rest:
        snapshot = await rest.fetch_snapshot(adapter, "BTCUSDT")
    """

    def __init__(
        self,
        *,
        timeout_s: float = 5.0,
        breaker: CircuitBreaker | None = None,
        bucket: TokenBucket | None = None,
        user_agent: str = "fx/0.1",
        proxy: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if proxy:
            httpx.Proxy(proxy)  # a bad proxy URL fails here (ValueError), not on the first call
            problem = proxy_problem(proxy, (ProxyUser.REST,))
            if problem is not None:
                raise ValueError(problem)
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker("rest")
        self.bucket = bucket or TokenBucket(5, 5.0)
        self.user_agent = user_agent
        self.proxy = proxy or None
        self.max_body_bytes = max_body_bytes
        self.calls = 0
        self.failures = 0
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections; later calls raise `RestError`. Safe to call twice."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def get(self, url: str) -> tuple[bytes, int]:
        """The body of a 2xx answer and its receive time (ns).

        Raises `BreakerOpenError` without calling while the breaker is open, `RateLimitedError` on
        429/418, `RestError` on any other failure (status, deadline, network, protocol, oversized body).
        """
        answer = await self.request("GET", url)
        return answer.body, answer.received_ts_ns

    async def get_json(self, url: str) -> Any:
        """The JSON document of a 2xx answer; a body that is not JSON is a failed call (`RestError`)."""
        body, _ = await self.get(url)
        try:
            return json.loads(body)
        except ValueError as exc:
            self._failed()
            raise RestError(url, f"answer is not JSON: {exc}") from None

    async def request(
        self,
        method: str,
        url: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> RestAnswer:
        """Send one request and return its 2xx answer; the building block of signed calls.

        `query` is sent byte for byte as given (build it with `urllib.parse.urlencode`), so a signature
        computed over it is the signature of what the venue receives; `headers` add to (or replace) the
        defaults. Never retried here: a POST sent twice can be two orders. Raises as `get` does.
        """
        method = method.upper()
        target = _target(method, url, query)
        if self._closed:
            raise RestError(target, "the REST client is closed", method=method, is_unsent=True)
        self.breaker.check()
        await self.bucket.acquire()
        self.breaker.check()
        self.calls += 1
        try:
            answer = await self._send(method, target, headers, body)
        except RestError:
            self._failed()
            raise
        self.breaker.record_success()
        return answer

    async def fetch_snapshot(self, source: SnapshotSource, symbol: str) -> BookSnapshot:
        """A full REST depth snapshot of `symbol`, decoded by the adapter; a bad body counts as a failure."""
        url = source.snapshot_url(symbol)
        body, received_ts_ns = await self.get(url)
        try:
            return source.decode_snapshot(body, symbol, received_ts_ns)
        except ValueError as exc:
            self._failed()
            raise RestError(url, f"bad snapshot: {exc}") from None

    async def fetch_server_time(self, source: SnapshotSource) -> ClockSample:
        """The venue's clock against ours (for clock-offset tracking and order signing)."""
        url = time_url(source)
        answer = await self.request("GET", url)  # its send time excludes the wait for a bucket token
        try:
            server_ms = parse_server_time_ms(answer.body)
        except ValueError as exc:
            self._failed()
            raise RestError(url, str(exc)) from None
        sent_ns, received_ns = answer.sent_ts_ns, answer.received_ts_ns
        return ClockSample(server_ms, (sent_ns + received_ns) // 2, received_ns - sent_ns)

    # ------------------------------------------------------------------ internals

    def _failed(self) -> None:
        self.failures += 1
        self.breaker.record_failure()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # A phase that takes half the budget has failed; the read may use all of it. The deadline
            # in `_send` bounds the sum, including a body that trickles in byte by byte.
            phase_s = self.timeout_s / 2
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(connect=phase_s, read=self.timeout_s, write=phase_s, pool=phase_s),
                limits=httpx.Limits(
                    max_connections=MAX_CONNECTIONS,
                    max_keepalive_connections=MAX_CONNECTIONS,
                    keepalive_expiry=KEEPALIVE_EXPIRY_S,
                ),
                headers={"User-Agent": self.user_agent, "Accept": "application/json"},
                proxy=self.proxy,
                trust_env=False,
                follow_redirects=False,
            )
        return self._client

    async def _send(
        self, method: str, target: str, headers: Mapping[str, str] | None, body: bytes
    ) -> RestAnswer:
        """One exchange under the overall deadline; every way it can fail becomes a `RestError`."""
        sent_ts_ns = time.time_ns()
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                self._http().stream(method, target, headers=headers, content=body or None) as response,
            ):
                if not response.is_success:
                    error_body = await _read(response, ERROR_BODY_BYTES, cut=True)
                    raise _status_error(method, target, response, error_body)
                payload = await _read(response, self.max_body_bytes, cut=False)
                received_ts_ns = time.time_ns()
        except RestError:
            raise
        except TimeoutError:  # the overall deadline (httpx's own timeouts are not TimeoutError)
            raise RestError(
                target, f"no complete answer within {self.timeout_s:g} s", method=method
            ) from None
        except _TooLargeError as exc:
            raise RestError(target, str(exc), method=method) from None
        except (httpx.HTTPError, httpx.StreamError) as exc:
            detail, is_unsent = _transport_detail(exc)
            if self.proxy is not None:
                detail += f" (via proxy {redact(self.proxy)})"
            raise RestError(target, detail, method=method, is_unsent=is_unsent) from None
        except Exception as exc:
            # An error nobody foresaw in a library below must still reach the caller's backoff and the
            # breaker, not end the caller's task (review finding 10).
            raise RestError(target, f"unexpected {type(exc).__name__}: {exc}", method=method) from None
        return RestAnswer(response.status_code, dict(response.headers), payload, sent_ts_ns, received_ts_ns)


class _TooLargeError(Exception):
    """A body past the cap (turned into a `RestError` by `_send`)."""


def _target(method: str, url: str, query: str) -> str:
    """The URL to send, checked: http(s) only, and a query httpx will send exactly as given."""
    if not url.startswith(("http://", "https://")):
        raise RestError(url, "only http(s) URLs are fetched", method=method, is_unsent=True)
    if query and "?" in url:
        raise RestError(
            url, "give the query either in the URL or as `query`, not both", method=method, is_unsent=True
        )
    target = f"{url}?{query}" if query else url
    try:
        parsed = httpx.URL(target)
    except httpx.InvalidURL as exc:
        raise RestError(url, f"invalid URL: {exc}", method=method, is_unsent=True) from None
    if query and parsed.query != query.encode("ascii", "replace"):
        detail = f"query {query!r} would not be sent as given: percent-encode it"
        raise RestError(url, detail, method=method, is_unsent=True)
    return target


async def _read(response: httpx.Response, cap_bytes: int, *, cut: bool) -> bytes:
    """The (decoded) body, streamed: past `cap_bytes` it is cut there (`cut`) or refused."""
    declared = response.headers.get("content-length", "")
    if not cut and declared.isdigit() and int(declared) > cap_bytes:
        raise _TooLargeError(f"answer of {declared} bytes is larger than {cap_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap_bytes:
            if cut:
                break
            raise _TooLargeError(f"answer larger than {cap_bytes} bytes")
    return b"".join(chunks)[:cap_bytes]


def _status_error(method: str, target: str, response: httpx.Response, body: bytes) -> RestError:
    status = response.status_code
    if status in (418, 429):
        wait_s = retry_after_s(response.headers.get("retry-after"))
        return RateLimitedError(target, status, wait_s, method=method, body=body)
    detail = f"HTTP {status} {response.reason_phrase}".rstrip()
    if response.is_redirect:
        detail += f" to {response.headers.get('location', '?')} (redirects are not followed)"
    snippet = " ".join(body.decode("utf-8", "replace").split())[:ERROR_SNIPPET_CHARS]
    if snippet:
        detail += f": {snippet}"
    return RestError(target, detail, status, method=method, body=body)


def _transport_detail(exc: httpx.HTTPError | httpx.StreamError) -> tuple[str, bool]:
    """What went wrong in words, and whether the request certainly never left (no connection)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return "cannot connect: timed out", True
    if isinstance(exc, httpx.PoolTimeout):
        return "no free connection in time (too many calls at once)", True
    if isinstance(exc, httpx.ReadTimeout):
        return "no answer: read timed out", False
    if isinstance(exc, httpx.WriteTimeout):
        return "sending timed out", False
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc) or f"cannot connect: {text}", True
    if isinstance(exc, httpx.ProxyError):
        return f"proxy refused the tunnel: {text}", True
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"broken answer: {text}", False
    if isinstance(exc, httpx.DecodingError):
        return f"answer cannot be decoded: {text}", False
    return f"{type(exc).__name__}: {text}", False


def _connect_failure(exc: BaseException) -> str | None:
    """The system's words for the socket error under a library's wrapper ("All connection attempts
    failed" hides "Connection refused"), or None."""
    reason = None
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror):
            reason = f"cannot resolve the host: {cause.strerror or cause}"
        elif isinstance(cause, OSError) and cause.errno is not None and cause.errno > 0:
            reason = f"cannot connect: {os.strerror(cause.errno)}"
        cause = cause.__cause__ or cause.__context__
    return reason
