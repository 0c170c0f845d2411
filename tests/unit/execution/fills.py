"""One way to write a PEPEUSDT fill in the execution tests (a VenueTrade has twelve fields)."""

from __future__ import annotations

from decimal import Decimal

from fxcli.model.orders import VenueTrade


def pepe_fill(
    trade_id: str,
    *,
    qty: str = "1",
    quote: str | None = None,
    order_id: str = "C02__1",
    client_id: str = "",
    side: str = "BUY",
    fee: str = "0",
    fee_asset: str = "PEPE",
    time_ms: int = 1,
) -> VenueTrade:
    """A fill of `qty` PEPE for `quote` USDT (at 0.0000101 when not given)."""
    quote_qty = Decimal(quote) if quote is not None else Decimal("0.0000101") * Decimal(qty)
    return VenueTrade(
        symbol="PEPEUSDT",
        trade_id=trade_id,
        order_id=order_id,
        client_id=client_id,
        side=side,
        price=quote_qty / Decimal(qty),
        qty=Decimal(qty),
        quote_qty=quote_qty,
        fee=Decimal(fee),
        fee_asset=fee_asset,
        time_ms=time_ms,
        is_maker=False,
    )
