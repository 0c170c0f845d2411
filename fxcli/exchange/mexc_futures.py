"""MEXC futures (contract) market data: channel names and request frames as data, and a pure decoder.

Every frame is JSON text (docs/mexc-protocol.md §2): `{"channel":...,"data":...,"symbol":...,"ts":...}`.
Pushes are decoded in one pass by msgspec into typed Structs, dispatched on `channel`; acks
(`rs.sub.*`), errors (`rs.error`) and `pong` become `Control`s. Sizes are **contracts**, exactly as the venue
sends them (multiply by the contract's `contractSize` from `GET /api/v1/contract/detail` for base units):
`Trade.qty` and every book level's qty here are contract counts. Numbers outside [0, 1e300], versions
outside int64 and times outside the ns int64 range make the frame a `Decoded.problem`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Final, Literal

import msgspec

from fxcli.exchange.adapter import Channel, Control, ControlKind, Decoded, Endpoints, Kind, Limits
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Level, MarketEvent, Trade
from fxcli.model.units import NS_PER_MS

VENUE: Final = "mexc-futures"
ENDPOINTS: Final = Endpoints(
    ws_url="wss://contract.mexc.com/edge", rest_url="https://api.mexc.com/api/v1/contract"
)
LIMITS: Final = Limits(max_subs_per_conn=None, channels_per_request=1)  # one contract per request
SNAPSHOT_LIMIT: Final = 1000
TOP_LEVELS: Final = 20  # `sub.depth.full` limit: 5, 10 or 20
MAX_FRAME_BYTES: Final = 1 << 20

TOPICS: Final[dict[Kind, str]] = {
    Kind.TRADES: "deal",
    Kind.DEPTH: "depth",  # merged diffs (begin/end/version), asked for explicitly with compress=true
    Kind.TOP: "depth.full",
    Kind.TICKER: "ticker",
}
"""Topic per kind: subscribe with `sub.<topic>`, pushes arrive as `push.<topic>`, acks as `rs.sub.<topic>`."""

MAX_INT64: Final = 2**63 - 1
MAX_MS: Final = MAX_INT64 // NS_PER_MS
GZIP_MAGIC: Final = b"\x1f\x8b"
NAN: Final = float("nan")

Num = Annotated[float, msgspec.Meta(ge=0.0, le=1e300)]
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)]
Int64 = Annotated[int, msgspec.Meta(ge=-MAX_INT64 - 1, le=MAX_INT64)]


class _Level(msgspec.Struct, array_like=True, gc=False):
    """`[price, contracts, order_count]`; the order count is optional and not kept."""

    price: Num
    qty: Num
    orders: Num = 0.0


class _Book(msgspec.Struct, gc=False):
    asks: list[_Level]
    bids: list[_Level]
    version: Version
    begin: Version | None = None
    end: Version | None = None
    cts: Millis | None = None  # matching-engine time (2026-06)


class _Deal(msgspec.Struct, gc=False):
    price: Num = msgspec.field(name="p")
    qty: Num = msgspec.field(name="v")
    side: Literal[1, 2] = msgspec.field(name="T")
    trade_ms: Millis = msgspec.field(name="t")
    trade_id: Int64 | str | None = msgspec.field(default=None, name="i")


class _Ticker(msgspec.Struct, gc=False):
    bid: Num = msgspec.field(name="bid1")
    ask: Num = msgspec.field(name="ask1")
    timestamp: Millis | None = None


class _DealPush(msgspec.Struct, tag_field="channel", tag="push.deal"):
    data: list[_Deal] | _Deal  # an array since 2025-08 (merged deals); a single object before
    symbol: str
    ts: Millis | None = None


class _DepthPush(msgspec.Struct, tag_field="channel", tag="push.depth"):
    data: _Book
    symbol: str
    ts: Millis | None = None


class _DepthFullPush(msgspec.Struct, tag_field="channel", tag="push.depth.full"):
    data: _Book
    symbol: str
    ts: Millis | None = None


class _TickerPush(msgspec.Struct, tag_field="channel", tag="push.ticker"):
    data: _Ticker
    symbol: str
    ts: Millis | None = None


class _Pong(msgspec.Struct, tag_field="channel", tag="pong"):
    data: Int64 | None = None


class _Envelope(msgspec.Struct):
    """Any frame, when it is not a push fx decodes: enough to name it."""

    channel: str
    data: msgspec.Raw = msgspec.Raw(b"null")


class _RestBook(msgspec.Struct):
    asks: list[_Level]
    bids: list[_Level]
    version: Version
    timestamp: Millis | None = None


class _RestAnswer(msgspec.Struct):
    success: bool = False
    code: Int64 = 0
    message: str = ""
    data: _RestBook | None = None


_Push = _DealPush | _DepthPush | _DepthFullPush | _TickerPush | _Pong
_push: Final = msgspec.json.Decoder(_Push, strict=False)
_envelope: Final = msgspec.json.Decoder(_Envelope, strict=False)
_scalar: Final = msgspec.json.Decoder(str | int | float | bool | None)
_rest: Final = msgspec.json.Decoder(_RestAnswer, strict=False)
_PUSH_CHANNELS: Final = frozenset({"push.deal", "push.depth", "push.depth.full", "push.ticker"})


class BadFrameError(ValueError):
    """A well-formed frame fx cannot use; says why."""


class MexcFutures:
    """The MEXC futures WebSocket (`wss://contract.mexc.com/edge`) and its REST depth snapshot.

    Contracts look like `BTC_USDT`. One request subscribes one contract to one topic, so
    `limits.channels_per_request` is 1 and the frames carry no id (`req_id` is not sent; acks name
    only the topic). `push.ticker` has best bid/ask prices but no sizes: its `BookTicker` quantities
    are NaN (unknown) — use TOP (`push.depth.full`) when sizes matter.
    """

    venue = VENUE
    limits = LIMITS

    def __init__(self, endpoints: Endpoints = ENDPOINTS) -> None:
        self.endpoints = endpoints

    def channels(self, symbol: str, kinds: frozenset[Kind]) -> list[Channel]:
        """The channels carrying `kinds` for `symbol`, named `<topic>@<SYMBOL>`, in Kind order.

        >>> [c.name for c in MexcFutures().channels("btc_usdt", frozenset(Kind))]
        ['deal@BTC_USDT', 'depth@BTC_USDT', 'depth.full@BTC_USDT', 'ticker@BTC_USDT']
        """
        sym = _checked_symbol(symbol)
        return [Channel(sym, kind, f"{TOPICS[kind]}@{sym}") for kind in Kind if kind in kinds]

    def subscribe(self, channels: list[Channel], req_id: int) -> str:
        """`{"method":"sub.<topic>","param":{"symbol":...}}` for one channel; `req_id` is not sent.

        Depth asks for merged diffs explicitly (`compress: true`, the default since 2025-04-09) and
        the top-N book for `TOP_LEVELS` levels:

        >>> futures = MexcFutures()
        >>> futures.subscribe(futures.channels("BTC_USDT", frozenset({Kind.DEPTH})), 1)
        '{"method":"sub.depth","param":{"symbol":"BTC_USDT","compress":true}}'
        >>> futures.subscribe(futures.channels("BTC_USDT", frozenset({Kind.TOP})), 2)
        '{"method":"sub.depth.full","param":{"symbol":"BTC_USDT","limit":20}}'
        """
        channel = _one(channels)
        param: dict[str, str | int | bool] = {"symbol": channel.symbol}
        if channel.kind is Kind.DEPTH:
            param["compress"] = True
        elif channel.kind is Kind.TOP:
            param["limit"] = TOP_LEVELS
        return msgspec.json.encode({"method": f"sub.{TOPICS[channel.kind]}", "param": param}).decode()

    def unsubscribe(self, channels: list[Channel], req_id: int) -> str:
        """`{"method":"unsub.<topic>","param":{"symbol":...}}` (the venue sends no confirmation).

        >>> futures = MexcFutures()
        >>> futures.unsubscribe(futures.channels("BTC_USDT", frozenset({Kind.TOP})), 3)
        '{"method":"unsub.depth.full","param":{"symbol":"BTC_USDT"}}'
        """
        channel = _one(channels)
        frame = {"method": f"unsub.{TOPICS[channel.kind]}", "param": {"symbol": channel.symbol}}
        return msgspec.json.encode(frame).decode()

    def ping(self) -> str:
        """The application ping; the server answers `{"channel":"pong","data":<ms>}`."""
        return '{"method":"ping"}'

    def decode(self, frame: bytes | str, received_ts_ns: int) -> Decoded:
        """Decode one frame: pushes → events, `rs.*` / `pong` → `Control`. Never raises.

        A merged depth diff (docs/mexc-protocol.md §6.3.5) becomes a delta from `begin` to `end`, so
        a continuous stream has `from_version == previous to_version + 1`; sizes are contracts:

        >>> frame = ('{"symbol":"SKHYNIXSTOCK_USDT","data":{"cts":1789498405579,"asks":[[1235.06,606,1]],'
        ...          '"bids":[[1233.04,0,0]],"end":1111084807,"begin":1111084806,"version":1111084807},'
        ...          '"channel":"push.depth","ts":1789498405588}')
        >>> MexcFutures().decode(frame, 1789498405600000000).events
        [BookDelta(exchange_ts_ns=1789498405579000000, received_ts_ns=1789498405600000000, \
symbol='SKHYNIXSTOCK_USDT', bids=[(1233.04, 0.0)], asks=[(1235.06, 606.0)], from_version=1111084806, \
to_version=1111084807)]

        An unmerged diff (`compress: false`) has only `version`: from = to = version. Depth and
        top-N take the matching-engine time `data.cts` when present, else the push time `ts`; trades
        take the deal time `t`; the ticker its `data.timestamp`, else `ts`. A deal's side is `T`
        (1 buy → +1, 2 sell → -1); `trade_id` is the deal's `i` when it is a number.

        >>> MexcFutures().decode('{"channel":"rs.sub.deal","data":"success","ts":"1587442022003"}', 0).control
        Control(kind=<ControlKind.ACK: 'ack'>, req_id=None, channels=('deal',), reason='')
        """
        try:
            if len(frame) > MAX_FRAME_BYTES:
                return Decoded(problem=f"frame of {len(frame)} characters is larger than {MAX_FRAME_BYTES}")
            if isinstance(frame, bytes) and frame.startswith(GZIP_MAGIC):
                return Decoded(problem="gzip-compressed binary frame (subscribe without a gzip key)")
            try:
                push = _push.decode(frame)
            except msgspec.ValidationError as exc:
                return _not_a_push(frame, exc)
            if isinstance(push, _Pong):
                return Decoded(control=Control(ControlKind.PONG))
            return Decoded(_events(push, received_ts_ns), None, "")
        except (msgspec.DecodeError, BadFrameError, UnicodeError, RecursionError) as exc:
            return Decoded(problem=f"{type(exc).__name__}: {exc}")

    def snapshot_url(self, symbol: str) -> str:
        """`<rest>/depth/<SYMBOL>?limit=1000`; its `version` shares the diffs' version space."""
        base = self.endpoints.rest_url.rstrip("/")
        return f"{base}/depth/{_checked_symbol(symbol)}?limit={SNAPSHOT_LIMIT}"

    def decode_snapshot(self, body: bytes, symbol: str, received_ts_ns: int) -> BookSnapshot:
        """The REST depth answer `{"success":true,"code":0,"data":{...}}` as a full snapshot at `version`.

        Levels are `[price, contracts, order_count]`; qty stays in contracts. Raises `ValueError`
        when the answer is malformed or says `success: false`.

        >>> body = (b'{"success":true,"code":0,"data":{"asks":[[6859.5,3251,1]],"bids":[[6859,120,2]],'
        ...         b'"version":96801927,"timestamp":1587442022003}}')
        >>> MexcFutures().decode_snapshot(body, "BTC_USDT", 5)
        BookSnapshot(exchange_ts_ns=1587442022003000000, received_ts_ns=5, symbol='BTC_USDT', \
bids=[(6859.0, 120.0)], asks=[(6859.5, 3251.0)], version=96801927, source='rest')
        """
        try:
            answer = _rest.decode(body)
        except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
            raise ValueError(f"bad MEXC futures depth snapshot: {exc}") from None
        if not answer.success or answer.data is None:
            raise ValueError(
                f"MEXC futures depth snapshot refused: success={answer.success}, code {answer.code}, "
                f"{answer.message or 'no data'}"
            )
        book = answer.data
        return BookSnapshot(
            exchange_ts_ns=(book.timestamp or 0) * NS_PER_MS,
            received_ts_ns=received_ts_ns,
            symbol=_checked_symbol(symbol),
            bids=_levels(book.bids),
            asks=_levels(book.asks),
            version=book.version,
            source="rest",
        )


