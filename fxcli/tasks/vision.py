"""`fx import binance-vision`: files of Binance's public archive (data.binance.vision) into the store.

Every file is checked whole (its zip CRC, its layout) before the first row is written: one damaged
file means nothing is stored. Files of one symbol and kind are read in date order, so trade-id
continuity runs across them (a hole between two days is an `import_hole` Gap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fxcli.errors import FxError
from fxcli.exchange.binance import Market
from fxcli.exchange.captures import binance_vision as vision
from fxcli.exchange.captures.issues import Issues
from fxcli.store.layout import check_name
from fxcli.store.schema import Table
from fxcli.store.writer import StoreWriter, WriteBatch, ensure_writable
from fxcli.tasks.import_ import FileReport, ImportReport, _check_files, report_of
from fxcli.tasks.import_jobs import run_units

EVENT_NAMES = {"trades": "Trade", "book_ticker": "BookTicker"}


@dataclass(frozen=True)
class _Input:
    path: Path
    symbol: str
    layout: vision.Layout
    first_day: str  # sorts the files of one symbol and kind in date order

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.layout.market.value, self.symbol, self.layout.kind.value)


def market_named(name: str | None) -> Market | None:
    """`spot` or `usdm` as a Market; None for None; anything else is bad input."""
    if name is None:
        return None
    market = vision.MARKET_NAMES.get(name)
    if market is None:
        raise FxError(f"--market {name!r} is not one of {', '.join(vision.MARKET_NAMES)}")
    return market


def _inspect(path: Path, market: Market | None, symbol: str | None) -> _Input:
    """What one file is, from its name, its folders and its first line; its zip is read whole."""
    name = vision.parse_name(path.name)
    if name is None and (market is None or symbol is None):
        raise FxError(
            f"{path}: not an archive file name (SYMBOL-trades|aggTrades|bookTicker-DATE.zip): "
            "give --market and --symbol"
        )
    wanted = market or vision.market_of_path(path)
    layout = vision.sniff(vision.first_line(path), str(path), name, wanted)
    chosen = symbol or (name.symbol if name else "")
    if symbol and name and symbol != name.symbol:
        raise FxError(f"{path}: the name says symbol {name.symbol}, not --symbol {symbol}")
    try:
        check_name("symbol", chosen)
    except ValueError as exc:
        raise FxError(f"--symbol: {exc}") from None
    vision.check_whole(path)
    return _Input(path, chosen, layout, name.period if name else "")


def import_vision(
    paths: list[Path],
    data_dir: Path,
    *,
    market: str | None = None,
    symbol: str | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> ImportReport:
    """Import archive zips (or their CSVs); market, kind and symbol come from the file names.

    The files of one market, symbol and kind are one unit (read in date order, one trade-id chain);
    units import in parallel worker processes when `jobs > 1` (`import_jobs.run_units`)."""
    _check_files(paths)
    forced = market_named(market)
    chains: dict[tuple[str, str, str], list[_Input]] = {}
    for inp in sorted(
        (_inspect(p, forced, symbol) for p in paths), key=lambda i: (*i.key, i.first_day, str(i.path))
    ):
        chains.setdefault(inp.key, []).append(inp)
    ensure_writable(data_dir)
    units = [tuple(chain) for chain in chains.values()]
    sizes = [sum(inp.path.stat().st_size for inp in chain) for chain in units]
    return report_of(run_units(units, data_dir, import_chain, jobs=jobs, progress=progress, sizes=sizes))


def import_chain(
    chain: tuple[_Input, ...], writer: StoreWriter, progress: Callable[[int], None] | None
) -> list[FileReport]:
    """The files of one market, symbol and kind, in date order, through `writer` (one unit)."""
    reports: list[FileReport] = []
    continuity = vision.Continuity()
    for inp in chain:
        exchange = inp.layout.market.value
        issues = Issues(inp.path.name)
        report = FileReport(
            [str(inp.path)], f"binance-vision {inp.layout.kind.value}", exchange, issues=issues
        )
        report.symbols.add(inp.symbol)
        for frames in vision.read(inp.path, inp.layout, issues, continuity, progress):
            for table, frame in ((Table(frames.table), frames.rows), (Table.GAPS, frames.gaps)):
                if frame.height == 0:
                    continue
                writer.submit(WriteBatch(exchange, inp.symbol, table, frame), block=True)
                name = EVENT_NAMES.get(table.value, "Gap")
                report.events[name] = report.events.get(name, 0) + frame.height
        reports.append(report)
    return reports
