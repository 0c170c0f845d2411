"""MEXC private REST answers decoded into `fxcli.model.orders` values (Decimals, ids as strings).

Shapes from the spec (§2.5): ids may be strings or integers (kept as opaque text), `clientOrderId`
may be null, `updateTime` null on a never-updated order; a cancel answer names our id
`origClientOrderId` and the cancel's own id `clientOrderId`. A missing field raises
`KeyError`/`ValueError`, which the client turns into a fail-closed error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fxcli.model.orders import BUY, SELL, Ack, Balance, VenueOrder, VenueTrade


def parse_ack(doc: Mapping[str, Any], symbol: str) -> Ack:
    """`POST /api/v3/order` → `Ack` (the answer has no status and no fills)."""
    return Ack(
        symbol=str(doc.get("symbol") or symbol),
        order_id=_id(doc, "orderId"),
        transact_ms=_ms(doc, "transactTime"),
    )


def parse_order(doc: Mapping[str, Any]) -> VenueOrder:
    """An order object of `GET /order`, `openOrders`, `allOrders` or a cancel answer."""
    client_id = doc.get("origClientOrderId") or doc.get("clientOrderId") or ""
    return VenueOrder(
        symbol=_str(doc, "symbol"),
        order_id=_id(doc, "orderId"),
        client_id=str(client_id),
        side=_str(doc, "side"),
        type=_str(doc, "type"),
        status=_str(doc, "status"),
        price=_dec(doc, "price"),
        orig_qty=_dec(doc, "origQty"),
        executed_qty=_dec(doc, "executedQty"),
        cum_quote=_dec(doc, "cummulativeQuoteQty"),
        time_ms=_ms(doc, "time"),
        update_ms=_ms(doc, "updateTime"),
    )


def parse_trade(doc: Mapping[str, Any]) -> VenueTrade:
    """One `myTrades` row; `id` is the same trade id a deal push carries."""
    return VenueTrade(
        symbol=_str(doc, "symbol"),
        trade_id=_id(doc, "id"),
        order_id=_id(doc, "orderId"),
        client_id=str(doc.get("clientOrderId") or ""),
        side=BUY if doc.get("isBuyer") is True else SELL,
        price=_dec(doc, "price"),
        qty=_dec(doc, "qty"),
        quote_qty=_dec(doc, "quoteQty"),
        fee=_dec(doc, "commission"),
        fee_asset=str(doc.get("commissionAsset") or ""),
        time_ms=_ms(doc, "time"),
        is_maker=doc.get("isMaker") is True,
    )


def parse_balances(doc: Mapping[str, Any]) -> dict[str, Balance]:
    """`GET /api/v3/account` → balances by asset."""
    rows = doc["balances"]
    if not isinstance(rows, list):
        raise TypeError("balances is not a list")
    balances = [Balance(_str(r, "asset"), _dec(r, "free"), _dec(r, "locked")) for r in rows]
    return {b.asset: b for b in balances}


def _str(doc: Mapping[str, Any], name: str) -> str:
    value = doc[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is {value!r}, not a non-empty string")
    return value


def _id(doc: Mapping[str, Any], name: str) -> str:
    value = doc[name]
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ValueError(f"{name} is {value!r}, not an id")
    return str(value)


def _dec(doc: Mapping[str, Any], name: str) -> Decimal:
    value = doc[name]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} is {value!r}, not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} is {value!r}, not a number") from None
    if not number.is_finite():
        raise ValueError(f"{name} is {value!r}, not a finite number")
    return number


def _ms(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} is {value!r}, not a time in ms")
    return int(value)
