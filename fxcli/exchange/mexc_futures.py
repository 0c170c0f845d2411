"""MEXC futures (contract) market data: channel names and request frames as data, and a pure decoder.

Every frame is JSON text (docs/mexc-protocol.md §2): `{"channel":...,"data":...,"symbol":...,"ts":...}`.
Pushes are decoded in one pass by msgspec into typed Structs, dispatched on `channel`; acks
(`rs.sub.*`), errors (`rs.error`) and `pong` become `Control`s. Sizes on the wire are **contracts**.
An adapter built with the venue's contract sizes (`decode_contract_sizes` of `GET <rest>/detail`)
turns every trade qty and book level qty into **base units** (`qty_unit == "base"`) and refuses any
contract whose size it does not know (`channels` raises, a push becomes a problem), so nothing is
stored in contracts by mistake; one built without sizes keeps contracts (`qty_unit == "contracts"`).
Numbers outside [0, 1e300], versions outside int64 and times outside the ns int64 range make the
frame a `Decoded.problem`, except in a deal: a bad deal is skipped alone (`Decoded.skipped`) and the
push's other deals are kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, overload

import msgspec

from fxcli.exchange.adapter import Channel, Control, ControlKind, Decoded, Endpoints, Kind, Limits
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Level, MarketEvent, Trade
from fxcli.model.units import NS_PER_MS

VENUE: Final = "mexc-futures"
ENDPOINTS: Final = Endpoints(
    ws_url="wss://contract.mexc.com/edge", rest_url="https://api.mexc.com/api/v1/contract"
)
LIMITS: Final = Limits(max_subs_per_conn=50, sub_burst=20, sub_rate_per_s=10.0, channels_per_request=1)
"""Futures pacing: one contract per request, so every channel is a request. MEXC publishes no futures
limit; a probe had 20 subscribe frames/s accepted, so fx sends at most 10/s after a burst of 20 (half
of what was seen; the bucket is shared by all of a manager's sockets). The venue has no per-connection
cap either (a probe ran 150 contracts on one socket); fx's cap of 50 channels spreads 150 contracts x 2
kinds over 6 sockets, so one dropped or rotated socket resubscribes in at most 50 / 10 = 5 s (3 s with
a full bucket), and all 300 channels after a venue-wide drop in (300 - 20) / 10 = 28 s, not 54 s."""
SNAPSHOT_LIMIT: Final = 1000
DEALS_LIMIT: Final = 100  # `GET /deals/{symbol}?limit=`: "max 100" (the most recent deals only)
TOP_LEVELS: Final = 20  # `sub.depth.full` limit: 5, 10 or 20
MAX_FRAME_BYTES: Final = 1 << 20

TOPICS: Final[dict[Kind, str]] = {
    Kind.TRADES: "deal",
    Kind.DEPTH: "depth",  # merged diffs (begin/end/version), asked for explicitly with compress=true
    Kind.TOP: "depth.full",
    Kind.TICKER: "ticker",
}
"""Topic per kind: subscribe with `sub.<topic>`, pushes arrive as `push.<topic>`, acks as `rs.sub.<topic>`."""

MAX_EXACT: Final = 2**53  # integers up to this are exact in a float
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


class _DealsAnswer(msgspec.Struct):
    """`GET <rest>/deals/{symbol}`: `{"success":true,"code":0,"data":[{p, v, T, O, M, t}, ...]}`."""

    success: bool = False
    code: Int64 = 0
    message: str = ""
    data: list[_Deal] | None = None


class _LooseDealPush(msgspec.Struct):
    """A `push.deal` whose deals are decoded one by one (the rare path after the strict parse failed)."""

    data: msgspec.Raw
    symbol: str
    ts: Millis | None = None


class _Contract(msgspec.Struct):
    """One entry of `GET /detail`; its other fields (fees, units, state) are not needed here."""

    symbol: str
    contract_size: float | None = msgspec.field(default=None, name="contractSize")


class _DetailAnswer(msgspec.Struct):
    success: bool = False
    code: Int64 = 0
    message: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")  # a list of contracts; one object for `?symbol=`


_Push = _DealPush | _DepthPush | _DepthFullPush | _TickerPush | _Pong
_push: Final = msgspec.json.Decoder(_Push, strict=False)
_envelope: Final = msgspec.json.Decoder(_Envelope, strict=False)
_scalar: Final = msgspec.json.Decoder(str | int | float | bool | None)
_rest: Final = msgspec.json.Decoder(_RestAnswer, strict=False)
_loose_deals: Final = msgspec.json.Decoder(_LooseDealPush, strict=False)
_deals_answer: Final = msgspec.json.Decoder(_DealsAnswer, strict=False)
_one_deal: Final = msgspec.json.Decoder(_Deal, strict=False)
_items: Final = msgspec.json.Decoder(list[msgspec.Raw])
_detail: Final = msgspec.json.Decoder(_DetailAnswer, strict=False)
_contract: Final = msgspec.json.Decoder(_Contract, strict=False)
_PUSH_CHANNELS: Final = frozenset({"push.deal", "push.depth", "push.depth.full", "push.ticker"})


class BadFrameError(ValueError):
    """A well-formed frame fx cannot use; says why."""


class MexcFutures:
    """The MEXC futures WebSocket (`wss://contract.mexc.com/edge`) and its REST depth snapshot.

    Contracts look like `BTC_USDT`. One request subscribes one contract to one topic, so
    `limits.channels_per_request` is 1 and the frames carry no id (`req_id` is not sent; acks name
    only the topic). `push.ticker` has best bid/ask prices but no sizes: its `BookTicker` quantities
    are NaN (unknown) — use TOP (`push.depth.full`) when sizes matter.

    `contract_sizes` (symbol → base units per contract, from `decode_contract_sizes`) switches
    quantities to base units; see `contract_size` for how they are computed.
    """

    venue = VENUE
    limits = LIMITS

    def __init__(
        self, endpoints: Endpoints = ENDPOINTS, contract_sizes: Mapping[str, float] | None = None
    ) -> None:
        self.endpoints = endpoints
        self._sizes: Mapping[str, float] | None = None
        self._scales: dict[str, tuple[float, float]] | None = None
        if contract_sizes is not None:
            sizes = {
                _checked_symbol(symbol): _checked_size(symbol, size)
                for symbol, size in contract_sizes.items()
            }
            self._sizes = MappingProxyType(sizes)
            self._scales = {symbol: _scale(size) for symbol, size in sizes.items()}

    def with_contract_sizes(self, contract_sizes: Mapping[str, float]) -> MexcFutures:
        """The same venue with quantities in base units, for the contracts in `contract_sizes`."""
        return MexcFutures(self.endpoints, contract_sizes)

    @property
    def qty_unit(self) -> Literal["base", "contracts"]:
        """What `Trade.qty` and book level sizes count: "base" once contract sizes are given."""
        return "contracts" if self._sizes is None else "base"

    @property
    def contract_sizes(self) -> Mapping[str, float] | None:
        """Base units per contract by symbol (read-only), or None when quantities stay in contracts."""
        return self._sizes

    def contract_size(self, symbol: str) -> float | None:
        """Base units per contract of `symbol`, or None when it is not known (quantities are contracts).

        Every qty becomes `contracts * size` with one rounding: the size's shortest decimal text
        `n / d` (0.0001 → 1 / 10000) gives `contracts * n / d`, so integer contract counts (all MEXC
        sends) land on the float nearest the exact decimal product — `3 * 0.0001` would give
        0.00030000000000000003, this gives 0.0003.

        >>> futures = MexcFutures(contract_sizes={"BTC_USDT": 0.0001})
        >>> futures.contract_size("btc_usdt"), futures.contract_size("ETH_USDT")
        (0.0001, None)
        >>> frame = ('{"symbol":"BTC_USDT","data":[{"p":114350.4,"v":3,"T":2,"O":3,"M":2,"t":1760368563597}],'
        ...          '"channel":"push.deal","ts":1760368563600}')
        >>> futures.decode(frame, 0).events[0].qty
        0.0003
        """
        return None if self._sizes is None else self._sizes.get(symbol.upper())

    def contract_detail_url(self) -> str:
        """`<rest>/detail`: every contract with its `contractSize` (decode with `decode_contract_sizes`).

        >>> MexcFutures().contract_detail_url()
        'https://api.mexc.com/api/v1/contract/detail'
        """
        return f"{self.endpoints.rest_url.rstrip('/')}/detail"

    def channels(self, symbol: str, kinds: frozenset[Kind]) -> list[Channel]:
        """The channels carrying `kinds` for `symbol`, named `<topic>@<SYMBOL>`, in Kind order.

        With contract sizes given, a symbol without one raises `ValueError` naming it.

        >>> [c.name for c in MexcFutures().channels("btc_usdt", frozenset(Kind))]
        ['deal@BTC_USDT', 'depth@BTC_USDT', 'depth.full@BTC_USDT', 'ticker@BTC_USDT']
        """
        sym = _checked_symbol(symbol)
        if self._sizes is not None and sym not in self._sizes:
            raise ValueError(f"{sym} has no contract size: it is not in the venue's contract list")
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
        take the deal time `t`; the ticker its `data.timestamp`, else `ts`. `sent_ts_ns` is the push
        time `ts` of every push (0 when absent). A deal's side is `T` (1 buy → +1, 2 sell → -1);
        `trade_id` is the deal's `i` when it is a number. A deal that does not validate (another
        `T`, a bad price, size or time) is skipped alone and counted in `skipped`, the problem
        naming the first; the push's other deals are kept.

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
                return _not_a_push(frame, exc, received_ts_ns, self._scales)
            if isinstance(push, _Pong):
                return Decoded(control=Control(ControlKind.PONG))
            return _decoded(push, received_ts_ns, self._scales)
        except (msgspec.DecodeError, BadFrameError, UnicodeError, RecursionError) as exc:
            return Decoded(problem=f"{type(exc).__name__}: {exc}")

    def snapshot_url(self, symbol: str) -> str:
        """`<rest>/depth/<SYMBOL>?limit=1000`; its `version` shares the diffs' version space."""
        base = self.endpoints.rest_url.rstrip("/")
        return f"{base}/depth/{_checked_symbol(symbol)}?limit={SNAPSHOT_LIMIT}"

    def decode_snapshot(self, body: bytes, symbol: str, received_ts_ns: int) -> BookSnapshot:
        """The REST depth answer `{"success":true,"code":0,"data":{...}}` as a full snapshot at `version`.

        Levels are `[price, contracts, order_count]`; qty stays in contracts unless contract sizes
        were given (then base units, and a symbol without a size raises). Raises `ValueError` when
        the answer is malformed or says `success: false`.

        >>> body = (b'{"success":true,"code":0,"data":{"asks":[[6859.5,3251,1]],"bids":[[6859,120,2]],'
        ...         b'"version":96801927,"timestamp":1587442022003}}')
        >>> MexcFutures().decode_snapshot(body, "BTC_USDT", 5)
        BookSnapshot(exchange_ts_ns=1587442022003000000, received_ts_ns=5, symbol='BTC_USDT', \
bids=[(6859.0, 120.0)], asks=[(6859.5, 3251.0)], version=96801927, source='rest')
        """
        book = _answer_data(_rest, body, "depth snapshot")
        sym = _checked_symbol(symbol)
        scale = self._scale_of(sym, "depth")
        return BookSnapshot(
            exchange_ts_ns=(book.timestamp or 0) * NS_PER_MS,
            received_ts_ns=received_ts_ns,
            symbol=sym,
            bids=_levels(book.bids, scale),
            asks=_levels(book.asks, scale),
            version=book.version,
            source="rest",
        )

    def _scale_of(self, symbol: str, what: str) -> tuple[float, float]:
        """`symbol`'s contract size as `(n, d)`; (1, 1) in contracts; a symbol without one raises."""
        if self._scales is None:
            return _UNIT
        found = self._scales.get(symbol)
        if found is None:
            raise ValueError(f"{symbol} has no contract size: its {what} would stay in contracts")
        return found

    def deals_url(self, symbol: str, limit: int = DEALS_LIMIT) -> str:
        """`<rest>/deals/<SYMBOL>?limit=N`: the venue's most recent `limit` deals (at most 100), all
        the history it serves; older trades cannot be fetched."""
        if not 1 <= limit <= DEALS_LIMIT:
            raise ValueError(f"deals limit {limit} is not in 1..{DEALS_LIMIT}")
        return f"{self.endpoints.rest_url.rstrip('/')}/deals/{_checked_symbol(symbol)}?limit={limit}"

    def decode_deals(self, body: bytes, symbol: str, received_ts_ns: int) -> list[Trade]:
        """The trades of a deals answer, oldest first, quantities scaled as the pushes' are (base
        units with contract sizes); raises `ValueError` if malformed, refused, or a size is missing.

        >>> body = b'{"success":true,"code":0,"data":'
        >>> body += b'[{"p":6866.5,"v":2096,"T":1,"O":1,"M":2,"t":1587442049632}]}'
        >>> MexcFutures().decode_deals(body, "BTC_USDT", 5)
        [Trade(exchange_ts_ns=1587442049632000000, received_ts_ns=5, symbol='BTC_USDT', price=6866.5, \
qty=2096.0, side=1, trade_id=None)]
        """
        deals = _answer_data(_deals_answer, body, "deals")
        sym = _checked_symbol(symbol)
        n, d = self._scale_of(sym, "deals")
        trades = [
            Trade(
                deal.trade_ms * NS_PER_MS,
                received_ts_ns,
                sym,
                deal.price,
                deal.qty * n / d,  # as the pushes
                1 if deal.side == 1 else -1,
                _trade_id(deal.trade_id),
            )
            for deal in deals
        ]
        trades.sort(key=lambda t: t.exchange_ts_ns)  # the venue lists the newest first
        return trades


@overload
def _answer_data(decoder: msgspec.json.Decoder[_RestAnswer], body: bytes, what: str) -> _RestBook: ...
@overload
def _answer_data(decoder: msgspec.json.Decoder[_DealsAnswer], body: bytes, what: str) -> list[_Deal]: ...
def _answer_data(decoder: msgspec.json.Decoder[Any], body: bytes, what: str) -> Any:
    """The `data` of a REST answer `{"success":true,"code":0,"data":...}`; `ValueError` when it is
    malformed or says `success: false`."""
    try:
        answer = decoder.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        raise ValueError(f"bad MEXC futures {what}: {exc}") from None
    if not answer.success or answer.data is None:
        raise ValueError(
            f"MEXC futures {what} refused: success={answer.success}, code {answer.code}, "
            f"{answer.message or 'no data'}"
        )
    return answer.data


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


def decode_contract_sizes(body: bytes) -> dict[str, float]:
    """Base units per contract by symbol, from the answer of `GET <rest>/detail` (or `/detail?symbol=`).

    The answer is wrapped as `{"success":true,"code":0,"data":[{"symbol":...,"contractSize":...},...]}`;
    entries without a positive finite `contractSize` (or with an unusable symbol) are skipped. Raises
    `ValueError` naming what is wrong: not JSON, `success: false`, no list, no usable contract, or a
    symbol listed twice with two sizes.

    >>> decode_contract_sizes(b'{"success":true,"code":0,"data":[{"symbol":"BTC_USDT","contractSize":0.0001,'
    ...                       b'"priceUnit":0.1},{"symbol":"X_USDT","contractSize":0},{"symbol":"PEPE_USDT",'
    ...                       b'"contractSize":10000000}]}')
    {'BTC_USDT': 0.0001, 'PEPE_USDT': 10000000.0}
    """
    try:
        answer = _detail.decode(body)
        raw = bytes(answer.data).lstrip()
        items = (
            _items.decode(raw) if raw.startswith(b"[") else [answer.data] if raw.startswith(b"{") else None
        )
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        raise ValueError(f"bad MEXC futures contract list: {exc}") from None
    if not answer.success:
        raise ValueError(
            f"MEXC futures contract list refused: success={answer.success}, code {answer.code}, "
            f"{answer.message or 'no message'}"
        )
    if items is None:
        raise ValueError(f"bad MEXC futures contract list: data is not a list of contracts: {raw[:80]!r}")
    sizes: dict[str, float] = {}
    for item in items:
        try:
            contract = _contract.decode(item)
        except msgspec.DecodeError:
            continue  # an entry fx cannot read is a contract fx will not record; the caller names it
        symbol, size = contract.symbol.upper(), contract.contract_size
        if size is None or not (math.isfinite(size) and size > 0) or not _is_symbol(symbol):
            continue
        if sizes.setdefault(symbol, size) != size:
            raise ValueError(
                f"MEXC futures contract list gives {symbol} two sizes: {sizes[symbol]} and {size}"
            )
    if not sizes:
        raise ValueError(
            f"MEXC futures contract list: none of {len(items)} entries has a positive contractSize"
        )
    return sizes


def _checked_size(symbol: str, size: float) -> float:
    if isinstance(size, bool) or not (isinstance(size, int | float) and math.isfinite(size) and size > 0):
        raise ValueError(f"contract size of {symbol} must be a positive number, got {size!r}")
    return float(size)


_UNIT: Final = (1.0, 1.0)


def _scale(size: float) -> tuple[float, float]:
    """`size` as `(n, d)` with `size == n / d` in its shortest decimal text, both exact in a float."""
    if size == 1.0:
        return _UNIT
    numerator, denominator = Decimal(repr(size)).as_integer_ratio()
    if numerator > MAX_EXACT or denominator > MAX_EXACT:
        return (size, 1.0)  # no short decimal text: one multiplication, one rounding
    return (float(numerator), float(denominator))


def _levels(levels: list[_Level], scale: tuple[float, float]) -> list[Level]:
    # `qty * n / d`: the product is exact for contract counts, so the division is the only rounding.
    if scale is _UNIT:
        return [(level.price, level.qty) for level in levels]
    n, d = scale
    if d == 1.0:
        return [(level.price, level.qty * n) for level in levels]
    if n == 1.0:
        return [(level.price, level.qty / d) for level in levels]
    return [(level.price, level.qty * n / d) for level in levels]


def _decoded(
    push: _DealPush | _DepthPush | _DepthFullPush | _TickerPush,
    received_ts_ns: int,
    scales: dict[str, tuple[float, float]] | None,
) -> Decoded:
    # The hot path, once per push: comprehensions stay inline (a helper call per push shows).
    symbol = push.symbol
    if symbol not in _SEEN_SYMBOLS and not _is_symbol(symbol):  # the set first: no call per push
        raise BadFrameError(f"bad symbol {symbol[:50]!r}")
    ts = push.ts
    sent_ts_ns = ts * NS_PER_MS if ts else 0
    if scales is None:
        n = d = 1.0
    else:
        scale = scales.get(symbol)
        if scale is None:
            problem = f"{symbol} has no contract size: its quantities would stay in contracts"
            return Decoded(problem=problem, sent_ts_ns=sent_ts_ns)
        n, d = scale
    events: list[MarketEvent]
    if isinstance(push, _DealPush):
        data = push.data
        deals = data if isinstance(data, list) else [data]
        events = [
            Trade(
                deal.trade_ms * NS_PER_MS,
                received_ts_ns,
                symbol,
                deal.price,
                deal.qty * n / d,  # as in `_levels`; exactly `qty` when n = d = 1
                1 if deal.side == 1 else -1,
                tid if type(tid := deal.trade_id) is int and tid >= 0 else _trade_id(tid),
            )
            for deal in deals
        ]
        return Decoded(events, None, "", sent_ts_ns)
    if isinstance(push, _TickerPush):
        ticker = push.data
        venue_ms = ticker.timestamp or ts or 0
        events = [BookTicker(venue_ms * NS_PER_MS, received_ts_ns, symbol, ticker.bid, NAN, ticker.ask, NAN)]
        return Decoded(events, None, "", sent_ts_ns)
    book = push.data
    venue_ms = book.cts or ts or 0
    if n == d:  # in contracts, or a contract is one base unit (a reduced n / d equals 1 only as 1 / 1)
        bids = [(level.price, level.qty) for level in book.bids]
        asks = [(level.price, level.qty) for level in book.asks]
    else:  # as in `_levels`, inline
        bids = [(level.price, level.qty * n / d) for level in book.bids]
        asks = [(level.price, level.qty * n / d) for level in book.asks]
    if isinstance(push, _DepthFullPush):
        events = [
            BookSnapshot(venue_ms * NS_PER_MS, received_ts_ns, symbol, bids, asks, book.version, _TOP_SOURCE)
        ]
        return Decoded(events, None, "", sent_ts_ns)
    if book.begin is not None and book.end is not None:
        from_version, to_version = book.begin, book.end
    elif book.begin is None and book.end is None:
        from_version = to_version = book.version
    else:
        raise BadFrameError(f"merged depth needs both begin and end, got {book.begin}..{book.end}")
    if from_version > to_version:
        raise BadFrameError(f"begin {from_version} > end {to_version}")
    events = [BookDelta(venue_ms * NS_PER_MS, received_ts_ns, symbol, bids, asks, from_version, to_version)]
    return Decoded(events, None, "", sent_ts_ns)


_TOP_SOURCE: Final = f"ws_top{TOP_LEVELS}"


def _trade_id(value: int | str | None) -> int | None:
    if isinstance(value, int):
        return value if 0 <= value <= MAX_INT64 else None
    if value and len(value) < 19 and value.isascii() and value.isdigit():
        return int(value)
    return None


def _not_a_push(
    frame: bytes | str,
    push_error: msgspec.ValidationError,
    received_ts_ns: int,
    scales: dict[str, tuple[float, float]] | None,
) -> Decoded:
    """Control frames, unknown channels and malformed pushes (the rare path: a second, cheap parse)."""
    envelope = _envelope.decode(frame)
    channel = envelope.channel
    try:
        data = _scalar.decode(envelope.data)
    except msgspec.DecodeError:
        data = bytes(envelope.data)[:80].decode("utf-8", "replace")
    text = data if isinstance(data, str) else ""
    if channel == "push.deal":
        return _salvage_deals(frame, push_error, received_ts_ns, scales)
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


def _salvage_deals(
    frame: bytes | str,
    push_error: msgspec.ValidationError,
    received_ts_ns: int,
    scales: dict[str, tuple[float, float]] | None,
) -> Decoded:
    """A `push.deal` that failed as a whole: keep the deals that validate, skip and count the rest.

    The envelope (symbol, ts, a list or one object) must still be right; otherwise the push is
    broken as a whole and stays a problem.
    """
    whole = Decoded(problem=f"bad push.deal: {push_error}")
    try:
        loose = _loose_deals.decode(frame)
    except msgspec.ValidationError:
        return whole
    raw = bytes(loose.data).lstrip()
    items = _items.decode(raw) if raw.startswith(b"[") else [loose.data] if raw.startswith(b"{") else []
    deals: list[_Deal] = []
    first = ""
    for index, item in enumerate(items):
        try:
            deals.append(_one_deal.decode(item))
        except msgspec.ValidationError as exc:
            first = first or f"deal {index}: {exc}"
    skipped = len(items) - len(deals)
    if not skipped:
        return whole
    decoded = _decoded(_DealPush(deals, loose.symbol, loose.ts), received_ts_ns, scales)
    if decoded.problem:
        return decoded
    problem = f"push.deal {loose.symbol}: skipped {skipped} of {len(items)} deals (first: {first})"
    return Decoded(decoded.events, None, problem, decoded.sent_ts_ns, skipped)
