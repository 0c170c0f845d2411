"""`fx import`: public captures into the store, idempotently, with every skipped line accounted for."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fxcli.errors import FxError
from fxcli.exchange.binance import Market, detect_market
from fxcli.exchange.binance_capture import BinanceCapture, estimate_skew_ns
from fxcli.exchange.captures import cryptofeed, hftbacktest, tardis
from fxcli.exchange.captures.issues import Issues
from fxcli.exchange.captures.source import CaptureError, Decoded, Progress, Record, first_line, first_lines
from fxcli.store.layout import check_name
from fxcli.store.rows import TableRows
from fxcli.store.writer import StoreWriter, WriteBatch, ensure_writable

# Rows held in memory before a batch goes to the writer; flushed only between distinct receive times,
# so rows of one message never straddle two batches (the writer's multiset merge relies on it).
CHUNK_ROWS = 500_000
SNIFF_RECORDS = 3_000


@dataclass
class FileReport:
    """What one input (a file, or a cryptofeed ws+http pair) gave."""

    files: list[str]
    format: str
    exchange: str = ""
    symbols: set[str] = field(default_factory=set)
    events: dict[str, int] = field(default_factory=dict)
    issues: Issues = field(default_factory=lambda: Issues(""))
    deltas_dropped: int = 0  # stale before their snapshot, or unusable (a Gap row says which)


@dataclass
class ImportReport:
    """The outcome of one `fx import` run."""

    inputs: list[FileReport]
    rows_in: int = 0
    rows_added: int = 0
    files_written: int = 0
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        """Lines not imported because they were damaged or unknown."""
        return sum(r.issues.skipped for r in self.inputs)


@dataclass(frozen=True)
class _Input:
    files: list[Path]
    format: str
    market: Market | None = None


class _Batcher:
    """Buffers decoded events per exchange/symbol and hands chunks to the writer."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self.rows: dict[tuple[str, str], TableRows] = {}
        self.buffered = 0
        self.last_received = -1

    def add(self, item: Decoded, report: FileReport) -> None:
        received = getattr(item.event, "received_ts_ns", -1)
        if self.buffered >= CHUNK_ROWS and received != self.last_received:
            self.flush()
        self.last_received = received
        rows = self.rows.get((item.exchange, item.symbol))
        if rows is None:
            rows = self.rows[(item.exchange, item.symbol)] = TableRows()
        before = rows.rows
        rows.add(item.event, ts_estimated=item.ts_estimated)
        self.buffered += rows.rows - before
        name = type(item.event).__name__
        report.events[name] = report.events.get(name, 0) + 1
        report.symbols.add(item.symbol)
        report.exchange = item.exchange

    def flush(self) -> None:
        for (exchange, symbol), rows in self.rows.items():
            for table, frame in rows.take():
                self.writer.submit(WriteBatch(exchange, symbol, table, frame), block=True)
        self.buffered = 0


def _sniff_binance(path: Path) -> str:
    line = first_line(path)
    if hftbacktest.looks_like(line):
        return "hftbacktest"
    if cryptofeed.looks_like(line):
        return "cryptofeed"
    shown = line[:60].decode("utf-8", "replace")
    raise CaptureError(
        f"{path}:1: not a Binance capture (expected '<local_ts_ns> <json>' lines or cryptofeed's "
        f"format), got {shown!r}"
    )


def _records(inp: _Input, progress: Callable[[int], None] | None) -> Iterator[Record]:
    reader = hftbacktest.read if inp.format == "hftbacktest" else cryptofeed.read
    streams = [reader(f, _increments(progress)) for f in inp.files]
    if len(streams) == 1:
        return streams[0]
    # A cryptofeed ws file and its REST snapshots: one stream in receive order.
    return heapq.merge(*streams, key=lambda r: r.received_ts_ns)


def _market(inp: _Input, override: Market | None) -> Market:
    if override is not None:
        return override
    if inp.market is not None:
        return inp.market
    seen: Market | None = None
    for record in itertools.islice(_records(inp, None), SNIFF_RECORDS):
        guess = detect_market(record.payload) if record.kind == "stream" else None
        if guess is not None and guess is not Market.SPOT:
            return guess
        seen = seen or guess
    return seen or Market.SPOT


