"""`fx import`: public captures into the store, idempotently, with every skipped line accounted for.

Binance inputs are planned into chains before anything is read in full: inputs of one market whose
first frames name a common symbol form one chain, read in the order of their first receive time
(whatever the order on the command line) through one `BinanceCapture`, so a file that starts where
the previous one ended (within `JOIN_WINDOW_NS`, not before it) continues its book and trade ids. A
file that overlaps the previous one, or starts long after it, begins a capture of its own, as a
lone file would. Chains are independent: with `jobs > 1` they import in parallel worker processes
(import_jobs.py) and the store is the one a one-at-a-time import gives.
"""

from __future__ import annotations

import heapq
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fxcli.errors import FxError
from fxcli.exchange.binance import DecodeError, IgnoredStreamError, Market, decode_stream, detect_market
from fxcli.exchange.binance_capture import BinanceCapture, estimate_skew_ns
from fxcli.exchange.captures import cryptofeed, hftbacktest, tardis
from fxcli.exchange.captures.issues import Issues
from fxcli.exchange.captures.source import CaptureError, Decoded, Progress, Record, first_line, first_lines
from fxcli.store.layout import check_name
from fxcli.store.rows import TableRows
from fxcli.store.writer import StoreWriter, WriteBatch, ensure_writable
from fxcli.tasks.import_jobs import UnitsResult, run_units
from fxcli.tasks.import_tails import JOIN_WINDOW_NS, StoreTails

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


@dataclass(frozen=True)
class _Planned:
    """An input with what its first frames tell: market, first receive time, symbols named."""

    inp: _Input
    market: Market
    first_ns: int
    symbols: frozenset[str]


@dataclass(frozen=True)
class Chain:
    """Inputs of one market that may continue each other (they share a symbol), in receive order."""

    market: Market
    inputs: tuple[_Planned, ...]
    symbols: frozenset[str]


def default_jobs() -> int:
    """Worker processes when `--jobs` is not given: one per core."""
    return os.cpu_count() or 1


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
    jobs: int = 1,
) -> ImportReport:
    """Import Binance raw captures (hftbacktest `<ns> <json>` lines or cryptofeed files)."""
    _check_files(paths)
    override = _market_named(exchange)
    chains = plan_chains(_binance_inputs(paths), override)
    ensure_writable(data_dir)
    sizes = [sum(f.stat().st_size for p in c.inputs for f in p.inp.files) for c in chains]
    return report_of(run_units(chains, data_dir, import_chain, jobs=jobs, progress=progress, sizes=sizes))


def plan_chains(inputs: list[_Input], override: Market | None) -> list[Chain]:
    """Group inputs into chains: one market, linked by a symbol their first frames name (an input
    naming none is a chain of its own); chains keep the order of their first input's position."""
    planned = [_plan(inp, override) for inp in inputs]
    owner = list(range(len(planned)))  # union-find over inputs

    def root(i: int) -> int:
        while owner[i] != i:
            owner[i] = owner[owner[i]]
            i = owner[i]
        return i

    first_of: dict[tuple[Market, str], int] = {}
    for i, item in enumerate(planned):
        for symbol in item.symbols:
            j = first_of.setdefault((item.market, symbol), i)
            owner[root(i)] = root(j)
    groups: dict[int, list[_Planned]] = {}
    for i, item in enumerate(planned):
        groups.setdefault(root(i), []).append(item)
    chains = []
    for members in groups.values():
        ordered = tuple(sorted(members, key=lambda m: (m.first_ns, [str(f) for f in m.inp.files])))
        chains.append(Chain(members[0].market, ordered, frozenset().union(*(m.symbols for m in members))))
    return chains


