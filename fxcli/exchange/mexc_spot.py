"""MEXC spot v3 market data: channel names and request frames as data, and a pure frame decoder.

Text frames are JSON acks, PONGs and errors; binary frames are one `PushDataV3ApiWrapper` protobuf each
(docs/mexc-protocol.md §1). Prices, quantities and versions arrive as decimal strings and are parsed
with JSON number grammar (no NaN, infinities, signs, `_` or blanks inside) and bounded: a number
outside [0, 1e300], a version outside int64, or a time outside the ns int64 range makes the frame a
`Decoded.problem` — except in a deal, which is skipped alone (`Decoded.skipped`) while the push's
other deals still count. The protobuf classes (`fxcli.exchange.mexc_proto`) are imported on the first binary
frame, not with this module: protobuf costs 25-65 ms to import here and `fx --help` must not pay it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec

from fxcli.exchange.adapter import Channel, Control, ControlKind, Decoded, Endpoints, Kind, Limits
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Level, MarketEvent, Trade
from fxcli.model.units import NS_PER_MS

if TYPE_CHECKING:
    from fxcli.exchange.mexc_proto.PublicAggreDealsV3Api_pb2 import PublicAggreDealsV3ApiItem
    from fxcli.exchange.mexc_proto.PublicAggreDepthsV3Api_pb2 import PublicAggreDepthV3ApiItem
    from fxcli.exchange.mexc_proto.PublicLimitDepthsV3Api_pb2 import PublicLimitDepthV3ApiItem
    from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

VENUE: Final = "mexc-spot"
ENDPOINTS: Final = Endpoints(ws_url="wss://wbs-api.mexc.com/ws", rest_url="https://api.mexc.com")
LIMITS: Final = Limits(max_subs_per_conn=30)
SNAPSHOT_LIMIT: Final = 5000  # the REST maximum; levels beyond it only ever appear through diffs
AGG_TRADES_LIMIT: Final = 1000  # aggTrades: "Default 500; max 1000."
AGG_TRADES_SPAN_MS: Final = 3_600_000  # one hour per call: Binance's documented rule, which MEXC's API copies
MAX_FRAME_BYTES: Final = 1 << 20  # real pushes are < 10 KB; anything this big is not MEXC talking

CHANNEL_FORMATS: Final[dict[Kind, str]] = {
    Kind.TRADES: "spot@public.aggre.deals.v3.api.pb@100ms@{}",
    Kind.DEPTH: "spot@public.aggre.depth.v3.api.pb@100ms@{}",
    Kind.TOP: "spot@public.limit.depth.v3.api.pb@{}@20",
    Kind.TICKER: "spot@public.aggre.bookTicker.v3.api.pb@100ms@{}",
}
"""Channel name per kind; `{}` is the upper-case symbol (`BTCUSDT`). Only the `.pb` channels deliver."""

REJECTED_PREFIX: Final = "Not Subscribed successfully!"
REASON_COLONS: Final = ":\uff1a "  # MEXC writes "Reason\uff1a Blocked!" with a full-width colon
MAX_INT64: Final = 2**63 - 1
MAX_MS: Final = MAX_INT64 // NS_PER_MS  # a later ms time would overflow `exchange_ts_ns`

Num = Annotated[float, msgspec.Meta(ge=0.0, le=1e300)]
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)]
Int64 = Annotated[int, msgspec.Meta(ge=-MAX_INT64 - 1, le=MAX_INT64)]

# A decimal string is decoded as one JSON number: ~40 ns, stricter and faster than float() + checks.
_num: Final = msgspec.json.Decoder(Num).decode
_version: Final = msgspec.json.Decoder(Version).decode


class _Reply(msgspec.Struct):
    """A text frame: `{"id":0,"code":0,"msg":"..."}` (ack, rejection, PONG or error)."""

    msg: str
    id: Int64 | None = None
    code: Int64 | None = None


class _Snapshot(msgspec.Struct):
    last_update_id: Version = msgspec.field(name="lastUpdateId")
    bids: list[tuple[Num, Num]]
    asks: list[tuple[Num, Num]]
    timestamp: Millis | None = None


class _AggTrade(msgspec.Struct):
    """One `GET /api/v3/aggTrades` item; MEXC sends `a`, `f` and `l` (ids) as null."""

    price: Num = msgspec.field(name="p")
    qty: Num = msgspec.field(name="q")
    trade_ms: Millis = msgspec.field(name="T")
    is_buyer_maker: bool = msgspec.field(name="m")


_reply: Final = msgspec.json.Decoder(_Reply)
_snapshot: Final = msgspec.json.Decoder(_Snapshot, strict=False)
_agg_trades: Final = msgspec.json.Decoder(list[_AggTrade], strict=False)


class BadFrameError(ValueError):
    """A binary frame that is well-formed protobuf but not a push fx can use; says why."""


class MexcSpot:
    """The MEXC spot v3 WebSocket (`wss://wbs-api.mexc.com/ws`) and its REST depth snapshot."""

    venue = VENUE
    limits = LIMITS

    def __init__(self, endpoints: Endpoints = ENDPOINTS) -> None:
        self.endpoints = endpoints

    def channels(self, symbol: str, kinds: frozenset[Kind]) -> list[Channel]:
        """The channels carrying `kinds` for `symbol`, in Kind order.

        >>> [c.name for c in MexcSpot().channels("btcusdt", frozenset({Kind.TRADES, Kind.TOP}))]
        ['spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT', 'spot@public.limit.depth.v3.api.pb@BTCUSDT@20']
        """
        sym = _checked_symbol(symbol)
        return [Channel(sym, kind, CHANNEL_FORMATS[kind].format(sym)) for kind in Kind if kind in kinds]

    def subscribe(self, channels: list[Channel], req_id: int) -> str:
        """`{"method":"SUBSCRIPTION","params":[...],"id":req_id}`; the ack's `msg` echoes the names.

        >>> MexcSpot().subscribe(MexcSpot().channels("BTCUSDT", frozenset({Kind.TRADES})), 7)
        '{"method":"SUBSCRIPTION","params":["spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"],"id":7}'
        """
        return self._request("SUBSCRIPTION", channels, req_id)

    def unsubscribe(self, channels: list[Channel], req_id: int) -> str:
        """`{"method":"UNSUBSCRIPTION","params":[...],"id":req_id}`."""
        return self._request("UNSUBSCRIPTION", channels, req_id)

    def ping(self) -> str:
        """The documented upper-case application ping; the server answers `msg` "PONG"."""
        return '{"method":"PING"}'

    def decode(self, frame: bytes | str, received_ts_ns: int) -> Decoded:
        """Decode one frame: JSON text → `Control`; a protobuf push → events. Never raises.

        A push of aggregated trades (docs/mexc-protocol.md §6.2.1, 142 bytes; channel
        `spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT`, one deal: price "93220.00", quantity
        "0.04438243", tradeType 2, time 1736409765051; sendTime 1736409765052):

        >>> import base64
        >>> frame = base64.b64decode(
        ...     "Ci9zcG90QHB1YmxpYy5hZ2dyZS5kZWFscy52My5hcGkucGJAMTAwbXNAQlRDVVNEVBoHQlRDVVNEVDC8qdnQ"
        ...     "xDLSE0oKHwoIOTMyMjAuMDASCjAuMDQ0MzgyNDMYAiC7qdnQxDISJ3Nwb3RAcHVibGljLmFnZ3JlLmRlYWxz"
        ...     "LnYzLmFwaS5wYkAxMDBtcw=="
        ... )
        >>> decoded = MexcSpot().decode(frame, 1736409765160000000)
        >>> decoded.events
        [Trade(exchange_ts_ns=1736409765051000000, received_ts_ns=1736409765160000000, symbol='BTCUSDT', \
price=93220.0, qty=0.04438243, side=-1, trade_id=None)]
        >>> decoded.sent_ts_ns  # the wrapper's sendTime: when the venue pushed it
        1736409765052000000

        Acks are judged by `msg`, never by `code` (a rejection also says code 0); whether the named
        channels are the ones requested is `ack_confirms`'s question:

        >>> MexcSpot().decode('{"id":0,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"}', 0)
        Decoded(events=[], control=Control(kind=<ControlKind.ACK: 'ack'>, req_id=0, \
channels=('spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT',), reason=''), problem='', sent_ts_ns=0, \
skipped=0)

        Trades take the deal's `time` (the push's sendTime if a deal has none) and the aggressor side
        from `tradeType` (1 buy → +1, 2 sell → -1); `trade_id` is the 2026-06 `tradeId` when it is a
        number. A deal with another `tradeType`, a bad time, price or quantity is skipped and counted
        in `skipped` (the problem names the first); the other deals of the push are kept. Depth,
        top-N and book-ticker pushes take the wrapper's `sendTime` (else `createTime`, else 0 =
        unknown), and so does `sent_ts_ns` of every push. Unknown protobuf fields are ignored;
        other bodies (klines, the retired non-aggregated channels, private streams) come back as a
        problem.
        """
        try:
            if len(frame) > MAX_FRAME_BYTES:
                return Decoded(problem=f"frame of {len(frame)} bytes is larger than {MAX_FRAME_BYTES}")
            if isinstance(frame, str):
                return _decode_text(frame)
            if frame.startswith(b"{"):  # a text frame handed over as bytes (0x7b never starts a wrapper)
                return _decode_text(frame.decode("utf-8"))
            return _decode_push(frame, received_ts_ns)
        except (msgspec.DecodeError, BadFrameError, UnicodeError, RecursionError) as exc:
            return Decoded(problem=f"{type(exc).__name__}: {exc}")

    def snapshot_url(self, symbol: str) -> str:
        """`<rest>/api/v3/depth?symbol=X&limit=5000`; its `lastUpdateId` shares the diffs' versions."""
        base = self.endpoints.rest_url.rstrip("/")
        return f"{base}/api/v3/depth?symbol={_checked_symbol(symbol)}&limit={SNAPSHOT_LIMIT}"

    def decode_snapshot(self, body: bytes, symbol: str, received_ts_ns: int) -> BookSnapshot:
        """The REST depth answer as a full snapshot at `lastUpdateId`; raises `ValueError` if malformed.

        >>> body = b'{"lastUpdateId": 1112416, "bids": [["15.00000", "49999.00000"]], '
        >>> body += b'"asks": [["14.0000", "1.0000"]]}'
        >>> MexcSpot().decode_snapshot(body, "BTCUSDT", 5)
        BookSnapshot(exchange_ts_ns=0, received_ts_ns=5, symbol='BTCUSDT', bids=[(15.0, 49999.0)], \
asks=[(14.0, 1.0)], version=1112416, source='rest')

        The answer has no time unless MEXC adds `timestamp` (ccxt reads one): 0 means "estimate it".
        """
        try:
            data = _snapshot.decode(body)
        except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
            raise ValueError(f"bad MEXC spot depth snapshot: {exc}") from None
        return BookSnapshot(
            exchange_ts_ns=(data.timestamp or 0) * NS_PER_MS,
            received_ts_ns=received_ts_ns,
            symbol=_checked_symbol(symbol),
            bids=list(data.bids),
            asks=list(data.asks),
            version=data.last_update_id,
            source="rest",
        )

    def agg_trades_url(self, symbol: str, start_ms: int, end_ms: int, limit: int = AGG_TRADES_LIMIT) -> str:
        """`<rest>/api/v3/aggTrades` for `[start_ms, end_ms]` (both inclusive, and required together);
        weight 1, at most `AGG_TRADES_LIMIT` trades an answer, a window of at most `AGG_TRADES_SPAN_MS`."""
        if not 0 <= start_ms <= end_ms or end_ms - start_ms > AGG_TRADES_SPAN_MS or not 1 <= limit <= 1000:
            raise ValueError(f"aggTrades window {start_ms}..{end_ms} ms, limit {limit}: out of range")
        base = self.endpoints.rest_url.rstrip("/")
        symbol = _checked_symbol(symbol)
        return f"{base}/api/v3/aggTrades?symbol={symbol}&startTime={start_ms}&endTime={end_ms}&limit={limit}"

    def decode_agg_trades(self, body: bytes, symbol: str, received_ts_ns: int) -> list[Trade]:
        """The trades of an aggTrades answer, oldest first, without ids (MEXC has none there); the
        aggressor is the seller when the buyer was the maker (`m`). Raises `ValueError` if malformed.

        >>> body = b'[{"a":null,"f":null,"l":null,"p":"46782.67","q":"0.0038",'
        >>> body += b'"T":1641380483000,"m":false,"M":true}]'
        >>> MexcSpot().decode_agg_trades(body, "BTCUSDT", 5)
        [Trade(exchange_ts_ns=1641380483000000000, received_ts_ns=5, symbol='BTCUSDT', price=46782.67, \
qty=0.0038, side=1, trade_id=None)]
        """
        try:
            items = _agg_trades.decode(body)
        except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
            raise ValueError(f"bad MEXC spot aggTrades answer: {exc}") from None
        sym = _checked_symbol(symbol)
        trades = [
            Trade(t.trade_ms * NS_PER_MS, received_ts_ns, sym, t.price, t.qty, -1 if t.is_buyer_maker else 1)
            for t in items
        ]
        trades.sort(key=lambda t: t.exchange_ts_ns)  # stable: the venue's order within one ms stays
        return trades

    def _request(self, method: str, channels: list[Channel], req_id: int) -> str:
        if not channels:
            raise ValueError(f"{method} needs at least one channel")
        if len(channels) > self.limits.channels_per_request:
            raise ValueError(
                f"{len(channels)} channels in one {method}; at most {self.limits.channels_per_request}"
            )
        frame = {"method": method, "params": [c.name for c in channels], "id": req_id}
        return msgspec.json.encode(frame).decode()