def _binance_inputs(paths: Iterable[Path]) -> list[_Input]:
    inputs: list[_Input] = []
    claimed: set[Path] = set()
    for path in paths:
        if path.resolve() in claimed:
            continue
        fmt = _sniff_binance(path)
        if fmt == "hftbacktest":
            inputs.append(_Input([path], fmt))
            claimed.add(path.resolve())
            continue
        group = [path, *(s for s in cryptofeed.siblings(path) if s.resolve() not in claimed)]
        group = [g for g in group if ".ws." in g.name or ".http." in g.name] or [path]
        claimed.update(g.resolve() for g in group)
        inputs.append(_Input(sorted(group), fmt, cryptofeed.venue(path)))
    for inp in inputs:
        # Lazy readers: this reads up to the first data line, not the file.
        if next(_records(inp, None), None) is None:
            names = ", ".join(str(f) for f in inp.files)
            raise CaptureError(f"{names}: no data rows (no stream frames or depth snapshots)")
    return inputs


def _check_files(paths: list[Path]) -> None:
    if not paths:
        raise FxError("no input files given")
    for path in paths:
        if not path.exists():
            raise FxError(f"{path}: no such file")
        if not path.is_file():
            raise FxError(f"{path}: not a file")


def import_binance(
    paths: list[Path],
    data_dir: Path,
    *,
    exchange: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import Binance raw captures (hftbacktest `<ns> <json>` lines or cryptofeed files)."""
    _check_files(paths)
    override = _market_named(exchange)
    inputs = _binance_inputs(paths)
    ensure_writable(data_dir)
    started = time.perf_counter()
    reports: list[FileReport] = []
    with StoreWriter(data_dir) as writer:
        batcher = _Batcher(writer)
        for inp in inputs:
            market = _market(inp, override)
            issues = Issues(", ".join(f.name for f in inp.files))
            report = FileReport([str(f) for f in inp.files], inp.format, market.value, issues=issues)
            skew_ns = estimate_skew_ns(_records(inp, None), market)
            capture = BinanceCapture(market, issues, skew_ns=skew_ns, check_name=check_name)
            for item in capture.feed(_records(inp, progress)):
                batcher.add(item, report)
            for item in capture.finish():
                batcher.add(item, report)
            report.deltas_dropped = sum(sync.dropped for sync in capture.syncs.values())
            batcher.flush()  # each input's rows reach disk as soon as it is read
            reports.append(report)
    return _finish(reports, writer, started)


def import_tardis(
    paths: list[Path], data_dir: Path, *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import tardis.dev CSV files (trades, incremental_book_L2, book_snapshot_N, quotes)."""
    _check_files(paths)
    for path in paths:
        line = first_line(path)
        if not tardis.looks_like(line) or tardis.kind_of(line) is None:
            shown = line[:60].decode("utf-8", "replace")
            raise CaptureError(f"{path}:1: not a tardis CSV fx imports (header {shown!r})")
        if len(first_lines(path, 2)) < 2:
            raise CaptureError(f"{path}: no data rows (only the header)")
    ensure_writable(data_dir)
    started = time.perf_counter()
    reports: list[FileReport] = []
    with StoreWriter(data_dir) as writer:
        batcher = _Batcher(writer)
        for path in paths:
            issues = Issues(path.name)
            report = FileReport([str(path)], "tardis", issues=issues)
            for item in tardis.read(path, issues, _increments(progress), check_name=check_name):
                batcher.add(item, report)
            batcher.flush()
            reports.append(report)
    return _finish(reports, writer, started)


def _increments(sink: Callable[[int], None] | None) -> Progress | None:
    """Turn one reader's absolute byte positions into increments for a shared progress bar."""
    if sink is None:
        return None
    last = 0

    def report(position: int) -> None:
        nonlocal last
        if position > last:
            sink(position - last)
            last = position

    return report


def _market_named(name: str | None) -> Market | None:
    if name is None:
        return None
    try:
        return Market(name)
    except ValueError:
        choices = ", ".join(m.value for m in Market)
        raise FxError(f"--exchange {name!r} is not one of {choices}") from None


def _finish(reports: list[FileReport], writer: StoreWriter, started: float) -> ImportReport:
    stats = writer.stats
    return ImportReport(
        inputs=reports,
        rows_in=stats.rows_in,
        rows_added=stats.rows_added,
        files_written=stats.files_written,
        seconds=time.perf_counter() - started,
    )
