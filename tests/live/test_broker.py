"""The live broker and the kill switches against the fake private venue on 127.0.0.1, through the
real `PrivateClient` and a real journal file: unknown outcomes, cancel on exit, stop-entries, and the
dead-man switch."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.execution.broker import LiveBroker, OrderAsk, OrderOutcome
from fxcli.execution.clientid import ENTRY, EXIT
from fxcli.execution.journal import Journal
from fxcli.execution.killswitch import DeadManSwitch, cancel_entries, flatten
from fxcli.execution.orders import OrderState
from fxcli.execution.risk import RiskLimits
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET, FakePrivateVenue

KEYS = ApiKeys(DOC_KEY, DOC_SECRET)
LIMITS = RiskLimits(Decimal(100), Decimal(200), 2, Decimal(50))
LAST = "61800"
BUY_50 = OrderAsk("BTCUSDT", "open", Decimal(50), Decimal(LAST), 0)


def btc_venue(venue: FakePrivateVenue) -> None:
    """BTCUSDT priced like the sample recording, with a deep book."""
    venue.set_symbol("BTCUSDT", base_precision=6, quote_precision=2, base_fee_precision=8, last=LAST)
    asks = [(f"{61800 * (1 + k / 10000):.2f}", "5") for k in range(1, 6)]
    bids = [(f"{61800 * (1 - k / 10000):.2f}", "5") for k in range(1, 6)]
    venue.set_book("BTCUSDT", bids, asks, LAST)


@asynccontextmanager
async def trading(
    tmp: Path, stop_entries_file: Path | None = None, unfilled_timeout_s: float = 30.0
) -> AsyncIterator[tuple[FakePrivateVenue, LiveBroker, list[OrderOutcome]]]:
    """A venue, a client, a journal and a running broker whose outcomes land in a list."""
    async with FakePrivateVenue(symbols=["BTCUSDT"], balances={"USDT": "10000", "BTC": "1"}) as venue:
        btc_venue(venue)
        async with PrivateClient(venue.rest_url, KEYS, timeout_s=1.0) as client:
            with Journal.open(tmp / "journal.sqlite") as journal:
                outcomes: list[OrderOutcome] = []
                rules = await client.exchange_info(["BTCUSDT"])
                broker = LiveBroker(
                    client,
                    journal,
                    LIMITS,
                    rules,
                    on_outcome=outcomes.append,
                    poll_s=0.1,
                    lag_s=0.5,
                    stop_entries_file=stop_entries_file,
                    unfilled_timeout_s=unfilled_timeout_s,
                )
                stop = asyncio.Event()
                polling = asyncio.create_task(broker.run(stop))
                try:
                    yield venue, broker, outcomes
                finally:
                    stop.set()
                    await polling


async def until(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_broker_unknown_outcome_quarantines_the_symbol_and_resolves_by_venue_evidence(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            venue.fault("lost_response", when="POST /api/v3/order$")

            broker.submit(BUY_50)
            await until(lambda: broker.symbols["BTCUSDT"].quarantined != "")
            unknown = broker.symbols["BTCUSDT"].quarantined
            broker.submit(BUY_50)  # a second entry while the first one's outcome is unknown
            await until(lambda: len(outcomes) == 2)

            refused, resolved = outcomes
            assert "quarantined until the outcome of" in refused.reason
            assert refused.qty == 0
            assert (resolved.client_id, resolved.action) == (unknown, "open")
            assert resolved.qty > 0  # the lost answer's order was placed and filled: adopted, not resent
            assert venue.ledger()["orders_per_client_id"] == {unknown: 1}
            assert len(venue.ledger()["orders"]) == 1
            history = [state for state, _, _ in broker.journal.history(unknown)]
            assert OrderState.UNKNOWN in history
            assert history[-1] is OrderState.FILLED
            assert broker.symbols["BTCUSDT"].quarantined == ""

    asyncio.run(scenario())


def test_broker_stop_entries_file_refuses_entries_and_sends_nothing(tmp_path: Path) -> None:
    control = tmp_path / "stop-entries"
    control.touch()

    async def scenario() -> None:
        async with trading(tmp_path, stop_entries_file=control) as (venue, broker, outcomes):
            broker.submit(BUY_50)
            await until(lambda: len(outcomes) == 1)

            assert outcomes[0].reason == f"BTCUSDT: entries stopped (control file {control} exists)"
            assert not [r for r in venue.requests if r.path == "/api/v3/order"]

    asyncio.run(scenario())


def test_broker_risk_limit_refuses_an_entry_before_sending(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            broker.submit(OrderAsk("BTCUSDT", "open", Decimal(150), Decimal(LAST), 0))
            await until(lambda: len(outcomes) == 1)

            assert "max_order_notional 100" in outcomes[0].reason
            assert not [r for r in venue.requests if r.path == "/api/v3/order"]

    asyncio.run(scenario())


async def rest_limit_orders(broker: LiveBroker, n: int, role: str = ENTRY) -> list[str]:
    """`n` resting limit orders of the broker's run, journaled before they are sent, as fx sends."""
    journal, client = broker.journal, broker.client
    side, price = ("BUY", Decimal("60000")) if role == ENTRY else ("SELL", Decimal("63000"))
    ids = []
    for _ in range(n):
        order = journal.record_intent(
            "BTCUSDT", side, "LIMIT", role=role, quantity=Decimal("0.001"), price=price
        )
        ack = await client.new_order(order.intent.request())
        order.on_ack(ack)
        journal.record(order, {"kind": "ack"})
        ids.append(order.client_id)
    return ids


