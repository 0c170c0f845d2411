"""Binance's public trade archive (data.binance.vision): zip files of one CSV each, read column-wise.

    data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-08-08.zip  ->  BTCUSDT-trades-2024-08-08.csv
    3731051251,61837.63000000,0.00045000,27.82693350,1723075200000,True,True

Layouts (binance/binance-public-data README and its issues #20, #386; `HEADERS` below spells each
one as the files' header rows do): spot trades and aggTrades carry no header row; USD-M trades and
aggTrades have one in newer files only; USD-M bookTicker always has one.

Spot times are milliseconds until 2024-12-31 and microseconds from 2025-01-01 (the README's note,
issue #386); fx tells them apart by magnitude, per file, never by date. `isBuyerMaker` true means the
aggressor sold (side -1). An aggregate trade is stored as one trade: its id is the aggregate id, its
quantity the aggregate's (the sum of the trades it merges). The archive has no receive time: trades
get their exchange time, a book ticker its event time (when Binance published it).

Rows are parsed with polars over whole chunks of the CSV (no Python object per row). A row is
skipped, with its line number, when it has the wrong number of columns, a field does not parse, an id
is negative, a price is not a finite number > 0, a quantity not a finite number >= 0, a time lies
outside 2000..2100, or a trade id repeats or goes back; a jump in trade ids becomes an `import_hole`
Gap naming the missing ids, inside a file and across the files of one import.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, NamedTuple

from fxcli.exchange.binance import Market
from fxcli.exchange.captures.issues import EXAMPLES_KEPT, Issues
from fxcli.exchange.captures.limits import (
    EARLIEST_MS,
    EARLIEST_US,
    LATEST_MS,
    LATEST_US,
    WINDOW_TEXT,
)
from fxcli.exchange.captures.source import CaptureError, open_raw
from fxcli.model.events import GapReason

if TYPE_CHECKING:
    import polars as pl

CHUNK_BYTES = 32 << 20  # CSV text parsed at once: bounded memory on a multi-GB monthly file
ZIP_MAGIC = b"PK\x03\x04"


class Kind(StrEnum):
    """The archive's data types fx imports (its folder names)."""

    TRADES = "trades"
    AGG_TRADES = "aggTrades"
    BOOK_TICKER = "bookTicker"


MARKET_FOLDERS = {Market.SPOT: "spot", Market.USDM: "futures/um"}
MARKET_NAMES = {"spot": Market.SPOT, "usdm": Market.USDM}
CADENCES = ("daily", "monthly")

# (market, kind) -> the column names as Binance's newer files spell them in their header row.
HEADERS: dict[tuple[Market, Kind], tuple[str, ...]] = {
    (Market.SPOT, Kind.TRADES): (
        "id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match",
    ),
    (Market.SPOT, Kind.AGG_TRADES): (
        "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
        "is_buyer_maker", "is_best_match",
    ),
    (Market.USDM, Kind.TRADES): ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker"),
    (Market.USDM, Kind.AGG_TRADES): (
        "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
        "is_buyer_maker",
    ),
    (Market.USDM, Kind.BOOK_TICKER): (
        "update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty",
        "transaction_time", "event_time",
    ),
}  # fmt: skip

# Field positions per kind: (id, price, qty, time, is_buyer_maker) for trades and aggTrades.
TRADE_FIELDS = {Kind.TRADES: (0, 1, 2, 4, 5), Kind.AGG_TRADES: (0, 1, 2, 5, 6)}

_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]+)-(?P<kind>trades|aggTrades|bookTicker)-(?P<period>\d{4}-\d{2}(?:-\d{2})?)\.(?:zip|csv)$"
)


class ArchiveName(NamedTuple):
    """What an archive file name says: `BTCUSDT-trades-2024-08-08.zip` (a day) or `...-2024-08.zip`."""

    symbol: str
    kind: Kind
    period: str  # YYYY-MM-DD or YYYY-MM

    @property
    def first_day(self) -> date:
        """The first day the file covers."""
        return date.fromisoformat(self.period if len(self.period) == 10 else f"{self.period}-01")


