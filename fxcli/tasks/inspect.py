"""`fx inspect`: what is stored, per-hour coverage with gaps, data quality, and range queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fxcli.errors import NothingFoundError
from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot
from fxcli.model.units import NS_PER_HOUR, NS_PER_MS, NS_PER_S, parse_window
from fxcli.store import verify as store_verify
from fxcli.store.access import exchange_of, open_reader
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import Table
from fxcli.store.survey import folder_day_ns
from fxcli.store.verify import Report

if TYPE_CHECKING:
    import polars as pl

    Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

MAX_ROWS = 2**32 - 1  # polars counts rows in uint32: a larger limit is no limit


@dataclass
class TableSummary:
    """One exchange/symbol/table: hour files, rows, bytes and time range, from the manifests."""

    exchange: str
    symbol: str
    table: str
    files: int = 0
    rows: int = 0
    bytes: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None


@dataclass
class Overview:
    """What `fx inspect` shows: the tables, and the files a read would refuse."""

    tables: list[TableSummary]
    problems: list[str]  # one line per file, from sizes and mtimes only (verify hashes)


def overview(data_dir: Path) -> Overview:
    """Every stored exchange/symbol/table, summed from the manifests (files are not opened), and
    the files a read would refuse (missing, damaged by size, stray, unreadable)."""
    reader = open_reader(data_dir)
    summaries: dict[tuple[str, str, str], TableSummary] = {}
    hours: set[tuple[Path, str]] = set()  # an hour being appended to is one file and its parts
    for f in reader.files():
        key = (f.exchange, f.symbol, f.table.value)
        s = summaries.get(key) or summaries.setdefault(key, TableSummary(*key))
        hour = (f.path.parent, f.path.name[:2])
        s.files += hour not in hours
        hours.add(hour)
        s.rows += f.entry.rows
        s.bytes += f.entry.bytes
        if f.entry.first_ts_ns is not None:
            s.first_ts_ns = min(s.first_ts_ns or f.entry.first_ts_ns, f.entry.first_ts_ns)
        if f.entry.last_ts_ns is not None:
            s.last_ts_ns = max(s.last_ts_ns or f.entry.last_ts_ns, f.entry.last_ts_ns)
    problems = [p.finding.describe() for p in reader.problems()]
    return Overview([summaries[k] for k in sorted(summaries)], problems)


def verify(data_dir: Path, *, repair: bool = False) -> Report:
    """Every stored file hashed against its manifest (`fx inspect --verify`), without changing
    anything; with `repair`, what cannot be trusted is moved into a quarantine folder."""
    return store_verify.verify(open_reader(data_dir).layout.root, repair=repair)


@dataclass
class HourCoverage:
    """Rows per table in one UTC hour, and the gaps that touch it."""

    hour_ns: int
    rows: dict[str, int] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "trades 23.parquet missing": not nothing, a hole


@dataclass
class Coverage:
    """Per-hour coverage of one symbol, from its first to its last stored hour."""

    exchange: str
    symbol: str
    hours: list[HourCoverage]
    gaps: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)  # one line per file, as verify says it


def coverage(data_dir: Path, symbol: str, exchange: str | None) -> Coverage:
    """Rows per table for every hour between the first and last stored hour, with gaps and reasons."""
    reader = open_reader(data_dir)
    exchange = exchange_of(reader, symbol, exchange)
    by_hour: dict[int, HourCoverage] = {}
    for f in reader.files(exchange, symbol):
        if f.table is Table.GAPS:
            continue
        hour = f.entry.first_ts_ns - f.entry.first_ts_ns % NS_PER_HOUR if f.entry.first_ts_ns else None
        if hour is None:
            continue
        cell = by_hour.setdefault(hour, HourCoverage(hour))
        cell.rows[f.table.value] = cell.rows.get(f.table.value, 0) + f.entry.rows
    found = list(reader.problems(exchange, symbol))
    for p in found:
        day_ns = folder_day_ns(p.finding.path.parent)
        if p.finding.hour is not None and day_ns is not None:
            hour_ns = day_ns + p.finding.hour * NS_PER_HOUR
            cell = by_hour.setdefault(hour_ns, HourCoverage(hour_ns))
            cell.problems.append(f"{p.table.value} {p.finding.path.name} {p.finding.status.value}")
    gaps = reader.scan(exchange, symbol, Table.GAPS).collect().sort("start_ns").to_dicts()
    if by_hour:
        first, last = min(by_hour), max(by_hour)
        for hour in range(first, last + NS_PER_HOUR, NS_PER_HOUR):
            by_hour.setdefault(hour, HourCoverage(hour))
    for gap in gaps:
        for hour, cell in by_hour.items():
            if gap["start_ns"] < hour + NS_PER_HOUR and gap["end_ns"] >= hour:
                cell.gaps.append(gap)
    lines = [p.finding.describe() for p in found]
    return Coverage(exchange, symbol, [by_hour[h] for h in sorted(by_hour)], gaps, lines)


@dataclass
class Quality:
    """Data-quality findings for one symbol over a window; each field documents its rule."""

    exchange: str
    symbol: str
    window: tuple[int | None, int | None]
    trades: int = 0
    duplicate_trade_ids: int = 0  # trade ids seen more than once (extra copies counted)
    duplicate_rows: int = 0  # trades identical in every column (may be genuine repeated prints)
    trade_id_jumps: int = 0  # places where the next trade id is not previous + 1
    out_of_order: dict[str, int] = field(default_factory=dict)  # exchange time going back, in receive order
    price_outliers: list[dict[str, Any]] = field(default_factory=list)
    crossed_ticker: int = 0  # book_ticker rows with bid >= ask
    crossed_book: int = 0  # L2 book states (snapshot + deltas) with best bid >= best ask
    book_updates: int = 0
    book_breaks: int = 0  # deltas that did not continue the version chain
    skew_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # received - exchange
    silences: list[dict[str, Any]] = field(default_factory=list)  # longest stretches without a trade
    gaps: int = 0


def quality(
    data_dir: Path,
    symbol: str,
    exchange: str | None,
    start: str | None = None,
    end: str | None = None,
    *,
    outlier_pct: float = 2.0,
    silence_s: float = 60.0,
) -> Quality:
    """Duplicates, out-of-order rows, price outliers, crossed books, clock skew and silent stretches."""
    import polars as pl

    lo, hi = parse_window(start, end)
    reader = open_reader(data_dir)
    exchange = exchange_of(reader, symbol, exchange)
    q = Quality(exchange, symbol, (lo, hi))
    trades = reader.scan(exchange, symbol, Table.TRADES, lo, hi).collect()
    q.trades = trades.height
    if trades.height:
        ids = trades.get_column("trade_id").drop_nulls()
        q.duplicate_trade_ids = ids.len() - ids.n_unique()
        q.duplicate_rows = trades.height - trades.unique().height
        if ids.len() > 1:
            steps = ids.sort().diff().drop_nulls()
            q.trade_id_jumps = int((steps > 1).sum())
        # A price far from the centred rolling median of its neighbours is an outlier.
        med = trades.get_column("price").rolling_median(window_size=101, center=True, min_samples=1)
        dev = ((trades.get_column("price") / med) - 1.0).abs() * 100.0
        flagged = trades.with_columns(median=med, deviation_pct=dev).filter(
            pl.col("deviation_pct") > outlier_pct
        )
        q.price_outliers = (
            flagged.head(20).select("exchange_ts_ns", "price", "median", "deviation_pct").to_dicts()
        )
        times = trades.get_column("exchange_ts_ns")
        gaps_ns = times.diff().fill_null(0)
        long = trades.with_columns(silence_ns=gaps_ns).filter(
            pl.col("silence_ns") > int(silence_s * NS_PER_S)
        )
        q.silences = [
            {
                "from_ns": int(r["exchange_ts_ns"] - r["silence_ns"]),
                "to_ns": int(r["exchange_ts_ns"]),
                "seconds": r["silence_ns"] / NS_PER_S,
            }
            for r in long.sort("silence_ns", descending=True).head(10).to_dicts()
        ]
    found = trades.height
    for table in (Table.TRADES, Table.BOOK_DELTAS, Table.BOOK_TICKER, Table.BOOK_SNAPSHOTS):
        frame = (
            reader.scan(exchange, symbol, table, lo, hi).select("exchange_ts_ns", "received_ts_ns").collect()
        )
        found += frame.height
        if table in (Table.BOOK_TICKER, Table.BOOK_SNAPSHOTS):
            estimated = reader.scan(exchange, symbol, table, lo, hi).select("ts_estimated").collect()
            frame = frame.filter(~estimated.get_column("ts_estimated").fill_null(False))
        if table in (Table.BOOK_DELTAS, Table.BOOK_SNAPSHOTS):
            frame = frame.unique(maintain_order=True)  # one row per message, not per level
        if frame.height == 0:
            continue
        in_receive_order = frame.sort("received_ts_ns", maintain_order=True).get_column("exchange_ts_ns")
        q.out_of_order[table.value] = int((in_receive_order.diff().drop_nulls() < 0).sum())
        skew = ((pl.col("received_ts_ns") - pl.col("exchange_ts_ns")) / NS_PER_MS).cast(pl.Float64)
        stats = frame.select(median=skew.median(), p01=skew.quantile(0.01), p99=skew.quantile(0.99)).row(
            0, named=True
        )
        q.skew_ms[table.value] = {k: float(v) for k, v in stats.items()}
    if not found:
        raise NothingFoundError(f"no data for {symbol} on {exchange} in the window")
    ticker = reader.scan(exchange, symbol, Table.BOOK_TICKER, lo, hi).collect()
    q.crossed_ticker = ticker.filter(pl.col("bid_price") >= pl.col("ask_price")).height
    for _, result, ob in _book_states(reader, exchange, symbol, lo, hi):
        if result is Applied.GAP:
            q.book_breaks += 1
        elif result is Applied.APPLIED:
            q.book_updates += 1
            q.crossed_book += ob.is_crossed
    q.gaps = reader.scan(exchange, symbol, Table.GAPS, lo, hi).collect().height
    return q


def _head(frame: Frame, limit: int | None) -> Frame:
    """The first `limit` rows (all of them without a limit, or with one polars cannot count to)."""
    return frame if limit is None or limit > MAX_ROWS else frame.head(limit)


def trades(
    data_dir: Path, symbol: str, exchange: str | None, start: str | None, end: str | None, limit: int | None
) -> pl.DataFrame:
    """Stored trades in a time range, oldest first, with a readable time column."""
    import polars as pl

    lo, hi = parse_window(start, end)
    reader = open_reader(data_dir)
    exchange = exchange_of(reader, symbol, exchange)
    frame = _head(reader.scan(exchange, symbol, Table.TRADES, lo, hi), limit)
    out = frame.collect()
    if out.height == 0:
        raise NothingFoundError(f"no trades for {symbol} on {exchange} in the window")
    return out.with_columns(pl.from_epoch("exchange_ts_ns", time_unit="ns").alias("time")).select(
        "time", pl.exclude("time")
    )


def book(
    data_dir: Path,
    symbol: str,
    exchange: str | None,
    start: str | None,
    end: str | None,
    depth: int,
    limit: int | None,
) -> pl.DataFrame:
    """Top-`depth` levels after each L2 update in the window, rebuilt from the last snapshot before it.

    Falls back to stored best bid/ask (book_ticker) when the symbol has no L2 data.
    """
    import polars as pl

    lo, hi = parse_window(start, end)
    reader = open_reader(data_dir)
    exchange = exchange_of(reader, symbol, exchange)
    base = None
    if lo is not None:  # start from the last full snapshot at or before the window
        snaps = reader.scan(exchange, symbol, Table.BOOK_SNAPSHOTS, None, lo)
        full = snaps.filter(~pl.col("source").str.contains("top"))
        base = full.select(pl.col("exchange_ts_ns").max()).collect().item()
    rows: list[dict[str, Any]] = []
    for ts_ns, result, ob in _book_states(reader, exchange, symbol, base, hi):
        if result is not Applied.APPLIED or (lo is not None and ts_ns < lo):
            continue
        bids, asks = ob.top(depth)
        row: dict[str, Any] = {"exchange_ts_ns": ts_ns, "version": ob.version}
        for i in range(depth):
            row[f"bid{i}_price"], row[f"bid{i}_qty"] = bids[i] if i < len(bids) else (None, None)
            row[f"ask{i}_price"], row[f"ask{i}_qty"] = asks[i] if i < len(asks) else (None, None)
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    if rows:
        frame = pl.DataFrame(rows, infer_schema_length=None)
    else:
        frame = _head(reader.scan(exchange, symbol, Table.BOOK_TICKER, lo, hi), limit).collect()
    if frame.height == 0:
        raise NothingFoundError(f"no book data for {symbol} on {exchange} in the window")
    return frame.with_columns(pl.from_epoch("exchange_ts_ns", time_unit="ns").alias("time")).select(
        "time", pl.exclude("time")
    )


def _book_states(
    reader: StoreReader, exchange: str, symbol: str, start_ns: int | None, end_ns: int | None
) -> Iterator[tuple[int, Applied, OrderBook]]:
    """Replay full snapshots and deltas into one book: (time, what happened, the book after it)."""
    ob = OrderBook(symbol)
    for event in replay(
        reader, exchange, symbol, (Table.BOOK_SNAPSHOTS, Table.BOOK_DELTAS), start_ns, end_ns
    ):
        if isinstance(event, BookSnapshot):
            if event.is_full:
                ob.apply_snapshot(event)
                yield event.exchange_ts_ns, Applied.APPLIED, ob
        elif isinstance(event, BookDelta):
            yield event.exchange_ts_ns, ob.apply_delta(event), ob


def indicators(
    data_dir: Path,
    variants_dir: Path,
    symbol: str,
    exchange: str | None,
    start: str | None,
    end: str | None,
    names: list[str],
    limit: int | None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> pl.DataFrame:
    """Variant values in a time range, one column per variant (NaN while not warm becomes null).

    The computation of `fx variants compute`: one row per trade, or per event when a variant reads
    the book; rows before `start` are read for warm-up and not shown.
    """
    import polars as pl

    from fxcli.tasks.variants import compute_values, resolve

    variants = resolve(variants_dir, names)
    computed = compute_values(data_dir, variants, symbol, exchange, start, end, progress=progress)
    ts = computed.ts_ns[computed.first :]
    columns = {v.name: pl.Series(computed.window(v.name), dtype=pl.Float64).fill_nan(None) for v in variants}
    frame = _head(pl.DataFrame({"exchange_ts_ns": pl.Series(ts, dtype=pl.Int64), **columns}), limit)
    return frame.with_columns(pl.from_epoch("exchange_ts_ns", time_unit="ns").alias("time")).select(
        "time", pl.exclude("time")
    )
