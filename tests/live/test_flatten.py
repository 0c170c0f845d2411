"""`fx flatten` (the kill switch) and `fx orders` as real subprocesses against the fake venue process:
20 open fx orders cancelled and the position sold within 2 s, inside the order-rate budget (no 429),
and an order placed outside fx never touched."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.execution.clientid import ENTRY, parse
from fxcli.execution.journal import Journal
from fxcli.model.orders import BUY
from tests.conftest import error_line, run_fx
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET
from tests.live.private_venue import VenueProcess, btc_like, venue_process


async def _open_position_and_orders(venue: VenueProcess, journal_path: Path, n: int) -> tuple[str, list[str]]:
    """As a live run leaves them: a filled market buy (its fill journaled) and `n` resting limit buys."""
    with Journal.open(journal_path) as journal:
        async with PrivateClient(venue.rest_url, ApiKeys(DOC_KEY, DOC_SECRET)) as client:
            buy = journal.record_intent("BTCUSDT", BUY, "MARKET", role=ENTRY, quote_qty=Decimal(50))
            ack = await client.new_order(buy.intent.request())
            buy.on_ack(ack)
            journal.record(buy, {"kind": "ack"})
            for trade in await client.my_trades("BTCUSDT", order_id=ack.order_id):
                journal.add_fill(trade)
                buy.on_trade(trade)
            buy.on_order(await client.query_order("BTCUSDT", client_id=buy.client_id))
            journal.record(buy, {"kind": "query"})
            resting = []
            for _ in range(n):
                order = journal.record_intent(
                    "BTCUSDT", BUY, "LIMIT", role=ENTRY, quantity=Decimal("0.001"), price=Decimal(60000)
                )
                order.on_ack(await client.new_order(order.intent.request()))
                journal.record(order, {"kind": "ack"})
                resting.append(order.client_id)
        return journal.run_id, resting


def flatten(venue: VenueProcess, journal: Path, *extra: str) -> dict[str, object]:
    result = run_fx("flatten", "--journal", str(journal), "--json", *extra, env=venue.env, unset=("FX_",))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_flatten_cancels_20_open_orders_and_sells_the_position_within_2_s(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)
        journal = tmp_path / "journal.sqlite"
        run_id, resting = asyncio.run(_open_position_and_orders(venue, journal, 20))
        held = Decimal(venue.admin("ledger")["balances"]["BTC"]["free"])

        doc = flatten(venue, journal)
        open_fx = venue.open_fx_orders()
        requests = venue.admin("requests")
        sells = [o for o in venue.fx_orders() if o["side"] == "SELL"]

    assert sorted(doc["cancelled"]["BTCUSDT"]) == sorted(resting)  # type: ignore[index]
    assert doc["left_open"] == {}
    assert doc["seconds"] <= 2.0  # type: ignore[operator]
    assert open_fx == []
    assert [s["status"] for s in sells] == ["FILLED"]
    assert Decimal(sells[0]["executedQty"]) == held.quantize(Decimal("0.000001"), rounding="ROUND_DOWN")
    kill_run, role = parse_role(sells[0]["clientOrderId"])
    assert role == "k"  # a kill-switch order, under fx flatten's own run of the same journal
    with Journal.open(journal) as opened:
        assert {run_id, kill_run} <= opened.run_ids()
        # the sale's fills are in the ledger (else the next flatten or session sees a phantom position)
        assert set(sells[0]["tradeIds"]) <= {t.trade_id for t in opened.fills()}
        sale = opened.order(sells[0]["clientOrderId"])
        assert sale is not None
        assert sale.state.value == "FILLED"
    assert not [r for r in requests if r["status"] in (418, 429)]


def parse_role(client_id: str) -> tuple[str, str]:
    parsed = parse(client_id)
    assert parsed is not None
    return parsed[0], parsed[1]


def test_flatten_never_touches_an_order_placed_outside_fx(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)
        journal = tmp_path / "journal.sqlite"
        _, resting = asyncio.run(_open_position_and_orders(venue, journal, 5))
        venue.admin(
            "place_external", symbol="BTCUSDT", side="BUY", type_="LIMIT", quantity="0.001", price="59000"
        )

        doc = flatten(venue, journal)
        still_open = [o for o in venue.admin("ledger")["orders"] if o["status"] == "NEW"]
        requests = venue.admin("requests")

    assert sorted(doc["cancelled"]["BTCUSDT"]) == sorted(resting)  # type: ignore[index]
    assert doc["foreign"] == {"BTCUSDT": 1}
    assert [o["external"] for o in still_open] == [True]
    assert not [r for r in requests if r["path"] == "/api/v3/openOrders" and r["method"] == "DELETE"]
    assert not [r for r in requests if r["status"] in (418, 429)]


def test_orders_list_and_cancel_by_client_id(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)
        journal = tmp_path / "journal.sqlite"
        _, resting = asyncio.run(_open_position_and_orders(venue, journal, 2))

        listed = run_fx("orders", "list", "--journal", str(journal), "--json", unset=("FX_",))
        cancelled = run_fx(
            "orders", "cancel", resting[0], "--journal", str(journal), "--json", env=venue.env, unset=("FX_",)
        )
        foreign = run_fx(
            "orders", "cancel", "web-order-1", "--journal", str(journal), env=venue.env, unset=("FX_",)
        )
        open_ids = [o["clientOrderId"] for o in venue.open_fx_orders()]

    assert listed.returncode == 0, listed.stderr
    assert [o["client_id"] for o in json.loads(listed.stdout)["orders"]] == resting
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["cancelled"] == {"BTCUSDT": [resting[0]]}
    assert open_ids == [resting[1]]
    assert (
        error_line(foreign)
        == "web-order-1: not an order of this journal's runs (fx never cancels foreign orders)"
    )


def test_orders_reconcile_reports_a_consistent_journal(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)
        journal = tmp_path / "journal.sqlite"
        _, resting = asyncio.run(_open_position_and_orders(venue, journal, 3))

        result = run_fx(
            "orders", "reconcile", "--journal", str(journal), "--json", env=venue.env, unset=("FX_",)
        )

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["consistent"] is True
    assert sorted(o["client_id"] for o in doc["own_open"]) == sorted(resting)