def ack_confirms(control: Control, requested: Iterable[Channel]) -> bool:
    """True when an ACK names exactly the requested channels (MEXC's rule: `msg` matches the request).

    >>> spot = MexcSpot()
    >>> trades, depth = spot.channels("BTCUSDT", frozenset({Kind.TRADES, Kind.DEPTH}))
    >>> ack = spot.decode(f'{{"id":0,"code":0,"msg":"{depth.name},{trades.name}"}}', 0).control
    >>> ack_confirms(ack, [trades, depth]), ack_confirms(ack, [trades])
    (True, False)
    """
    return control.kind is ControlKind.ACK and set(control.channels) == {c.name for c in requested}


def _decode_text(text: str) -> Decoded:
    reply = _reply.decode(text)
    msg = reply.msg.strip()
    if msg.upper() == "PONG":
        return Decoded(control=Control(ControlKind.PONG, reply.id))
    if msg.startswith(REJECTED_PREFIX):
        inside, _, rest = msg.partition("[")[2].partition("]")
        reason = rest.partition("Reason")[2].lstrip(REASON_COLONS).strip() or rest.strip(" .")
        return Decoded(control=Control(ControlKind.REJECT, reply.id, _split_channels(inside), reason))
    names = _split_channels(msg)
    if names and all(_is_channel_name(name) for name in names):
        return Decoded(control=Control(ControlKind.ACK, reply.id, names))
    reason = msg if not reply.code else f"code {reply.code}: {msg}"
    return Decoded(control=Control(ControlKind.ERROR, reply.id, reason=reason))