def parse_name(name: str) -> ArchiveName | None:
    """The symbol, kind and period of an archive file name, or None if it is not one."""
    found = _NAME.match(name)
    if found is None:
        return None
    return ArchiveName(found["symbol"], Kind(found["kind"]), found["period"])


def market_of_path(path: Path) -> Market | None:
    """The market named by the archive's folders above a file (`data/spot/daily/...`,
    `data/futures/um/monthly/...`), as the cache and a mirror of the archive lay them out."""
    parts = PurePosixPath(path.resolve().as_posix()).parts
    for i in range(len(parts) - 2):
        if parts[i] == "spot" and parts[i + 1] in CADENCES:
            return Market.SPOT
        if parts[i : i + 2] == ("futures", "um") and parts[i + 2] in CADENCES:
            return Market.USDM
    return None


def archive_path(market: Market, kind: Kind, symbol: str, period: str) -> str:
    """The file's path under the archive's base URL (and under fx's cache folder)."""
    cadence = "daily" if len(period) == 10 else "monthly"
    folder = MARKET_FOLDERS[market]
    return f"data/{folder}/{cadence}/{kind.value}/{symbol}/{symbol}-{kind.value}-{period}.zip"


@dataclass(frozen=True)
class Layout:
    """How one file is read: its market and kind, whether line 1 is a header, and its width."""

    market: Market
    kind: Kind
    has_header: bool

    @property
    def width(self) -> int:
        """Columns per row."""
        return len(HEADERS[(self.market, self.kind)])


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text.strip()))


def _is_flag(text: str) -> bool:
    return text.strip().lower() in ("true", "false")


def sniff(first_line: str, where: str, name: ArchiveName | None, market: Market | None) -> Layout:
    """The layout of a file from its first line (and its name and market, when known).

    A header row names the layout outright; a data row is told apart by its width and where its
    true/false fields are. `market` is checked against what the columns say.
    """
    cells = [c.strip() for c in first_line.split(",")]
    header = not _is_number(cells[0])
    found: list[tuple[Market, Kind]]
    if header:
        names = tuple(c.lower() for c in cells)
        found = [key for key, cols in HEADERS.items() if cols == names]
        if not found:
            raise CaptureError(f"{where}:1: not a Binance archive header fx knows: {first_line[:100]!r}")
    else:
        flags = tuple(i for i, c in enumerate(cells) if _is_flag(c))
        found = [
            key for key, cols in HEADERS.items() if len(cols) == len(cells) and flags == _flag_positions(key)
        ]
        if not found:
            raise CaptureError(
                f"{where}:1: not a Binance archive row ({len(cells)} columns: {first_line[:100]!r})"
            )
    if name is not None:
        found = [key for key in found if key[1] is name.kind] or found
    if market is not None:
        mine = [key for key in found if key[0] is market]
        if not mine:
            said = ", ".join(f"{_market_word(m)} {k.value}" for m, k in found)
            raise CaptureError(f"{where}: the columns are {said}, not {_market_word(market)}")
        found = mine
    if name is not None and found[0][1] is not name.kind:
        raise CaptureError(
            f"{where}: the name says {name.kind.value} but the columns are {found[0][1].value}"
        )
    return Layout(found[0][0], found[0][1], header)


def _market_word(market: Market) -> str:
    return next(word for word, m in MARKET_NAMES.items() if m is market)


def _flag_positions(key: tuple[Market, Kind]) -> tuple[int, ...]:
    return tuple(i for i, col in enumerate(HEADERS[key]) if col.startswith("is_"))


def open_csv(path: Path) -> IO[bytes]:
    """The CSV inside an archive zip (exactly one member), or a plain CSV file; errors name the file."""
    return _open(path)[0]


