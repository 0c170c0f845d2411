"""The REST client against misbehaving HTTP servers on 127.0.0.1: every failure is a typed, counted
`RestError`, no call leaves a thread or task behind, connections are reused, env proxies are ignored."""

from __future__ import annotations

import asyncio
import email.utils
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable

import pytest

from fxcli.exchange.pacing import CircuitBreaker, TokenBucket
from fxcli.exchange.rest import MAX_BODY_BYTES, RateLimitedError, RestClient, RestError
from tests.live.loopback_http import Conn, LoopbackServer, Play, forwarding_proxy, response
from tests.live.support import run, until

TIMEOUT_S = 0.5
OK_BODY = b'{"serverTime":1765000000000}'


def fast_client(
    *, proxy: str | None = None, breaker: CircuitBreaker | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> RestClient:
    """A client whose bucket never makes a test wait."""
    bucket = TokenBucket(100, 1000.0)
    return RestClient(
        timeout_s=TIMEOUT_S, bucket=bucket, breaker=breaker, proxy=proxy, max_body_bytes=max_body_bytes
    )


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ plays: one TCP connection each


async def keep_alive(conn: Conn) -> None:
    """A well-behaved server: answers every request on the connection, keeps it open."""
    while await conn.read_head() is not None:
        await conn.send(response("200 OK", OK_BODY))


async def chunked_cut_short(conn: Conn) -> None:
    await conn.read_head()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    await conn.send(head + b'100\r\n{"lastUpdateId":')


async def bad_status_line(conn: Conn) -> None:
    await conn.read_head()
    await conn.send(b"HTTP/1.1 TWO-HUNDRED OK\r\nContent-Length: 2\r\n\r\n{}")


async def never_answers(conn: Conn) -> None:
    await conn.read_head()
    await conn.until_client_closes()


async def slow_drip(conn: Conn) -> None:
    """A 200 whose body comes a byte at a time, each byte well within any per-read timeout."""
    await conn.read_head()
    if not await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"):
        return
    while await conn.send(b" "):
        await asyncio.sleep(0.02)


async def endless_chunked(conn: Conn) -> None:
    """A 200 with no length that never ends: only the size cap stops it."""
    await conn.read_head()
    await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 16384
    while await conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
        pass


def answers(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Play:
    async def play(conn: Conn) -> None:
        if await conn.read_head() is not None:
            await conn.send(response(status, body, headers))

    return play


# ------------------------------------------------------------------ the checks every failure must pass


async def failed_call(
    play: Play,
    call: Callable[[RestClient, str], Awaitable[object]] | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> tuple[RestError, RestClient, LoopbackServer]:
    """One call against `play` that must fail with a `RestError`, leaving no thread or task behind."""
    threads_before, tasks_before = threading.active_count(), asyncio.all_tasks()
    async with LoopbackServer(play) as server, fast_client(max_body_bytes=max_body_bytes) as rest:
        with pytest.raises(RestError) as caught:
            await (call(rest, server.url) if call else rest.get(f"{server.url}/api/v3/depth"))

        leftover = asyncio.all_tasks() - tasks_before - server.tasks
        assert leftover == set()
        assert threading.active_count() == threads_before
        assert rest.failures == 1
        assert rest.breaker.failures == 1
    return caught.value, rest, server


@pytest.mark.parametrize(
    ("play", "message"),
    [
        (chunked_cut_short, "broken answer: peer closed connection without sending complete message body"),
        (bad_status_line, "broken answer: "),
        (never_answers, "no answer: read timed out|no complete answer within 0.5 s"),
        (slow_drip, "no complete answer within 0.5 s"),
    ],
    ids=["chunked_cut_short", "bad_status_line", "never_answers", "slow_drip"],
)
def test_get_broken_or_stalled_answer_is_a_counted_rest_error(play: Play, message: str) -> None:
    async def scenario() -> None:
        error, _, server = await failed_call(play)

        assert re.search(message, str(error))
        assert error.status is None
        assert not error.is_unsent
        assert len(server.conns) == 1

    run(scenario())


@pytest.mark.parametrize("play", [never_answers, slow_drip], ids=["never_answers", "slow_drip"])
def test_get_past_the_deadline_hangs_up_instead_of_reading_on(play: Play) -> None:
    async def scenario() -> None:
        async with LoopbackServer(play) as server, fast_client() as rest:
            with pytest.raises(RestError):
                await rest.get(f"{server.url}/api/v3/depth")

            await until(lambda: server.conns[0].closed_by_client, 2.0, "the client to hang up")

    run(scenario())


def test_get_cancelled_by_its_caller_hangs_up_and_counts_nothing() -> None:
    async def scenario() -> None:
        async with LoopbackServer(never_answers) as server, fast_client() as rest:
            call = asyncio.create_task(rest.get(server.url))
            await until(lambda: server.requests, 2.0, "the request to arrive")

            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

            await until(lambda: server.conns[0].closed_by_client, 2.0, "the client to hang up")
            assert (rest.failures, rest.breaker.failures) == (0, 0)

    run(scenario())


def test_get_429_with_retry_after_seconds_is_rate_limited() -> None:
    async def scenario() -> None:
        play = answers("429 Too Many Requests", b'{"code":429}', {"Retry-After": "7"})

        error, _, _ = await failed_call(play)

        assert isinstance(error, RateLimitedError)
        assert (error.status, error.retry_after_s) == (429, 7.0)
        assert error.body == b'{"code":429}'

    run(scenario())


def test_get_418_with_retry_after_http_date_is_rate_limited_until_then() -> None:
    async def scenario() -> None:
        when = email.utils.formatdate(time.time() + 120, usegmt=True)

        error, _, _ = await failed_call(answers("418 I'm a teapot", headers={"Retry-After": when}))

        assert isinstance(error, RateLimitedError)
        assert error.status == 418
        assert 100 < error.retry_after_s <= 120

    run(scenario())


def test_get_503_is_a_rest_error_with_the_status_and_the_venues_words() -> None:
    async def scenario() -> None:
        error, _, _ = await failed_call(answers("503 Service Unavailable", b'{"msg": "maintenance"}'))

        assert error.status == 503
        assert str(error).endswith('HTTP 503 Service Unavailable: {"msg": "maintenance"}')

    run(scenario())


def test_get_redirect_is_not_followed() -> None:
    async def scenario() -> None:
        play = answers("301 Moved Permanently", headers={"Location": "http://elsewhere.invalid/"})

        error, _, server = await failed_call(play)

        assert error.status == 301
        assert "redirects are not followed" in str(error)
        assert len(server.requests) == 1

    run(scenario())


def test_get_body_over_the_declared_cap_is_refused_before_reading() -> None:
    async def scenario() -> None:
        error, _, _ = await failed_call(answers("200 OK", b"x" * 5000), max_body_bytes=4096)

        assert "answer of 5000 bytes is larger than 4096 bytes" in str(error)

    run(scenario())


def test_get_endless_body_is_cut_at_the_cap_and_the_connection_dropped() -> None:
    async def scenario() -> None:
        error, _, server = await failed_call(endless_chunked, max_body_bytes=65536)

        assert "answer larger than 65536 bytes" in str(error)
        await until(lambda: server.conns[0].closed_by_client, 2.0, "the client to hang up")

    run(scenario())


def test_get_refused_connection_is_a_counted_unsent_rest_error() -> None:
    async def scenario() -> None:
        async with fast_client() as rest:
            with pytest.raises(RestError, match="cannot connect: Connection refused") as caught:
                await rest.get(f"{closed_port_url()}/api/v3/time")

        assert caught.value.is_unsent
        assert rest.breaker.failures == 1

    run(scenario())


def test_get_unresolvable_host_is_a_counted_rest_error() -> None:
    async def scenario() -> None:
        async with RestClient(timeout_s=3.0) as rest:
            with pytest.raises(
                RestError, match=r"/time: (cannot resolve the host: |no complete answer)"
            ) as caught:
                await rest.get("http://fx-test.invalid/api/v3/time")

        assert caught.value.status is None
        assert rest.breaker.failures == 1

    run(scenario())


def test_failures_open_the_breaker_and_then_no_call_is_made() -> None:
    async def scenario() -> None:
        breaker = CircuitBreaker("rest", failure_threshold=2, open_s=60.0)
        async with LoopbackServer(chunked_cut_short) as server, fast_client(breaker=breaker) as rest:
            for _ in range(2):
                with pytest.raises(RestError):
                    await rest.get(server.url)
            with pytest.raises(Exception, match="circuit breaker is open"):
                await rest.get(server.url)

            assert len(server.requests) == 2

    run(scenario())


# ------------------------------------------------------------------ connections, closing, proxies


def test_sequential_calls_reuse_one_connection() -> None:
    async def scenario() -> None:
        async with LoopbackServer(keep_alive) as server, fast_client() as rest:
            bodies = [(await rest.get(f"{server.url}/api/v3/time"))[0] for _ in range(3)]

            assert bodies == [OK_BODY] * 3
            assert len(server.conns) == 1
            assert len(server.requests) == 3
            assert rest.calls == 3

    run(scenario())


def test_aclose_hangs_up_and_later_calls_are_refused_without_counting() -> None:
    async def scenario() -> None:
        async with LoopbackServer(keep_alive) as server:
            rest = fast_client()
            assert await rest.get_json(server.url) == {"serverTime": 1765000000000}

            await rest.aclose()
            await until(lambda: server.conns[0].closed_by_client, 2.0, "the pooled connection to close")
            with pytest.raises(RestError, match="closed") as caught:
                await rest.get(server.url)

            assert caught.value.is_unsent
            assert rest.breaker.failures == 0
            await rest.aclose()  # twice is fine

    run(scenario())


def test_env_proxies_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = closed_port_url()
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)

    async def scenario() -> None:
        async with LoopbackServer(keep_alive) as server, fast_client() as rest:
            body, _ = await rest.get(f"{server.url}/api/v3/time")

            assert body == OK_BODY

    run(scenario())


def test_proxy_given_is_used_for_every_call() -> None:
    async def scenario() -> None:
        seen: list[str] = []
        async with (
            LoopbackServer(keep_alive) as venue,
            LoopbackServer(forwarding_proxy(seen)) as proxy,
            fast_client(proxy=proxy.url) as rest,
        ):
            body, _ = await rest.get(f"{venue.url}/api/v3/time")

            assert body == OK_BODY
            assert seen == [f"GET {venue.url}/api/v3/time HTTP/1.1"]
            assert venue.requests == ["GET /api/v3/time HTTP/1.1"]

    run(scenario())


def test_dead_proxy_is_a_rest_error_naming_the_proxy_without_its_password() -> None:
    async def scenario() -> None:
        proxy = closed_port_url().replace("http://", "http://me:secret@")
        async with fast_client(proxy=proxy) as rest:
            with pytest.raises(RestError, match=r"via proxy http://me:\*\*\*@127\.0\.0\.1") as caught:
                await rest.get("http://127.0.0.1:9/api/v3/time")

        assert "secret" not in str(caught.value)

    run(scenario())


# ------------------------------------------------------------------ the building block of signed calls


def test_request_sends_method_query_headers_exactly_as_given() -> None:
    params = [("symbol", "BTCUSDT,MXUSDT"), ("price", "0.0000101"), ("timestamp", "1765000009000")]
    query = urllib.parse.urlencode(params) + "&signature=08ee5960"

    async def scenario() -> None:
        async with LoopbackServer(keep_alive) as server, fast_client() as rest:
            for method in ("POST", "DELETE"):
                answer = await rest.request(
                    method,
                    f"{server.url}/api/v3/order",
                    query=query,
                    headers={"X-MEXC-APIKEY": "mx0key", "Content-Type": "application/json"},
                )
                assert answer.status == 200
                assert answer.body == OK_BODY
                assert answer.sent_ts_ns <= answer.received_ts_ns

            (post, post_headers), (delete, delete_headers) = server.conns[0].requests
            target = "/api/v3/order?symbol=BTCUSDT%2CMXUSDT&price=0.0000101&timestamp=1765000009000"
            assert post == f"POST {target}&signature=08ee5960 HTTP/1.1"
            assert delete == f"DELETE {target}&signature=08ee5960 HTTP/1.1"
            assert post_headers["x-mexc-apikey"] == delete_headers["x-mexc-apikey"] == "mx0key"
            assert post_headers["content-type"] == "application/json"
            assert post_headers["content-length"] == "0"
            assert post_headers["user-agent"] == "fx/0.1"

    run(scenario())


def test_request_error_keeps_the_venues_error_document() -> None:
    async def scenario() -> None:
        document = b'{"msg":"Order does not exist.","code":-2013,"_extend":null}'

        async def call(rest: RestClient, url: str) -> object:
            return await rest.request("GET", f"{url}/api/v3/order", query="symbol=X&timestamp=1")

        error, _, _ = await failed_call(answers("400 Bad Request", document), call)

        assert (error.status, error.method, error.body) == (400, "GET", document)
        assert str(error).startswith("GET http://127.0.0.1:")

    run(scenario())


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        ("http://127.0.0.1:9/api/v3/order", "symbol=A B", "would not be sent as given"),
        ("http://127.0.0.1:9/api/v3/order?a=1", "b=2", "either in the URL or as `query`"),
        ("file:///etc/passwd", "", "only http"),
    ],
)
def test_request_that_cannot_be_sent_as_given_is_refused_before_any_call(
    url: str, query: str, message: str
) -> None:
    async def scenario() -> None:
        async with fast_client() as rest:
            with pytest.raises(RestError, match=message) as caught:
                await rest.request("POST", url, query=query)

        assert caught.value.is_unsent
        assert (rest.calls, rest.breaker.failures) == (0, 0)

    run(scenario())
