"""User-stream push decoding: the seven frames of docs/mexc-orders.md §3.5, byte for byte, and bad pushes."""

from __future__ import annotations

import doctest
from decimal import Decimal

import pytest

from fxcli.exchange.mexc_private import pushes
from fxcli.exchange.mexc_private.pushes import decode
from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from fxcli.exchange.mexc_spot import BadFrameError
from fxcli.model.orders import AccountPush, OrderPush, VenueTrade
from tests.unit.exchange.mexc_private_frames import FRAMES

D = Decimal
ORDER_ID = "C02__600000000000000001"
CLIENT_ID = "fxk7q2m9e00000001"


def _pepe_order(status: str, cum_qty: str, cum_quote: str, avg: str, send_ms: int) -> OrderPush:
    return OrderPush(
        symbol="PEPEUSDT",
        order_id=ORDER_ID,
        client_id=CLIENT_ID,
        side="BUY",
        status=status,
        price=D("0.0000101"),
        quantity=D("1000000"),
        cum_qty=D(cum_qty),
        cum_quote=D(cum_quote),
        avg_price=D(avg),
        create_ms=1765000000300,
        send_ms=send_ms,
    )


# What each frame must decode to, written from the JSON the spec prints next to it.
EXPECTED = {
    "accepted": _pepe_order("NEW", "0", "0", "0", 1765000000350),
    "partial": _pepe_order("PARTIALLY_FILLED", "400000", "4.04", "0.0000101", 1765000000420),
    "deal": VenueTrade(
        symbol="PEPEUSDT",
        trade_id="600000000000000777X1",
        order_id=ORDER_ID,
        client_id=CLIENT_ID,
        side="BUY",
        price=D("0.0000101"),
        qty=D("400000"),
        quote_qty=D("4.04"),
        fee=D("200"),
        fee_asset="PEPE",
        time_ms=1765000000410,
        is_maker=False,
    ),
    "account_usdt": AccountPush(
        asset="USDT",
        free=D("89.9"),
        free_change=D("0"),
        locked=D("6.06"),
        locked_change=D("-4.04"),
        reason="ENTRUST",
        time_ms=1765000000410,
    ),
    "filled": _pepe_order("FILLED", "1000000", "10.1", "0.0000101", 1765000000480),
    "partially_canceled": _pepe_order("PARTIALLY_CANCELED", "400000", "4.04", "0.0000101", 1765000000900),
    "doc_market_sell": OrderPush(
        symbol="MXUSDT",
        order_id="C02__505979017439002624115",
        client_id="",  # field 2 absent: an order placed without a client id
        side="SELL",
        status="FILLED",
        price=D("3.5121"),
        quantity=D("1"),
        cum_qty=D("1"),
        cum_quote=D("3.6962"),
        avg_price=D("3.6962"),
        create_ms=1736417034259,
        send_ms=1736417034281,
    ),
}
SIZES = {
    "accepted": 159,
    "partial": 183,
    "deal": 161,
    "account_usdt": 127,
    "filled": 175,
    "partially_canceled": 174,
    "doc_market_sell": 133,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_decode_spec_frame_gives_every_field(name: str) -> None:
    frame = FRAMES[name]

    push = decode(frame)

    assert len(frame) == SIZES[name]
    assert push == EXPECTED[name]
    assert type(push) is type(EXPECTED[name])  # equal values of another class would not do


def test_decode_keeps_decimal_text_exactly() -> None:
    push = decode(FRAMES["partial"])

    assert isinstance(push, OrderPush)
    assert str(push.price) == "0.0000101"  # no float on the way: 1.01e-05 would break the ledger
    assert str(push.cum_quote) == "4.04"


def test_decode_public_push_is_none() -> None:
    frame = PushDataV3ApiWrapper(channel="spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT")
    frame.publicAggreDeals.eventType = "spot@public.aggre.deals.v3.api.pb@100ms"

    assert decode(frame.SerializeToString()) is None


def _tampered(name: str, **changes: object) -> bytes:
    wrapper = PushDataV3ApiWrapper.FromString(FRAMES[name])
    body = getattr(wrapper, wrapper.WhichOneof("body") or "")
    for field, value in changes.items():
        if field == "symbol":
            wrapper.symbol = str(value)
        else:
            setattr(body, field, value)
    return wrapper.SerializeToString()


@pytest.mark.parametrize(
    ("name", "changes", "words"),
    [
        ("accepted", {"status": 0}, "privateOrders.status 0"),
        ("accepted", {"status": 9}, "privateOrders.status 9"),
        ("accepted", {"tradeType": 3}, "privateOrders.tradeType 3"),
        ("accepted", {"id": ""}, "privateOrders.id is missing"),
        ("partial", {"cumulativeQuantity": "4e0x"}, "privateOrders.cumulativeQuantity '4e0x'"),
        ("partial", {"avgPrice": "NaN"}, "privateOrders.avgPrice 'NaN' is not a finite decimal"),
        ("deal", {"tradeId": ""}, "privateDeals.tradeId is missing"),
        ("deal", {"orderId": ""}, "privateDeals.orderId is missing"),
        ("deal", {"quantity": "0"}, "privateDeals.quantity '0' is not positive"),
        ("deal", {"symbol": ""}, "symbol '' of a 'spot@private.deals.v3.api.pb' push"),
        ("deal", {"symbol": "../etc"}, "symbol '../etc'"),
        ("account_usdt", {"vcoinName": ""}, "privateAccount.vcoinName is missing"),
        ("account_usdt", {"frozenAmount": "Infinity"}, "privateAccount.frozenAmount 'Infinity'"),
    ],
)
def test_decode_unusable_push_names_the_field(name: str, changes: dict[str, object], words: str) -> None:
    frame = _tampered(name, **changes)

    with pytest.raises(BadFrameError) as caught:
        decode(frame)

    assert words in str(caught.value)


def test_decode_absent_defaults_are_filled() -> None:
    # proto3 drops zero values: a maker deal with no fee and no client id is still a whole fill.
    frame = _tampered("deal", clientOrderId="", feeAmount="", feeCurrency="", isMaker=True)

    push = decode(frame)

    assert isinstance(push, VenueTrade)
    assert (push.client_id, push.fee, push.fee_asset, push.is_maker) == ("", D(0), "", True)


def test_decode_garbage_is_bad_frame() -> None:
    with pytest.raises(BadFrameError, match="not a PushDataV3ApiWrapper"):
        decode(b"\xff\xff\xff\xff")
    with pytest.raises(BadFrameError, match="larger than"):
        decode(b"\x00" * (2 << 20))


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(pushes)

    assert result.attempted >= 3
    assert result.failed == 0