def test_broker_close_cancels_every_open_order_of_the_run_and_no_foreign_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, _):
            ours = await rest_limit_orders(broker, 3)
            venue.place_external("BTCUSDT", "BUY", "LIMIT", "0.001", "59000", client_id="web1")

            left = await broker.close()

            assert left == 0
            assert venue.open_orders_of(f"fx{broker.journal.run_id}") == []
            still = [o["clientOrderId"] for o in venue.open_orders_of("")]
            assert still == ["web1"]
            assert broker.stats.cancelled_on_exit == len(ours)

    asyncio.run(scenario())


def test_dead_man_switch_cancels_open_entries_when_the_engine_stops_beating(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, _):
            entries = await rest_limit_orders(broker, 3, ENTRY)
            exits = await rest_limit_orders(broker, 1, EXIT)
            run_id = broker.journal.run_id
            done = threading.Event()

            def action() -> None:  # on the watchdog's thread, with its own client and loop
                async def run() -> None:
                    async with PrivateClient(venue.rest_url, KEYS) as own:
                        await cancel_entries(own, ["BTCUSDT"], run_id)

                asyncio.run(run())
                done.set()

            switch = DeadManSwitch(0.3, action).start()
            beat_until = time.monotonic() + 0.6
            last_beat = 0.0
            while time.monotonic() < beat_until:  # alive: no firing however long it runs
                switch.beat()
                last_beat = time.monotonic()
                await asyncio.sleep(0.05)
            assert switch.fired_at is None
            await until(done.is_set)
            switch.stop()

            assert switch.error is None
            assert switch.fired_at is not None
            assert switch.fired_at - last_beat >= 0.3
            open_ids = [o["clientOrderId"] for o in venue.open_orders_of(f"fx{run_id}")]
            assert open_ids == exits  # entries cancelled; the exit order keeps working
            assert set(entries).isdisjoint(open_ids)

    asyncio.run(scenario())


def test_broker_close_cancels_again_when_a_cancel_answer_is_lost_and_backfills_unpushed_fills(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, _):
            ours = await rest_limit_orders(broker, 2)
            venue.fault("drop_push", when="deals", times=None)  # no deal push reaches fx
            venue.trade("BTCUSDT", "60000", "0.0005")  # a print fills part of the first order
            venue.fault("drop_request", when="DELETE /api/v3/order$")  # the first cancel is lost

            left = await broker.close(wait_s=2.0)

            assert left == 0
            assert venue.open_orders_of(f"fx{broker.journal.run_id}") == []
            venue_trades = {
                t for o in venue.ledger()["orders"] if o["clientOrderId"] in ours for t in o["tradeIds"]
            }
            assert venue_trades
            assert venue_trades <= {t.trade_id for t in broker.journal.fills()}

    asyncio.run(scenario())


def test_flatten_settles_a_sale_whose_answer_timed_out_by_venue_evidence(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with trading(tmp_path) as (venue, broker, outcomes):
            broker.submit(BUY_50)
            await until(lambda: len(outcomes) == 1)
            venue.fault("slow", when="POST /api/v3/order$", delay_s=1.5)  # past the client's 1 s timeout

            report = await flatten(broker.client, broker.journal, broker.rules, lag_s=0.5)

            sale = next(o for o in broker.journal.orders() if o.side == "SELL")
            assert sale.state is OrderState.FILLED
            at_venue = next(o for o in venue.ledger()["orders"] if o["clientOrderId"] == sale.client_id)
            assert OrderState.UNKNOWN in [state for state, _, _ in broker.journal.history(sale.client_id)]
            assert set(at_venue["tradeIds"]) <= {t.trade_id for t in broker.journal.fills()}
            assert report.sold == {"BTCUSDT": at_venue["executedQty"]}
            assert venue.ledger()["orders_per_client_id"][sale.client_id] == 1  # never resent

    asyncio.run(scenario())
