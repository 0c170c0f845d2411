"""Binance captures (any reader's `Record`s) to fx events, with Binance's continuity rules.

Per symbol: depth diffs go through `BookSync` (buffered until their REST snapshot, which in real
captures often arrives after the diff that bridges it); trade ids must run on by one, and a jump
becomes an `import_hole` Gap. Frames without a venue time (spot bookTicker, spot REST snapshots)
get the receive time shifted by the capture's median receive-minus-exchange skew, and are marked.
A snapshot with an estimated time is held back until the diff that bridges it is applied, and then
placed 1 ns before that diff, so a replay in exchange-time order rebuilds the same book.
A frame whose symbol the store cannot hold as a folder name (`check_name`) is a skipped line.

Consecutive files of one capture go through ONE `BinanceCapture` (`begin` starts the next file):
the book follows its version chain across the file boundary and trade ids must run on, exactly as
if the files were one. Where the previous file is already stored, `tails` (a `StoredTails`) gives
the stored book and last trade just before a symbol's first diff and first trade, and the chain goes
on from there; a first diff that does not continue it is a version jump like any other (a Gap from
the stored book's time until the next snapshot), a trade id jump an `import_hole` Gap naming the ids.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from typing import Protocol

from fxcli.exchange.binance import DecodeError, IgnoredStreamError, Market, decode_snapshot, decode_stream
from fxcli.exchange.captures.issues import Issues
from fxcli.exchange.captures.limits import NameCheck
from fxcli.exchange.captures.source import Decoded, Record
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Event, Gap, GapReason, Trade
from fxcli.model.sync import BookSync

SKEW_SAMPLES = 2_000


class StoredTails(Protocol):
    """What the store holds of a symbol just before a capture's first diff or trade of it."""

    def book(self, symbol: str, first: BookDelta) -> BookSnapshot | None:
        """The stored book that `first` would continue (its version below `first`), or None."""
        ...

    def last_trade(self, symbol: str, first: Trade) -> Trade | None:
        """The stored trade with the highest id below `first`'s, or None."""
        ...


def estimate_skew_ns(records: Iterable[Record], market: Market) -> int:
    """Median of received - exchange time over the first frames that carry a venue time."""
    samples: list[int] = []
    for record in records:
        if record.kind != "stream":
            continue
        try:
            event = decode_stream(record.payload, record.received_ts_ns, market)
        except (DecodeError, IgnoredStreamError):
            continue
        if event.exchange_ts_ns:
            samples.append(record.received_ts_ns - event.exchange_ts_ns)
        if len(samples) >= SKEW_SAMPLES:
            break
    return int(statistics.median(samples)) if samples else 0