def _split_channels(text: str) -> tuple[str, ...]:
    return tuple(name for name in (part.strip() for part in text.split(",")) if name)


def _is_channel_name(name: str) -> bool:
    return name.startswith("spot@") and name.isascii() and " " not in name


def _checked_symbol(symbol: str) -> str:
    sym = symbol.upper()
    if not _is_symbol(sym):
        raise ValueError(f"not a MEXC spot symbol: {symbol!r} (letters and digits, e.g. BTCUSDT)")
    return sym


def _is_symbol(symbol: str) -> bool:
    # Symbols become directory names in the store: letters and digits only, never a path.
    return 0 < len(symbol) <= 40 and symbol.isascii() and symbol.isalnum()


def _symbol_of(wrapper: PushDataV3ApiWrapper) -> str:
    symbol = wrapper.symbol
    if not symbol:  # field 3 is optional; the channel ends in ...@SYM, or ...@SYM@<levels>
        parts = wrapper.channel.split("@")
        symbol = parts[-2] if len(parts) > 3 and parts[-1].isdigit() else parts[-1]
    if not _is_symbol(symbol):
        raise BadFrameError(f"bad symbol {symbol[:50]!r}")
    return symbol


def _millis(value: int, what: str) -> int:
    if not 0 <= value <= MAX_MS:
        raise BadFrameError(f"{what} {value} is not a time in ms")
    return value


