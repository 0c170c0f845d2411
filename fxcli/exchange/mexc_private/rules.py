"""What MEXC will accept for one spot symbol, from `GET /api/v3/exchangeInfo`, and the pre-trade
check that names the exact rule an order breaks before the venue refuses it.

The field names mislead (spec §2.5): `baseSizePrecision` is the minimum quantity, and
`quoteAmountPrecision(Market)` the minimum notional of limit (market) orders; `baseAssetPrecision`
and `quotePrecision` are decimal counts of quantity and price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from fxcli.exchange.mexc_private.signing import decimal_text
from fxcli.model.orders import BUY, SELL, OrderRequest

LIMIT_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"})
STATUS_NAMES = {"1": "online", "2": "paused", "3": "offline"}
# tradeSideType: 1 both sides, 2 buy only, 3 sell only, 4 close only (a spot close is a sell).
SIDES_ALLOWED = {1: {BUY, SELL}, 2: {BUY}, 3: {SELL}, 4: {SELL}}


@dataclass(frozen=True)
class SymbolRules:
    """One symbol's trading rules, as Decimals and ints."""

    symbol: str
    status: str  # "1" online, "2" paused, "3" offline
    base_asset: str
    quote_asset: str
    qty_decimals: int  # baseAssetPrecision
    price_decimals: int  # quotePrecision
    quote_decimals: int  # quoteAssetPrecision: decimals of quoteOrderQty
    min_qty: Decimal  # baseSizePrecision
    min_notional: Decimal  # quoteAmountPrecision (limit orders)
    min_notional_market: Decimal  # quoteAmountPrecisionMarket
    max_quote: Decimal | None  # maxQuoteAmount (limit orders); None when absent
    max_quote_market: Decimal | None  # maxQuoteAmountMarket
    order_types: frozenset[str]
    quote_market_allowed: bool  # quoteOrderQtyMarketAllowed
    trade_side_type: int
    bid_up: Decimal | None  # PERCENT_PRICE_BY_SIDE bidMultiplierUp; None when the filter is absent
    ask_down: Decimal | None  # PERCENT_PRICE_BY_SIDE askMultiplierDown
    spot_allowed: bool  # isSpotTradingAllowed: API spot trading allowed
    maker_fee: Decimal
    taker_fee: Decimal


def parse_symbol(doc: Mapping[str, Any]) -> SymbolRules:
    """One `exchangeInfo` symbol; a missing or malformed field raises `ValueError` naming it."""
    symbol = doc.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ValueError("exchangeInfo symbol without a 'symbol' name")
    band = next(
        (
            f
            for f in doc.get("filters") or []
            if isinstance(f, dict) and f.get("filterType") == "PERCENT_PRICE_BY_SIDE"
        ),
        None,
    )
    field = _Fields(symbol, doc)
    return SymbolRules(
        symbol=symbol,
        status=str(doc.get("status", "")),
        base_asset=field.text("baseAsset"),
        quote_asset=field.text("quoteAsset"),
        qty_decimals=field.count("baseAssetPrecision"),
        price_decimals=field.count("quotePrecision"),
        quote_decimals=field.count("quoteAssetPrecision", default=doc.get("quotePrecision")),
        min_qty=field.number("baseSizePrecision", default="0"),
        min_notional=field.number("quoteAmountPrecision", default="0"),
        min_notional_market=field.number(
            "quoteAmountPrecisionMarket", default=doc.get("quoteAmountPrecision", "0")
        ),
        max_quote=field.optional_number("maxQuoteAmount"),
        max_quote_market=field.optional_number("maxQuoteAmountMarket"),
        order_types=frozenset(str(t) for t in doc.get("orderTypes") or []),
        quote_market_allowed=doc.get("quoteOrderQtyMarketAllowed", True) is not False,
        trade_side_type=field.count("tradeSideType", default=1),
        bid_up=_Fields(symbol, band).optional_number("bidMultiplierUp") if band else None,
        ask_down=_Fields(symbol, band).optional_number("askMultiplierDown") if band else None,
        spot_allowed=doc.get("isSpotTradingAllowed", True) is not False,
        maker_fee=field.number("makerCommission", default="0"),
        taker_fee=field.number("takerCommission", default="0"),
    )


