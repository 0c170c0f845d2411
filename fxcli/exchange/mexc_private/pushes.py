"""MEXC spot user-data pushes: one binary `PushDataV3ApiWrapper` frame → an order, a fill or a balance.

docs/mexc-orders.md §3.2-3.5. The private channels share the public wrapper; their bodies are wrapper
fields 304 (`privateOrders`), 306 (`privateDeals`) and 307 (`privateAccount`). proto3 leaves default
values off the wire (an empty `clientId`, `isMaker` false, a zero amount), so an absent field here is
its default, never an error; only what makes a push useless (no order id, no trade id, an unknown
status or side, a number that is not a finite decimal) raises `BadFrameError`. Numbers stay `Decimal`s
parsed from the venue's strings: the fill ledger and the balance invariant are exact.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Final

from fxcli.exchange.mexc_spot import MAX_FRAME_BYTES, BadFrameError, _is_symbol, _millis, parse_wrapper
from fxcli.model.orders import BUY, PUSH_STATUS, SELL, AccountPush, OrderPush, VenueTrade

if TYPE_CHECKING:
    from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

ORDERS_CHANNEL: Final = "spot@private.orders.v3.api.pb"
DEALS_CHANNEL: Final = "spot@private.deals.v3.api.pb"
ACCOUNT_CHANNEL: Final = "spot@private.account.v3.api.pb"
CHANNELS: Final = (ORDERS_CHANNEL, DEALS_CHANNEL, ACCOUNT_CHANNEL)

SIDES: Final = {1: BUY, 2: SELL}  # tradeType of orders and deals
ZERO: Final = Decimal(0)

Push = OrderPush | VenueTrade | AccountPush


def decode(frame: bytes) -> Push | None:
    """Decode one binary user-stream frame; `None` for a wrapper with no private body (not ours).

    The partial fill of docs/mexc-orders.md §3.5 (frame 3, the deal push, 161 bytes):

    >>> import base64
    >>> deal = decode(base64.b64decode(
    ...     "ChxzcG90QHByaXZhdGUuZGVhbHMudjMuYXBpLnBiGghQRVBFVVNEVDCl58qRrzOSE28KCTAuMDAwMDEwMRIGNDAw"
    ...     "MDAwGgQ0LjA0IAE6FDYwMDAwMDAwMDAwMDAwMDc3N1gxQhFmeGs3cTJtOWUwMDAwMDAwMUoXQzAyX182MDAwMDAw"
    ...     "MDAwMDAwMDAwMDFSAzIwMFoEUEVQRWCa58qRrzM="))
    >>> deal.trade_id, deal.client_id, deal.side, deal.price, deal.qty, deal.fee, deal.fee_asset
    ('600000000000000777X1', 'fxk7q2m9e00000001', 'BUY', Decimal('0.0000101'), Decimal('400000'), \
Decimal('200'), 'PEPE')
    >>> deal.is_maker  # absent on the wire: proto3's default
    False

    Raises `BadFrameError` (a `ValueError`) naming the field for a frame that is not protobuf, or a
    private push that cannot be used.
    """
    if len(frame) > MAX_FRAME_BYTES:
        raise BadFrameError(f"frame of {len(frame)} bytes is larger than {MAX_FRAME_BYTES}")
    wrapper = parse_wrapper(frame)
    body = wrapper.WhichOneof("body")
    if body == "privateOrders":
        return _order(wrapper)
    if body == "privateDeals":
        return _deal(wrapper)
    if body == "privateAccount":
        return _account(wrapper)
    return None


def _order(wrapper: PushDataV3ApiWrapper) -> OrderPush:
    o = wrapper.privateOrders
    status = PUSH_STATUS.get(o.status)
    if status is None:
        raise BadFrameError(f"privateOrders.status {o.status} is not one of {sorted(PUSH_STATUS)}")
    return OrderPush(
        symbol=_symbol(wrapper),
        order_id=_required(o.id, "privateOrders.id"),
        client_id=o.clientId,
        side=_side(o.tradeType, "privateOrders.tradeType"),
        status=status,
        price=_dec(o.price, "privateOrders.price"),
        quantity=_dec(o.quantity, "privateOrders.quantity"),
        cum_qty=_dec(o.cumulativeQuantity, "privateOrders.cumulativeQuantity"),
        cum_quote=_dec(o.cumulativeAmount, "privateOrders.cumulativeAmount"),
        avg_price=_dec(o.avgPrice, "privateOrders.avgPrice"),
        create_ms=_millis(o.createTime, "privateOrders.createTime"),
        send_ms=_millis(wrapper.sendTime, "sendTime"),
    )


def _deal(wrapper: PushDataV3ApiWrapper) -> VenueTrade:
    d = wrapper.privateDeals
    qty = _dec(d.quantity, "privateDeals.quantity")
    if qty <= 0:  # a fill of nothing would enter the ledger under a real trade id
        raise BadFrameError(f"privateDeals.quantity {d.quantity!r} is not positive")
    return VenueTrade(
        symbol=_symbol(wrapper),
        trade_id=_required(d.tradeId, "privateDeals.tradeId"),
        order_id=_required(d.orderId, "privateDeals.orderId"),
        client_id=d.clientOrderId,
        side=_side(d.tradeType, "privateDeals.tradeType"),
        price=_dec(d.price, "privateDeals.price"),
        qty=qty,
        quote_qty=_dec(d.amount, "privateDeals.amount"),
        fee=_dec(d.feeAmount, "privateDeals.feeAmount"),
        fee_asset=d.feeCurrency,
        time_ms=_millis(d.time or wrapper.sendTime, "privateDeals.time"),
        is_maker=d.isMaker,
    )


def _account(wrapper: PushDataV3ApiWrapper) -> AccountPush:
    a = wrapper.privateAccount
    return AccountPush(
        asset=_required(a.vcoinName, "privateAccount.vcoinName"),
        free=_dec(a.balanceAmount, "privateAccount.balanceAmount"),
        free_change=_dec(a.balanceAmountChange, "privateAccount.balanceAmountChange"),
        locked=_dec(a.frozenAmount, "privateAccount.frozenAmount"),
        locked_change=_dec(a.frozenAmountChange, "privateAccount.frozenAmountChange"),
        reason=a.type,
        time_ms=_millis(a.time or wrapper.createTime or wrapper.sendTime, "privateAccount.time"),
    )


def _symbol(wrapper: PushDataV3ApiWrapper) -> str:
    # Private channels carry no @SYMBOL suffix: field 3 is the only place the symbol can be.
    symbol = wrapper.symbol
    if not _is_symbol(symbol):
        raise BadFrameError(f"symbol {symbol[:50]!r} of a {wrapper.channel[:60]!r} push is not a symbol")
    return symbol


def _required(text: str, field: str) -> str:
    if not text:
        raise BadFrameError(f"{field} is missing")
    return text


def _side(trade_type: int, field: str) -> str:
    side = SIDES.get(trade_type)
    if side is None:
        raise BadFrameError(f"{field} {trade_type} is neither 1 (buy) nor 2 (sell)")
    return side


def _dec(text: str, field: str) -> Decimal:
    """A venue decimal string; "" (proto3's default, left off the wire) is zero."""
    if not text:
        return ZERO
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadFrameError(f"{field} {text[:40]!r} is not a decimal") from None
    if not value.is_finite():
        raise BadFrameError(f"{field} {text[:40]!r} is not a finite decimal")
    return value