def _levels(items: Iterable[PublicAggreDepthV3ApiItem | PublicLimitDepthV3ApiItem]) -> list[Level]:
    return [(_num(item.price), _num(item.quantity)) for item in items]


_SIDES: Final = {1: 1, 2: -1}


def _trades(wrapper: PushDataV3ApiWrapper, symbol: str, venue_ms: int, received_ts_ns: int) -> Decoded:
    """One trade per deal; a bad deal (side, time, price or quantity) is skipped and counted alone."""
    trades: list[MarketEvent] = []
    skipped, first = 0, ""
    deal: PublicAggreDealsV3ApiItem
    for deal in wrapper.publicAggreDeals.deals:
        side = _SIDES.get(deal.tradeType)
        trade_ms = deal.time or venue_ms
        try:
            if side is None:
                raise BadFrameError(f"tradeType {deal.tradeType} is neither 1 (buy) nor 2 (sell)")
            if not 0 <= trade_ms <= MAX_MS:
                raise BadFrameError(f"deal time {trade_ms} is not a time in ms")
            price, qty = _num(deal.price), _num(deal.quantity)
        except msgspec.DecodeError as exc:
            skipped += 1
            first = (
                first
                or f"deal {len(trades) + skipped - 1}: price or quantity is not a decimal in range: {exc}"
            )
            continue
        except BadFrameError as exc:
            skipped += 1
            first = first or f"deal {len(trades) + skipped - 1}: {exc}"
            continue
        tid = deal.tradeId
        trades.append(
            Trade(
                trade_ms * NS_PER_MS,
                received_ts_ns,
                symbol,
                price,
                qty,
                side,
                int(tid) if tid and len(tid) < 19 and tid.isascii() and tid.isdigit() else None,
            )
        )
    sent_ts_ns = venue_ms * NS_PER_MS
    if not skipped:
        return Decoded(trades, None, "", sent_ts_ns)
    total = len(trades) + skipped
    problem = f"publicAggreDeals: skipped {skipped} of {total} deals (first: {first})"
    return Decoded(trades, None, problem, sent_ts_ns, skipped)


