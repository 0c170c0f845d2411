"""Faults that must never leave a silent hole or a dead slot (review-live.md findings 2 and 3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from fxcli.exchange.connection import (
    ConnectionManager,
    DialFailed,
    Disconnected,
    DisconnectReason,
    GapOpened,
    ManagerConfig,
    StreamGap,
    Subscribed,
    plan_channels,
)
from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.model.events import Gap
from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import FAST, TRADES_AND_DEPTH, Keeper, run, until

# Refused channels come back after 2-4 s: long enough to see a hole if nothing covers it.
SLOW_RETRY = replace(FAST, reject_retry_base_s=2.0, reject_retry_cap_s=4.0)
SYMBOLS = ["AUSDT", "BUSDT"]


def missed_outside_gaps(venue: FakeMexc, keeper: Keeper, symbol: str, gaps: list[Gap]) -> list[int]:
    """Trade ids of `symbol` the venue made between the first and last trade received, that never
    arrived and lie in no gap: the silent holes."""
    got = {t.trade_id for _, t in keeper.trades() if t.symbol == symbol}
    ids = sorted(i for i in got if i is not None)
    mine = [g for g in gaps if g.symbol == symbol]
    return [
        t.trade_id
        for t in venue.trades[symbol]
        if ids[0] < t.trade_id < ids[-1]
        and t.trade_id not in got
        and not any(g.start_ns <= t.time_ms * 1_000_000 <= g.end_ns for g in mine)
    ]


@asynccontextmanager
async def spot_manager(
    symbols: list[str], config: ManagerConfig
) -> AsyncIterator[tuple[FakeMexc, Keeper, ConnectionManager]]:
    """A manager of `symbols`' trades and depth on the fake spot venue, keeping everything it hears."""
    async with FakeMexc(Venue.SPOT, symbols, tick_s=0.02) as venue:
        spot = MexcSpot(venue.endpoints)
        keeper = Keeper()
        channels = plan_channels(spot, symbols, TRADES_AND_DEPTH)
        async with ConnectionManager(spot, channels, keeper, config=config) as manager:
            yield venue, keeper, manager


def b_trades_on(keeper: Keeper, conn_id: int) -> bool:
    return any(f.conn_id == conn_id and t.symbol == "BUSDT" for f, t in keeper.trades())


def subscribed(keeper: Keeper) -> set[str]:
    return {c.name for s in keeper.of(Subscribed) for c in s.channels}


def all_acked(keeper: Keeper) -> bool:
    return len(subscribed(keeper)) == 4


def test_rotation_keeps_the_old_connection_while_the_replacement_is_refused_a_channel() -> None:
    async def scenario() -> None:
        async with spot_manager(SYMBOLS, SLOW_RETRY) as (venue, keeper, manager):
            await until(lambda: all_acked(keeper), 3.0, "acks")
            await asyncio.sleep(0.5)
            venue.block("BUSDT", times=2)  # the replacement's two BUSDT channels are refused once
            manager.rotate(0)
            await until(lambda: manager.stats.rotations >= 1, 15.0, "the rotation")
            await until(lambda: b_trades_on(keeper, 2), 15.0, "BUSDT trades on the replacement")
            await asyncio.sleep(0.5)
            venue.pause()
            await asyncio.sleep(0.2)

        gaps = [s.gap for s in keeper.of(StreamGap)]
        assert missed_outside_gaps(venue, keeper, "BUSDT", gaps) == []
        sent = {t.trade_id for t in venue.trades_sent("BUSDT")}
        got = {t.trade_id for _, t in keeper.trades() if t.symbol == "BUSDT"}
        assert sent <= got  # the old connection carried BUSDT until the new one did

    run(scenario(), timeout_s=25.0)


def test_reconnect_gap_stays_open_until_every_channel_of_the_symbol_is_subscribed_again() -> None:
    async def scenario() -> None:
        async with spot_manager(SYMBOLS, SLOW_RETRY) as (venue, keeper, _):
            await until(lambda: all_acked(keeper), 3.0, "acks")
            await asyncio.sleep(0.5)
            venue.block("BUSDT", times=2)
            await venue.disconnect_all(None)
            await until(
                lambda: any(s.gap.symbol == "BUSDT" for s in keeper.of(StreamGap)), 10.0, "BUSDT's gap"
            )
            await asyncio.sleep(0.5)

        gaps = [s.gap for s in keeper.of(StreamGap)]
        (b_gap,) = [g for g in gaps if g.symbol == "BUSDT"]
        assert (b_gap.end_ns - b_gap.start_ns) / 1e9 > 0.9  # open until the refused channels came back
        assert missed_outside_gaps(venue, keeper, "BUSDT", gaps) == []
        opened = [s for s in keeper.of(GapOpened) if s.symbol == "BUSDT"]
        assert len(opened) == 1
        assert opened[0].start_ns == b_gap.start_ns

    run(scenario(), timeout_s=20.0)