def _open(path: Path) -> tuple[IO[bytes], float]:
    """The CSV stream, and on-disk bytes per CSV byte (for a progress bar counting the file's size)."""
    with open_raw(path) as probe:  # a missing, folder or forbidden path: its own one line
        magic = probe.read(4)
    try:
        if magic != ZIP_MAGIC:
            if path.suffix.lower() == ".zip":
                raise CaptureError(f"{path}: not a zip archive (starts with {magic!r})")
            return open_raw(path), 1.0
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1 or not members[0].filename.lower().endswith(".csv"):
            shown = ", ".join(m.filename for m in members[:3]) or "nothing"
            raise CaptureError(f"{path}: expected one CSV file in the zip, found {shown}")
        ratio = members[0].compress_size / max(1, members[0].file_size)
        return archive.open(members[0]), ratio
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise CaptureError(f"{path}: damaged zip ({exc})") from None


def check_whole(path: Path) -> None:
    """Read every byte of the file's CSV (a zip's CRC is checked at its end) or raise CaptureError."""
    with open_csv(path) as raw:
        try:
            while raw.read(1 << 22):
                pass
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise CaptureError(f"{path}: damaged zip ({exc})") from None


def first_line(path: Path) -> str:
    """The first non-empty line of the file's CSV."""
    with open_csv(path) as raw:
        try:
            head = raw.read(1 << 16)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise CaptureError(f"{path}: damaged zip ({exc})") from None
    for line in head.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line
    raise CaptureError(f"{path}: no data rows (empty CSV)")


def _chunks(raw: IO[bytes], where: str) -> Iterator[bytes]:
    """The CSV in pieces of whole lines."""
    pending = b""
    try:
        while block := raw.read(CHUNK_BYTES):
            block = pending + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                pending = block
                continue
            pending = block[cut:]
            yield block[:cut]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise CaptureError(f"{where}: damaged zip ({exc})") from None
    if pending:
        yield pending + b"\n"


class Frames(NamedTuple):
    """What one chunk gives: rows for one store table, and import_hole gaps (both may be empty)."""

    table: str  # "trades" or "book_ticker"
    rows: pl.DataFrame
    gaps: pl.DataFrame


@dataclass
class Continuity:
    """The last kept trade (id, exchange time) of one exchange/symbol, across chunks and files."""

    last_id: int | None = None
    last_ts_ns: int = 0


def read(
    path: Path,
    layout: Layout,
    issues: Issues,
    continuity: Continuity,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Frames]:
    """The rows of one archive file, chunk by chunk, as store frames; bad rows go to `issues`."""
    import polars as pl

    line_offset = 0
    unit_us: bool | None = None
    raw, ratio = _open(path)
    with raw:
        for chunk in _chunks(raw, str(path)):
            lines = _lines(chunk, line_offset)
            line_offset += chunk.count(b"\n")
            if progress is not None:
                progress(round(len(chunk) * ratio))
            if layout.has_header and lines.height and lines["line_no"][0] == 1:
                lines = lines.slice(1)
            fields, bad = _split(lines, layout.width)
            if unit_us is None and fields.height:
                unit_us = _is_microseconds(fields, layout)
            if layout.kind is Kind.BOOK_TICKER:
                rows, reasons = _book_ticker(fields, bool(unit_us))
                table = "book_ticker"
                gaps = _no_gaps()
            else:
                rows, reasons = _trades(fields, layout.kind, bool(unit_us))
                rows, reasons, gaps = _continuity(rows, reasons, continuity)
                table = "trades"
            _note(issues, pl.concat([bad, reasons]))
            yield Frames(table, rows, gaps)


def _lines(chunk: bytes, offset: int) -> pl.DataFrame:
    import polars as pl

    text = chunk.decode("utf-8", "replace")
    return (
        pl.DataFrame({"line": [text]})
        .select(pl.col("line").str.split("\n"))
        .explode("line")
        .with_row_index("line_no", offset=offset + 1)
        .with_columns(pl.col("line").str.strip_chars_end("\r"), pl.col("line_no").cast(pl.Int64))
        .filter(pl.col("line").str.strip_chars() != "")
    )