def _delta(wrapper: PushDataV3ApiWrapper, symbol: str, venue_ms: int, received_ts_ns: int) -> list[BookDelta]:
    body = wrapper.publicAggreDepths
    from_version, to_version = _version(body.fromVersion), _version(body.toVersion)
    if from_version > to_version:
        raise BadFrameError(f"fromVersion {from_version} > toVersion {to_version}")
    return [
        BookDelta(
            venue_ms * NS_PER_MS,
            received_ts_ns,
            symbol,
            _levels(body.bids),
            _levels(body.asks),
            from_version,
            to_version,
        )
    ]


def _top(
    wrapper: PushDataV3ApiWrapper, symbol: str, venue_ms: int, received_ts_ns: int
) -> list[BookSnapshot]:
    body = wrapper.publicLimitDepths
    levels = wrapper.channel.rpartition("@")[2]  # spot@public.limit.depth.v3.api.pb@BTCUSDT@20
    return [
        BookSnapshot(
            venue_ms * NS_PER_MS,
            received_ts_ns,
            symbol,
            _levels(body.bids),
            _levels(body.asks),
            _version(body.version),
            f"ws_top{levels}" if levels.isdigit() and len(levels) < 4 else "ws_top",
        )
    ]


def _ticker(
    wrapper: PushDataV3ApiWrapper, symbol: str, venue_ms: int, received_ts_ns: int
) -> list[BookTicker]:
    body = wrapper.publicAggreBookTicker
    return [
        BookTicker(
            venue_ms * NS_PER_MS,
            received_ts_ns,
            symbol,
            _num(body.bidPrice),
            _num(body.bidQuantity),
            _num(body.askPrice),
            _num(body.askQuantity),
            _version(body.version) if body.version else None,  # a 2026-06 field
        )
    ]


_Body = Callable[["PushDataV3ApiWrapper", str, int, int], list[Any]]
_BODIES: Final[dict[str, _Body]] = {
    "publicAggreDepths": _delta,
    "publicLimitDepths": _top,
    "publicAggreBookTicker": _ticker,
}


def parse_wrapper(frame: bytes) -> PushDataV3ApiWrapper:
    """The `PushDataV3ApiWrapper` of a binary push (public or private); `BadFrameError` if it is none."""
    wrapper_type, proto_error = _proto()
    try:
        return wrapper_type.FromString(frame)
    except proto_error as exc:
        raise BadFrameError(f"not a PushDataV3ApiWrapper ({exc})") from None


def _decode_push(frame: bytes, received_ts_ns: int) -> Decoded:
    wrapper = parse_wrapper(frame)
    body = wrapper.WhichOneof("body")
    decode_body = _BODIES.get(body) if body is not None else None
    if decode_body is None and body != "publicAggreDeals":
        raise BadFrameError(f"push body {body!r} is not one fx decodes (channel {wrapper.channel[:80]!r})")
    venue_ms = _millis(wrapper.sendTime or wrapper.createTime, "sendTime/createTime")
    if decode_body is None:  # deals: each one stands alone, so a bad one is skipped, not the push
        return _trades(wrapper, _symbol_of(wrapper), venue_ms, received_ts_ns)
    try:
        events: list[MarketEvent] = decode_body(wrapper, _symbol_of(wrapper), venue_ms, received_ts_ns)
    except msgspec.DecodeError as exc:
        raise BadFrameError(
            f"{body}: a price, quantity or version is not a decimal in range: {exc}"
        ) from None
    return Decoded(events, None, "", venue_ms * NS_PER_MS)


_PROTO: tuple[type[PushDataV3ApiWrapper], type[Exception]] | None = None


def _proto() -> tuple[type[PushDataV3ApiWrapper], type[Exception]]:
    """The wrapper class and protobuf's DecodeError, imported by the first binary frame."""
    global _PROTO
    if _PROTO is None:
        from google.protobuf.message import DecodeError

        from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

        _PROTO = (PushDataV3ApiWrapper, DecodeError)
    return _PROTO
