"""Symbol rules parsed from `exchangeInfo`, and the pre-trade check naming the exact rule an order
breaks (spec §2.5), one test per rule."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from fxcli.exchange.mexc_private.rules import (
    SymbolRules,
    check,
    decimals,
    parse_exchange_info,
    quantize_price,
    quantize_qty,
)
from fxcli.model.orders import BUY, SELL, OrderRequest

# The spec's PEPEUSDT symbol, as exchangeInfo serves it.
PEPE: dict[str, Any] = {
    "symbol": "PEPEUSDT",
    "status": "1",
    "baseAsset": "PEPE",
    "baseAssetPrecision": 2,
    "quoteAsset": "USDT",
    "quotePrecision": 10,
    "quoteAssetPrecision": 10,
    "baseCommissionPrecision": 2,
    "quoteCommissionPrecision": 10,
    "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
    "quoteOrderQtyMarketAllowed": True,
    "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": False,
    "quoteAmountPrecision": "1",
    "baseSizePrecision": "0",
    "permissions": ["SPOT"],
    "filters": [
        {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "0.2", "askMultiplierDown": "0.1"}
    ],
    "maxQuoteAmount": "2000000",
    "makerCommission": "0",
    "takerCommission": "0.0005",
    "quoteAmountPrecisionMarket": "1",
    "maxQuoteAmountMarket": "100000",
    "fullName": "Pepe",
    "tradeSideType": 1,
    "st": False,
}
LAST = Decimal("0.00001")


def rules(**changes: Any) -> SymbolRules:
    doc = copy.deepcopy(PEPE) | changes
    return parse_exchange_info({"timezone": "CST", "symbols": [doc]})["PEPEUSDT"]


def limit(
    side: str = BUY, qty: str = "1000000", price: str = "0.0000101", kind: str = "LIMIT"
) -> OrderRequest:
    return OrderRequest(
        "PEPEUSDT", side, kind, "fxk7q2m9e00000001", quantity=Decimal(qty), price=Decimal(price)
    )


def test_parse_exchange_info_reads_every_rule() -> None:
    r = rules()

    assert (r.base_asset, r.quote_asset, r.status, r.spot_allowed) == ("PEPE", "USDT", "1", True)
    assert (r.qty_decimals, r.price_decimals, r.quote_decimals) == (2, 10, 10)
    assert (r.min_qty, r.min_notional, r.min_notional_market) == (Decimal(0), Decimal(1), Decimal(1))
    assert (r.max_quote, r.max_quote_market) == (Decimal(2000000), Decimal(100000))
    assert r.order_types == {"LIMIT", "MARKET", "LIMIT_MAKER"}
    assert (r.bid_up, r.ask_down, r.trade_side_type) == (Decimal("0.2"), Decimal("0.1"), 1)
    assert (r.maker_fee, r.taker_fee) == (Decimal(0), Decimal("0.0005"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"baseAssetPrecision": "two"},
            "exchangeInfo PEPEUSDT: baseAssetPrecision 'two' is not a whole number",
        ),
        ({"takerCommission": "x"}, "exchangeInfo PEPEUSDT: takerCommission 'x' is not a number"),
        ({"baseAsset": None}, "exchangeInfo PEPEUSDT: baseAsset is missing"),
    ],
)
def test_parse_exchange_info_names_bad_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules(**changes)


def test_check_good_orders_pass() -> None:
    r = rules()
    market_buy = OrderRequest("PEPEUSDT", BUY, "MARKET", "c", quote_qty=Decimal("25"))
    market_sell = OrderRequest("PEPEUSDT", SELL, "MARKET", "c", quantity=Decimal("200000"))

    assert check(r, limit(), LAST, {"PEPEUSDT"}) is None
    assert check(r, limit(SELL, price="0.0000095"), LAST, None) is None
    assert check(r, market_buy, LAST, None) is None
    assert check(r, market_sell, LAST, None) is None


@pytest.mark.parametrize(
    ("changes", "request_", "api", "message"),
    [
        ({}, limit(qty="0.123"), None, "PEPEUSDT: quantity 0.123 has 3 decimals; baseAssetPrecision is 2"),
        (
            {"quotePrecision": 7},
            limit(price="0.00001011"),
            None,
            "PEPEUSDT: price 0.00001011 has 8 decimals; quotePrecision is 7",
        ),
        (
            {"quoteAssetPrecision": 2},
            OrderRequest("PEPEUSDT", BUY, "MARKET", "c", quote_qty=Decimal("25.125")),
            None,
            "PEPEUSDT: quoteOrderQty 25.125 has 3 decimals; quoteAssetPrecision is 2",
        ),
        (
            {"baseSizePrecision": "500000"},
            limit(qty="200000", price="0.00001"),
            None,
            "PEPEUSDT: quantity 200000 is below the minimum quantity 500000 (baseSizePrecision)",
        ),
        (
            {},
            limit(qty="50000", price="0.00001"),
            None,
            "PEPEUSDT: notional 0.5 is below the limit minimum 1 (quoteAmountPrecision)",
        ),
        (
            {"quoteAmountPrecisionMarket": "5"},
            OrderRequest("PEPEUSDT", SELL, "MARKET", "c", quantity=Decimal("400000")),
            None,
            "PEPEUSDT: notional 4 is below the market minimum 5 (quoteAmountPrecisionMarket)",
        ),
        (
            {"maxQuoteAmount": "5"},
            limit(),
            None,
            "PEPEUSDT: notional 10.1 is above the limit maximum 5 (maxQuoteAmount)",
        ),
        (
            {"maxQuoteAmountMarket": "20"},
            OrderRequest("PEPEUSDT", BUY, "MARKET", "c", quote_qty=Decimal("25")),
            None,
            "PEPEUSDT: notional 25 is above the market maximum 20 (maxQuoteAmountMarket)",
        ),
        (
            {"orderTypes": ["LIMIT", "LIMIT_MAKER"]},
            OrderRequest("PEPEUSDT", BUY, "MARKET", "c", quote_qty=Decimal("25")),
            None,
            "PEPEUSDT: order type MARKET is not in orderTypes ['LIMIT', 'LIMIT_MAKER']",
        ),
        (
            {},
            limit(kind="IMMEDIATE_OR_CANCEL"),
            None,
            "PEPEUSDT: order type IMMEDIATE_OR_CANCEL is not in orderTypes "
            "['LIMIT', 'LIMIT_MAKER', 'MARKET']",
        ),
        ({"tradeSideType": 3}, limit(), None, "PEPEUSDT: tradeSideType 3 does not allow BUY orders"),
        ({"tradeSideType": 2}, limit(SELL), None, "PEPEUSDT: tradeSideType 2 does not allow SELL orders"),
        (
            {},
            limit(price="0.0000121"),
            None,
            "PEPEUSDT: BUY price 0.0000121 is above the band 0.000012 "
            "(last 0.00001, times (1 + bidMultiplierUp 0.2))",
        ),
        (
            {},
            limit(SELL, price="0.0000089"),
            None,
            "PEPEUSDT: SELL price 0.0000089 is below the band 0.000009 "
            "(last 0.00001, times (1 - askMultiplierDown 0.1))",
        ),
        (
            {},
            limit(),
            {"BTCUSDT"},
            "PEPEUSDT: not in this key's API symbols (selfSymbols); the venue answers 10007",
        ),
        ({"status": "2"}, limit(), None, "PEPEUSDT: status is 2 (paused); orders need status 1 (online)"),
        ({"isSpotTradingAllowed": False}, limit(), None, "PEPEUSDT: isSpotTradingAllowed is false"),
        (
            {"quoteOrderQtyMarketAllowed": False},
            OrderRequest("PEPEUSDT", BUY, "MARKET", "c", quote_qty=Decimal("25")),
            None,
            "PEPEUSDT: quoteOrderQtyMarketAllowed is false",
        ),
        (
            {},
            OrderRequest("PEPEUSDT", BUY, "LIMIT", "c", quantity=Decimal("1000000")),
            None,
            "PEPEUSDT: a LIMIT order needs quantity and price",
        ),
        (
            {},
            OrderRequest("PEPEUSDT", BUY, "MARKET", "c", quantity=Decimal(1), quote_qty=Decimal(25)),
            None,
            "PEPEUSDT: a MARKET order needs either quantity or quoteOrderQty",
        ),
        ({}, limit(qty="-5"), None, "PEPEUSDT: quantity -5 must be a positive number"),
    ],
)
def test_check_names_the_failing_rule(
    changes: dict[str, Any], request_: OrderRequest, api: set[str] | None, message: str
) -> None:
    problem = check(rules(**changes), request_, LAST, api)

    assert problem is not None
    assert problem.startswith(message)


def test_check_without_band_filter_skips_band() -> None:
    r = rules(filters=[])

    assert check(r, limit(price="0.0000200"), LAST, None) is None


def test_quantize_rounds_down_to_precision() -> None:
    r = rules(quotePrecision=7)

    assert quantize_qty(r, Decimal("1234.5678")) == Decimal("1234.56")
    assert quantize_price(r, Decimal("0.00001019")) == Decimal("0.0000101")
    assert decimals(quantize_qty(r, Decimal("0.019"))) <= 2
    assert check(r, limit(qty=str(quantize_qty(r, Decimal("1000000.129")))), LAST) is None


@pytest.mark.parametrize(("value", "count"), [("0.0100", 2), ("1E+6", 0), ("0.000000101", 9), ("25", 0)])
def test_decimals_ignores_trailing_zeros(value: str, count: int) -> None:
    assert decimals(Decimal(value)) == count