def parse_exchange_info(doc: Any) -> dict[str, SymbolRules]:
    """Every symbol of an `exchangeInfo` answer, by name."""
    symbols = doc.get("symbols") if isinstance(doc, dict) else None
    if not isinstance(symbols, list):
        raise ValueError("exchangeInfo answer has no 'symbols' list")
    rules = [parse_symbol(s) for s in symbols if isinstance(s, dict)]
    return {r.symbol: r for r in rules}


def decimals(value: Decimal) -> int:
    """How many decimals `value` needs (trailing zeros do not count): 0.0100 → 2, 1E+6 → 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def quantize_qty(rules: SymbolRules, qty: Decimal) -> Decimal:
    """`qty` rounded down to the symbol's quantity decimals (never more than was meant)."""
    return qty.quantize(Decimal(1).scaleb(-rules.qty_decimals), rounding=ROUND_DOWN)


def quantize_price(rules: SymbolRules, price: Decimal) -> Decimal:
    """`price` rounded down to the symbol's price decimals."""
    return price.quantize(Decimal(1).scaleb(-rules.price_decimals), rounding=ROUND_DOWN)


def check(
    rules: SymbolRules, request: OrderRequest, last_price: Decimal, api_symbols: set[str] | None = None
) -> str | None:
    """The first rule `request` breaks, in words that name the rule and the numbers, or None.

    `last_price` prices market orders and anchors the price band; `api_symbols` is the key's
    `selfSymbols` list (None: not checked).
    """
    s = rules.symbol
    if request.symbol != s:
        return f"{request.symbol}: checked against the rules of {s}"
    if api_symbols is not None and s not in api_symbols:
        return f"{s}: not in this key's API symbols (selfSymbols); the venue answers 10007"
    if rules.status != "1":
        name = STATUS_NAMES.get(rules.status, "unknown")
        return f"{s}: status is {rules.status or '?'} ({name}); orders need status 1 (online)"
    if not rules.spot_allowed:
        return f"{s}: isSpotTradingAllowed is false (no API spot trading)"
    if request.type not in rules.order_types:
        return f"{s}: order type {request.type} is not in orderTypes {sorted(rules.order_types)}"
    if request.side not in (BUY, SELL):
        return f"{s}: side {request.side!r} is neither BUY nor SELL"
    if request.side not in SIDES_ALLOWED.get(rules.trade_side_type, set()):
        return f"{s}: tradeSideType {rules.trade_side_type} does not allow {request.side} orders"
    return _amounts(rules, request, last_price)


