"""Binance spot / USD-M / COIN-M market-data frames to fx events.

Exchange time is the venue's trade/transaction time `T` where the frame has it, else the event time
`E`. Spot `bookTicker` frames and spot REST snapshots carry no time at all: the caller passes an
estimate and marks it as such.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec

from fxcli.exchange.captures.limits import EARLIEST_MS, INT64_MAX, LATEST_MS, explain_bounds
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Trade
from fxcli.model.units import NS_PER_MS


class Market(StrEnum):
    """Which Binance market a capture comes from; the value is the store's exchange name."""

    SPOT = "binance"
    USDM = "binance-usdm"
    COINM = "binance-coinm"
    US = "binance-us"
    TR = "binance-tr"

    @property
    def is_futures(self) -> bool:
        """USD-M and COIN-M follow the futures depth rules (`pu` chains the diffs)."""
        return self in (Market.USDM, Market.COINM)


class DecodeError(ValueError):
    """A frame that cannot be turned into an event; the message says what is wrong."""


class IgnoredStreamError(Exception):
    """A valid frame of a stream fx does not store (klines are derived from trades)."""


IGNORED_STREAMS = frozenset({"kline_1m", "kline_1s", "kline_5m", "kline_1h", "miniTicker", "ticker"})


# Decimal strings are parsed by msgspec (strict=False turns "61837.63" into a float); it rounds
# exactly as float() does. Every value is range-checked by the decoder itself, in C, as it parses
# (see captures/limits.py): the bounds reject NaN, infinities, negative quantities, prices <= 0,
# ids outside int64, and times outside 2000..2100, so a frame that decodes can be stored.
Num = Annotated[float, msgspec.Meta(ge=0.0, le=1e300)]
Price = Annotated[float, msgspec.Meta(gt=0.0, le=1e300)]
Levels = list[tuple[Price, Num]]
Id = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
PrevId = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX - 1)]  # from_version = pu + 1 must fit too
TimeMs = Annotated[int, msgspec.Meta(ge=EARLIEST_MS, lt=LATEST_MS)]


class _Envelope(msgspec.Struct):
    stream: str
    data: msgspec.Raw