def test_disconnect_gap_starts_at_the_venue_time_of_the_last_push_received() -> None:
    async def scenario() -> None:
        async with spot_manager(SYMBOLS, FAST) as (venue, keeper, _):
            await until(lambda: all_acked(keeper), 3.0, "acks")
            venue.network_delay_s = 0.1  # every push reaches us 100 ms after the venue sent it
            await asyncio.sleep(0.5)
            await venue.disconnect_all(None)  # the pushes of the last 100 ms never arrive
            await until(lambda: len(keeper.of(StreamGap)) == 2, 5.0, "both gaps closed")
            await asyncio.sleep(0.3)

        before = [d for f, d in keeper.decoded if f.conn_id == 1 and d.sent_ts_ns]
        last_sent = max(d.sent_ts_ns for d in before)
        last_rx = max(f.received_ts_ns for f, _ in keeper.decoded if f.conn_id == 1)
        gaps = [s.gap for s in keeper.of(StreamGap)]
        for gap in gaps:
            assert gap.start_ns == last_sent  # venue time, not our receive time
        assert last_rx - last_sent >= 90_000_000
        for symbol in SYMBOLS:  # the trades in flight at the drop are inside the gap
            assert missed_outside_gaps(venue, keeper, symbol, gaps) == []

    run(scenario())


def test_proxies_in_the_environment_are_not_used_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with spot_manager(["AUSDT"], FAST) as (_, keeper, _):
            await until(lambda: keeper.trades(), 3.0, "data through no proxy")

        assert keeper.of(DialFailed) == []

    for variable in ("ws_proxy", "wss_proxy", "all_proxy", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(variable, "socks5://127.0.0.1:9")  # a SOCKS proxy; python-socks is not installed
    monkeypatch.setenv("no_proxy", "")
    run(scenario())


def test_an_unexpected_error_in_a_slot_is_reported_backed_off_and_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = ConnectionManager._supervise
    failures = [RuntimeError("boom in the supervisor")]

    async def supervise_once_failing(self: ConnectionManager, slot: object) -> None:
        if failures:
            raise failures.pop()
        await original(self, slot)  # type: ignore[arg-type]

    monkeypatch.setattr(ConnectionManager, "_supervise", supervise_once_failing)

    async def scenario() -> None:
        async with spot_manager(["AUSDT"], FAST) as (_, keeper, manager):
            await until(lambda: any(f.conn_id == 2 for f, _ in keeper.trades()), 5.0, "data on conn 2")
            assert manager.stats.slot_errors == 1

        (failed,) = [d for d in keeper.of(DialFailed) if "supervisor" in d.detail]
        assert "RuntimeError: boom in the supervisor" in failed.detail
        assert any(d.reason is DisconnectReason.ERROR for d in keeper.of(Disconnected))

    run(scenario())


def test_a_futures_connection_of_many_contracts_rotates_within_its_paced_ready_time() -> None:
    symbols = [f"C{i}_USDT" for i in range(25)]  # 50 channels: one futures connection, one per request

    async def scenario() -> int:
        async with FakeMexc(Venue.FUTURES, symbols, tick_s=0.05) as venue:
            futures = MexcFutures(venue.endpoints)
            keeper = Keeper()
            config = replace(FAST, rotate_ready_timeout_s=1.0)  # 50 requests at 10/s take longer
            channels = plan_channels(futures, symbols, TRADES_AND_DEPTH)
            async with ConnectionManager(futures, channels, keeper, config=config) as manager:
                await until(
                    lambda: len({c.name for s in keeper.of(Subscribed) for c in s.channels}) == 50,
                    10.0,
                    "acks",
                )
                manager.rotate(0)
                await until(lambda: manager.stats.rotations >= 1, 10.0, "the rotation")
            return len([d for d in keeper.of(Disconnected) if d.reason is DisconnectReason.ABANDONED])

    assert run(scenario(), timeout_s=30.0) == 0
