"""The MEXC private client against scripted servers on 127.0.0.1: signed requests as the venue
checks them, every transport fault typed by what it means for an order (spec §2.3, F6, F7, F25),
the 700003 resend, the 429 block, and keys that never show."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from fxcli.errors import FxError
from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import OutcomeUnknown, RetryClass, VenueError
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.model.orders import BUY, OrderRequest
from tests.live.loopback_http import LoopbackServer, response
from tests.live.mexc_loopback import HANG, HANG_UP, KEY, SECRET, Handler, Seen, error, ok, serve, server_time
from tests.live.support import run

TIMEOUT_S = 0.5
ORDER = OrderRequest(
    "PEPEUSDT", BUY, "LIMIT", "fxk7q2m9e00000001", quantity=Decimal("1E+6"), price=Decimal("0.00001010")
)
ACK = {
    "symbol": "PEPEUSDT",
    "orderId": "C02__600000000000000001",
    "orderListId": -1,
    "price": "0.0000101",
    "origQty": "1000000",
    "type": "LIMIT",
    "side": "BUY",
    "transactTime": 1765000000300,
}
ORDER_DOC = {
    "symbol": "PEPEUSDT",
    "orderId": "C02__600000000000000001",
    "orderListId": -1,
    "clientOrderId": "fxk7q2m9e00000001",
    "price": "0.0000101",
    "origQty": "1000000",
    "executedQty": "400000",
    "cummulativeQuoteQty": "4.04",
    "status": "PARTIALLY_FILLED",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "side": "BUY",
    "stopPrice": "0.0",
    "time": 1765000000300,
    "updateTime": None,
    "isWorking": True,
    "origQuoteOrderQty": "0",
}


def venue(on_private: Handler, *, skew_ms: int = 0) -> Handler:
    """Answers /api/v3/time itself and everything else through `on_private`."""

    async def handle(request: Seen) -> bytes:
        if request.path == "/api/v3/time":
            return server_time(skew_ms)
        return await on_private(request)

    return handle


def answer(data: bytes) -> Handler:
    async def handle(request: Seen) -> bytes:
        return data

    return handle


async def with_client(
    handler: Handler, act: Callable[[PrivateClient], Awaitable[Any]], **options: Any
) -> tuple[Any, list[Seen]]:
    """Run `act` against a server playing `handler`; the outcome (value or exception) and what the
    server saw."""
    seen: list[Seen] = []
    async with LoopbackServer(serve(handler, seen)) as server:
        client = PrivateClient(server.url, ApiKeys(KEY, SECRET), timeout_s=TIMEOUT_S, **options)
        async with client:
            try:
                result: Any = await act(client)
            except VenueError as exc:
                result = exc
    return result, seen


def new_order(client: PrivateClient) -> Awaitable[Any]:
    return client.new_order(ORDER)


def query_order(client: PrivateClient) -> Awaitable[Any]:
    return client.query_order("PEPEUSDT", client_id="fxk7q2m9e00000001")


def cancel_order(client: PrivateClient) -> Awaitable[Any]:
    return client.cancel_order("PEPEUSDT", client_id="fxk7q2m9e00000001")


def private(seen: list[Seen]) -> list[Seen]:
    return [s for s in seen if s.path != "/api/v3/time"]


# ------------------------------------------------------------------ what goes on the wire


def test_new_order_is_signed_as_the_venue_checks_it() -> None:
    result, seen = run(with_client(venue(answer(ok(ACK))), new_order))

    assert [s.path for s in seen] == ["/api/v3/time", "/api/v3/order"]
    sent = seen[1]
    assert sent.verb == "POST"
    assert sent.signature_ok()
    assert sent.headers["x-mexc-apikey"] == KEY
    assert sent.headers.get("content-length", "0") == "0"
    assert sent.query.startswith(
        "symbol=PEPEUSDT&side=BUY&type=LIMIT&quantity=1000000&price=0.0000101"
        "&newClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp="
    )
    assert result.order_id == "C02__600000000000000001"
    assert (result.symbol, result.transact_ms) == ("PEPEUSDT", 1765000000300)


def test_timestamp_carries_the_venue_clock_offset() -> None:
    skew_ms = 10_000

    result, seen = run(with_client(venue(answer(ok(ACK)), skew_ms=skew_ms), new_order))

    sent_ms = int(seen[1].params["timestamp"])
    assert abs(sent_ms - (time.time_ns() // 1_000_000 + skew_ms)) < 2_000
    assert result.order_id == "C02__600000000000000001"


def test_every_method_decodes_the_documented_answers() -> None:
    trades = [
        {
            "symbol": "PEPEUSDT",
            "id": "600000000000000777X1",
            "orderId": "C02__600000000000000001",
            "orderListId": -1,
            "price": "0.0000101",
            "qty": "400000",
            "quoteQty": "4.04",
            "commission": "200",
            "commissionAsset": "PEPE",
            "time": 1765000000410,
            "isBuyer": True,
            "isMaker": False,
            "isBestMatch": True,
            "isSelfTrade": False,
            "clientOrderId": None,
        }
    ]
    cancel = ORDER_DOC | {"origClientOrderId": "fxk7q2m9e00000001", "clientOrderId": "fxk7q2m9c00000003"}
    answers = {
        ("GET", "/api/v3/order"): ok(ORDER_DOC),
        ("DELETE", "/api/v3/order"): ok(cancel | {"status": "NEW"}),
        ("GET", "/api/v3/openOrders"): ok([ORDER_DOC]),
        ("DELETE", "/api/v3/openOrders"): ok([cancel]),
        ("GET", "/api/v3/allOrders"): ok([ORDER_DOC, ORDER_DOC | {"orderId": 17}]),
        ("GET", "/api/v3/myTrades"): ok(trades),
        ("GET", "/api/v3/account"): ok(
            {"canTrade": True, "balances": [{"asset": "USDT", "free": "89.9", "locked": "6.06"}]}
        ),
        ("POST", "/api/v3/userDataStream"): ok({"listenKey": "pqia91ma19"}),
        ("PUT", "/api/v3/userDataStream"): ok({"listenKey": "pqia91ma19"}),
        ("DELETE", "/api/v3/userDataStream"): ok({"listenKey": "pqia91ma19"}),
        ("GET", "/api/v3/userDataStream"): ok({"listenKey": ["a1", "b2"]}),
        ("GET", "/api/v3/selfSymbols"): ok({"code": 200, "data": ["PEPEUSDT", "BTCUSDT"], "msg": None}),
        ("POST", "/api/v3/order/test"): ok({}),
    }

    async def handle(request: Seen) -> bytes:
        assert request.signature_ok(), request.path
        return answers[(request.verb, request.path)]

    async def act(c: PrivateClient) -> list[Any]:
        values = [
            await c.query_order("PEPEUSDT", client_id="fxk7q2m9e00000001"),
            await c.cancel_order("PEPEUSDT", order_id="C02__600000000000000001"),
            await c.open_orders("PEPEUSDT"),
            await c.cancel_open_orders("PEPEUSDT"),
            await c.all_orders("PEPEUSDT", start_ms=1, end_ms=2, limit=10),
            await c.my_trades("PEPEUSDT", order_id="C02__600000000000000001"),
            await c.account(),
            await c.listen_key_create(),
            await c.listen_keys(),
            await c.api_symbols(),
        ]
        await c.listen_key_extend("pqia91ma19")
        await c.listen_key_delete("pqia91ma19")
        await c.test_order(ORDER)
        return values

    result, seen = run(with_client(venue(handle), act))

    assert not isinstance(result, Exception), result
    order, cancelled, open_, cancel_all, all_, fills, balances, key, keys, symbols = result
    assert (order.status, order.executed_qty, order.cum_quote) == (
        "PARTIALLY_FILLED",
        Decimal(400000),
        Decimal("4.04"),
    )
    assert (order.client_id, order.update_ms) == ("fxk7q2m9e00000001", 0)
    assert (cancelled.status, cancelled.client_id) == ("NEW", "fxk7q2m9e00000001")
    assert [o.order_id for o in open_] == ["C02__600000000000000001"]
    assert cancel_all[0].client_id == "fxk7q2m9e00000001"
    assert [o.order_id for o in all_] == ["C02__600000000000000001", "17"]
    assert (fills[0].trade_id, fills[0].client_id, fills[0].side) == ("600000000000000777X1", "", BUY)
    assert (fills[0].fee, fills[0].fee_asset, fills[0].qty) == (Decimal(200), "PEPE", Decimal(400000))
    assert balances["USDT"].locked == Decimal("6.06")
    assert (key, keys, symbols) == ("pqia91ma19", ["a1", "b2"], {"PEPEUSDT", "BTCUSDT"})
    by_path = {(s.verb, s.path): s.params for s in private(seen)}
    assert by_path[("GET", "/api/v3/allOrders")]["startTime"] == "1"
    assert by_path[("PUT", "/api/v3/userDataStream")]["listenKey"] == "pqia91ma19"
    assert by_path[("DELETE", "/api/v3/userDataStream")]["listenKey"] == "pqia91ma19"
    assert by_path[("POST", "/api/v3/order/test")]["newClientOrderId"] == "fxk7q2m9e00000001"
    assert by_path[("DELETE", "/api/v3/order")]["orderId"] == "C02__600000000000000001"


# ------------------------------------------------------------------ faults: what an answer means

FAULTS = {
    "timeout": HANG,
    "reset": HANG_UP,
    "5xx": response("502 Bad Gateway", b"<html>bad gateway</html>"),
    "403 WAF HTML": response("403 Forbidden", b"<HTML><TITLE>Access Denied</TITLE></HTML>"),
    "truncated JSON": response("200 OK", b'{"symbol":"PEPEUSDT","orderId":"C02__6'),
    "cut body": b'HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n{"symbol":"PEPEUSDT",',
    "empty 200": response("200 OK", b""),
    "unknown code": error(987654, "new venue error"),
    "10203": error(10203, "Order processing error"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("act", [new_order, cancel_order], ids=["POST order", "DELETE order"])
def test_changing_request_with_lost_answer_is_outcome_unknown_and_never_resent(
    fault: str, act: Callable[[PrivateClient], Awaitable[Any]]
) -> None:
    result, seen = run(with_client(venue(answer(FAULTS[fault])), act))

    assert isinstance(result, OutcomeUnknown), result
    assert result.retry is RetryClass.UNKNOWN_OUTCOME
    assert len(private(seen)) == 1


@pytest.mark.parametrize("fault", list(FAULTS))
def test_read_with_lost_answer_is_retryable_not_unknown(fault: str) -> None:
    result, seen = run(with_client(venue(answer(FAULTS[fault])), query_order))

    assert isinstance(result, VenueError)
    assert not isinstance(result, OutcomeUnknown)
    expected = RetryClass.HALT if fault == "unknown code" else RetryClass.RETRY_GET
    assert result.retry is expected
    assert len(private(seen)) == 1


def test_timeout_gives_up_after_timeout_s() -> None:
    start = time.monotonic()

    result, _ = run(with_client(venue(answer(HANG)), new_order))

    assert isinstance(result, OutcomeUnknown)
    assert TIMEOUT_S * 0.9 <= time.monotonic() - start < TIMEOUT_S * 4


def test_refused_connection_is_not_sent_and_retryable() -> None:
    async def act() -> VenueError:
        async with LoopbackServer(serve(answer(HANG_UP), [])) as server:
            url = server.url  # closed below: nobody listens on the port any more
        client = PrivateClient(url, ApiKeys(KEY, SECRET), timeout_s=TIMEOUT_S)
        client.offset_ms = 0
        async with client:
            with pytest.raises(VenueError) as caught:
                await client.new_order(ORDER)
        return caught.value

    error_ = run(act())

    assert not isinstance(error_, OutcomeUnknown)
    assert (error_.name, error_.retry) == ("not_sent", RetryClass.RETRY_GET)


def test_query_unknown_order_is_not_found() -> None:
    raw = b'{"msg":"Order does not exist.","code":-2013,"_extend":null}'

    result, _ = run(with_client(venue(answer(response("400 Bad Request", raw))), query_order))

    assert (result.code, result.retry, result.name) == (-2013, RetryClass.NOT_FOUND, "order_not_found")


def test_business_reject_is_typed_and_not_resent() -> None:
    result, seen = run(
        with_client(venue(answer(error(30087, "Order price exceeds allowed range"))), new_order)
    )

    assert (result.code, result.retry) == (30087, RetryClass.REJECT)
    assert not isinstance(result, OutcomeUnknown)
    assert len(private(seen)) == 1


# ------------------------------------------------------------------ clock: 700003 resync and one resend


def test_timestamp_refused_resyncs_clock_and_resends_once() -> None:
    refusals = [error(700003, "Timestamp for this request is outside of the recvWindow.")]

    async def handle(request: Seen) -> bytes:
        return refusals.pop() if refusals else ok(ACK)

    result, seen = run(with_client(venue(handle), new_order))

    assert result.order_id == "C02__600000000000000001"
    assert [s.path for s in seen] == ["/api/v3/time", "/api/v3/order", "/api/v3/time", "/api/v3/order"]
    assert seen[1].params["timestamp"] != seen[3].params["timestamp"]
    assert seen[3].signature_ok()


def test_timestamp_refused_twice_raises_after_one_resend() -> None:
    result, seen = run(with_client(venue(answer(error(700003, "outside of the recvWindow"))), new_order))

    assert (result.code, result.retry) == (700003, RetryClass.RESYNC_ONCE)
    assert [s.path for s in private(seen)] == ["/api/v3/order", "/api/v3/order"]


def test_clock_jump_at_the_venue_is_followed() -> None:
    """The venue enforces the receive window against its own clock, which jumps 3 s ahead mid-session."""
    skew = {"ms": 0}

    async def handle(request: Seen) -> bytes:
        if request.path == "/api/v3/time":
            return server_time(skew["ms"])
        now_ms = time.time_ns() // 1_000_000 + skew["ms"]
        ts = int(request.params["timestamp"])
        if not (ts < now_ms + 1000 and now_ms - ts <= int(request.params["recvWindow"])):
            return error(700003, "Timestamp for this request is outside of the recvWindow.")
        return ok(ACK)

    async def act(client: PrivateClient) -> list[int]:
        await client.new_order(ORDER)
        skew["ms"] = -7000  # the venue's clock now lags ours: our timestamps look 7 s early
        await client.new_order(ORDER)
        assert client.offset_ms is not None
        return [client.offset_ms]

    result, seen = run(with_client(handle, act, recv_window_ms=5000))

    assert not isinstance(result, Exception), result
    assert abs(result[0] + 7000) < 500
    assert [s.path for s in seen].count("/api/v3/order") == 3  # one refused, resent once


# ------------------------------------------------------------------ rate limits


def test_429_blocks_every_request_until_retry_after() -> None:
    limited = [
        error(429, "Too Many Requests", "429 Too Many Requests").replace(
            b"\r\n\r\n", b"\r\nRetry-After: 1\r\n\r\n", 1
        )
    ]

    async def handle(request: Seen) -> bytes:
        return limited.pop() if limited else ok(ORDER_DOC)

    async def act(client: PrivateClient) -> list[Any]:
        outcomes: list[Any] = []
        try:
            await client.query_order("PEPEUSDT", client_id="x")
        except VenueError as exc:
            outcomes.append(exc)
        outcomes.append(await client.query_order("PEPEUSDT", client_id="x"))
        return outcomes

    result, seen = run(with_client(venue(handle), act))

    first, second = private(seen)
    assert (result[0].retry, result[0].retry_after_s) == (RetryClass.WAIT, 1.0)
    assert second.at - first.at >= 0.95
    assert result[1].order_id == "C02__600000000000000001"


def test_three_times_the_order_budget_gets_no_429() -> None:
    """The venue's limits as a strict sliding window (12 order requests/s, 20 in all); fx asks for
    30 orders at once, three times its 10/s budget."""
    times: list[float] = []
    refused: list[Seen] = []

    async def handle(request: Seen) -> bytes:
        now = time.monotonic()
        recent = [t for t in times if now - t < 1.0]
        times.append(now)
        if len(recent) + 1 > 12:
            refused.append(request)
            return error(429, "Too Many Requests", "429 Too Many Requests")
        return ok(ACK)

    async def act(client: PrivateClient) -> list[Any]:
        return await asyncio.gather(*(client.new_order(ORDER) for _ in range(30)), return_exceptions=True)

    result, seen = run(with_client(venue(handle), act))

    assert refused == []
    assert all(not isinstance(r, Exception) for r in result)
    assert [s.path for s in seen].count("/api/v3/time") == 1  # one clock measurement for all 30


# ------------------------------------------------------------------ key hygiene


def test_keys_never_appear_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Api key info invalid: {KEY} / {SECRET}"
    scenarios = [
        answer(error(10072, echo)),
        answer(response("502 Bad Gateway", echo.encode())),
        answer(response("403 Forbidden", f"<html>{echo}</html>".encode())),
        answer(HANG),
        answer(ok({"symbol": KEY})),
        answer(error(700003, echo)),
    ]
    shown: list[str] = []
    for handler in scenarios:
        for act in (new_order, query_order):
            result, _ = run(with_client(venue(handler), act))
            shown += [str(result), repr(result), getattr(result, "msg", "")]

    async def client_repr() -> str:
        async with PrivateClient("http://127.0.0.1:9", ApiKeys(KEY, SECRET)) as client:
            return repr(client) + repr(vars(client))

    shown.append(run(client_repr()))
    text = "\n".join(shown) + caplog.text
    assert caplog.records  # the scenarios did log (httpx and the client)
    assert KEY not in text
    assert SECRET not in text


@pytest.mark.parametrize(
    ("url", "options", "words"),
    [
        (
            "ftp://api.mexc.com",
            {},
            "the MEXC REST URL must start with http:// or https://, got 'ftp://api.mexc.com'",
        ),
        (
            "https://api.mexc.com",
            {"recv_window_ms": 60001},
            "the receive window must be 1..60000 ms, got 60001",
        ),
        ("https://api.mexc.com", {"timeout_s": 0}, "the MEXC REST timeout must be > 0 s, got 0"),
    ],
)
def test_bad_settings_are_user_errors(url: str, options: dict[str, Any], words: str) -> None:
    with pytest.raises(FxError) as caught:
        PrivateClient(url, ApiKeys(KEY, SECRET), **options)

    assert str(caught.value) == words
