"""What the venue says, as plain values: one shape for REST answers and user-stream pushes.

Every quantity and price is a `Decimal` parsed from the venue's decimal string (never a float: the
balance invariant is exact), every id an opaque string. REST names (`NEW`, `PARTIALLY_FILLED`, …) are
the one status vocabulary; the user stream's integer statuses are mapped to them when decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Order statuses as MEXC's REST API names them; the user stream's integers map onto these.
NEW = "NEW"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
PARTIALLY_CANCELED = "PARTIALLY_CANCELED"
TERMINAL_STATUSES = frozenset({FILLED, CANCELED, PARTIALLY_CANCELED})
PUSH_STATUS = {1: NEW, 2: FILLED, 3: PARTIALLY_FILLED, 4: CANCELED, 5: PARTIALLY_CANCELED}

BUY = "BUY"
SELL = "SELL"


@dataclass(frozen=True)
class OrderRequest:
    """One new order as sent: LIMIT/LIMIT_MAKER/IMMEDIATE_OR_CANCEL/FILL_OR_KILL need `quantity`
    and `price`; MARKET needs `quantity` (sells) or `quote_qty` (buys by quote)."""

    symbol: str
    side: str  # BUY | SELL
    type: str  # LIMIT | MARKET | LIMIT_MAKER | IMMEDIATE_OR_CANCEL | FILL_OR_KILL
    client_id: str
    quantity: Decimal | None = None
    quote_qty: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True)
class Ack:
    """The venue accepted a new order: no status and no fills (MEXC's response has neither)."""

    symbol: str
    order_id: str
    transact_ms: int


@dataclass(frozen=True)
class VenueOrder:
    """An order as `GET /order`, `openOrders`, `allOrders` or a cancel answer describe it."""

    symbol: str
    order_id: str
    client_id: str  # "" when the order has none (placed outside fx)
    side: str
    type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cum_quote: Decimal
    time_ms: int = 0
    update_ms: int = 0


@dataclass(frozen=True)
class VenueTrade:
    """One fill, from `myTrades` or a deal push; `trade_id` is the key that makes fills exactly-once."""

    symbol: str
    trade_id: str
    order_id: str
    client_id: str  # "" when unknown (myTrades may give null): join on order_id
    side: str  # BUY | SELL (myTrades' isBuyer, the push's tradeType)
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    fee: Decimal
    fee_asset: str
    time_ms: int
    is_maker: bool


@dataclass(frozen=True)
class Balance:
    """One asset of the account: free to use, and locked by open orders."""

    asset: str
    free: Decimal
    locked: Decimal


@dataclass(frozen=True)
class OrderPush:
    """A user-stream order snapshot (channel spot@private.orders.v3.api.pb): apply it only if
    `cum_qty` does not go backwards."""

    symbol: str
    order_id: str
    client_id: str
    side: str
    status: str  # mapped through PUSH_STATUS
    price: Decimal
    quantity: Decimal
    cum_qty: Decimal
    cum_quote: Decimal
    avg_price: Decimal
    create_ms: int
    send_ms: int


@dataclass(frozen=True)
class AccountPush:
    """A user-stream balance change (channel spot@private.account.v3.api.pb); informational."""

    asset: str
    free: Decimal
    free_change: Decimal
    locked: Decimal
    locked_change: Decimal
    reason: str  # ENTRUST, ENTRUST_PLACE, DEPOSIT, WITHDRAW, SUGAR, ...
    time_ms: int
