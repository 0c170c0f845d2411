"""Frames the fake venue sends: spot (JSON text replies, protobuf pushes) and futures (all JSON), plus
hostile ones. Shapes follow docs/mexc-protocol.md §1.3, §2.1-2.2 and §6."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from decimal import Decimal

from fxcli.exchange.mexc_proto.PublicAggreDealsV3Api_pb2 import (
    PublicAggreDealsV3Api,
    PublicAggreDealsV3ApiItem,
)
from fxcli.exchange.mexc_proto.PublicAggreDepthsV3Api_pb2 import (
    PublicAggreDepthsV3Api,
    PublicAggreDepthV3ApiItem,
)
from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from tests.fake_mexc.market import Diff, TradeRecord, now_ms, to_contracts

SPOT_DEALS = "spot@public.aggre.deals.v3.api.pb@100ms@"
SPOT_DEPTH = "spot@public.aggre.depth.v3.api.pb@100ms@"
REJECT_REASON = "Blocked! "
ONE = Decimal(1)


# ---------------------------------------------------------------------------------------------- spot


def spot_ack(req_id: int, channels: Sequence[str]) -> str:
    """`{"id":n,"code":0,"msg":"a,b"}`: the comma-joined channel names."""
    return json.dumps({"id": req_id, "code": 0, "msg": ",".join(channels)})


def spot_reject(req_id: int, channels: Sequence[str], reason: str = REJECT_REASON) -> str:
    """A rejection with code 0, a full-width colon and a trailing space, as captured (§1.3)."""
    msg = f"Not Subscribed successfully! [{','.join(channels)}].  Reason\uff1a {reason}"
    return json.dumps({"id": req_id, "code": 0, "msg": msg}, ensure_ascii=False)


def spot_pong() -> str:
    """`{"id":0,"code":0,"msg":"PONG"}`."""
    return '{"id":0,"code":0,"msg":"PONG"}'


def spot_deals(trades: Sequence[TradeRecord], *, sent_ms: int | None = None) -> bytes:
    """An aggre.deals push of trades of one symbol (wrapper field 314), with 2026-06 tradeIds;
    `sendTime` is `sent_ms` (default: now)."""
    symbol = trades[0].symbol
    body = PublicAggreDealsV3Api(
        deals=[
            PublicAggreDealsV3ApiItem(
                price=t.price, quantity=t.qty, tradeType=t.side, time=t.time_ms, tradeId=str(t.trade_id)
            )
            for t in trades
        ],
        eventType=SPOT_DEALS.rstrip("@"),
    )
    wrapper = PushDataV3ApiWrapper(
        channel=SPOT_DEALS + symbol,
        symbol=symbol,
        sendTime=now_ms() if sent_ms is None else sent_ms,
        publicAggreDeals=body,
    )
    return wrapper.SerializeToString()


def spot_depth(diff: Diff, *, sent_ms: int | None = None) -> bytes:
    """An aggre.depth push (wrapper field 313) with fromVersion/toVersion; `sendTime` is `sent_ms`
    (default: the diff's time)."""
    body = PublicAggreDepthsV3Api(
        asks=[PublicAggreDepthV3ApiItem(price=p, quantity=q) for p, q in diff.asks],
        bids=[PublicAggreDepthV3ApiItem(price=p, quantity=q) for p, q in diff.bids],
        eventType=SPOT_DEPTH.rstrip("@"),
        fromVersion=str(diff.from_version),
        toVersion=str(diff.to_version),
    )
    wrapper = PushDataV3ApiWrapper(
        channel=SPOT_DEPTH + diff.symbol,
        symbol=diff.symbol,
        sendTime=diff.time_ms if sent_ms is None else sent_ms,
        publicAggreDepths=body,
    )
    return wrapper.SerializeToString()


def spot_rest_depth(version: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> bytes:
    """`GET /api/v3/depth` answer."""
    doc = {"lastUpdateId": version, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}
    return json.dumps(doc).encode()


# ------------------------------------------------------------------------------------------- futures


def futures_ack(topic: str) -> str:
    """`{"channel":"rs.sub.deal","data":"success","ts":...}` (names no symbol)."""
    return json.dumps({"channel": f"rs.{topic}", "data": "success", "ts": now_ms()})


def futures_error(text: str) -> str:
    """`{"channel":"rs.error","data":"Contract [X] not exists","ts":...}`."""
    return json.dumps({"channel": "rs.error", "data": text, "ts": now_ms()})


def futures_pong() -> str:
    """`{"channel":"pong","data":ms,"ts":ms}`."""
    ts = now_ms()
    return json.dumps({"channel": "pong", "data": ts, "ts": ts})


def futures_deals(
    trades: Sequence[TradeRecord], *, contract_size: Decimal = ONE, sent_ms: int | None = None
) -> str:
    """A `push.deal` with the current array form and trade ids `i`; numbers as the venue's decimals,
    sizes `v` in contracts (the trades' base-unit qty / `contract_size`); `ts` is `sent_ms` (default: now)."""
    items = ",".join(
        f'{{"p":{t.price},"v":{to_contracts(t.qty, contract_size)},"T":{t.side},"O":3,"M":2,'
        f'"t":{t.time_ms},"i":{t.trade_id}}}'
        for t in trades
    )
    ts = now_ms() if sent_ms is None else sent_ms
    return f'{{"symbol":"{trades[0].symbol}","data":[{items}],"channel":"push.deal","ts":{ts}}}'


def _levels(levels: list[tuple[str, str]], contract_size: Decimal) -> str:
    return (
        "["
        + ",".join(f"[{p},{to_contracts(q, contract_size)},{0 if q == '0' else 1}]" for p, q in levels)
        + "]"
    )


def futures_depth(diff: Diff, *, contract_size: Decimal = ONE, sent_ms: int | None = None) -> str:
    """A merged `push.depth` (begin/end/version) as sent since 2025-04-09; sizes in contracts; `ts`
    is `sent_ms` (default: now)."""
    data = (
        f'{{"cts":{diff.time_ms},"asks":{_levels(diff.asks, contract_size)},'
        f'"bids":{_levels(diff.bids, contract_size)},'
        f'"begin":{diff.from_version},"end":{diff.to_version},"version":{diff.to_version}}}'
    )
    ts = now_ms() if sent_ms is None else sent_ms
    return f'{{"symbol":"{diff.symbol}","data":{data},"channel":"push.depth","ts":{ts}}}'


def futures_rest_depth(
    version: int,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    *,
    contract_size: Decimal = ONE,
    timestamp_ms: int | None = None,
) -> bytes:
    """`GET /api/v1/contract/depth/{symbol}` answer, wrapped as on the wire; sizes in contracts."""
    ts = now_ms() if timestamp_ms is None else timestamp_ms
    data = (
        f'{{"asks":{_levels(asks, contract_size)},"bids":{_levels(bids, contract_size)},'
        f'"version":{version},"timestamp":{ts}}}'
    )
    return f'{{"success":true,"code":0,"data":{data}}}'.encode()


def spot_agg_trades(trades: Sequence[TradeRecord]) -> bytes:
    """`GET /api/v3/aggTrades` answer: MEXC's ids `a`, `f`, `l` are null; `m` is "the buyer was the
    maker", so a sell-aggressor trade (tradeType 2) has `m` true."""
    items = [
        {"a": None, "f": None, "l": None, "p": t.price, "q": t.qty, "T": t.time_ms}
        | {"m": t.side == 2, "M": True}
        for t in trades
    ]
    return json.dumps(items).encode()


def futures_rest_deals(trades: Sequence[TradeRecord], *, contract_size: Decimal = ONE) -> bytes:
    """`GET /api/v1/contract/deals/{symbol}` answer: newest first, the documented fields only (no id),
    sizes in contracts."""
    items = ",".join(
        f'{{"p":{t.price},"v":{to_contracts(t.qty, contract_size)},"T":{t.side},"O":3,"M":2,"t":{t.time_ms}}}'
        for t in reversed(trades)
    )
    return f'{{"success":true,"code":0,"data":[{items}]}}'.encode()


def futures_contract_detail(sizes: Mapping[str, Decimal], symbol: str | None = None) -> bytes:
    """`GET /api/v1/contract/detail` answer: every contract (or, for `?symbol=`, that one as an object,
    or `success: false` when it is unknown), with the fields around `contractSize` that MEXC sends."""

    def entry(name: str, size: Decimal) -> str:
        base, _, quote = name.partition("_")
        return (
            f'{{"symbol":"{name}","displayName":"{base}_{quote} PERPETUAL","baseCoin":"{base}",'
            f'"quoteCoin":"{quote}","settleCoin":"{quote}","contractSize":{size},"minLeverage":1,'
            f'"maxLeverage":200,"priceScale":2,"volScale":0,"amountScale":4,"priceUnit":0.01,'
            f'"volUnit":1,"minVol":1,"maxVol":1000000,"state":0,"apiAllowed":true,'
            f'"takerFeeRate":0.0002,"makerFeeRate":0}}'
        )

    if symbol is None:
        data = "[" + ",".join(entry(name, size) for name, size in sizes.items()) + "]"
    elif symbol in sizes:
        data = entry(symbol, sizes[symbol])
    else:
        return b'{"success":false,"code":1001,"message":"contract not exists"}'
    return f'{{"success":true,"code":0,"data":{data}}}'.encode()


# ------------------------------------------------------------------------------------------- hostile


def hostile_frames(count: int, *, spot: bool, seed: int = 7, big_bytes: int = 200_000) -> list[bytes | str]:
    """`count` frames that no decoder should accept: bad JSON and protobuf, wrong types, NaN, huge
    numbers, unknown channels, deep nesting, big junk (below the client's frame limit)."""
    rng = random.Random(seed)
    symbol = "BTCUSDT" if spot else "BTC_USDT"
    makers: list[object] = [
        "{not json",
        "",
        "null",
        "[]",
        '"a string"',
        '{"id":"x","code":"y","msg":5}',
        '{"id":0,"code":0}',
        '{"id":0,"code":0,"msg":"spot@public.nope.v3.api.pb@100ms@BTCUSDT"}'
        if spot
        else '{"channel":"push.nope"}',
        '{"channel":"push.deal","symbol":"BTC_USDT","data":[{"p":NaN,"v":1,"T":1,"t":1}]}',
        '{"channel":"push.deal","symbol":"BTC_USDT","data":[{"p":1e999,"v":1,"T":1,"t":1}]}',
        '{"channel":"push.depth","symbol":"BTC_USDT","data":{"asks":"x","bids":[],"version":"v"}}',
        '{"channel":"push.depth","symbol":"../../etc","data":{"asks":[],"bids":[],"begin":5,"end":1}}',
        "[" * 5000 + "]" * 5000,
        b"\x00\x01\x02\xff\xfe",
        b"\x0a\xff\xff\xff\xff\x0f",  # a length that runs past the end
        _push_with_bad_numbers(symbol, "NaN"),
        _push_with_bad_numbers(symbol, "1e400"),
        _push_with_bad_numbers(symbol, "-5"),
        _push_with_bad_numbers(symbol, "9" * 400),
        _push_unknown_channel(),
        b"J" * big_bytes,
        "x" * big_bytes,
    ]
    out: list[bytes | str] = []
    for i in range(count):
        item = makers[i % len(makers)] if i < len(makers) else rng.choice(makers)
        assert isinstance(item, bytes | str)
        out.append(item)
    return out


def _push_with_bad_numbers(symbol: str, value: str) -> bytes:
    body = PublicAggreDepthsV3Api(
        asks=[PublicAggreDepthV3ApiItem(price=value, quantity=value)],
        bids=[],
        eventType=SPOT_DEPTH.rstrip("@"),
        fromVersion=value,
        toVersion="1",
    )
    return PushDataV3ApiWrapper(
        channel=SPOT_DEPTH + symbol, symbol=symbol, sendTime=now_ms(), publicAggreDepths=body
    ).SerializeToString()


def _push_unknown_channel() -> bytes:
    return PushDataV3ApiWrapper(
        channel="spot@public.kline.v3.api.pb@BTCUSDT@Min1", symbol="BTCUSDT"
    ).SerializeToString()
