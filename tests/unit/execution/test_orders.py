"""The state machine applies venue evidence idempotently, whatever its order or repetition."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from fxcli.execution.orders import TERMINAL, TRANSITIONS, Intent, OrderState, TrackedOrder, can_move
from fxcli.model.orders import Ack, OrderPush, VenueOrder, VenueTrade
from tests.unit.execution.fills import pepe_fill

S = OrderState
CID = "fxk7q2m9e00000001"
OID = "C02__600000000000000001"


def intent(qty: str = "1000000") -> Intent:
    return Intent(
        CID, "k7q2m9", 1, "e", "PEPEUSDT", "BUY", "LIMIT", Decimal(qty), None, Decimal("0.0000101"), 0
    )


def snapshot(status: str, executed: str, quote: str = "0") -> VenueOrder:
    return VenueOrder(
        symbol="PEPEUSDT",
        order_id=OID,
        client_id=CID,
        side="BUY",
        type="LIMIT",
        status=status,
        price=Decimal("0.0000101"),
        orig_qty=Decimal(1000000),
        executed_qty=Decimal(executed),
        cum_quote=Decimal(quote),
    )


def push(status: str, cum: str, quote: str) -> OrderPush:
    return OrderPush(
        symbol="PEPEUSDT",
        order_id=OID,
        client_id=CID,
        side="BUY",
        status=status,
        price=Decimal("0.0000101"),
        quantity=Decimal(1000000),
        cum_qty=Decimal(cum),
        cum_quote=Decimal(quote),
        avg_price=Decimal("0.0000101"),
        create_ms=1,
        send_ms=2,
    )


def trade(tid: str, qty: str, quote: str) -> VenueTrade:
    return pepe_fill(tid, qty=qty, quote=quote, order_id=OID, client_id=CID)


def test_transition_table_terminal_states_have_no_moves_and_unknown_cannot_be_rejected() -> None:
    assert {S.REJECTED, S.FILLED, S.CANCELED, S.PARTIALLY_CANCELED} == TERMINAL
    assert set(TRANSITIONS) == set(S)
    assert not can_move(S.UNKNOWN, S.REJECTED)
    assert not can_move(S.PARTIALLY_FILLED, S.ACCEPTED)
    assert can_move(S.TOMBSTONED, S.ACCEPTED)


def test_snapshot_behind_our_cum_qty_is_ignored() -> None:
    order = TrackedOrder(intent(), state=S.ACCEPTED, order_id=OID)
    order.on_order(snapshot("PARTIALLY_FILLED", "400000", "4.04"))

    changed = order.on_order(snapshot("NEW", "0"))

    assert not changed
    assert order.state == S.PARTIALLY_FILLED
    assert order.cum_qty == Decimal(400000)


def test_trade_counted_once_per_trade_id() -> None:
    order = TrackedOrder(intent(), state=S.ACCEPTED, order_id=OID)

    first = order.on_trade(trade("1X1", "400000", "4.04"))
    again = order.on_trade(trade("1X1", "400000", "4.04"))

    assert (first, again) == (True, False)
    assert order.cum_qty == Decimal(400000)
    assert order.state == S.PARTIALLY_FILLED


def test_terminal_state_stays_terminal_under_later_evidence() -> None:
    order = TrackedOrder(intent(), state=S.ACCEPTED, order_id=OID)
    order.on_order(snapshot("CANCELED", "0"))

    order.on_order(snapshot("NEW", "0"))
    order.on_ack(Ack("PEPEUSDT", OID, 1))
    order.on_cancel_sent()

    assert order.state == S.CANCELED


def test_unknown_left_only_by_venue_evidence() -> None:
    order = TrackedOrder(intent())
    order.on_unknown()

    order.on_reject()
    order.on_cancel_sent()
    still = order.state
    order.on_order(push("NEW", "0", "0"))

    assert still == S.UNKNOWN
    assert order.state == S.ACCEPTED
    assert order.order_id == OID


def test_fill_moves_unknown_order_on_it_proves_existence() -> None:
    order = TrackedOrder(intent("400000"))
    order.on_unknown()

    order.on_trade(trade("1X1", "400000", "4.04"))

    assert order.state == S.FILLED


def test_cancel_answered_with_new_stays_pending_cancel_until_terminal() -> None:
    order = TrackedOrder(intent(), state=S.ACCEPTED, order_id=OID)
    order.on_cancel_sent()

    order.on_order(snapshot("NEW", "0"))
    pending = order.state
    order.on_order(push("PARTIALLY_CANCELED", "400000", "4.04"))

    assert pending == S.PENDING_CANCEL
    assert order.state == S.PARTIALLY_CANCELED
    assert order.cum_qty == Decimal(400000)


def test_tombstoned_order_found_later_is_adopted_as_incident() -> None:
    order = TrackedOrder(intent())
    order.on_unknown()
    order.on_absent()

    order.on_order(snapshot("NEW", "0"))

    assert order.state == S.ACCEPTED
    assert "tombstoned" in order.incident


EVIDENCE = [
    ("ack", Ack("PEPEUSDT", OID, 1)),
    ("order", push("NEW", "0", "0")),
    ("order", push("PARTIALLY_FILLED", "400000", "4.04")),
    ("trade", trade("1X1", "400000", "4.04")),
    ("order", snapshot("PARTIALLY_FILLED", "400000", "4.04")),
    ("trade", trade("2X1", "600000", "6.06")),
    ("order", push("FILLED", "1000000", "10.1")),
]


@pytest.mark.parametrize("seed", range(40))
def test_evidence_in_any_order_with_duplicates_reaches_the_same_end(seed: int) -> None:
    rng = random.Random(seed)
    shuffled = EVIDENCE + rng.sample(EVIDENCE, k=3)
    rng.shuffle(shuffled)
    order = TrackedOrder(intent())
    order.on_unknown()

    for kind, item in shuffled:
        if kind == "ack":
            order.on_ack(item)  # type: ignore[arg-type]
        elif kind == "order":
            order.on_order(item)  # type: ignore[arg-type]
        else:
            order.on_trade(item)  # type: ignore[arg-type]

    assert order.state == S.FILLED
    assert order.cum_qty == Decimal(1000000)
    assert order.cum_quote == Decimal("10.1")
    assert sorted(order.fills) == ["1X1", "2X1"]
    assert order.fill_qty == Decimal(1000000)
