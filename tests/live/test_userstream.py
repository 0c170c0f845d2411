"""`UserStream` against a real WebSocket server on 127.0.0.1: listenKey lifecycle, faults, push order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from fxcli.exchange.mexc_private.pushes import Push, decode
from fxcli.exchange.mexc_private.userstream import UserStream
from fxcli.exchange.pacing import Backoff
from fxcli.model.orders import AccountPush, OrderPush, VenueOrder, VenueTrade
from tests.live.support import run, until
from tests.live.userstream_venue import StreamVenue
from tests.unit.exchange.mexc_private_frames import FRAMES

ORDER_FRAMES = ["accepted", "partial", "deal", "account_usdt", "filled"]


@dataclass
class Owner:
    """What the stream's owner receives, in order."""

    pushes: list[tuple[str, Push]] = field(default_factory=list)
    reconnects: list[int] = field(default_factory=list)

    def on_order(self, push: OrderPush) -> None:
        self.pushes.append(("order", push))

    def on_trade(self, push: VenueTrade) -> None:
        self.pushes.append(("trade", push))

    def on_account(self, push: AccountPush) -> None:
        self.pushes.append(("account", push))

    async def on_reconnect(self, since_ms: int) -> None:
        await asyncio.sleep(0)  # the owner would call myTrades here
        self.reconnects.append(since_ms)


