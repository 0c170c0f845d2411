"""A run that crashed with orders in every state, built on the fake private venue: what the
reconciliation tests and `bench/reconcile.py` restart from (issue 15's start-up case)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import OutcomeUnknown
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.execution.journal import Journal
from fxcli.execution.orders import TrackedOrder, evidence
from fxcli.execution.reconcile import OrderClient
from fxcli.model.orders import BUY, Ack
from tests.fake_mexc_private import DOC_KEY, DOC_SECRET, FakePrivateVenue
from tests.fake_mexc_private.symbols import NewOrder

SYMBOL = "PEPEUSDT"
QTY = "1000000"


def client_of(venue: FakePrivateVenue) -> PrivateClient:
    client = PrivateClient(venue.rest_url, ApiKeys(DOC_KEY, DOC_SECRET), timeout_s=1.0)
    typed: OrderClient = client  # mypy proves the real client satisfies reconciliation's Protocol
    assert typed is client
    return client


def intent(journal: Journal, price: str, qty: str = QTY) -> TrackedOrder:
    return journal.record_intent(SYMBOL, BUY, "LIMIT", role="e", quantity=Decimal(qty), price=Decimal(price))


def placed_earlier(venue: FakePrivateVenue, journal: Journal, price: str) -> TrackedOrder:
    """An order a previous run placed and journaled as acknowledged (placed in the venue's engine
    directly: 50 real POSTs would take 5 s at the venue's 12 orders/s)."""
    order = intent(journal, price)
    placed = venue.exchange.place(
        NewOrder(SYMBOL, BUY, "LIMIT", Decimal(QTY), None, Decimal(price), order.client_id)
    )
    ack = Ack(SYMBOL, placed.order_id, placed.time_ms)
    order.on_ack(ack)
    journal.record(order, evidence(ack))
    return order


async def sent_into(
    fault: str, venue: FakePrivateVenue, client: PrivateClient, journal: Journal
) -> TrackedOrder:
    """Send a new intent into the armed `fault` ("lost_response": the venue holds it;
    "drop_request": it never arrived) and journal the unknown outcome as the broker does."""
    order = intent(journal, "0.0000095")
    venue.fault(fault, when="POST /api/v3/order", client_id=order.client_id)
    try:
        await client.new_order(order.intent.request())
    except OutcomeUnknown:
        order.on_unknown()
        journal.record(order, {"kind": "OutcomeUnknown"})
        return order
    raise AssertionError(f"the venue's {fault} fault did not make the send's outcome unknown")


@dataclass
class CrashedRun:
    """What the crashed run left: its orders by fate, the fills and the foreign orders."""

    own: list[TrackedOrder]  # 50 acknowledged, resting
    lost: list[TrackedOrder]  # 5 UNKNOWN that the venue holds (answer lost), the first part-filled
    dropped: list[TrackedOrder]  # 3 UNKNOWN that never reached the venue
    never_sent: list[TrackedOrder]  # 2 SUBMITTING: killed between the journal and the send
    fill_ids: list[str]
    foreign_ids: set[str]  # 3 open orders placed outside fx


async def crash_with_50_open_10_unknown_3_foreign(
    venue: FakePrivateVenue, client: PrivateClient, path: Path
) -> CrashedRun:
    """Play the crashed run into the journal at `path` (run id "aaaaaa") and the venue."""
    with Journal.open(path, "aaaaaa") as crashed:
        own = [placed_earlier(venue, crashed, "0.0000090") for _ in range(50)]
        lost = [await sent_into("lost_response", venue, client, crashed) for _ in range(5)]
        dropped = [await sent_into("drop_request", venue, client, crashed) for _ in range(3)]
        never_sent = [intent(crashed, "0.0000095") for _ in range(2)]
    fill_ids = venue.trade(SYMBOL, "0.0000095", "400000")  # fills the oldest lost order in part
    foreign_ids = {
        venue.place_external(SYMBOL, BUY, "LIMIT", QTY, "0.0000080", client_id=cid)
        for cid in ("", "web1order", "fxzzzzzze00000001")
    }
    return CrashedRun(own, lost, dropped, never_sent, fill_ids, foreign_ids)
