"""tardis.dev CSV datasets: trades, incremental_book_L2, book_snapshot_N and quotes.

    exchange,symbol,timestamp,local_timestamp,id,side,price,amount
    bitmex,XBTUSD,1583020803145000,1583020803307160,ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf,sell,8531.5,2152

`timestamp` is the exchange time and `local_timestamp` the receive time, both in microseconds.
Incremental L2 carries no venue versions, so each update gets the next number of a chain that
starts at its snapshot; a snapshot arriving after updates means tardis reconnected (a `resync` Gap).
Non-numeric trade ids (BitMEX UUIDs) are not kept: `trade_id` is an integer column.

A row is skipped (counted, with its line number) when a time is outside 2000..2100 or a numeric
trade id outside 0..int64 (limits.py), a price is not a finite number > 0 or an amount not a finite
number >= 0, `is_snapshot` is not true/false, or the exchange or symbol is not a name the store can
hold (`check_name`, e.g. '../x', or the reserved `raw`). An empty price in a book snapshot or quote
means "no level there", as tardis writes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from fxcli.exchange.captures.issues import Issues
from fxcli.exchange.captures.limits import EARLIEST_US, LATEST_US, WINDOW_TEXT, NameCheck, id_problem
from fxcli.exchange.captures.source import CaptureError, Decoded, Progress, numbered_lines
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Gap, GapReason, Level, Trade
from fxcli.model.units import NS_PER_US

COMMON = (b"exchange", b"symbol", b"timestamp", b"local_timestamp")


class Kind(StrEnum):
    """The tardis data types fx imports."""

    TRADES = "trades"
    INCREMENTAL_L2 = "incremental_book_L2"
    SNAPSHOT = "book_snapshot"
    QUOTES = "quotes"


def kind_of(header: bytes) -> Kind | None:
    """The data type from a CSV header line, or None if fx does not import it."""
    cols = tuple(header.strip().split(b","))
    if cols[:4] != COMMON:
        return None
    rest = cols[4:]
    if rest == (b"id", b"side", b"price", b"amount"):
        return Kind.TRADES
    if rest == (b"is_snapshot", b"side", b"price", b"amount"):
        return Kind.INCREMENTAL_L2
    if rest == (b"ask_amount", b"ask_price", b"bid_price", b"bid_amount"):
        return Kind.QUOTES
    if rest and len(rest) % 4 == 0 and rest[0] == b"asks[0].price":
        return Kind.SNAPSHOT
    return None


def looks_like(first: bytes) -> bool:
    """True if a first line is a tardis CSV header."""
    return tuple(first.strip().split(b",")[:4]) == COMMON


INF, NAN = float("inf"), float("nan")
SNAPSHOT_FLAGS = {b"true": True, b"false": False}


def _number(text: bytes, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} {text.decode()!r} is not a number") from None


def _price(text: bytes) -> float:
    """A price: a finite number > 0 (NaN fails the comparison too)."""
    value = _number(text, "price")
    if not 0.0 < value < INF:
        raise ValueError(f"price {text.decode()!r} is not a finite number > 0")
    return value


def _level_price(text: bytes) -> float:
    """A price in a book snapshot or quote, where an empty field means no level (NaN)."""
    return _price(text) if text else NAN


def _amount(text: bytes) -> float:
    """An amount: a finite number >= 0; an empty field is 0."""
    value = _number(text, "amount") if text else 0.0
    if not 0.0 <= value < INF:
        raise ValueError(f"amount {text.decode()!r} is not a finite number >= 0")
    return value


def _time_ns(text: bytes, what: str) -> int:
    """A tardis time in microseconds as ns; one outside 2000..2100 raises ValueError."""
    value = int(text)
    if not EARLIEST_US <= value < LATEST_US:
        raise ValueError(f"{what} {value} us is outside {WINDOW_TEXT}")
    return value * NS_PER_US


def _trade_id(text: bytes) -> int | None:
    """A numeric trade id (0..int64), or None for a non-numeric one such as a BitMEX UUID."""
    if not (text[1:] if text.startswith(b"-") else text).isdigit():
        return None
    value = int(text)
    problem = id_problem("trade id", value)
    if problem is not None:
        raise ValueError(problem)
    return value


class _L2Chain:
    """Groups incremental rows of one (timestamp, local_timestamp) into snapshots and deltas."""

    def __init__(self, exchange: str, symbol: str) -> None:
        self.exchange, self.symbol = exchange, symbol
        self.version = 0
        self.key: tuple[int, int, bool] | None = None
        self.bids: list[Level] = []
        self.asks: list[Level] = []
        self.has_deltas = False
        self.last_ts_ns = 0

    def add(
        self, ts_ns: int, local_ns: int, is_snapshot: bool, is_bid: bool, level: Level
    ) -> Iterator[Decoded]:
        key = (ts_ns, local_ns, is_snapshot)
        if key != self.key:
            yield from self.flush()
            self.key = key
        (self.bids if is_bid else self.asks).append(level)

    def flush(self) -> Iterator[Decoded]:
        if self.key is None:
            return
        ts_ns, local_ns, is_snapshot = self.key
        self.version += 1
        if is_snapshot:
            if self.has_deltas:
                detail = "tardis sent a new snapshot: the feed reconnected"
                gap = Gap(self.symbol, self.last_ts_ns, ts_ns, GapReason.RESYNC, detail)
                yield Decoded(self.exchange, self.symbol, gap)
            bids = sorted(self.bids, key=lambda lv: -lv[0])
            asks = sorted(self.asks, key=lambda lv: lv[0])
            snap = BookSnapshot(ts_ns, local_ns, self.symbol, bids, asks, self.version, "tardis")
            yield Decoded(self.exchange, self.symbol, snap)
            self.has_deltas = False
        else:
            delta = BookDelta(ts_ns, local_ns, self.symbol, self.bids, self.asks, self.version, self.version)
            yield Decoded(self.exchange, self.symbol, delta)
            self.has_deltas = True
        self.last_ts_ns = ts_ns
        self.key, self.bids, self.asks = None, [], []


def read(
    path: Path, issues: Issues, progress: Progress | None = None, *, check_name: NameCheck | None = None
) -> Iterator[Decoded]:
    """Events of one tardis CSV file in file order; bad rows are counted in `issues`.

    `check_name` (the store's rule for folder names) vets each exchange and symbol once.
    """
    lines = numbered_lines(path, progress)
    kind: Kind | None = None
    width = 0
    chains: dict[tuple[str, str], _L2Chain] = {}
    good_names: set[tuple[str, str]] = set()
    for line_no, line, error in lines:
        if line is None:
            issues.skip(line_no, error)
            break
        if kind is None:
            kind = kind_of(line)
            if kind is None:
                head = line[:80].decode("utf-8", "replace")
                raise CaptureError(f"{path}:{line_no}: not a tardis CSV type fx imports (header {head!r})")
            width = len(line.split(b","))
            continue
        if not line.strip():
            continue
        cols = line.split(b",")
        if len(cols) != width:
            issues.skip(line_no, f"expected {width} columns, got {len(cols)}")
            continue
        try:
            exchange, symbol = cols[0].decode(), cols[1].decode()
            if (exchange, symbol) not in good_names and check_name is not None:
                check_name("exchange", exchange)
                check_name("symbol", symbol)
                good_names.add((exchange, symbol))
            ts_ns, local_ns = _time_ns(cols[2], "timestamp"), _time_ns(cols[3], "local_timestamp")
            if kind is Kind.TRADES:
                side = {b"buy": 1, b"sell": -1}.get(cols[5])
                if side is None:
                    raise ValueError(f"side {cols[5].decode()!r} is not buy or sell")
                trade_id = _trade_id(cols[4])
                trade = Trade(ts_ns, local_ns, symbol, _price(cols[6]), _amount(cols[7]), side, trade_id)
                yield Decoded(exchange, symbol, trade)
            elif kind is Kind.QUOTES:
                ticker = BookTicker(
                    ts_ns,
                    local_ns,
                    symbol,
                    _level_price(cols[6]),
                    _amount(cols[7]),
                    _level_price(cols[5]),
                    _amount(cols[4]),
                )
                yield Decoded(exchange, symbol, ticker)
            elif kind is Kind.SNAPSHOT:
                levels = [(_level_price(cols[i]), _amount(cols[i + 1])) for i in range(4, width, 2)]
                asks = [lv for lv in levels[0::2] if lv[0] == lv[0]]
                bids = [lv for lv in levels[1::2] if lv[0] == lv[0]]
                snap = BookSnapshot(ts_ns, local_ns, symbol, bids, asks, 0, f"tardis_top{len(levels) // 2}")
                yield Decoded(exchange, symbol, snap)
            else:
                is_snapshot = SNAPSHOT_FLAGS.get(cols[4])
                if is_snapshot is None:
                    raise ValueError(f"is_snapshot {cols[4].decode()!r} is not true or false")
                if cols[5] not in (b"bid", b"ask"):
                    raise ValueError(f"side {cols[5].decode()!r} is not bid or ask")
                chain = chains.get((exchange, symbol))
                if chain is None:
                    chain = chains[(exchange, symbol)] = _L2Chain(exchange, symbol)
                level = (_price(cols[6]), _amount(cols[7]))
                yield from chain.add(ts_ns, local_ns, is_snapshot, cols[5] == b"bid", level)
        except (ValueError, UnicodeDecodeError) as exc:
            issues.skip(line_no, str(exc))
    if kind is None:
        raise CaptureError(f"{path}: empty file")
    for chain in chains.values():
        yield from chain.flush()