def _split(lines: pl.DataFrame, width: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(line_no, f0..fN) of rows with `width` fields, and (line_no, reason) of the others."""
    import polars as pl

    counted = lines.with_columns(n=pl.col("line").str.count_matches(",").cast(pl.Int64) + 1)
    ragged = counted.filter(pl.col("n") != width).select(
        "line_no", reason=pl.format("expected {} columns, got {}", pl.lit(width), pl.col("n"))
    )
    fields = (
        counted.filter(pl.col("n") == width)
        .select("line_no", pl.col("line").str.strip_chars().str.split_exact(",", width - 1).alias("f"))
        .unnest("f")
    )
    return fields.rename({f"field_{i}": f"f{i}" for i in range(width)}), ragged


def _is_microseconds(fields: pl.DataFrame, layout: Layout) -> bool:
    """Whether this file's times are microseconds: the median magnitude decides, for the whole file."""
    import polars as pl

    column = "f5" if layout.kind is Kind.BOOK_TICKER else f"f{TRADE_FIELDS[layout.kind][3]}"
    median = fields.select(pl.col(column).cast(pl.Int64, strict=False).median()).item()
    return median is not None and median >= LATEST_MS


def _time_ns(column: str, unit_us: bool) -> tuple[pl.Expr, pl.Expr]:
    """(exchange time in ns, why it is unusable or null) for a time column in the file's unit."""
    import polars as pl

    raw = pl.col(column).cast(pl.Int64, strict=False)
    low, high, unit = (EARLIEST_US, LATEST_US, "us") if unit_us else (EARLIEST_MS, LATEST_MS, "ms")
    problem = (
        pl.when(raw.is_null())
        .then(pl.format("time {} is not an integer", pl.col(column)))
        .when((raw < low) | (raw >= high))
        .then(pl.format("time {} " + unit + " is outside " + WINDOW_TEXT, raw))
    )
    return raw * (1_000 if unit_us else 1_000_000), problem


def _price(column: str, what: str) -> tuple[pl.Expr, pl.Expr]:
    import polars as pl

    value = pl.col(column).cast(pl.Float64, strict=False)
    bad = value.is_null() | ~value.is_finite() | (value <= 0)
    return value, pl.when(bad).then(pl.format(what + " {} is not a finite number > 0", pl.col(column)))


def _qty(column: str, what: str) -> tuple[pl.Expr, pl.Expr]:
    import polars as pl

    value = pl.col(column).cast(pl.Float64, strict=False)
    bad = value.is_null() | ~value.is_finite() | (value < 0)
    return value, pl.when(bad).then(pl.format(what + " {} is not a finite number >= 0", pl.col(column)))


def _id(column: str, what: str) -> tuple[pl.Expr, pl.Expr]:
    import polars as pl

    value = pl.col(column).cast(pl.Int64, strict=False)
    bad = value.is_null() | (value < 0)
    return value, pl.when(bad).then(pl.format(what + " {} is not an integer >= 0", pl.col(column)))


def _checked(
    fields: pl.DataFrame, parsed: dict[str, tuple[pl.Expr, pl.Expr]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Columns parsed, and (line_no, reason) of rows where any failed (the first reason is kept)."""
    import polars as pl

    reason = pl.coalesce([problem for _, problem in parsed.values()]).alias("reason")
    out = fields.select("line_no", *(value.alias(name) for name, (value, _) in parsed.items()), reason)
    return out.filter(pl.col("reason").is_null()).drop("reason"), out.filter(
        pl.col("reason").is_not_null()
    ).select("line_no", "reason")


def _trades(fields: pl.DataFrame, kind: Kind, unit_us: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    import polars as pl

    i_id, i_price, i_qty, i_time, i_maker = (f"f{i}" for i in TRADE_FIELDS[kind])
    maker = (
        pl.col(i_maker)
        .str.to_lowercase()
        .replace_strict({"true": -1, "false": 1}, default=None, return_dtype=pl.Int8)
    )
    good, bad = _checked(
        fields,
        {
            "trade_id": _id(i_id, "trade id"),
            "price": _price(i_price, "price"),
            "qty": _qty(i_qty, "qty"),
            "exchange_ts_ns": _time_ns(i_time, unit_us),
            "side": (
                maker,
                pl.when(maker.is_null()).then(
                    pl.format("is_buyer_maker {} is not true or false", pl.col(i_maker))
                ),
            ),
        },
    )
    rows = good.select(
        "line_no",
        "exchange_ts_ns",
        pl.col("exchange_ts_ns").alias("received_ts_ns"),
        "price",
        "qty",
        "side",
        "trade_id",
    )
    return rows, bad


def _book_ticker(fields: pl.DataFrame, unit_us: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    import polars as pl

    good, bad = _checked(
        fields,
        {
            "update_id": _id("f0", "update id"),
            "bid_price": _price("f1", "best bid price"),
            "bid_qty": _qty("f2", "best bid qty"),
            "ask_price": _price("f3", "best ask price"),
            "ask_qty": _qty("f4", "best ask qty"),
            "exchange_ts_ns": _time_ns("f5", unit_us),
            "received_ts_ns": _time_ns("f6", unit_us),
        },
    )
    rows = good.select(
        "exchange_ts_ns",
        "received_ts_ns",
        "bid_price",
        "bid_qty",
        "ask_price",
        "ask_qty",
        "update_id",
        ts_estimated=pl.lit(False),
    )
    return rows, bad


def _continuity(
    rows: pl.DataFrame, reasons: pl.DataFrame, state: Continuity
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Trades whose id repeats or goes back are skipped; a jump in ids becomes an import_hole Gap."""
    import polars as pl

    if rows.height == 0:
        return rows.drop("line_no"), reasons, _no_gaps()
    before = state.last_id if state.last_id is not None else -1
    marked = rows.with_columns(
        prev_max=pl.col("trade_id").cum_max().shift(1, fill_value=before).clip(lower_bound=before)
    )
    backwards = marked.filter(pl.col("trade_id") <= pl.col("prev_max")).select(
        "line_no", reason=pl.format("trade id {} repeats or goes back", pl.col("trade_id"))
    )
    kept = marked.filter(pl.col("trade_id") > pl.col("prev_max")).drop("prev_max")
    prev_id = pl.col("trade_id").shift(1, fill_value=state.last_id)
    prev_ts = pl.col("exchange_ts_ns").shift(1, fill_value=state.last_ts_ns)
    # Predecessors are taken among the kept rows only: a skipped repeat must not open a hole.
    holes = (
        kept.with_columns(p_id=prev_id, p_ts=prev_ts)
        .filter(pl.col("p_id").is_not_null() & (pl.col("trade_id") > pl.col("p_id") + 1))
        .select(
            start_ns=pl.col("p_ts"),
            end_ns=pl.col("exchange_ts_ns"),
            reason=pl.lit(GapReason.IMPORT_HOLE.value),
            detail=pl.format("trade ids {}..{} missing", pl.col("p_id") + 1, pl.col("trade_id") - 1),
            received_ts_ns=pl.lit(None, dtype=pl.Int64),
        )
    )
    if kept.height:
        state.last_id = int(kept["trade_id"][-1])
        state.last_ts_ns = int(kept["exchange_ts_ns"][-1])
    all_reasons = pl.concat([reasons, backwards]) if backwards.height else reasons
    return kept.drop("line_no"), all_reasons, holes


def _no_gaps() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(
        schema={
            "start_ns": pl.Int64,
            "end_ns": pl.Int64,
            "reason": pl.String,
            "detail": pl.String,
            "received_ts_ns": pl.Int64,
        }
    )


def _note(issues: Issues, reasons: pl.DataFrame) -> None:
    """Count skipped rows; keep the first examples in line order (Python touches only those)."""
    if reasons.height == 0:
        return
    ordered = reasons.sort("line_no")
    for line_no, reason in ordered.head(EXAMPLES_KEPT).iter_rows():
        issues.skip(int(line_no), str(reason))
    issues.skipped += max(0, ordered.height - EXAMPLES_KEPT)
