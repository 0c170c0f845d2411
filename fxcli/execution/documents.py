"""Orders and fills as JSON documents (`fx orders --json`, a live session's results): exact decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fxcli.execution.clientid import parse
from fxcli.execution.orders import TrackedOrder
from fxcli.model.orders import VenueOrder, VenueTrade

ROLE_NAMES = {"e": "entry", "x": "exit", "k": "kill", "c": "cancel"}


def text(value: Decimal | None) -> str | None:
    """A decimal as the venue would write it (never an exponent), None as None."""
    return None if value is None else format(value, "f")


def role_of(client_id: str) -> str:
    """entry, exit, kill, cancel for an fx client id; "foreign" for any other."""
    parsed = parse(client_id)
    return "foreign" if parsed is None else ROLE_NAMES.get(parsed[1], parsed[1])


def order_doc(order: TrackedOrder) -> dict[str, Any]:
    """One journaled order."""
    intent = order.intent
    return {
        "client_id": order.client_id,
        "run_id": intent.run_id,
        "role": role_of(order.client_id),
        "symbol": order.symbol,
        "side": order.side,
        "type": intent.type,
        "quantity": text(intent.quantity),
        "quote_qty": text(intent.quote_qty),
        "price": text(intent.price),
        "state": order.state.value,
        "order_id": order.order_id or None,
        "executed_qty": text(order.cum_qty),
        "cum_quote": text(order.cum_quote),
        "fills": len(order.fills),
        "created_ms": intent.created_ms,
        "updated_ms": order.updated_ms,
        "incident": order.incident or None,
    }


def venue_order_doc(order: VenueOrder) -> dict[str, Any]:
    """One order as the venue lists it (open orders: fx's and foreign ones)."""
    return {
        "client_id": order.client_id or None,
        "role": role_of(order.client_id),
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "status": order.status,
        "order_id": order.order_id,
        "price": text(order.price),
        "orig_qty": text(order.orig_qty),
        "executed_qty": text(order.executed_qty),
        "time_ms": order.time_ms,
    }


def trade_doc(trade: VenueTrade) -> dict[str, Any]:
    """One fill of the ledger."""
    return {
        "trade_id": trade.trade_id,
        "client_id": trade.client_id or None,
        "order_id": trade.order_id,
        "symbol": trade.symbol,
        "side": trade.side,
        "price": text(trade.price),
        "qty": text(trade.qty),
        "quote_qty": text(trade.quote_qty),
        "fee": text(trade.fee),
        "fee_asset": trade.fee_asset,
        "time_ms": trade.time_ms,
        "is_maker": trade.is_maker,
    }
