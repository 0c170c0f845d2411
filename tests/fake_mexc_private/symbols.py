"""Symbol rules of the fake venue: what `exchangeInfo` serves (docs/mexc-orders.md §2.5) and the
checks a new order must pass before it reaches the book, with the documented rejection codes.

Names follow MEXC's misleading ones: `baseAssetPrecision` = max decimals of quantity,
`quotePrecision` = max decimals of price, `baseSizePrecision` = minimum quantity,
`quoteAmountPrecision` = minimum notional of a limit order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.fake_mexc_private.replies import VenueError

LIMIT_TYPES = ("LIMIT", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
ORDER_TYPES = (*LIMIT_TYPES, "MARKET")


def text(value: Decimal) -> str:
    """A Decimal as MEXC writes it: plain digits, no exponent, no trailing zeros ("0.0000101", "10.1")."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def decimals(value: Decimal) -> int:
    """Digits after the point of `value` as sent (trailing zeros count: "1.10" has 2)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass
class SymbolSpec:
    """One symbol's rules; every field is a knob a test may change mid-run (F20, F23)."""

    symbol: str
    base: str
    quote: str = "USDT"
    status: str = "1"  # 1 online, 2 pause, 3 offline
    base_precision: int = 2  # baseAssetPrecision: decimals of quantity
    quote_precision: int = 10  # quotePrecision = quoteAssetPrecision: decimals of price
    min_qty: Decimal = Decimal(0)  # baseSizePrecision
    min_notional: Decimal = Decimal(1)  # quoteAmountPrecision
    min_notional_market: Decimal = Decimal(1)  # quoteAmountPrecisionMarket
    max_quote: Decimal = Decimal(2_000_000)  # maxQuoteAmount
    max_quote_market: Decimal = Decimal(100_000)  # maxQuoteAmountMarket
    order_types: tuple[str, ...] = ("LIMIT", "MARKET", "LIMIT_MAKER")
    trade_side_type: int = 1  # 1 all, 2 buy-only, 3 sell-only, 4 close
    spot_allowed: bool = True  # isSpotTradingAllowed
    bid_up: Decimal = Decimal("0.2")  # PERCENT_PRICE_BY_SIDE bidMultiplierUp
    ask_down: Decimal = Decimal("0.1")  # askMultiplierDown
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal("0.0005")
    base_fee_precision: int = 2  # baseCommissionPrecision
    quote_fee_precision: int = 10  # quoteCommissionPrecision
    last: Decimal = Decimal("0.0000101")  # the tape's last price (band reference)
    extra: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """The symbol as `exchangeInfo` lists it (some ints, some strings, as in a recorded fixture)."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base,
            "baseAssetPrecision": self.base_precision,
            "quoteAsset": self.quote,
            "quotePrecision": self.quote_precision,
            "quoteAssetPrecision": self.quote_precision,
            "baseCommissionPrecision": self.base_fee_precision,
            "quoteCommissionPrecision": self.quote_fee_precision,
            "orderTypes": list(self.order_types),
            "quoteOrderQtyMarketAllowed": True,
            "isSpotTradingAllowed": self.spot_allowed,
            "isMarginTradingAllowed": False,
            "quoteAmountPrecision": text(self.min_notional),
            "baseSizePrecision": text(self.min_qty),
            "permissions": ["SPOT"],
            "filters": [
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": text(self.bid_up),
                    "askMultiplierDown": text(self.ask_down),
                }
            ],
            "maxQuoteAmount": text(self.max_quote),
            "makerCommission": text(self.maker_fee),
            "takerCommission": text(self.taker_fee),
            "quoteAmountPrecisionMarket": text(self.min_notional_market),
            "maxQuoteAmountMarket": text(self.max_quote_market),
            "fullName": self.base.title(),
            "tradeSideType": self.trade_side_type,
            "st": False,
            **self.extra,
        }


def default_spec(symbol: str, last: Decimal) -> SymbolSpec:
    """A symbol quoted in USDT whose precisions suit its price (PEPE-like below 0.001, else 4 price
    decimals and 2 quantity decimals)."""
    base = symbol.removesuffix("USDT") if symbol.endswith("USDT") else symbol[:-4]
    quote = "USDT" if symbol.endswith("USDT") else symbol[-4:]
    price_decimals = 10 if last < Decimal("0.001") else max(2, decimals(last))
    return SymbolSpec(symbol, base, quote, quote_precision=price_decimals, last=last)


@dataclass(frozen=True)
class NewOrder:
    """A parsed new-order request (before the book sees it)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_id: str


def check(spec: SymbolSpec, order: NewOrder, *, api_symbols: set[str] | None) -> None:
    """Raise the venue's rejection for the first rule `order` breaks (§2.5 semantics)."""
    if spec.status == "2":
        raise VenueError(30000)
    if spec.status != "1":
        raise VenueError(30016)
    if not spec.spot_allowed or (api_symbols is not None and spec.symbol not in api_symbols):
        raise VenueError(10007)
    if (spec.trade_side_type == 2 and order.side == "SELL") or (
        spec.trade_side_type in (3, 4) and order.side == "BUY"
    ):
        raise VenueError(30001)
    if order.type not in spec.order_types:
        raise VenueError(30019 if order.type == "MARKET" else 30041)
    if order.quantity is not None and decimals(order.quantity) > spec.base_precision:
        raise VenueError(400, "quantity scale is invalid")
    if order.quote_qty is not None and decimals(order.quote_qty) > spec.quote_precision:
        raise VenueError(400, " amount scale is invalid")
    if order.price is not None and decimals(order.price) > spec.quote_precision:
        raise VenueError(400, "price scale is invalid")
    if order.quantity is not None and order.quantity < spec.min_qty:
        raise VenueError(30002, f"The minimum transaction volume cannot be less than:{text(spec.min_qty)}")
    if order.type == "MARKET":
        notional = order.quote_qty if order.quote_qty is not None else (order.quantity or 0) * spec.last
        floor, ceiling = spec.min_notional_market, spec.max_quote_market
    else:
        assert order.price is not None
        assert order.quantity is not None
        notional = order.price * order.quantity
        floor, ceiling = spec.min_notional, spec.max_quote
        if order.side == "BUY" and order.price > spec.last * (1 + spec.bid_up):
            raise VenueError(30087)
        if order.side == "SELL" and order.price < spec.last * (1 - spec.ask_down):
            raise VenueError(30087)
    if notional < floor:
        raise VenueError(30002, f"The minimum transaction volume cannot be less than:{text(floor)}USDT")
    if notional > ceiling:
        raise VenueError(30003, f"The maximum transaction volume cannot be greater than:{text(ceiling)}USDT")