def _amounts(rules: SymbolRules, request: OrderRequest, last: Decimal) -> str | None:
    s, qty, quote, price = rules.symbol, request.quantity, request.quote_qty, request.price
    is_limit = request.type in LIMIT_TYPES
    if is_limit and (qty is None or price is None or quote is not None):
        return f"{s}: a {request.type} order needs quantity and price (and no quoteOrderQty)"
    if not is_limit and (qty is None) == (quote is None):
        return f"{s}: a MARKET order needs either quantity or quoteOrderQty"
    if quote is not None and not rules.quote_market_allowed:
        return f"{s}: quoteOrderQtyMarketAllowed is false (market orders by quote amount refused)"
    for name, value in (("quantity", qty), ("quoteOrderQty", quote), ("price", price)):
        if value is not None and (not value.is_finite() or value <= 0):
            return f"{s}: {name} {value} must be a positive number"
    limits = (
        ("quantity", qty, rules.qty_decimals, "baseAssetPrecision"),
        ("price", price, rules.price_decimals, "quotePrecision"),
        ("quoteOrderQty", quote, rules.quote_decimals, "quoteAssetPrecision"),
    )
    for name, value, allowed, field in limits:
        if value is not None and decimals(value) > allowed:
            text = decimal_text(value)
            return f"{s}: {name} {text} has {decimals(value)} decimals; {field} is {allowed}"
    if qty is not None and qty < rules.min_qty:
        minimum = decimal_text(rules.min_qty)
        return (
            f"{s}: quantity {decimal_text(qty)} is below the minimum quantity {minimum} (baseSizePrecision)"
        )
    notional = quote if quote is not None else (qty or Decimal(0)) * (price if is_limit and price else last)
    if is_limit:
        floor, floor_field, ceiling, ceiling_field = (
            rules.min_notional,
            "quoteAmountPrecision",
            rules.max_quote,
            "maxQuoteAmount",
        )
    else:
        floor, floor_field, ceiling, ceiling_field = (
            rules.min_notional_market,
            "quoteAmountPrecisionMarket",
            rules.max_quote_market,
            "maxQuoteAmountMarket",
        )
    kind = "limit" if is_limit else "market"
    amount = f"{s}: notional {decimal_text(notional)}"
    # A market order by quantity without a last price has no notional to check.
    if (is_limit or last > 0 or quote is not None) and notional < floor:
        return f"{amount} is below the {kind} minimum {decimal_text(floor)} ({floor_field})"
    if ceiling is not None and ceiling > 0 and notional > ceiling:
        return f"{amount} is above the {kind} maximum {decimal_text(ceiling)} ({ceiling_field})"
    if is_limit and price is not None and last > 0:
        return _band(rules, request.side, price, last)
    return None


def _band(rules: SymbolRules, side: str, price: Decimal, last: Decimal) -> str | None:
    s = rules.symbol
    if side == BUY and rules.bid_up is not None:
        top = last * (1 + rules.bid_up)
        if price > top:
            return (
                f"{s}: BUY price {decimal_text(price)} is above the band {decimal_text(top)} "
                f"(last {decimal_text(last)}, times (1 + bidMultiplierUp {decimal_text(rules.bid_up)}))"
            )
    if side == SELL and rules.ask_down is not None:
        bottom = last * (1 - rules.ask_down)
        if price < bottom:
            return (
                f"{s}: SELL price {decimal_text(price)} is below the band {decimal_text(bottom)} "
                f"(last {decimal_text(last)}, times (1 - askMultiplierDown {decimal_text(rules.ask_down)}))"
            )
    return None


class _Fields:
    """Reads one symbol's fields (ints or decimal strings) with errors naming symbol and field."""

    def __init__(self, symbol: str, doc: Mapping[str, Any]) -> None:
        self.symbol = symbol
        self.doc = doc

    def text(self, name: str) -> str:
        value = self.doc.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"exchangeInfo {self.symbol}: {name} is missing")
        return value

    def count(self, name: str, default: object = None) -> int:
        value = self.doc.get(name, default)
        try:
            number = int(str(value))
        except ValueError:
            raise ValueError(f"exchangeInfo {self.symbol}: {name} {value!r} is not a whole number") from None
        if number < 0:
            raise ValueError(f"exchangeInfo {self.symbol}: {name} {number} is negative")
        return number

    def number(self, name: str, default: object = None) -> Decimal:
        value = self.optional_number(name)
        if value is None:
            value = self._decimal(name, default)
        if value is None:
            raise ValueError(f"exchangeInfo {self.symbol}: {name} is missing")
        return value

    def optional_number(self, name: str) -> Decimal | None:
        return self._decimal(name, self.doc.get(name))

    def _decimal(self, name: str, value: object) -> Decimal | None:
        if value is None or value == "":
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"exchangeInfo {self.symbol}: {name} {value!r} is not a number") from None
        if not number.is_finite() or number < 0:
            raise ValueError(f"exchangeInfo {self.symbol}: {name} {value!r} is not a usable number")
        return number
