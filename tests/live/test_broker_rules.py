"""F20 and F23 (docs/mexc-orders.md §5): the venue changes a symbol's exchangeInfo mid-session
(`set_symbol` on the fake venue), through the real `PrivateClient`, a real journal and the broker."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from fxcli.execution.broker import LiveBroker, OrderAsk, OrderOutcome
from fxcli.execution.orders import OrderState
from tests.fake_mexc_private.venue import FakePrivateVenue
from tests.live.test_broker import BUY_50, LAST, trading, until

SELL = OrderAsk("BTCUSDT", "close", Decimal(0), Decimal(LAST), 0)


async def ask(broker: LiveBroker, outcomes: list[OrderOutcome], order: OrderAsk) -> OrderOutcome:
    before = len(outcomes)
    broker.submit(order)
    await until(lambda: len(outcomes) > before)
    return outcomes[-1]


async def refused_unsent(
    broker: LiveBroker, outcomes: list[OrderOutcome], order: OrderAsk, reason: str
) -> None:
    """`order` ends unfilled for `reason` and no request left for it."""
    sent = broker.stats.sent
    outcome = await ask(broker, outcomes, order)
    assert outcome.fills == 0
    assert reason in outcome.reason
    assert broker.stats.sent == sent


def venue_orders(venue: FakePrivateVenue) -> dict[str, Any]:
    return dict(venue.ledger()["orders_per_client_id"])


def test_a_precision_changed_since_the_start_is_refetched_and_the_order_sent_once_more(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            bought = await ask(broker, outcomes, BUY_50)
            assert bought.qty > 0
            assert bought.qty != bought.qty.quantize(Decimal("0.0001"))
            venue.set_symbol("BTCUSDT", base_precision=4)  # fx still holds baseAssetPrecision 6
            sold = await ask(broker, outcomes, SELL)

            assert sold.fills > 0, sold.reason
            assert sold.qty == bought.qty  # 4 decimals sold, the dust below them written off
            exits = [o for o in broker.journal.orders() if o.side == "SELL"]
            assert len(exits) == 2  # both intents journaled
            first, second = exits
            assert first.state is OrderState.REJECTED
            assert second.client_id == sold.client_id
            assert second.client_id != first.client_id
            per_id = venue_orders(venue)
            assert per_id.get(first.client_id, 0) == 0
            assert per_id[second.client_id] == 1
            assert broker.rules["BTCUSDT"].qty_decimals == 4
            placed = [o for o in venue.ledger()["orders"] if o["clientOrderId"] == second.client_id]
            assert Decimal(placed[0]["origQty"]) == bought.qty.quantize(Decimal("0.0001"), "ROUND_DOWN")

    asyncio.run(scenario())


def test_a_raised_minimum_is_checked_against_the_new_rules_and_refused_without_a_second_send(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            venue.set_symbol("BTCUSDT", min_notional_market="60")
            refused = await ask(broker, outcomes, BUY_50)

            assert refused.fills == 0
            assert "below the market minimum 60" in refused.reason
            intents = broker.journal.orders()
            assert len(intents) == 1
            assert intents[0].state is OrderState.REJECTED
            assert venue_orders(venue) == {}
            assert broker.stats.sent == 1  # the re-check refused it: never a second request

    asyncio.run(scenario())


def test_a_reject_whose_rules_did_not_change_stays_a_reject(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            venue.fault("reject", when="POST /api/v3/order$", code=30002)
            rejected = await ask(broker, outcomes, BUY_50)

            assert rejected.fills == 0
            assert "below_min_notional" in rejected.reason
            assert len(broker.journal.orders()) == 1
            assert broker.stats.sent == 1
            assert venue_orders(venue) == {}

    asyncio.run(scenario())


def test_f20_a_sell_only_symbol_takes_no_entry_but_lets_the_exit_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            await ask(broker, outcomes, BUY_50)
            venue.set_symbol("BTCUSDT", trade_side_type=3)
            entry = await ask(broker, outcomes, BUY_50)
            assert entry.fills == 0
            assert "tradeSideType 3 does not allow BUY" in entry.reason
            await refused_unsent(broker, outcomes, BUY_50, "tradeSideType 3")
            sold = await ask(broker, outcomes, SELL)
            assert sold.fills > 0, sold.reason
            buys = [cid for cid, n in venue_orders(venue).items() if n and cid in _buys(broker)]
            assert len(buys) == 1  # the first entry only

    asyncio.run(scenario())


def test_f20_a_paused_symbol_takes_no_entry_and_no_exit_is_sent(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            await ask(broker, outcomes, BUY_50)
            venue.set_symbol("BTCUSDT", status="2")
            entry = await ask(broker, outcomes, BUY_50)
            assert entry.fills == 0
            assert "status is 2" in entry.reason
            await refused_unsent(broker, outcomes, SELL, "status is 2")  # the venue would refuse it

    asyncio.run(scenario())


def test_f20_a_symbol_removed_from_api_trading_takes_no_entry(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            venue.set_symbol("BTCUSDT", spot_allowed=False)
            entry = await ask(broker, outcomes, BUY_50)
            assert entry.fills == 0
            assert "isSpotTradingAllowed is false" in entry.reason
            await refused_unsent(broker, outcomes, BUY_50, "isSpotTradingAllowed is false")
            assert venue_orders(venue) == {}

    asyncio.run(scenario())


def _buys(broker: LiveBroker) -> set[str]:
    return {o.client_id for o in broker.journal.orders() if o.side == "BUY"}