def _plan(inp: _Input, override: Market | None) -> _Planned:
    market = _market(inp, override)
    first_ns = 0
    symbols: set[str] = set()
    for record in itertools.islice(_records(inp, None), SNIFF_RECORDS):
        if record.kind == "error":
            continue
        first_ns = first_ns or record.received_ts_ns
        if record.symbol is not None:
            symbols.add(record.symbol)
        elif record.kind == "stream":
            try:
                symbols.add(decode_stream(record.payload, record.received_ts_ns, market).symbol)
            except (DecodeError, IgnoredStreamError):
                continue
    return _Planned(inp, market, first_ns, frozenset(symbols))


def import_chain(
    chain: Chain, writer: StoreWriter, progress: Callable[[int], None] | None
) -> list[FileReport]:
    """Import one chain's inputs in order through one capture while each starts where the previous
    one ended; the stored end of the chain's symbols (import_tails.py) is where a capture goes on."""
    batcher = _Batcher(writer)
    tails = StoreTails(writer.layout.root, chain.market.value, chain.symbols)
    reports: list[FileReport] = []
    capture: BinanceCapture | None = None
    for n, planned in enumerate(chain.inputs):
        inp = planned.inp
        issues = Issues(", ".join(f.name for f in inp.files))
        report = FileReport([str(f) for f in inp.files], inp.format, chain.market.value, issues=issues)
        if capture is not None and _continues(capture, planned):
            capture.begin(issues)
        else:
            if capture is not None:
                _end_capture(capture, batcher, reports[-1])
                writer.drain()  # the next capture's look at the stored tail sees these rows
            skew_ns = tails.skew_ns(planned.first_ns)
            if skew_ns is None:
                # The skew of a capture, not of a file: its samples run on into the files after.
                later = (r for p in chain.inputs[n:] for r in _records(p.inp, None))
                skew_ns = estimate_skew_ns(later, chain.market)
            capture = BinanceCapture(
                chain.market, issues, skew_ns=skew_ns, check_name=check_name, tails=tails
            )
        dropped = _dropped(capture)
        for item in capture.feed(_records(inp, progress)):
            batcher.add(item, report)
        report.deltas_dropped = _dropped(capture) - dropped
        batcher.flush()  # each input's rows reach disk as soon as it is read
        reports.append(report)
    if capture is not None:
        _end_capture(capture, batcher, reports[-1])
    return reports


def _continues(capture: BinanceCapture, planned: _Planned) -> bool:
    """The next file starts where the capture's last one ended: not before (an overlapping file is
    another recording of the same time) and not long after (another session)."""
    last = capture.last_received_ns
    return last <= planned.first_ns <= last + JOIN_WINDOW_NS


def _dropped(capture: BinanceCapture) -> int:
    return sum(sync.dropped for sync in capture.syncs.values())


def _end_capture(capture: BinanceCapture, batcher: _Batcher, report: FileReport) -> None:
    """The end of a capture: held snapshots and gaps of chains still broken, in its last report."""
    dropped = _dropped(capture)
    for item in capture.finish():
        batcher.add(item, report)
    report.deltas_dropped += _dropped(capture) - dropped
    batcher.flush()


def import_tardis(
    paths: list[Path],
    data_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
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
    sizes = [p.stat().st_size for p in paths]
    return report_of(
        run_units(paths, data_dir, import_tardis_file, jobs=jobs, progress=progress, sizes=sizes)
    )


def import_tardis_file(
    path: Path, writer: StoreWriter, progress: Callable[[int], None] | None
) -> list[FileReport]:
    """One tardis CSV file through `writer` (files never continue each other: each is a unit)."""
    batcher = _Batcher(writer)
    issues = Issues(path.name)
    report = FileReport([str(path)], "tardis", issues=issues)
    for item in tardis.read(path, issues, _increments(progress), check_name=check_name):
        batcher.add(item, report)
    batcher.flush()
    return [report]


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


def report_of(result: UnitsResult[FileReport]) -> ImportReport:
    """One report of an import that ran as units (`run_units`)."""
    reports, stats, seconds = result.reports, result.stats, result.seconds
    return ImportReport(
        inputs=reports,
        rows_in=stats.rows_in,
        rows_added=stats.rows_added,
        files_written=stats.files_written,
        seconds=seconds,
    )
