"""`UserStream` with the real `PrivateClient` against the fake MEXC private venue: pushes of a real order's
life in order, listenKey death of each kind (§5 F15), a reconnect storm, and the myTrades backfill that
makes the fill ledger equal the venue's trades."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from fxcli.exchange.mexc_private.budget import OrderBudget
from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.exchange.mexc_private.userstream import UserStream
from fxcli.model.orders import FILLED, NEW, PARTIALLY_FILLED, OrderPush, OrderRequest, VenueTrade
from tests.fake_mexc_private import DOC_KEY, DOC_SECRET, FakePrivateVenue
from tests.live.support import run, until
from tests.live.userstream_owner import Owner, streaming

PEPE = "PEPEUSDT"
BOOK = {
    "bids": [("0.0000100", "1000000"), ("0.0000099", "2000000")],
    "asks": [("0.0000102", "1000000"), ("0.0000103", "2000000")],
}


class Backfiller(Owner):
    """An owner that does what the broker must: on reconnect, fetch myTrades from `since_ms`."""

    def __init__(self, client: PrivateClient) -> None:
        super().__init__()
        self.client = client
        self.backfilled: list[VenueTrade] = []

    async def on_reconnect(self, since_ms: int) -> None:
        await super().on_reconnect(since_ms)
        self.backfilled += await self.client.my_trades(PEPE, start_ms=since_ms)

    def trade_ids(self) -> set[str]:
        """Every fill the owner knows, pushed or backfilled."""
        pushed = {p.trade_id for _, p in self.pushes if isinstance(p, VenueTrade)}
        return pushed | {t.trade_id for t in self.backfilled}


@asynccontextmanager
async def fake_venue(
    listen_key_per_s: float = 1.0, usdt: str = "1000"
) -> AsyncIterator[tuple[FakePrivateVenue, PrivateClient, list[int]]]:
    """The fake venue with PEPEUSDT's book and a listenKey budget of `listen_key_per_s`, a client on
    it pacing its listenKey calls at 0.8 of that (as the real budget does for 1/s), and the peak count
    of valid keys (kept by watching every key the venue creates). On exit, asserts the venue never
    answered 429 or 418."""
    async with FakePrivateVenue(seed=7, balances={"USDT": usdt}) as venue:
        venue.limits.rates["listen_key"] = listen_key_per_s
        venue.set_book(PEPE, BOOK["bids"], BOOK["asks"], "0.0000101")
        peak = [0]
        create = venue.streams.create

        def counted(api_key: str) -> str:
            key = create(api_key)
            peak[0] = max(peak[0], len(venue.streams.valid_keys()))
            return key

        venue.streams.create = counted  # type: ignore[method-assign]
        budget = OrderBudget(listen_key_per_s=0.8 * listen_key_per_s)
        keys = ApiKeys(DOC_KEY, DOC_SECRET)
        async with PrivateClient(venue.rest_url, keys, timeout_s=3.0, budget=budget) as client:
            yield venue, client, peak
        assert [(r.path, r.status) for r in venue.requests if r.status in (418, 429)] == []


def _buy(client_id: str, quantity: int = 1000000) -> OrderRequest:
    price = Decimal("0.0000101")
    return OrderRequest(PEPE, "BUY", "LIMIT", client_id, quantity=Decimal(quantity), price=price)


def test_userstream_fake_order_life_arrives_in_order() -> None:
    async def main() -> tuple[Owner, list[VenueTrade], str]:
        async with fake_venue() as (venue, client, _), client:
            owner = Owner()
            async with streaming(client, venue.ws_url, owner):
                ack = await client.new_order(_buy("fxk7q2m9e00000001"))
                venue.trade(PEPE, "0.0000101", "400000")
                venue.advance(PEPE, "0.0000100")
                await until(lambda: any(p.status == FILLED for p in _orders(owner)), 5.0, "the fill")
                await until(lambda: len(_trades(owner)) == 2, 5.0, "both deals")
                trades = await client.my_trades(PEPE)
            return owner, trades, ack.order_id

    owner, trades, order_id = run(main())

    statuses = [p.status for p in _orders(owner)]
    assert statuses == [NEW, PARTIALLY_FILLED, FILLED]
    cum = [p.cum_qty for p in _orders(owner)]
    assert cum == sorted(cum)
    assert {p.order_id for p in _orders(owner)} == {order_id}
    assert [(t.trade_id, t.qty, t.price) for t in _trades(owner)] == [
        (t.trade_id, t.qty, t.price) for t in sorted(trades, key=lambda t: t.time_ms)
    ]
    assert sum(t.qty for t in _trades(owner)) == Decimal(1000000)


def test_userstream_fake_silent_key_canary_and_backfill_lose_no_fill() -> None:
    async def main() -> tuple[Backfiller, set[str], UserStream, int]:
        async with fake_venue() as (venue, client, peak), client:
            owner = Backfiller(client)
            options = {
                "canary_grace_ms": 200,
                "canary_source": lambda: client.open_orders(PEPE),  # the stream runs its own canary
                "canary_s": 0.2,
            }
            async with streaming(client, venue.ws_url, owner, **options) as stream:
                first = venue.streams.open_conns()[0].key
                venue.kill_listen_key(first, "silent")
                await client.new_order(_buy("fxk7q2m9e00000002"))
                venue.trade(PEPE, "0.0000101", "250000")
                await asyncio.sleep(0.1)  # PONGs go on; no push comes
                assert owner.pushes == []
                await until(lambda: owner.backfilled, 5.0, "the canary's reconnect and the backfill")
                venue.advance(PEPE, "0.0000100")
                await until(lambda: len(owner.trade_ids()) == 2, 5.0, "the second fill, pushed")
            truth = set(venue.ledger()["trades"])
            return owner, truth, stream, peak[0]

    owner, truth, stream, peak = run(main())

    assert len(truth) == 2
    assert owner.trade_ids() == truth
    assert stream.stats.canary_trips == 1
    assert stream.stats.connects == 2
    assert peak <= 2


def test_userstream_fake_closed_expiry_and_put_730706_replace_the_key() -> None:
    async def main() -> tuple[list[str], list[str], int, list[str]]:
        async with fake_venue(10.0) as (venue, client, peak), client:
            reasons = []
            owner = Owner()
            options = {"keepalive_s": 0.3}
            async with streaming(client, venue.ws_url, owner, **options) as stream:
                venue.kill_listen_key(venue.streams.open_conns()[0].key, "close")
                await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect after the close")
                reasons.append(stream.stats.last_reason)
                venue.kill_listen_key(venue.streams.open_conns()[0].key, "put_fails")
                await until(lambda: stream.stats.connects == 3, 5.0, "the reconnect after the PUT")
                reasons.append(stream.stats.last_reason)
                alive = venue.streams.valid_keys()
            return reasons, alive, peak[0], venue.streams.valid_keys()

    reasons, alive_while_running, peak, alive_after = run(main())

    assert reasons[0].startswith("closed by the venue")
    assert reasons[1].startswith("listenKey keep-alive failed")
    assert "730706" in reasons[1]
    assert len(alive_while_running) == 1
    assert peak <= 2
    assert alive_after == []


def test_userstream_fake_reconnect_storm_holds_two_keys_at_most() -> None:
    async def main() -> tuple[int, int, list[str]]:
        async with fake_venue(50.0) as (venue, client, peak), client:
            async with streaming(client, venue.ws_url, Owner()) as stream:
                venue.streams.max_conn_s = 0.05  # every socket is closed 50 ms after it opens
                await until(lambda: stream.stats.connects >= 15, 15.0, "15 connections")
                venue.streams.max_conn_s = 86_400.0
            return peak[0], venue.streams.created, venue.streams.valid_keys()

    peak, created, alive_after = run(main(), 30.0)

    assert created >= 15
    assert peak <= 2
    assert alive_after == []


def test_userstream_fake_longevity_loses_no_fill() -> None:
    """G12, accelerated: keys expire every 0.7 s (closed or silent, alternating), sockets are force-closed
    every 1.1 s (the 24 h close), and an order fills every 0.1 s; every fill reaches the owner, pushed
    or backfilled, and no more than two keys ever live. `FX_SOAK=full` runs a minute instead of 4 s."""
    seconds = 60.0 if os.environ.get("FX_SOAK") == "full" else 4.0

    async def main() -> tuple[Backfiller, set[str], UserStream, int, int]:
        async with fake_venue(50.0, usdt="100000") as (venue, client, peak), client:
            venue.streams.key_ttl_ms = 700
            venue.streams.max_conn_s = 1.1
            owner = Backfiller(client)
            options = {"canary_grace_ms": 300, "keepalive_s": 3600.0}
            async with streaming(client, venue.ws_url, owner, **options) as stream:
                end = time.monotonic() + seconds
                placed = 0
                while time.monotonic() < end:
                    venue.streams.expiry = "silent" if placed % 20 < 10 else "close"
                    ack = await client.new_order(_buy(f"fxlong1e{placed:08d}", 100000))
                    stream.expect(ack.order_id)
                    venue.trade(PEPE, "0.0000101", "100000")
                    placed += 1
                    await asyncio.sleep(0.1)
                truth = set(venue.ledger()["trades"])
                await until(lambda: owner.trade_ids() >= truth, 10.0, "every fill, pushed or backfilled")
            return owner, truth, stream, peak[0], placed

    owner, truth, stream, peak, placed = run(main(), seconds + 30.0)

    assert len(truth) == placed
    assert owner.trade_ids() == truth
    assert stream.stats.connects >= seconds * 0.75  # a key lives 0.7 s
    assert stream.stats.canary_trips >= 1  # the silent keys were caught by the orders' pushes
    assert peak <= 2


def _orders(owner: Owner) -> list[OrderPush]:
    return [p for _, p in owner.pushes if isinstance(p, OrderPush)]


def _trades(owner: Owner) -> list[VenueTrade]:
    return [p for _, p in owner.pushes if isinstance(p, VenueTrade)]
