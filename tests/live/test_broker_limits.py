"""The broker's guards end to end against the fake venue: the unfilled-order timeout, the daily-loss
limit, the order budget under 3x demand and after a forced 429 (G10), and the user stream's paged
fill backfill after a reconnect."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from fxcli.execution.broker import OrderAsk
from fxcli.execution.orders import OrderState
from fxcli.live.trading import backfill_fills
from tests.live.test_broker import BUY_50, LAST, rest_limit_orders, trading, until


def test_an_entry_left_unfilled_is_cancelled_after_the_timeout_without_a_fill(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path, unfilled_timeout_s=0.6) as (venue, broker, outcomes):
            venue.exchange.hold_market = True  # accepted, never matched
            sent_s = time.monotonic()
            broker.submit(BUY_50)
            await until(lambda: bool(outcomes))
            ended_s = time.monotonic()

            [outcome] = outcomes
            [order] = venue.ledger()["orders"]
            assert (outcome.qty, outcome.client_id) == (Decimal(0), order["clientOrderId"])
            assert outcome.reason == f"{order['clientOrderId']} CANCELED without a fill"
            assert order["status"] == "CANCELED"
            assert ended_s - sent_s >= 0.6  # not before the timeout
            history = [state for state, _, _ in broker.journal.history(outcome.client_id)]
            assert history[-3:] == [OrderState.ACCEPTED, OrderState.PENDING_CANCEL, OrderState.CANCELED]
            assert venue.open_orders_of("") == []

    asyncio.run(scenario())


def test_an_entry_filled_within_the_timeout_is_never_cancelled(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path, unfilled_timeout_s=0.6) as (venue, broker, outcomes):
            broker.submit(BUY_50)
            await until(lambda: bool(outcomes))
            await asyncio.sleep(0.8)  # past the timeout: the filled order is left alone

            assert outcomes[0].qty > 0
            assert not [r for r in venue.requests if r.method == "DELETE"]

    asyncio.run(scenario())


def test_the_daily_loss_limit_stops_new_entries_once_realised(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            buy_100 = OrderAsk("BTCUSDT", "open", Decimal(100), Decimal(LAST), 0)
            broker.submit(buy_100)
            await until(lambda: len(outcomes) == 1)
            # the market falls by half: selling the position realises a loss of about 50 (the limit)
            venue.set_book("BTCUSDT", [("30900.00", "5")], [("31000.00", "5")], "30950")
            broker.submit(OrderAsk("BTCUSDT", "close", Decimal(0), Decimal("30950"), 0))
            await until(lambda: len(outcomes) == 2)
            orders_before = len(venue.ledger()["orders"])
            broker.submit(BUY_50)
            await until(lambda: len(outcomes) == 3)

            bought, sold, refused = outcomes
            assert bought.qty > 0
            assert sold.qty == bought.qty
            assert bought.quote_qty - sold.quote_qty > broker.limits.max_daily_loss - 1  # ~half of 100
            assert -broker.realised_today >= broker.limits.max_daily_loss  # fees included
            assert refused.qty == 0
            assert refused.reason.startswith("BTCUSDT: daily loss ")
            assert refused.reason.endswith(f"reached max_daily_loss {broker.limits.max_daily_loss}")
            assert len(venue.ledger()["orders"]) == orders_before  # nothing sent

    asyncio.run(scenario())


def test_three_times_the_order_budget_through_the_broker_gets_no_429(tmp_path: Path) -> None:
    """Entries on every tick of a busy second: 36 asks at once, 3x the venue's 12 orders/s."""

    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            broker.limits = type(broker.limits)(Decimal(100), Decimal(10_000), 50, Decimal(50))
            for _ in range(36):
                broker.submit(OrderAsk("BTCUSDT", "open", Decimal(6), Decimal(LAST), 0))
            await until(lambda: len(venue.ledger()["orders"]) == 36, timeout_s=15)

            statuses = [r.status for r in venue.requests]
            assert 429 not in statuses
            assert 418 not in statuses
            assert broker.stats.rejected == 0
            assert all(o.qty > 0 for o in outcomes)

    asyncio.run(scenario())


def test_after_a_forced_429_the_broker_sends_nothing_before_retry_after(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            venue.fault("rate_limit", when=r"POST /api/v3/order$", retry_after=1)
            broker.submit(BUY_50)
            await until(lambda: len(outcomes) == 1)
            broker.submit(BUY_50)  # the next decision, at once
            await until(lambda: len(outcomes) == 2)

            limited = next(r for r in venue.requests if r.status == 429)
            later = [r for r in venue.requests if r.mono_s > limited.mono_s]
            assert outcomes[0].reason.startswith("too_many_requests: retry after 1 s")
            assert outcomes[1].qty > 0
            assert later
            assert min(r.mono_s for r in later) - limited.mono_s >= 0.95

    asyncio.run(scenario())


def test_reconnect_backfill_pages_more_than_100_fills_missed_while_away(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, _):
            since_ms = time.time_ns() // 1_000_000
            await rest_limit_orders(broker, 1)  # 0.001 BTC resting at 60000
            fills = []
            for n in range(150):  # fills the stream never delivered (it was away)
                fills += venue.trade("BTCUSDT", "60000", "0.000006")
                if n % 10 == 9:
                    await asyncio.sleep(0.002)  # the venue's clock moves on: pages meet at a ms
            assert len(fills) == 150

            await backfill_fills(broker.client, broker, ["BTCUSDT"], since_ms)

            journaled = {t.trade_id for t in broker.journal.fills()}
            assert journaled == set(fills)
            assert len(journaled) == len(venue.ledger()["trades"])

    asyncio.run(scenario())