def ack_confirms(control: Control, requested: Iterable[Channel]) -> bool:
    """True when an ACK's topic is the topic of every requested channel (futures acks name no symbol).

    >>> channels = MexcFutures().channels("BTC_USDT", frozenset({Kind.DEPTH}))
    >>> ack_confirms(Control(ControlKind.ACK, channels=("depth",)), channels)
    True
    """
    if control.kind is not ControlKind.ACK or len(control.channels) != 1:
        return False
    return all(TOPICS[channel.kind] == control.channels[0] for channel in requested)


def _one(channels: list[Channel]) -> Channel:
    if len(channels) != 1:
        raise ValueError(f"MEXC futures takes one channel per request, got {len(channels)}")
    return channels[0]


def _checked_symbol(symbol: str) -> str:
    sym = symbol.upper()
    if not _is_symbol(sym):
        raise ValueError(f"not a MEXC futures symbol: {symbol!r} (letters, digits and _, e.g. BTC_USDT)")
    return sym


def _is_symbol(symbol: str) -> bool:
    # Symbols become directory names in the store: letters, digits and "_" only, never a path.
    if symbol in _SEEN_SYMBOLS:  # every push names its symbol: check each one once, not per frame
        return True
    if not (0 < len(symbol) <= 40 and symbol.isascii() and symbol.replace("_", "").isalnum()):
        return False
    if len(_SEEN_SYMBOLS) < MAX_SEEN_SYMBOLS:
        _SEEN_SYMBOLS.add(symbol)
    return True