@asynccontextmanager
async def streaming(venue: StreamVenue, owner: Owner, **options: object) -> AsyncIterator[UserStream]:
    """A running stream on `venue`, stopped (and its keys deleted) on exit."""
    settings: dict[str, object] = {"ping_s": 0.2, "silence_s": 2.0, "backoff": Backoff(0.01, 0.05)}
    settings.update(options)
    stream = UserStream(
        venue,
        venue.ws_url,
        on_order=owner.on_order,
        on_trade=owner.on_trade,
        on_account=owner.on_account,
        on_reconnect=owner.on_reconnect,
        **settings,  # type: ignore[arg-type]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(stream.run(stop))
    try:
        await until(lambda: stream.connected, 5.0, "the first subscription")
        yield stream
    finally:
        stop.set()
        await asyncio.wait_for(task, 5.0)


def _open_order(order_id: str, created_ms: int, executed: str = "0") -> VenueOrder:
    return VenueOrder(
        symbol="PEPEUSDT",
        order_id=order_id,
        client_id="fxk7q2m9e00000002",
        side="BUY",
        type="LIMIT",
        status="NEW",
        price=Decimal("0.0000101"),
        orig_qty=Decimal("1000000"),
        executed_qty=Decimal(executed),
        cum_quote=Decimal(0),
        time_ms=created_ms,
    )


def test_userstream_pushes_reach_callbacks_in_order() -> None:
    async def main() -> tuple[Owner, list[Push]]:
        owner = Owner()
        frames = [FRAMES[name] for name in (*ORDER_FRAMES, "doc_market_sell")]
        async with StreamVenue() as venue, streaming(venue, owner) as stream:
            assert await venue.push(frames) == 1
            await until(lambda: len(owner.pushes) == len(frames), 5.0, "every push")
            assert stream.stats.pushes == len(frames)
        return owner, [p for p in map(decode, frames) if p is not None]

    owner, expected = run(main())

    assert [push for _, push in owner.pushes] == expected
    assert [kind for kind, _ in owner.pushes] == ["order", "order", "trade", "account", "order", "order"]
    assert owner.reconnects == []  # the first connect is start-up reconciliation's business


def test_userstream_subscribes_three_channels_and_pings() -> None:
    async def main() -> None:
        async with StreamVenue() as venue, streaming(venue, Owner(), ping_s=0.05, silence_s=1.0):
            await asyncio.sleep(0.4)
            (sock,) = venue.open_sockets()
            assert sock.channels == {
                "spot@private.orders.v3.api.pb",
                "spot@private.deals.v3.api.pb",
                "spot@private.account.v3.api.pb",
            }
            assert sock.pings >= 4
            assert sock.key == venue.created[0]

    run(main())


def test_userstream_keepalive_puts_the_key() -> None:
    async def main() -> None:
        async with StreamVenue() as venue, streaming(venue, Owner(), keepalive_s=0.1) as stream:
            await until(lambda: len(venue.extended) >= 3, 5.0, "three PUTs")
            assert set(venue.extended) == {venue.created[0]}
            assert stream.stats.connects == 1  # a healthy key is kept, not replaced

    run(main())


def test_userstream_expiry_closed_reconnects_on_a_new_key() -> None:
    async def main() -> tuple[StreamVenue, Owner, UserStream]:
        owner = Owner()
        async with StreamVenue() as venue, streaming(venue, owner) as stream:
            await venue.push([FRAMES["accepted"]])
            await until(lambda: len(owner.pushes) == 1, 5.0, "the first push")
            first = venue.created[0]

            await venue.expire(first, silent=False)
            await until(lambda: stream.stats.connects == 2 and owner.reconnects, 5.0, "the reconnect")
            assert [s.key for s in venue.open_sockets()] == [venue.created[1]]
            await venue.push([FRAMES["partial"]])
            await until(lambda: len(owner.pushes) == 2, 5.0, "a push on the new key")
            assert venue.alive == {venue.created[1]}
        return venue, owner, stream

    venue, owner, stream = run(main())

    # The backfill starts before the last push seen (its sendTime, less the 5 s margin).
    assert owner.reconnects == [1765000000350 - 5000]
    assert venue.peak_alive <= 2
    assert stream.alive_keys == 0
    assert venue.alive == set()  # stopping deletes the key in use
    assert stream.stats.last_reason == "closed by the venue (code 1000, reason 'listenKey expired')"


def test_userstream_dropped_socket_deletes_the_old_key_once_reconnected() -> None:
    async def main() -> tuple[StreamVenue, list[str], set[str]]:
        owner = Owner()
        async with StreamVenue() as venue, streaming(venue, owner) as stream:
            await venue.drop_sockets()
            await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect")
            await until(lambda: len(venue.deleted) == 1, 5.0, "the old key's DELETE")
            alive = set(venue.alive)
        return venue, venue.deleted[:1], alive

    venue, deleted_first, alive_while_running = run(main())

    assert deleted_first == [venue.created[0]]
    assert alive_while_running == {venue.created[1]}


def test_userstream_expiry_silent_is_caught_by_the_canary() -> None:
    async def main() -> tuple[StreamVenue, Owner, UserStream, list[str], list[str]]:
        owner = Owner()
        async with StreamVenue() as venue, streaming(venue, owner, canary_grace_ms=0) as stream:
            await venue.push([FRAMES["accepted"]])
            await until(lambda: len(owner.pushes) == 1, 5.0, "the first push")
            seen = stream.canary([_open_order("C02__600000000000000001", stream._subscribed_ms)])
            first = venue.created[0]

            await venue.expire(first, silent=True)
            await venue.push([FRAMES["partial"]])  # never reaches a silent key
            await asyncio.sleep(0.5)  # PONGs keep coming: the socket alone cannot tell
            assert stream.stats.connects == 1
            assert len(owner.pushes) == 1
            missed = stream.canary([_open_order("C02__600000000000000002", stream._subscribed_ms + 1)])
            await until(lambda: stream.stats.connects == 2 and owner.reconnects, 5.0, "the reconnect")
            await venue.push([FRAMES["filled"]])
            await until(lambda: len(owner.pushes) == 2, 5.0, "a push on the new key")
        return venue, owner, stream, seen, missed

    venue, owner, stream, seen, missed = run(main())

    assert seen == []  # the order the stream pushed is no evidence
    assert missed == ["C02__600000000000000002"]
    assert stream.stats.canary_trips == 1
    assert owner.reconnects == [1765000000350 - 5000]
    assert venue.peak_alive <= 2
    assert venue.alive == set()


def test_userstream_canary_ignores_orders_older_than_the_connection() -> None:
    async def main() -> tuple[list[str], int]:
        async with StreamVenue() as venue, streaming(venue, Owner(), canary_grace_ms=0) as stream:
            before = stream.canary([_open_order("C02__1", stream._subscribed_ms - 10_000, "5")])
            return before, stream.stats.connects

    missed, connects = run(main())

    assert missed == []
    assert connects == 1


def test_userstream_put_730706_replaces_the_key() -> None:
    async def main() -> tuple[StreamVenue, UserStream]:
        owner = Owner()
        async with StreamVenue() as venue, streaming(venue, owner, keepalive_s=0.2) as stream:
            venue.put_fails = 1
            await until(lambda: stream.stats.connects == 2 and owner.reconnects, 5.0, "the reconnect")
            assert "730706" not in venue.created[1]
            assert "listenKey keep-alive failed" in stream.stats.last_reason
            assert venue.created[0] not in venue.alive
            await venue.push([FRAMES["deal"]])
            await until(lambda: len(owner.pushes) == 1, 5.0, "a push on the new key")
        return venue, stream

    venue, stream = run(main())

    assert venue.peak_alive <= 2
    assert stream.stats.keys_created == 2
    assert venue.alive == set()


def test_userstream_silence_replaces_the_connection() -> None:
    async def main() -> UserStream:
        owner = Owner()
        async with StreamVenue() as venue, streaming(venue, owner, ping_s=0.05, silence_s=0.3) as stream:
            venue.answer_pings = False
            await until(lambda: stream.stats.connects >= 2, 5.0, "the reconnect")
            venue.answer_pings = True
            return stream

    stream = run(main())

    assert stream.stats.last_reason == "no frame for 0.3 s (not even a PONG)"


def test_userstream_reconnect_storm_never_holds_more_than_two_keys() -> None:
    async def main() -> tuple[StreamVenue, UserStream]:
        async with StreamVenue() as venue, streaming(venue, Owner()) as stream:
            await venue.storm()
            await until(lambda: stream.stats.connects >= 25, 10.0, "25 connections")
            venue.close_after_subscribe = False
        return venue, stream

    venue, stream = run(main(), 30.0)

    assert len(venue.created) >= 25
    assert venue.peak_alive <= 2
    assert stream.stats.peak_keys <= 2
    assert venue.alive == set()


def test_userstream_storm_with_lost_deletes_still_holds_two_keys() -> None:
    async def main() -> tuple[StreamVenue, UserStream]:
        async with StreamVenue() as venue, streaming(venue, Owner()) as stream:
            venue.delete_fails = 6  # lost DELETEs: the stream must wait for one to land
            await venue.storm()
            await until(lambda: len(venue.sockets) >= 8, 10.0, "8 connections")
            venue.close_after_subscribe = False
        return venue, stream

    venue, stream = run(main(), 30.0)

    assert venue.delete_fails == 0
    assert venue.peak_alive == 2  # the stream waits for a DELETE to land before a third key
    assert stream.stats.peak_keys == 2
    assert venue.alive == set()
