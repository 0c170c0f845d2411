"""tardis.dev CSV datasets: trades, incremental_book_L2, book_snapshot_N and quotes.

    exchange,symbol,timestamp,local_timestamp,id,side,price,amount
    bitmex,XBTUSD,1583020803145000,1583020803307160,ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf,sell,8531.5,2152

`timestamp` is the exchange time and `local_timestamp` the receive time, both in microseconds.
Incremental L2 carries no venue versions, so each update gets the next number of a chain that
starts at its snapshot; a snapshot arriving after updates means tardis reconnected (a `resync` Gap).
Non-numeric trade ids (BitMEX UUIDs) are not kept: `trade_id` is an integer column.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from fxcli.exchange.captures.issues import Issues
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


def _price(text: bytes) -> float:
    value = float(text) if text else float("nan")
    if value < 0 or value == float("inf"):
        raise ValueError(f"bad number {text.decode()!r}")
    return value


def _amount(text: bytes) -> float:
    return _price(text) if text else 0.0


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


def read(path: Path, issues: Issues, progress: Progress | None = None) -> Iterator[Decoded]:
    """Events of one tardis CSV file in file order; bad rows are counted in `issues`."""
    lines = numbered_lines(path, progress)
    kind: Kind | None = None
    width = 0
    chains: dict[tuple[str, str], _L2Chain] = {}
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
            ts_ns, local_ns = int(cols[2]) * NS_PER_US, int(cols[3]) * NS_PER_US
            if kind is Kind.TRADES:
                side = {b"buy": 1, b"sell": -1}.get(cols[5])
                if side is None:
                    raise ValueError(f"side {cols[5].decode()!r} is not buy or sell")
                trade_id = int(cols[4]) if cols[4].isdigit() else None
                trade = Trade(ts_ns, local_ns, symbol, _price(cols[6]), _amount(cols[7]), side, trade_id)
                yield Decoded(exchange, symbol, trade)
            elif kind is Kind.QUOTES:
                ticker = BookTicker(
                    ts_ns,
                    local_ns,
                    symbol,
                    _price(cols[6]),
                    _amount(cols[7]),
                    _price(cols[5]),
                    _amount(cols[4]),
                )
                yield Decoded(exchange, symbol, ticker)
            elif kind is Kind.SNAPSHOT:
                levels = [(_price(cols[i]), _amount(cols[i + 1])) for i in range(4, width, 2)]
                asks = [lv for lv in levels[0::2] if lv[0] == lv[0]]
                bids = [lv for lv in levels[1::2] if lv[0] == lv[0]]
                snap = BookSnapshot(ts_ns, local_ns, symbol, bids, asks, 0, f"tardis_top{len(levels) // 2}")
                yield Decoded(exchange, symbol, snap)
            else:
                if cols[5] not in (b"bid", b"ask"):
                    raise ValueError(f"side {cols[5].decode()!r} is not bid or ask")
                chain = chains.get((exchange, symbol))
                if chain is None:
                    chain = chains[(exchange, symbol)] = _L2Chain(exchange, symbol)
                level = (_price(cols[6]), _amount(cols[7]))
                yield from chain.add(ts_ns, local_ns, cols[4] == b"true", cols[5] == b"bid", level)
        except (ValueError, UnicodeDecodeError) as exc:
            issues.skip(line_no, str(exc))
    if kind is None:
        raise CaptureError(f"{path}: empty file")
    for chain in chains.values():
        yield from chain.flush()