class BinanceCapture:
    """Turns the records of one capture into events; collects what it skipped in `issues`."""

    def __init__(
        self,
        market: Market,
        issues: Issues,
        *,
        skew_ns: int = 0,
        symbol: str | None = None,
        check_name: NameCheck | None = None,
        tails: StoredTails | None = None,
    ) -> None:
        self.market = market
        self.exchange = market.value
        self.issues = issues
        self.skew_ns = skew_ns
        self.default_symbol = symbol
        self.syncs: dict[str, BookSync] = {}
        self._last_trade: dict[str, Trade] = {}
        self._held: dict[str, BookSnapshot] = {}
        self._last_ts_ns = 0
        self._check_name = check_name
        self._good_names: set[str] = set()
        self._tails = tails
        self.last_received_ns = 0  # of the newest record fed: where the next file must start

    def begin(self, issues: Issues) -> None:
        """The next file of the same capture: its skipped lines go to `issues`; the books, trade ids
        and the skew go on from the previous file."""
        self.issues = issues

    def _sync(self, symbol: str) -> BookSync:
        sync = self.syncs.get(symbol)
        if sync is None:
            sync = self.syncs[symbol] = BookSync(symbol)
        return sync

    def feed(self, records: Iterable[Record]) -> Iterator[Decoded]:
        """Events of every record, in order; bad records are counted, never raised."""
        for record in records:
            if record.received_ts_ns > self.last_received_ns:
                self.last_received_ns = record.received_ts_ns
            if record.kind == "error":
                self.issues.skip(record.line_no, record.payload.decode())
                continue
            try:
                if record.kind == "snapshot":
                    yield from self._snapshot(record)
                else:
                    yield from self._stream(record)
            except IgnoredStreamError as kind:
                self.issues.ignore(str(kind))
            except DecodeError as exc:
                self.issues.skip(record.line_no, str(exc))

    def finish(self) -> Iterator[Decoded]:
        """Held snapshots, and gaps for book chains still broken when the capture ends."""
        for symbol, held in self._held.items():
            yield Decoded(self.exchange, symbol, held, ts_estimated=True)
        self._held.clear()
        for symbol, sync in self.syncs.items():
            for gap in sync.finish(self._last_ts_ns):
                yield Decoded(self.exchange, symbol, gap)

    def _check_symbol(self, symbol: str) -> None:
        """Raise DecodeError if the store cannot hold `symbol`; callers skip names already in
        `_good_names` (an inline set lookup: this runs once per frame)."""
        if self._check_name is not None:
            try:
                self._check_name("symbol", symbol)
            except ValueError as exc:
                raise DecodeError(str(exc)) from None
        self._good_names.add(symbol)

    def _stream(self, record: Record) -> Iterator[Decoded]:
        event = decode_stream(record.payload, record.received_ts_ns, self.market)
        if event.symbol not in self._good_names:
            self._check_symbol(event.symbol)
        if isinstance(event, BookTicker):
            if event.exchange_ts_ns:
                yield Decoded(self.exchange, event.symbol, event)
            else:
                yield Decoded(
                    self.exchange,
                    event.symbol,
                    BookTicker(
                        exchange_ts_ns=record.received_ts_ns - self.skew_ns,
                        received_ts_ns=event.received_ts_ns,
                        symbol=event.symbol,
                        bid_price=event.bid_price,
                        bid_qty=event.bid_qty,
                        ask_price=event.ask_price,
                        ask_qty=event.ask_qty,
                        update_id=event.update_id,
                    ),
                    ts_estimated=True,
                )
            return
        self._last_ts_ns = max(self._last_ts_ns, event.exchange_ts_ns)
        if isinstance(event, Trade):
            yield from self._trade(event, record)
            return
        assert isinstance(event, BookDelta)
        sync = self.syncs.get(event.symbol)
        if sync is None:
            sync = self._sync(event.symbol)
            stored = self._tails.book(event.symbol, event) if self._tails is not None else None
            if stored is not None:
                sync.resume(stored)
                self._last_ts_ns = max(self._last_ts_ns, stored.exchange_ts_ns)
        yield from self._emit(event.symbol, sync.on_delta(event))

    def _emit(self, symbol: str, events: list[Event]) -> Iterator[Decoded]:
        for out in events:
            if isinstance(out, BookSnapshot) and out.exchange_ts_ns == 0:
                self._held[symbol] = out
                continue
            held = self._held.pop(symbol, None)
            if held is not None:
                estimate = held.received_ts_ns - self.skew_ns
                if isinstance(out, BookDelta):
                    estimate = min(estimate, out.exchange_ts_ns - 1)
                yield Decoded(self.exchange, symbol, _retimed(held, estimate), ts_estimated=True)
            yield Decoded(self.exchange, symbol, out)

    def _trade(self, trade: Trade, record: Record) -> Iterator[Decoded]:
        last = self._last_trade.get(trade.symbol)
        if last is None and self._tails is not None:
            last = self._tails.last_trade(trade.symbol, trade)
        if last is not None and last.trade_id is not None and trade.trade_id is not None:
            if trade.trade_id <= last.trade_id:
                self.issues.skip(record.line_no, f"trade id {trade.trade_id} repeats or goes back")
                return
            if trade.trade_id > last.trade_id + 1:
                yield Decoded(
                    self.exchange,
                    trade.symbol,
                    Gap(
                        trade.symbol,
                        last.exchange_ts_ns,
                        trade.exchange_ts_ns,
                        GapReason.IMPORT_HOLE,
                        f"trade ids {last.trade_id + 1}..{trade.trade_id - 1} missing",
                    ),
                )
        self._last_trade[trade.symbol] = trade
        yield Decoded(self.exchange, trade.symbol, trade)

    def _snapshot(self, record: Record) -> Iterator[Decoded]:
        symbol = record.symbol or self.default_symbol or self._only_symbol()
        if symbol is None:
            raise DecodeError("depth snapshot before any frame names its symbol")
        if symbol not in self._good_names:
            self._check_symbol(symbol)
        snapshot = decode_snapshot(record.payload, record.received_ts_ns, symbol, self.market)
        yield from self._emit(symbol, self._sync(symbol).on_snapshot(snapshot))

    def _only_symbol(self) -> str | None:
        names = set(self.syncs) | set(self._last_trade)
        return next(iter(names)) if len(names) == 1 else None


def _retimed(snapshot: BookSnapshot, exchange_ts_ns: int) -> BookSnapshot:
    return BookSnapshot(
        exchange_ts_ns=exchange_ts_ns,
        received_ts_ns=snapshot.received_ts_ns,
        symbol=snapshot.symbol,
        bids=snapshot.bids,
        asks=snapshot.asks,
        version=snapshot.version,
        source=snapshot.source,
    )
