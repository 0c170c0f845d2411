"""The MEXC private client against the fake venue of tests/fake_mexc_private (real HTTP on
127.0.0.1, its own signature check): orders, fills and balances agree with the venue's ledger, the
pre-trade check agrees with the venue's own rejections, and faults surface as the spec says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from fxcli.exchange.mexc_private.budget import OrderBudget
from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import OutcomeUnknown, RetryClass, VenueError
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.exchange.mexc_private.rules import check
from fxcli.model.orders import BUY, CANCELED, NEW, SELL, OrderRequest
from tests.fake_mexc_private import ApiKey, FakePrivateVenue
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET
from tests.live.support import run

LAST = Decimal("0.0000101")  # the fake's PEPEUSDT last price


def buy(n: int = 1, qty: str = "1000000", price: str = "0.00001", kind: str = "LIMIT") -> OrderRequest:
    return OrderRequest(
        "PEPEUSDT", BUY, kind, f"fxk7q2m9e{n:08d}", quantity=Decimal(qty), price=Decimal(price)
    )


Act = Callable[[PrivateClient, FakePrivateVenue], Awaitable[Any]]


def on_venue(
    act: Act,
    *,
    keys: ApiKeys | None = None,
    venue_keys: dict[str, ApiKey] | None = None,
    timeout_s: float = 1.0,
    budget: OrderBudget | None = None,
    recv_window_ms: int = 5000,
    **venue_options: Any,
) -> Any:
    """Run `act` with a client (`keys`) against a fresh fake venue (holding `venue_keys`)."""

    async def scenario() -> Any:
        async with FakePrivateVenue(seed=7, keys=venue_keys, **venue_options) as venue:
            keys_ = keys or ApiKeys(DOC_KEY, DOC_SECRET)
            client = PrivateClient(
                venue.rest_url, keys_, timeout_s=timeout_s, budget=budget, recv_window_ms=recv_window_ms
            )
            async with client:
                return await act(client, venue)

    return run(scenario(), timeout_s=30.0)


def test_order_lifecycle_agrees_with_the_venue_ledger() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> dict[str, Any]:
        ack = await client.new_order(buy())
        found = await client.query_order("PEPEUSDT", client_id="fxk7q2m9e00000001")
        by_id = await client.query_order("PEPEUSDT", order_id=ack.order_id)
        open_ = await client.open_orders("PEPEUSDT")
        cancel = await client.cancel_order("PEPEUSDT", client_id="fxk7q2m9e00000001")
        after = await client.query_order("PEPEUSDT", order_id=ack.order_id)
        every = await client.all_orders("PEPEUSDT")
        return {k: v for k, v in locals().items() if k not in ("client", "venue")} | {
            "ledger": venue.ledger()
        }

    seen = on_venue(act)

    ledger_order = seen["ledger"]["orders"][0]
    assert seen["ack"].order_id == ledger_order["orderId"]
    assert seen["found"] == seen["by_id"]
    assert (seen["found"].status, seen["found"].client_id) == (NEW, "fxk7q2m9e00000001")
    assert [o.order_id for o in seen["open_"]] == [seen["ack"].order_id]
    assert seen["cancel"].status == NEW  # the venue answers a cancel with the status before it
    assert seen["after"].status == CANCELED == ledger_order["status"]
    assert [o.order_id for o in seen["every"]] == [seen["ack"].order_id]
    assert seen["ledger"]["orders_per_client_id"] == {"fxk7q2m9e00000001": 1}


def test_fills_and_balances_agree_with_the_venue_ledger() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> Any:
        ack = await client.new_order(buy(price="0.0000100"))
        venue.advance("PEPEUSDT", "0.0000099")
        trades = await client.my_trades("PEPEUSDT", order_id=ack.order_id)
        order = await client.query_order("PEPEUSDT", order_id=ack.order_id)
        return trades, order, await client.account(), venue.ledger()

    trades, order, balances, ledger = on_venue(act)

    assert {t.trade_id for t in trades} == set(ledger["trades"])
    for trade in trades:
        truth = ledger["trades"][trade.trade_id]
        assert (trade.price, trade.qty, trade.fee) == (
            Decimal(truth["price"]),
            Decimal(truth["qty"]),
            Decimal(truth["commission"]),
        )
    assert sum(t.qty for t in trades) == order.executed_qty == Decimal(1000000)
    assert {a: (str(b.free), str(b.locked)) for a, b in balances.items() if b.free or b.locked} == {
        a: (v["free"], v["locked"])
        for a, v in ledger["balances"].items()
        if v["free"] != "0" or v["locked"] != "0"
    }


# (venue rule changes, order, words of the pre-check, the venue's code)
RULES = [
    ({}, buy(qty="1000000.123"), "quantity 1000000.123 has 3 decimals; baseAssetPrecision is 2", 400),
    (
        {"quote_precision": 6},
        buy(price="0.0000101"),
        "price 0.0000101 has 7 decimals; quotePrecision is 6",
        400,
    ),
    ({"min_qty": "2000000"}, buy(), "below the minimum quantity 2000000 (baseSizePrecision)", 30002),
    ({}, buy(qty="50000"), "notional 0.5 is below the limit minimum 1 (quoteAmountPrecision)", 30002),
    ({"max_quote": "5"}, buy(), "notional 10 is above the limit maximum 5 (maxQuoteAmount)", 30003),
    (
        {"min_notional_market": "50"},
        OrderRequest("PEPEUSDT", BUY, "MARKET", "fxk7q2m9e00000009", quote_qty=Decimal(25)),
        "notional 25 is below the market minimum 50 (quoteAmountPrecisionMarket)",
        30002,
    ),
    (
        {"max_quote_market": "20"},
        OrderRequest("PEPEUSDT", BUY, "MARKET", "fxk7q2m9e00000009", quote_qty=Decimal(25)),
        "notional 25 is above the market maximum 20 (maxQuoteAmountMarket)",
        30003,
    ),
    ({}, buy(kind="IMMEDIATE_OR_CANCEL"), "order type IMMEDIATE_OR_CANCEL is not in orderTypes", 30041),
    (
        {"order_types": ("LIMIT",)},
        OrderRequest("PEPEUSDT", BUY, "MARKET", "fxk7q2m9e00000009", quote_qty=Decimal(25)),
        "order type MARKET is not in orderTypes ['LIMIT']",
        30019,
    ),
    ({"trade_side_type": 3}, buy(), "tradeSideType 3 does not allow BUY orders", 30001),
    ({}, buy(price="0.0000122"), "BUY price 0.0000122 is above the band 0.00001212", 30087),
    (
        {},
        OrderRequest(
            "PEPEUSDT",
            SELL,
            "LIMIT",
            "fxk7q2m9x00000001",
            quantity=Decimal(10**6),
            price=Decimal("0.0000090"),
        ),
        "SELL price 0.000009 is below the band 0.00000909",
        30087,
    ),
    ({"status": "2"}, buy(), "status is 2 (paused)", 30000),
    ({"status": "3"}, buy(), "status is 3 (offline)", 30016),
    # the venue also drops such a symbol from selfSymbols, which the check reads first
    ({"spot_allowed": False}, buy(), "not in this key's API symbols", 10007),
]


@pytest.mark.parametrize(("changes", "request_", "words", "code"), RULES, ids=[r[2][:40] for r in RULES])
def test_precheck_names_the_rule_the_venue_enforces(
    changes: dict[str, Any], request_: OrderRequest, words: str, code: int
) -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[str | None, VenueError]:
        for name, value in changes.items():
            venue.set_symbol("PEPEUSDT", **{name: value})
        rules = (await client.exchange_info(["PEPEUSDT"]))["PEPEUSDT"]
        problem = check(rules, request_, LAST, await client.api_symbols())
        with pytest.raises(VenueError) as refused:
            await client.test_order(request_)
        return problem, refused.value

    problem, refused = on_venue(act)

    assert problem is not None
    assert words in problem
    assert refused.code == code
    assert refused.retry in (RetryClass.REJECT, RetryClass.REJECT_SYMBOL)


def test_precheck_of_a_symbol_outside_the_keys_api_symbols_agrees_with_10007() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[str | None, VenueError]:
        rules = (await client.exchange_info(["PEPEUSDT"]))["PEPEUSDT"]
        problem = check(rules, buy(), LAST, await client.api_symbols())
        with pytest.raises(VenueError) as refused:
            await client.test_order(buy())
        return problem, refused.value

    keys = {DOC_KEY: ApiKey(DOC_SECRET, symbols={"BTCUSDT"})}
    problem, refused = on_venue(act, symbols=["PEPEUSDT", "BTCUSDT"], venue_keys=keys)

    assert problem is not None
    assert "not in this key's API symbols" in problem
    assert (refused.code, refused.retry) == (10007, RetryClass.REJECT_SYMBOL)


def test_precheck_passes_what_the_venue_accepts() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[str | None, dict[str, Any]]:
        rules = (await client.exchange_info())["PEPEUSDT"]
        await client.test_order(buy())  # raises if the venue refuses it
        return check(rules, buy(), LAST, await client.api_symbols()), venue.ledger()

    problem, ledger = on_venue(act)

    assert problem is None
    assert ledger["orders"] == []  # a test order places nothing


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize("kind", ["lost_response", "truncated", "empty", "server_error", "waf"])
def test_lost_answer_after_accept_is_outcome_unknown_and_the_order_exists(kind: str) -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[Any, Any, Any]:
        venue.fault(kind, when=r"POST /api/v3/order$", accept=True)
        with pytest.raises(OutcomeUnknown) as caught:
            await client.new_order(buy())
        found = await client.query_order("PEPEUSDT", client_id="fxk7q2m9e00000001")
        return caught.value, found, venue.ledger()

    error, found, ledger = on_venue(act)

    assert error.retry is RetryClass.UNKNOWN_OUTCOME
    assert ledger["orders_per_client_id"] == {"fxk7q2m9e00000001": 1}  # sent once, never resent
    assert found.order_id == ledger["orders"][0]["orderId"]


def test_read_after_write_lag_is_not_found_then_found() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[VenueError, Any]:
        venue.read_lag_ms = 300
        await client.new_order(buy())
        with pytest.raises(VenueError) as caught:
            await client.query_order("PEPEUSDT", client_id="fxk7q2m9e00000001")
        await asyncio.sleep(0.35)
        return caught.value, await client.query_order("PEPEUSDT", client_id="fxk7q2m9e00000001")

    error, found = on_venue(act)

    assert (error.code, error.retry) == (-2013, RetryClass.NOT_FOUND)
    assert found.status == NEW


def test_clock_skew_mid_session_resyncs_and_places_one_order() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[Any, Any]:
        await client.sync_clock()
        venue.skew(-8000)  # the venue's clock now lags: our timestamps are 8 s in its future
        ack = await client.new_order(buy())
        return ack, venue.ledger()

    ack, ledger = on_venue(act)

    assert ledger["orders_per_client_id"] == {"fxk7q2m9e00000001": 1}
    assert ack.order_id == ledger["orders"][0]["orderId"]


def test_three_times_the_order_budget_gets_no_429_from_the_venue() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[list[Any], list[int]]:
        results = await asyncio.gather(
            *(client.new_order(buy(n, price="0.000009")) for n in range(1, 31)),
            *(client.open_orders("PEPEUSDT") for _ in range(6)),
            return_exceptions=True,
        )
        return results, [r.status for r in venue.requests]

    results, statuses = on_venue(act)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert 429 not in statuses
    assert 418 not in statuses
    assert statuses.count(200) == 37  # time, 30 orders, 6 reads


def test_forced_429_means_no_request_before_retry_after() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[VenueError, list[Any]]:
        venue.fault("rate_limit", when=r"POST /api/v3/order$", retry_after=1)
        with pytest.raises(VenueError) as caught:
            await client.new_order(buy(1))
        await asyncio.gather(client.new_order(buy(2)), client.open_orders("PEPEUSDT"), client.account())
        return caught.value, venue.requests

    error, requests = on_venue(act)

    limited = next(r for r in requests if r.status == 429)
    later = [r for r in requests if r.mono_s > limited.mono_s]
    assert (error.retry, error.retry_after_s) == (RetryClass.WAIT, 1.0)
    assert len(later) == 3
    assert min(r.mono_s for r in later) - limited.mono_s >= 0.95


@pytest.mark.parametrize(
    ("keys", "code"), [(ApiKeys(DOC_KEY, "0" * 32), 700002), (ApiKeys("mx0nobody", DOC_SECRET), 10072)]
)
def test_bad_keys_halt(keys: ApiKeys, code: int) -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> VenueError:
        with pytest.raises(VenueError) as caught:
            await client.account()
        return caught.value

    error = on_venue(act, keys=keys)

    assert (error.code, error.retry) == (code, RetryClass.HALT)
    assert keys.secret not in str(error)


def test_listen_key_calls_back_to_back_get_no_429() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> list[int]:
        old = await client.listen_key_create()
        await asyncio.gather(client.listen_key_create(), client.listen_key_delete(old))  # a reconnect
        return [r.status for r in venue.requests]

    assert on_venue(act) == [200] * 4  # time, three listenKey calls


def test_listen_key_lifecycle() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[Any, ...]:
        venue.limits.rates["listen_key"] = 100.0  # pacing is the test above; this one is about shapes
        first = await client.listen_key_create()
        second = await client.listen_key_create()
        await client.listen_key_extend(first)
        both = await client.listen_keys()
        await client.listen_key_delete(first)
        with pytest.raises(VenueError) as dead:
            await client.listen_key_extend(first)
        return first, second, both, await client.listen_keys(), dead.value

    first, second, both, left, dead = on_venue(act, budget=OrderBudget(listen_key_per_s=50))

    assert set(both) == {first, second}
    assert left == [second]
    assert dead.retry is RetryClass.NOT_FOUND


def test_cancel_of_unknown_order_is_not_found_without_waiting() -> None:
    async def act(client: PrivateClient, venue: FakePrivateVenue) -> tuple[VenueError, float]:
        start = time.monotonic()
        with pytest.raises(VenueError) as caught:
            await client.cancel_order("PEPEUSDT", client_id="fxk7q2m9e99999999")
        return caught.value, time.monotonic() - start

    error, _ = on_venue(act)

    assert (error.code, error.retry) == (-2011, RetryClass.NOT_FOUND)


def test_requests_waiting_for_the_budget_carry_a_fresh_timestamp() -> None:
    """Four orders at once under a 2/s budget wait up to 1.5 s in line; each is stamped when it
    leaves, so none is outside a 500 ms receive window on arrival."""

    async def act(client: PrivateClient, venue: FakePrivateVenue) -> list[int | None]:
        await client.sync_clock()
        await asyncio.gather(*(client.new_order(buy(n)) for n in range(1, 5)))
        return [r.code for r in venue.requests]

    codes = on_venue(act, budget=OrderBudget(orders_per_s=2), recv_window_ms=500)

    assert codes == [None] * 5  # time, four orders: no 700003


def test_clock_measured_from_when_the_request_leaves() -> None:
    """The time request waits ~1 s behind queued orders; the offset must not absorb that wait."""

    async def act(client: PrivateClient, venue: FakePrivateVenue) -> int:
        client.offset_ms = 0
        queued = [asyncio.create_task(client.new_order(buy(n))) for n in range(1, 4)]
        await asyncio.sleep(0)
        offset = await client.sync_clock()
        await asyncio.gather(*queued)
        return offset

    offset = on_venue(act, budget=OrderBudget(orders_per_s=1000, total_per_s=3))

    assert abs(offset) < 150