class _Trade(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    trade_id: Id = msgspec.field(name="t")
    price: Price = msgspec.field(name="p")
    qty: Num = msgspec.field(name="q")
    trade_ms: TimeMs = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")


class _AggTrade(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    agg_id: Id = msgspec.field(name="a")
    price: Price = msgspec.field(name="p")
    qty: Num = msgspec.field(name="q")
    trade_ms: TimeMs = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")


class _BookTicker(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    update_id: Id = msgspec.field(name="u")
    bid: Price = msgspec.field(name="b")
    bid_qty: Num = msgspec.field(name="B")
    ask: Price = msgspec.field(name="a")
    ask_qty: Num = msgspec.field(name="A")
    tx_ms: TimeMs | None = msgspec.field(default=None, name="T")
    event_ms: TimeMs | None = msgspec.field(default=None, name="E")


class _Depth(msgspec.Struct):
    symbol: str = msgspec.field(name="s")
    event_ms: TimeMs = msgspec.field(name="E")
    first_id: Id = msgspec.field(name="U")
    last_id: Id = msgspec.field(name="u")
    bids: Levels = msgspec.field(name="b")
    asks: Levels = msgspec.field(name="a")
    tx_ms: TimeMs | None = msgspec.field(default=None, name="T")
    prev_id: PrevId | None = msgspec.field(default=None, name="pu")


class _Snapshot(msgspec.Struct):
    last_update_id: Id = msgspec.field(name="lastUpdateId")
    bids: Levels
    asks: Levels
    tx_ms: TimeMs | None = msgspec.field(default=None, name="T")
    event_ms: TimeMs | None = msgspec.field(default=None, name="E")


_envelope = msgspec.json.Decoder(_Envelope)
_decoders: dict[str, msgspec.json.Decoder] = {  # type: ignore[type-arg]
    "trade": msgspec.json.Decoder(_Trade, strict=False),
    "aggTrade": msgspec.json.Decoder(_AggTrade, strict=False),
    "bookTicker": msgspec.json.Decoder(_BookTicker, strict=False),
    "depth": msgspec.json.Decoder(_Depth, strict=False),
}
_snapshot = msgspec.json.Decoder(_Snapshot, strict=False)


def stream_type(stream: str) -> str:
    """'btcusdt@depth@100ms' -> 'depth'; 'btcusdt@aggTrade' -> 'aggTrade'."""
    kind = stream.split("@", 2)[1] if "@" in stream else ""
    return "depth" if kind.startswith("depth") else kind


def decode_stream(
    payload: bytes | str, received_ts_ns: int, market: Market
) -> Trade | BookDelta | BookTicker:
    """Decode one combined-stream frame.

    >>> f = ('{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT",'
    ...      '"t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}')
    >>> decode_stream(f, 1723161254087896568, Market.SPOT)
    Trade(exchange_ts_ns=1723161255342000000, received_ts_ns=1723161254087896568, symbol='BTCUSDT', \
price=61837.63, qty=0.02, side=-1, trade_id=3735683259)

    A bookTicker with no venue time gets `exchange_ts_ns = 0`: the caller estimates it.
    """
    try:
        envelope = _envelope.decode(payload)
        kind = stream_type(envelope.stream)
        decoder = _decoders.get(kind)
        if decoder is None:
            if kind.split("_")[0] in {k.split("_")[0] for k in IGNORED_STREAMS}:
                raise IgnoredStreamError(kind)
            raise DecodeError(f"unknown stream type {envelope.stream!r}")
        data = decoder.decode(envelope.data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"bad frame: {explain_bounds(str(exc))}") from None
    except RecursionError:  # msgspec's answer to absurdly nested JSON
        raise DecodeError("bad frame: nested too deeply") from None
    if isinstance(data, _Trade | _AggTrade):
        trade_id = data.trade_id if isinstance(data, _Trade) else data.agg_id
        return Trade(
            exchange_ts_ns=data.trade_ms * NS_PER_MS,
            received_ts_ns=received_ts_ns,
            symbol=data.symbol,
            price=data.price,
            qty=data.qty,
            side=-1 if data.buyer_is_maker else 1,
            trade_id=trade_id,
        )
    if isinstance(data, _BookTicker):
        venue_ms = data.tx_ms if data.tx_ms is not None else data.event_ms
        return BookTicker(
            exchange_ts_ns=venue_ms * NS_PER_MS if venue_ms is not None else 0,
            received_ts_ns=received_ts_ns,
            symbol=data.symbol,
            bid_price=data.bid,
            bid_qty=data.bid_qty,
            ask_price=data.ask,
            ask_qty=data.ask_qty,
            update_id=data.update_id,
        )
    assert isinstance(data, _Depth)
    if market.is_futures and data.prev_id is None:
        raise DecodeError("futures depth frame without 'pu'")
    from_version = data.prev_id + 1 if market.is_futures and data.prev_id is not None else data.first_id
    return BookDelta(
        exchange_ts_ns=(data.tx_ms if data.tx_ms is not None else data.event_ms) * NS_PER_MS,
        received_ts_ns=received_ts_ns,
        symbol=data.symbol,
        bids=data.bids,
        asks=data.asks,
        from_version=from_version,
        to_version=data.last_id,
    )


def decode_snapshot(payload: bytes | str, received_ts_ns: int, symbol: str, market: Market) -> BookSnapshot:
    """Decode a REST depth snapshot `{"lastUpdateId":N,"bids":[...],"asks":[...]}`.

    Spot snapshots have no time (`exchange_ts_ns = 0`: the caller estimates it); futures carry `T`.
    Futures snapshots get `version = lastUpdateId - 1`: Binance's futures rule applies the event with
    `u == lastUpdateId` (the snapshot may not hold it), and with this one normalisation the generic
    rule (drop `to <= version`, bridge with `from <= version + 1`) is exactly that rule.
    """
    try:
        data = _snapshot.decode(payload)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"bad depth snapshot: {explain_bounds(str(exc))}") from None
    except RecursionError:
        raise DecodeError("bad depth snapshot: nested too deeply") from None
    venue_ms = data.tx_ms if data.tx_ms is not None else data.event_ms
    return BookSnapshot(
        exchange_ts_ns=venue_ms * NS_PER_MS if venue_ms is not None else 0,
        received_ts_ns=received_ts_ns,
        symbol=symbol,
        bids=data.bids,
        asks=data.asks,
        version=data.last_update_id - 1 if market.is_futures else data.last_update_id,
        source="rest",
    )


def detect_market(payload: bytes | str) -> Market | None:
    """Guess spot vs USD-M vs COIN-M from one frame, or None if the frame does not tell."""
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    if '"pu":' in text or '"X":"MARKET"' in text or '"e":"bookTicker"' in text:
        return Market.COINM if '"ps":' in text or "_PERP" in text.upper() else Market.USDM
    if '"e":"depthUpdate"' in text or '"e":"trade"' in text or '"e":"aggTrade"' in text:
        return Market.SPOT
    return None
