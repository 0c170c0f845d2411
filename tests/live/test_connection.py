"""The connection manager against the fake MEXC venue over real loopback sockets (no mocked socket)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from fxcli.exchange.adapter import Limits
from fxcli.exchange.connection import (
    BreakerChanged,
    Connected,
    ConnectionManager,
    DialFailed,
    Disconnected,
    DisconnectReason,
    Rejected,
    StreamGap,
    Subscribed,
    assign,
    plan_channels,
)
from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.exchange.pacing import BreakerState
from fxcli.model.events import GapReason
from tests.fake_mexc import FakeMexc, Venue
from tests.fake_mexc.frames import hostile_frames
from tests.live.support import FAST, TRADES_AND_DEPTH, Keeper, acked, run, until
from tests.live.tiny_adapter import TinyFutures


def spot_symbols(n: int) -> list[str]:
    return [f"S{i}USDT" for i in range(n)]


def data_on(keeper: Keeper, conn_id: int) -> Callable[[], bool]:
    return lambda: any(f.conn_id == conn_id for f, _ in keeper.trades())


def subscribed_names(keeper: Keeper, conn_id: int | None = None) -> set[str]:
    return {c.name for s in keeper.of(Subscribed) if conn_id in (None, s.conn_id) for c in s.channels}


def test_assign_keeps_symbols_together_and_raises_when_they_cannot_fit() -> None:
    spot = MexcSpot()
    channels = plan_channels(spot, spot_symbols(40), TRADES_AND_DEPTH)

    slots = assign(channels, 30, 3)

    assert [len(s) for s in slots] == [28, 26, 26]
    assert all(len({c.symbol for c in s}) * 2 == len(s) for s in slots)
    with pytest.raises(ValueError, match="do not fit in 2 connections"):
        assign(channels, 30, 2)
    assert [len(s) for s in assign(channels, 30)] == [30, 30, 20]


def test_manager_subscribes_at_most_30_per_connection_in_small_requests() -> None:
    symbols = spot_symbols(40)

    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, symbols) as venue:
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            channels = plan_channels(spot, symbols, TRADES_AND_DEPTH)
            async with ConnectionManager(spot, channels, keeper, config=replace(FAST, connections=3)):
                await until(lambda: len(subscribed_names(keeper)) == 80, 5.0, "80 acked channels")
                await until(lambda: len({f for f, _ in keeper.trades()}) > 100, 5.0, "trades")

            clients = list(venue.clients.values())
            assert len(clients) == 3
            assert all(c.max_subs <= 30 for c in clients)
            assert all(
                len(names) <= spot.limits.channels_per_request for c in clients for _, names in c.sub_requests
            )
            assert sum(c.max_subs for c in clients) == 80
            assert {t.symbol for _, t in keeper.trades()} == set(symbols)

    run(scenario())


def test_every_frame_reaches_the_consumer_raw_before_it_is_decoded() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            async with ConnectionManager(
                spot, plan_channels(spot, ["AUSDT"], TRADES_AND_DEPTH), keeper, config=FAST
            ):
                await until(lambda: len(keeper.trades()) >= 20, 5.0, "20 trades")

        pairs = list(zip(keeper.order[0::2], keeper.order[1::2], strict=False))
        assert all(a.startswith("frame ") and b == "decoded " + a.removeprefix("frame ") for a, b in pairs)
        assert all(f.received_ts_ns > 0 and f.conn_id == 1 and f.slot == 0 for f in keeper.frames)
        assert [f.seq for f in keeper.frames] == list(range(1, len(keeper.frames) + 1))
        assert any(isinstance(f.data, bytes) for f in keeper.frames)  # protobuf pushes
        assert any(isinstance(f.data, str) for f in keeper.frames)  # JSON acks

    run(scenario())


def test_subscription_requests_are_paced_by_the_token_bucket() -> None:
    symbols = [f"C{i}_USDT" for i in range(6)]
    limits = replace(Limits(max_subs_per_conn=None), channels_per_request=1, sub_burst=3, sub_rate_per_s=10.0)

    async def scenario() -> list[float]:
        async with FakeMexc(Venue.FUTURES, symbols) as venue:
            tiny = TinyFutures(venue.endpoints, limits)
            keeper = Keeper()
            venue.pause()
            async with ConnectionManager(
                tiny, plan_channels(tiny, symbols, TRADES_AND_DEPTH), keeper, config=FAST
            ):
                await until(lambda: len(subscribed_names(keeper)) == 12, 5.0, "12 acked channels")
            (client,) = venue.clients.values()
            return [t for t, _ in client.sub_requests]

    times = run(scenario())

    rel = [t - times[0] for t in times]
    assert len(rel) == 12
    assert rel[2] < 0.08  # the burst goes at once
    for i, t in enumerate(rel):  # never faster than burst + rate * elapsed
        assert t >= (i + 1 - 3) / 10.0 - 0.03, (i, t)
    assert 0.85 <= rel[-1] <= 1.4  # 9 more tokens at 10/s


def test_pings_keep_a_quiet_connection_alive_and_slow_reads_are_tolerated() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            venue.pause()  # no market data at all: only pings keep it open
            venue.no_ping_close_s = 0.6
            venue.read_delay_s = 0.05
            spot = MexcSpot(venue.endpoints)
            limits = replace(spot.limits, ping_every_s=0.2, pong_timeout_s=0.5)
            keeper = Keeper()
            channels = plan_channels(spot, ["AUSDT"], TRADES_AND_DEPTH)
            async with ConnectionManager(spot, channels, keeper, config=FAST, limits=limits):
                await asyncio.sleep(2.0)
                (client,) = venue.clients.values()
                assert client.pings >= 6
                assert not client.closed
            assert keeper.of(Disconnected)[0].reason is DisconnectReason.STOPPED
            assert len(keeper.of(Connected)) == 1
            assert len(subscribed_names(keeper)) == 2

    run(scenario())


def test_silent_server_is_declared_dead_and_replaced_within_the_pong_timeout() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT", "BUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            limits = replace(spot.limits, ping_every_s=0.2, pong_timeout_s=0.3)
            keeper = Keeper()
            channels = plan_channels(spot, ["AUSDT", "BUSDT"], TRADES_AND_DEPTH)
            async with ConnectionManager(spot, channels, keeper, config=FAST, limits=limits):
                await until(lambda: len(subscribed_names(keeper)) == 4, 5.0, "acks")
                venue.silence()
                silenced = time.monotonic()
                await until(lambda: keeper.of(Disconnected), 3.0, "dead connection")
                took = time.monotonic() - silenced
                await until(lambda: len(subscribed_names(keeper, 2)) == 4, 3.0, "resubscribed")
                seen = len(keeper.trades())
                await until(lambda: len(keeper.trades()) > seen + 10, 3.0, "data again")

            lost = keeper.of(Disconnected)[0]
            assert lost.reason is DisconnectReason.DEAD
            assert took <= limits.ping_every_s * (1 + FAST.ping_jitter) + limits.pong_timeout_s + 0.3
            gaps = [s.gap for s in keeper.of(StreamGap)]
            assert sorted(g.symbol for g in gaps) == ["AUSDT", "BUSDT"]
            assert all(g.reason == GapReason.DISCONNECT and g.start_ns <= g.end_ns for g in gaps)

    run(scenario())


@pytest.mark.parametrize(
    ("code", "gap_reason"),
    [(1012, GapReason.SERVER_RESTART), (None, GapReason.DISCONNECT), (1013, GapReason.RATE_LIMITED)],
)
def test_server_disconnect_reconnects_with_backoff_and_resubscribes(
    code: int | None, gap_reason: GapReason
) -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            channels = plan_channels(spot, ["AUSDT"], TRADES_AND_DEPTH)
            async with ConnectionManager(spot, channels, keeper, config=FAST):
                for round_ in range(1, 4):
                    await until(acked(keeper, round_, 2), 3.0, f"acks on {round_}")
                    await until(data_on(keeper, round_), 3.0, "data")
                    await venue.disconnect_all(code)

                await until(lambda: len(subscribed_names(keeper, 4)) == 2, 3.0, "acks after 3 drops")

            drops = [d for d in keeper.of(Disconnected) if d.reason is DisconnectReason.SERVER_CLOSED]
            assert [d.code for d in drops] == [code or 1006] * 3
            assert all(d.gap_reason == gap_reason for d in drops)
            gaps = [s.gap for s in keeper.of(StreamGap)]
            assert len(gaps) == 3
            assert all(g.symbol == "AUSDT" and g.reason == gap_reason for g in gaps)
            connected = keeper.of(Connected)
            waits = [(c.at_ns - d.at_ns) / 1e9 for d, c in zip(drops, connected[1:], strict=True)]
            assert all(w <= FAST.backoff_cap_s + 0.3 for w in waits)

    run(scenario())


def test_rejected_subscription_is_reported_and_retried_until_accepted() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT", "BUSDT"]) as venue:
            venue.block("BUSDT", times=3)
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            channels = plan_channels(spot, ["AUSDT", "BUSDT"], TRADES_AND_DEPTH)
            channels.append(
                replace(channels[0], symbol="NOPEUSDT", name="spot@public.nope.v3.api.pb@NOPEUSDT")
            )
            async with ConnectionManager(spot, channels, keeper, config=FAST):
                await until(lambda: len(subscribed_names(keeper)) == 4, 5.0, "BUSDT accepted in the end")
                await until(
                    lambda: len([r for r in keeper.of(Rejected) if r.channels[0].symbol == "NOPEUSDT"]) >= 3,
                    5.0,
                    "retries",
                )

            rejected = keeper.of(Rejected)
            b = [c for r in rejected for c in r.channels if c.symbol == "BUSDT"]
            nope = [r for r in rejected if any(c.symbol == "NOPEUSDT" for c in r.channels)]
            assert len(b) == 3  # the venue refused BUSDT's channels three times, then accepted them
            assert all("Blocked" in r.reason for r in rejected)
            assert [r.attempt for r in nope[:3]] == [1, 2, 3]
            assert nope[0].retry_in_s <= nope[2].retry_in_s <= FAST.reject_retry_cap_s
            assert all(r.conn_id == 1 for r in rejected)  # retried on the same connection, no reconnect
            assert len(keeper.of(Connected)) == 1

    run(scenario())


def test_futures_error_naming_a_contract_rejects_only_that_contract() -> None:
    symbols = ["AAA_USDT", "NOPE_USDT", "BBB_USDT"]

    async def scenario() -> None:
        async with FakeMexc(Venue.FUTURES, ["AAA_USDT", "BBB_USDT"]) as venue:
            futures = MexcFutures(venue.endpoints)
            keeper = Keeper()
            async with ConnectionManager(
                futures, plan_channels(futures, symbols, TRADES_AND_DEPTH), keeper, config=FAST
            ):
                await until(lambda: len(subscribed_names(keeper)) == 4, 5.0, "4 acks")
                await until(lambda: len(keeper.of(Rejected)) >= 2, 5.0, "2 rejections")
                await until(lambda: len({t.symbol for _, t in keeper.trades()}) == 2, 5.0, "trades of both")

            assert subscribed_names(keeper) == {
                "deal@AAA_USDT",
                "depth@AAA_USDT",
                "deal@BBB_USDT",
                "depth@BBB_USDT",
            }
            assert {c.name for r in keeper.of(Rejected) for c in r.channels} == {
                "deal@NOPE_USDT",
                "depth@NOPE_USDT",
            }
            assert all("NOPE_USDT" in r.reason for r in keeper.of(Rejected))

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize("venue_kind", [Venue.SPOT, Venue.FUTURES])
def test_rotation_is_make_before_break_and_loses_no_trade(venue_kind: Venue) -> None:
    symbols = ["AUSDT", "BUSDT"] if venue_kind is Venue.SPOT else ["A_USDT", "B_USDT"]

    async def scenario() -> None:
        async with FakeMexc(venue_kind, symbols, tick_s=0.01) as venue:
            adapter = MexcSpot(venue.endpoints) if venue_kind is Venue.SPOT else MexcFutures(venue.endpoints)
            limits = replace(adapter.limits, max_conn_age_s=0.8)
            keeper = Keeper()
            channels = plan_channels(adapter, symbols, TRADES_AND_DEPTH)
            async with ConnectionManager(adapter, channels, keeper, config=FAST, limits=limits) as manager:
                await until(lambda: manager.stats.rotations >= 3, 8.0, "3 rotations")
                venue.pause()
                await asyncio.sleep(0.3)

            sent = {(t.symbol, t.trade_id) for s in symbols for t in venue.trades_sent(s)}
            got: dict[tuple[str, int | None], list[bool]] = {}
            for frame, trade in keeper.trades():
                got.setdefault((trade.symbol, trade.trade_id), []).append(frame.is_overlap)
            assert sent - got.keys() == set()  # every trade the server sent arrived at least once
            duplicates = {k: flags for k, flags in got.items() if len(flags) > 1}
            assert duplicates  # the overlap really overlapped
            assert all(all(flags) for flags in duplicates.values())  # and every copy was flagged
            rotated = [d for d in keeper.of(Disconnected) if d.reason is DisconnectReason.ROTATED]
            assert len(rotated) >= 3
            assert all(d.gap_reason is None for d in rotated)
            assert keeper.of(StreamGap) == []
            for old in rotated:  # the old connection closed only after its replacement was acked
                new = next(c for c in keeper.of(Connected) if c.replacing == old.conn_id)
                acked = [s.at_ns for s in keeper.of(Subscribed) if s.conn_id == new.conn_id]
                assert len(subscribed_names(keeper, new.conn_id)) == 4
                assert max(acked) <= old.at_ns

    run(scenario(), timeout_s=15.0)


def test_hostile_frames_are_counted_and_logged_without_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fxcli.exchange.connection")

    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["BTCUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            channels = plan_channels(spot, ["BTCUSDT"], TRADES_AND_DEPTH)
            async with ConnectionManager(spot, channels, keeper, config=FAST) as manager:
                await until(lambda: len(subscribed_names(keeper)) == 2, 3.0, "acks")
                hostile = hostile_frames(1000, spot=True, big_bytes=50_000)
                await venue.send_raw(hostile)
                await until(lambda: manager.stats.problems >= 900, 8.0, "hostile frames counted")
                seen = len(keeper.trades())
                await until(lambda: len(keeper.trades()) > seen + 10, 3.0, "data after the storm")
                await venue.send_raw([b"\x00" * (FAST.max_frame_bytes + 1)])  # over the frame limit
                await until(lambda: len(subscribed_names(keeper, 2)) == 2, 5.0, "resubscribed after 1009")

            assert manager.stats.problems == keeper.problems()
            assert keeper.problems() >= 900
            too_big = keeper.of(Disconnected)[0]
            assert (too_big.reason, too_big.code) == (DisconnectReason.ERROR, 1009)
            assert manager.stats.consumer_errors == 0
            assert "undecodable frame" in caplog.text

    run(scenario())


def test_breaker_opens_after_five_failed_dials_and_closes_after_three_successes() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.FUTURES, ["A_USDT"]) as venue:
            venue.refuse_dials = 5
            tiny = TinyFutures(venue.endpoints)
            keeper = Keeper()
            config = replace(FAST, backoff_cap_s=0.1)
            channels = plan_channels(tiny, ["A_USDT"], TRADES_AND_DEPTH)
            async with ConnectionManager(tiny, channels, keeper, config=config) as manager:
                breaker = manager.dial_breaker
                await until(lambda: breaker.state is BreakerState.OPEN, 3.0, "breaker open")
                await asyncio.sleep(config.breaker_open_s * 0.8)
                dials_while_open = venue.dials
                for n in (1, 2):  # half-open after the first good dial; two more reconnects close it
                    await until(acked(keeper, n, 2), 3.0, f"acks on connection {n}")
                    assert breaker.state is BreakerState.HALF_OPEN
                    await venue.disconnect_all(1001)
                await until(lambda: breaker.state is BreakerState.CLOSED, 3.0, "breaker closed")

            changes = [(c.old, c.new) for c in keeper.of(BreakerChanged)]
            assert changes == [
                (BreakerState.CLOSED, BreakerState.OPEN),
                (BreakerState.OPEN, BreakerState.HALF_OPEN),
                (BreakerState.HALF_OPEN, BreakerState.CLOSED),
            ]
            failed = keeper.of(DialFailed)
            assert len(failed) == 5
            assert all("503" in f.detail for f in failed)
            assert dials_while_open == 5  # nothing dialled while the breaker was open
            opened = next(c.at_ns for c in keeper.of(BreakerChanged) if c.new is BreakerState.OPEN)
            assert (keeper.of(Connected)[0].at_ns - opened) / 1e9 >= config.breaker_open_s - 0.05

    run(scenario())


def test_rate_limited_dial_honours_retry_after() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            venue.refuse_dials = 1
            venue.refuse_status = venue.refuse_status.__class__(429)
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            async with ConnectionManager(
                spot, plan_channels(spot, ["AUSDT"], TRADES_AND_DEPTH), keeper, config=FAST
            ):
                await until(lambda: len(subscribed_names(keeper)) == 2, 5.0, "subscribed after the 429")

            (failed,) = keeper.of(DialFailed)
            assert "429" in failed.detail
            assert failed.retry_in_s >= 1.0  # Retry-After: 1
            assert (keeper.of(Connected)[0].at_ns - failed.at_ns) / 1e9 >= 0.95

    run(scenario())


@pytest.mark.slow
def test_manager_never_gives_up_on_its_own_and_stops_promptly_when_asked() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            keeper = Keeper()
            async with ConnectionManager(
                spot, plan_channels(spot, ["AUSDT"], TRADES_AND_DEPTH), keeper, config=FAST
            ):
                await until(acked(keeper, 1, 2), 3.0, "acks")
                venue.refuse_dials = 10**6
                await venue.disconnect_all(None)
                await until(
                    lambda: len(keeper.of(DialFailed)) >= 8, 5.0, "dials failing through open breakers"
                )
                venue.refuse_dials = 0
                await until(acked(keeper, 2, 2), 3.0, "back after the outage")
                venue.refuse_dials = 10**6
                await venue.disconnect_all(None)
                await until(lambda: len(keeper.of(DialFailed)) >= 10, 5.0, "failing again")
                stop_started = time.monotonic()
            stop_took = time.monotonic() - stop_started

            opened = [c for c in keeper.of(BreakerChanged) if c.new is BreakerState.OPEN]
            assert len(opened) >= 2  # opened, half-opened, failed, opened again: and kept trying
            (first, second) = [s.gap for s in keeper.of(StreamGap)]
            assert first.reason == GapReason.DISCONNECT
            assert "stopped while disconnected" in second.detail  # a hole still open at stop is reported
            assert stop_took < 1.0

    run(scenario())
