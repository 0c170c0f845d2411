"""JSON shapes of the private REST answers, exactly as docs/mexc-orders.md §2.5 documents them."""

from __future__ import annotations

from typing import Any

from tests.fake_mexc_private.book import OPEN, ZERO, Exchange, Order, Trade
from tests.fake_mexc_private.symbols import text

TIME_IN_FORCE = {"IMMEDIATE_OR_CANCEL": "IOC", "FILL_OR_KILL": "FOK"}


def ack(order: Order, *, superset: bool = False) -> dict[str, Any]:
    """The new-order answer: no status, no fills, no client id (a knob adds the Binance-like superset)."""
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "price": text(order.price),
        "origQty": text(order.orig_qty),
        "type": order.type,
        "side": order.side,
        "transactTime": order.time_ms,
    }
    if superset:
        body |= {
            "clientOrderId": order.client_id,
            "status": order.status,
            "executedQty": text(order.executed_qty),
            "cummulativeQuoteQty": text(order.cum_quote),
        }
    return body


def order(o: Order) -> dict[str, Any]:
    """`GET /api/v3/order` (and allOrders rows): `updateTime` null on a never-updated order."""
    by_quote = o.type == "MARKET" and o.orig_qty == 0
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "price": text(o.price),
        "origQty": text(o.orig_qty),
        "executedQty": text(o.executed_qty),
        "cummulativeQuoteQty": text(o.cum_quote),
        "status": o.status,
        "timeInForce": TIME_IN_FORCE.get(o.type, "GTC"),
        "type": o.type,
        "side": o.side,
        "stopPrice": "0.0",
        "time": o.time_ms,
        "updateTime": o.update_ms,
        "isWorking": o.status in OPEN,
        "origQuoteOrderQty": text(o.quote_qty) if by_quote else "0",
    }


def open_order(o: Order) -> dict[str, Any]:
    """An `openOrders` row: the order plus `icebergQty`."""
    return order(o) | {"icebergQty": "0"}


def cancel(
    o: Order, *, status: str, executed: str, cum_quote: str, cancel_id: str, list_id: bool = False
) -> dict[str, Any]:
    """A cancel answer; `status` is what the cancel reports (the pre-cancel `NEW` by default, F12)."""
    body: dict[str, Any] = {
        "symbol": o.symbol,
        "origClientOrderId": o.client_id,
        "orderId": o.order_id,
        "clientOrderId": cancel_id,
        "price": text(o.price),
        "origQty": text(o.orig_qty),
        "executedQty": executed,
        "cummulativeQuoteQty": cum_quote,
        "status": status,
        "timeInForce": TIME_IN_FORCE.get(o.type, "GTC"),
        "type": o.type,
        "side": o.side,
    }
    if list_id:
        body["orderListId"] = -1
    return body


def trade(t: Trade, *, null_client_id: bool = False) -> dict[str, Any]:
    """A `myTrades` row; `clientOrderId` may be null on the venue (a knob makes it so)."""
    return {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "orderListId": -1,
        "price": text(t.price),
        "qty": text(t.qty),
        "quoteQty": text(t.quote_qty),
        "commission": text(t.fee),
        "commissionAsset": t.fee_asset,
        "time": t.time_ms,
        "isBuyer": t.side == "BUY",
        "isMaker": t.is_maker,
        "isBestMatch": True,
        "isSelfTrade": False,
        "clientOrderId": None if null_client_id or not t.client_id else t.client_id,
    }


def ledger(ex: Exchange) -> dict[str, Any]:
    """The venue's ground truth as JSON-ready values: every order (with its trade ids and whether it
    was placed outside fx), trades by id, balances, external transfers, orders per client id."""
    counts: dict[str, int] = {}
    for o in ex.orders.values():
        if o.client_id:
            counts[o.client_id] = counts.get(o.client_id, 0) + 1
    return {
        "orders": [ledger_order(o) for o in ex.orders.values()],
        "trades": {t.trade_id: trade(t) for t in ex.trades.values()},
        "balances": {
            a: {"free": text(ex.free[a]), "locked": text(ex.locked.get(a, ZERO))} for a in sorted(ex.free)
        },
        "transfers": [
            {"asset": t.asset, "amount": text(t.amount), "kind": t.kind, "time": t.time_ms}
            for t in ex.transfers
        ],
        "orders_per_client_id": counts,
    }


def ledger_order(o: Order) -> dict[str, Any]:
    """An order in the ledger: its REST view plus `external` and its trade ids."""
    return order(o) | {"external": o.external, "tradeIds": list(o.trade_ids)}
