"""Binary user-stream pushes (docs/mexc-orders.md §3.2-3.5): one `PushDataV3ApiWrapper` per event,
built with fx's generated protobuf modules (the wire format is MEXC's .proto; only that is shared).

The seven example frames of §3.5 are reproduced byte for byte by these encoders (tests prove it), so
what the fake sends is what MEXC's schema puts on the wire, proto3 defaults omitted.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from fxcli.exchange.mexc_proto.PrivateAccountV3Api_pb2 import PrivateAccountV3Api
from fxcli.exchange.mexc_proto.PrivateDealsV3Api_pb2 import PrivateDealsV3Api
from fxcli.exchange.mexc_proto.PrivateOrdersV3Api_pb2 import PrivateOrdersV3Api
from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from tests.fake_mexc_private.book import AccountEvent, OrderEvent, Trade
from tests.fake_mexc_private.symbols import text

ORDERS = "spot@private.orders.v3.api.pb"
DEALS = "spot@private.deals.v3.api.pb"
ACCOUNT = "spot@private.account.v3.api.pb"
CHANNELS = (ORDERS, DEALS, ACCOUNT)

STATUS_CODE = {"NEW": 1, "FILLED": 2, "PARTIALLY_FILLED": 3, "CANCELED": 4, "PARTIALLY_CANCELED": 5}
ORDER_TYPE_CODE = {"LIMIT": 1, "LIMIT_MAKER": 2, "IMMEDIATE_OR_CANCEL": 3, "FILL_OR_KILL": 4, "MARKET": 5}
SIDE_CODE = {"BUY": 1, "SELL": 2}
# MEXC's internal coin id of USDT as captured (§3.5 frame 4); other assets get a stable stand-in
COIN_IDS = {"USDT": "128f589271cb4951b03e71e6323eb7be"}


def coin_id(asset: str) -> str:
    """The coin id an account push carries for `asset`."""
    return COIN_IDS.get(asset) or hashlib.md5(asset.encode(), usedforsecurity=False).hexdigest()


def order_frame(event: OrderEvent, *, send_ms: int, price_decimals: int = 10) -> bytes:
    """An order snapshot push (wrapper field 304); `lastDealQuantity` only when a fill caused it."""
    order = event.order
    avg = Decimal(0)
    if event.executed_qty > 0:
        avg = (event.cum_quote / event.executed_qty).quantize(Decimal(1).scaleb(-price_decimals))
    remain_amount = max(order.quote_qty - event.cum_quote, Decimal(0)) if order.quote_qty > 0 else Decimal(0)
    remain_qty = max(order.orig_qty - event.executed_qty, Decimal(0))
    body = PrivateOrdersV3Api(
        id=order.order_id,
        clientId=order.client_id,
        price=text(order.price),
        quantity=text(order.orig_qty),
        amount=text(order.quote_qty),
        avgPrice=text(avg),
        orderType=ORDER_TYPE_CODE[order.type],
        tradeType=SIDE_CODE[order.side],
        remainAmount=text(remain_amount),
        remainQuantity=text(remain_qty),
        cumulativeQuantity=text(event.executed_qty),
        cumulativeAmount=text(event.cum_quote),
        status=STATUS_CODE[event.status],
        createTime=order.time_ms,
    )
    if event.last_deal_qty is not None:
        body.lastDealQuantity = text(event.last_deal_qty)
    wrapper = PushDataV3ApiWrapper(channel=ORDERS, symbol=order.symbol, sendTime=send_ms, privateOrders=body)
    return wrapper.SerializeToString()


def deal_frame(trade: Trade, *, send_ms: int) -> bytes:
    """One fill (wrapper field 306); the dedup key is `tradeId`."""
    body = PrivateDealsV3Api(
        price=text(trade.price),
        quantity=text(trade.qty),
        amount=text(trade.quote_qty),
        tradeType=SIDE_CODE[trade.side],
        isMaker=trade.is_maker,
        isSelfTrade=False,
        tradeId=trade.trade_id,
        clientOrderId=trade.client_id,
        orderId=trade.order_id,
        feeAmount=text(trade.fee),
        feeCurrency=trade.fee_asset,
        time=trade.time_ms,
    )
    wrapper = PushDataV3ApiWrapper(channel=DEALS, symbol=trade.symbol, sendTime=send_ms, privateDeals=body)
    return wrapper.SerializeToString()


def account_frame(event: AccountEvent, *, create_ms: int, send_ms: int) -> bytes:
    """One asset's balance change (wrapper field 307): no symbol, a `createTime` in the wrapper."""
    body = PrivateAccountV3Api(
        vcoinName=event.asset,
        coinId=coin_id(event.asset),
        balanceAmount=text(event.free),
        balanceAmountChange=text(event.free_change),
        frozenAmount=text(event.locked),
        frozenAmountChange=text(event.locked_change),
        type=event.reason,
        time=event.time_ms,
    )
    wrapper = PushDataV3ApiWrapper(
        channel=ACCOUNT, createTime=create_ms, sendTime=send_ms, privateAccount=body
    )
    return wrapper.SerializeToString()