MAX_SEEN_SYMBOLS: Final = 10_000
_SEEN_SYMBOLS: set[str] = set()


def _levels(levels: list[_Level]) -> list[Level]:
    return [(level.price, level.qty) for level in levels]


def _events(
    push: _DealPush | _DepthPush | _DepthFullPush | _TickerPush, received_ts_ns: int
) -> list[MarketEvent]:
    symbol = push.symbol
    if not _is_symbol(symbol):
        raise BadFrameError(f"bad symbol {symbol[:50]!r}")
    if isinstance(push, _DealPush):
        deals = push.data if isinstance(push.data, list) else [push.data]
        return [
            Trade(
                deal.trade_ms * NS_PER_MS,
                received_ts_ns,
                symbol,
                deal.price,
                deal.qty,
                1 if deal.side == 1 else -1,
                tid if type(tid := deal.trade_id) is int and tid >= 0 else _trade_id(tid),
            )
            for deal in deals
        ]
    if isinstance(push, _TickerPush):
        ticker = push.data
        venue_ms = ticker.timestamp or push.ts or 0
        return [BookTicker(venue_ms * NS_PER_MS, received_ts_ns, symbol, ticker.bid, NAN, ticker.ask, NAN)]
    book = push.data
    venue_ms = book.cts or push.ts or 0
    if isinstance(push, _DepthFullPush):
        version = book.version
        bids, asks = _levels(book.bids), _levels(book.asks)
        return [BookSnapshot(venue_ms * NS_PER_MS, received_ts_ns, symbol, bids, asks, version, _TOP_SOURCE)]
    if book.begin is not None and book.end is not None:
        from_version, to_version = book.begin, book.end
    elif book.begin is None and book.end is None:
        from_version = to_version = book.version
    else:
        raise BadFrameError(f"merged depth needs both begin and end, got {book.begin}..{book.end}")
    if from_version > to_version:
        raise BadFrameError(f"begin {from_version} > end {to_version}")
    bids, asks = _levels(book.bids), _levels(book.asks)
    return [BookDelta(venue_ms * NS_PER_MS, received_ts_ns, symbol, bids, asks, from_version, to_version)]


