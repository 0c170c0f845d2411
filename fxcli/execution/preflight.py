"""`fx doctor --live`: can these keys trade these symbols now? Keys, clock, and one test order each.

Each symbol gets the order `fx stream --live` would send first (a MARKET buy of `notional` quote)
checked twice: by fx's own pre-trade rules (`rules.check`, which names the exact rule), then by the
venue's `POST /api/v3/order/test` (full validation, nothing placed). The account read proves the key
is valid and may read; a passing test order proves it may trade the symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import VenueError
from fxcli.exchange.mexc_private.rules import SymbolRules, check
from fxcli.model.orders import BUY, OrderRequest

MAX_CLOCK_OFFSET_MS = 1000  # MEXC refuses a timestamp 1 s ahead of its clock (700003)


@dataclass(frozen=True)
class Finding:
    """One line of the live checks: `status` is ok, warn or fail."""

    name: str
    status: str
    detail: str


async def preflight(client: PrivateClient, symbols: list[str], notional: Decimal | None) -> list[Finding]:
    """Keys, clock, then a rules check and an `order/test` per symbol (`notional` None: the
    symbol's minimum market notional)."""
    found: list[Finding] = []
    try:
        offset = await client.sync_clock()
    except VenueError as exc:
        return [Finding("clock", "fail", f"GET /api/v3/time: {exc}")]
    status = "ok" if abs(offset) < MAX_CLOCK_OFFSET_MS else "fail"
    found.append(Finding("clock", status, f"venue clock minus ours: {offset} ms (refused beyond ±1000 ms)"))
    try:
        balances = await client.account()
    except VenueError as exc:
        return [*found, Finding("keys", "fail", f"GET /api/v3/account: {exc}")]
    held = sorted(a for a, b in balances.items() if b.free + b.locked > 0)
    found.append(Finding("keys", "ok", f"valid; may read the account ({len(held)} assets held)"))
    try:
        rules = await client.exchange_info(symbols)
        api_symbols = await client.api_symbols()
    except VenueError as exc:
        return [*found, Finding("exchangeInfo", "fail", str(exc))]
    for symbol in symbols:
        found.append(await _test_order(client, symbol, rules, api_symbols, notional))
    return found


async def _test_order(
    client: PrivateClient,
    symbol: str,
    rules: dict[str, SymbolRules],
    api_symbols: set[str],
    notional: Decimal | None,
) -> Finding:
    r = rules.get(symbol)
    if r is None:
        return Finding(f"order/test {symbol}", "fail", f"{symbol}: not in the venue's exchangeInfo")
    amount = notional if notional is not None else r.min_notional_market
    quote_qty = amount.quantize(Decimal(1).scaleb(-r.quote_decimals), rounding=ROUND_DOWN)
    request = OrderRequest(symbol, BUY, "MARKET", "", quote_qty=quote_qty)
    why = check(r, request, Decimal(0), api_symbols)
    if why:
        return Finding(f"order/test {symbol}", "fail", why)
    try:
        await client.test_order(request)
    except VenueError as exc:
        return Finding(f"order/test {symbol}", "fail", f"MARKET BUY {quote_qty} {r.quote_asset}: {exc}")
    return Finding(
        f"order/test {symbol}", "ok", f"MARKET BUY {quote_qty} {r.quote_asset} accepted by order/test"
    )
