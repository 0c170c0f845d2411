"""`UserStream` against a real WebSocket server on 127.0.0.1: listenKey lifecycle, faults, push order."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from http import HTTPStatus

from fxcli.exchange.mexc_private.pushes import Push, decode
from fxcli.exchange.mexc_private.userstream import UserStream
from fxcli.model.orders import OrderPush
from tests.live.support import run, until
from tests.live.userstream_owner import Owner, open_order, streaming
from tests.live.userstream_venue import StreamVenue
from tests.unit.exchange.mexc_private_frames import FRAMES

ORDER_FRAMES = ["accepted", "partial", "deal", "account_usdt", "filled"]


def on(venue: StreamVenue, owner: Owner, **options: object) -> AbstractAsyncContextManager[UserStream]:
    """A stream on the test venue, the venue being its listenKey client too."""
    return streaming(venue, venue.ws_url, owner, **options)


def test_userstream_pushes_reach_callbacks_in_order() -> None:
    async def main() -> tuple[Owner, list[Push]]:
        owner = Owner()
        frames = [FRAMES[name] for name in (*ORDER_FRAMES, "doc_market_sell")]
        async with StreamVenue() as venue, on(venue, owner) as stream:
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
        async with (
            StreamVenue() as venue,
            on(venue, Owner(), ping_s=0.05, silence_s=1.0),
        ):
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
        async with StreamVenue() as venue, on(venue, Owner(), keepalive_s=0.1) as stream:
            await until(lambda: len(venue.extended) >= 3, 5.0, "three PUTs")
            assert set(venue.extended) == {venue.created[0]}
            assert stream.stats.connects == 1  # a healthy key is kept, not replaced

    run(main())


def test_userstream_expiry_closed_reconnects_on_a_new_key() -> None:
    async def main() -> tuple[StreamVenue, Owner, UserStream]:
        owner = Owner()
        clock_ms = lambda: 1765000000000  # noqa: E731 - before the frames' sendTime (…350)
        async with StreamVenue() as venue, on(venue, owner, clock_ms=clock_ms) as stream:
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

    # The last push came after the subscription: the backfill starts at its sendTime, less 5 s.
    assert owner.reconnects == [1765000000350 - 5000]
    assert venue.peak_alive <= 2
    assert stream.alive_keys == 0
    assert venue.alive == set()  # stopping deletes the key in use
    assert stream.stats.last_reason == "closed by the venue (code 1000, reason 'listenKey expired')"


def test_userstream_dropped_socket_deletes_the_old_key_once_reconnected() -> None:
    async def main() -> tuple[StreamVenue, list[str], set[str]]:
        owner = Owner()
        async with StreamVenue() as venue, on(venue, owner) as stream:
            await venue.drop_sockets()
            await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect")
            await until(lambda: len(venue.deleted) == 1, 5.0, "the old key's DELETE")
            alive = set(venue.alive)
        return venue, venue.deleted[:1], alive

    venue, deleted_first, alive_while_running = run(main())

    assert deleted_first == [venue.created[0]]
    assert alive_while_running == {venue.created[1]}


def test_userstream_expiry_silent_is_caught_by_the_canary() -> None:
    async def main() -> tuple[StreamVenue, Owner, UserStream, list[str], list[str], int]:
        owner = Owner()
        async with StreamVenue() as venue, on(venue, owner, canary_grace_ms=0) as stream:
            await venue.push([FRAMES["accepted"]])
            await until(lambda: len(owner.pushes) == 1, 5.0, "the first push")
            seen = stream.canary([open_order("C02__600000000000000001", stream.subscribed_ms)])
            first = venue.created[0]
            subscribed = stream.subscribed_ms

            await venue.expire(first, silent=True)
            await venue.push([FRAMES["partial"]])  # never reaches a silent key
            await asyncio.sleep(0.5)  # PONGs keep coming: the socket alone cannot tell
            assert stream.stats.connects == 1
            assert len(owner.pushes) == 1
            missed = stream.canary([open_order("C02__600000000000000002", stream.subscribed_ms + 1)])
            await until(lambda: stream.stats.connects == 2 and owner.reconnects, 5.0, "the reconnect")
            await venue.push([FRAMES["filled"]])
            await until(lambda: len(owner.pushes) == 2, 5.0, "a push on the new key")
        return venue, owner, stream, seen, missed, subscribed

    venue, owner, stream, seen, missed, subscribed = run(main())

    assert seen == []  # the order the stream pushed is no evidence
    assert missed == ["C02__600000000000000002"]
    assert stream.stats.canary_trips == 1
    # The frame's sendTime is older than the subscription: the backfill covers the whole connection.
    assert owner.reconnects == [subscribed - 5000]
    assert venue.peak_alive <= 2
    assert venue.alive == set()


def test_userstream_canary_ignores_orders_older_than_the_connection() -> None:
    async def main() -> tuple[list[str], int]:
        async with (
            StreamVenue() as venue,
            on(venue, Owner(), canary_grace_ms=0) as stream,
        ):
            before = stream.canary([open_order("C02__1", stream.subscribed_ms - 10_000, "5")])
            return before, stream.stats.connects

    missed, connects = run(main())

    assert missed == []
    assert connects == 1


def test_userstream_put_730706_replaces_the_key() -> None:
    async def main() -> tuple[StreamVenue, UserStream]:
        owner = Owner()
        async with StreamVenue() as venue, on(venue, owner, keepalive_s=0.2) as stream:
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
        async with (
            StreamVenue() as venue,
            on(venue, owner, ping_s=0.05, silence_s=0.3) as stream,
        ):
            venue.answer_pings = False
            await until(lambda: stream.stats.connects >= 2, 5.0, "the reconnect")
            venue.answer_pings = True
            return stream

    stream = run(main())

    assert stream.stats.last_reason == "no frame for 0.3 s (not even a PONG)"


def test_userstream_reconnect_storm_never_holds_more_than_two_keys() -> None:
    async def main() -> tuple[StreamVenue, UserStream]:
        async with StreamVenue() as venue, on(venue, Owner()) as stream:
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
        async with StreamVenue() as venue, on(venue, Owner()) as stream:
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


def test_userstream_bad_push_and_failing_callback_do_not_stop_the_fills() -> None:
    async def main() -> tuple[Owner, UserStream]:
        owner = Owner()
        calls = []

        def broken(push: OrderPush) -> None:
            calls.append(push)
            raise RuntimeError("the owner's bug")

        async with StreamVenue() as venue, on(venue, owner, on_order=broken) as stream:
            await venue.push([b"\xff\xff\xff", FRAMES["accepted"], FRAMES["deal"]])
            await until(lambda: len(owner.pushes) == 1, 5.0, "the deal after the bad frames")
            assert len(calls) == 1
            assert stream.connected
            assert stream.stats.connects == 1
        return owner, stream

    owner, stream = run(main())

    assert [kind for kind, _ in owner.pushes] == ["trade"]
    assert stream.stats.bad_frames == 1
    assert stream.stats.callback_errors == 1


def test_userstream_expected_push_that_never_comes_replaces_the_key() -> None:
    async def main() -> tuple[StreamVenue, UserStream, Owner]:
        owner = Owner()
        async with StreamVenue() as venue, on(venue, owner, canary_grace_ms=300) as stream:
            stream.expect("C02__600000000000000001")  # frame "accepted" is its push
            await venue.push([FRAMES["accepted"]])
            await asyncio.sleep(0.5)
            assert stream.stats.connects == 1  # pushed in time: no alarm

            await venue.expire(venue.created[0], silent=True)
            stream.expect("C02__505979017439002624115")  # a market order, filled at once
            await venue.push([FRAMES["doc_market_sell"]])  # lost on the silent key
            await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect")
        return venue, stream, owner

    venue, stream, owner = run(main())

    assert (
        stream.stats.last_reason == "canary: no push for accepted order C02__505979017439002624115 in 300 ms"
    )
    assert len(owner.reconnects) == 1
    assert venue.peak_alive <= 2


def test_userstream_waits_out_retry_after_before_the_next_key() -> None:
    async def main() -> StreamVenue:
        async with StreamVenue() as venue, on(venue, Owner()) as stream:
            venue.create_429_s = 0.5
            await venue.drop_sockets()
            await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect after the 429")
        return venue

    venue = run(main())

    _, refused, retried = venue.create_calls[:3]
    assert retried - refused >= 0.5  # the backoff alone would have waited at most 0.05 s


def test_userstream_socket_outage_redials_the_same_key() -> None:
    async def main() -> StreamVenue:
        async with StreamVenue() as venue, on(venue, Owner()) as stream:
            venue.refuse_dials = 5
            await venue.drop_sockets()
            await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect after the outage")
        return venue

    venue = run(main())

    assert venue.dials == 7  # the first dial, five refused, the one that got through
    # 503 says nothing about the key: one new key for the drop, none burnt on the refusals.
    assert len(venue.created) == 2
    assert venue.peak_alive <= 2


def test_userstream_key_refused_at_the_handshake_is_replaced() -> None:
    async def main() -> StreamVenue:
        async with StreamVenue() as venue, on(venue, Owner()) as stream:
            venue.refuse_status = HTTPStatus.UNAUTHORIZED  # what a dead key gets
            venue.refuse_dials = 1
            await venue.drop_sockets()
            await until(lambda: stream.stats.connects == 2, 5.0, "the reconnect")
        return venue

    venue = run(main())

    assert venue.dials == 3  # the first, the refused one, the one on a fresh key
    assert len(venue.created) == 3