_TOP_SOURCE: Final = f"ws_top{TOP_LEVELS}"


def _trade_id(value: int | str | None) -> int | None:
    if isinstance(value, int):
        return value if 0 <= value <= MAX_INT64 else None
    if value and len(value) < 19 and value.isascii() and value.isdigit():
        return int(value)
    return None


def _not_a_push(frame: bytes | str, push_error: msgspec.ValidationError) -> Decoded:
    """Control frames, unknown channels and malformed pushes (the rare path: a second, cheap parse)."""
    envelope = _envelope.decode(frame)
    channel = envelope.channel
    try:
        data = _scalar.decode(envelope.data)
    except msgspec.DecodeError:
        data = bytes(envelope.data)[:80].decode("utf-8", "replace")
    text = data if isinstance(data, str) else ""
    if channel in _PUSH_CHANNELS:
        return Decoded(problem=f"bad {channel}: {push_error}")
    if channel == "pong":  # a pong whose data is not a number is still a pong
        return Decoded(control=Control(ControlKind.PONG))
    if channel == "rs.error":
        return Decoded(control=Control(ControlKind.ERROR, reason=text or "rs.error without a message"))
    if channel.startswith("rs."):
        method = channel.removeprefix("rs.")  # rs.sub.deal -> sub.deal
        topic = method.partition(".")[2] if method.startswith(("sub.", "unsub.")) else method
        if text == "success":
            return Decoded(control=Control(ControlKind.ACK, channels=(topic,)))
        return Decoded(control=Control(ControlKind.REJECT, channels=(topic,), reason=text or repr(data)))
    return Decoded(problem=f"channel {channel[:80]!r} is not one fx decodes")
