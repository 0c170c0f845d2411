"""`fx download binance-vision`: archive files for a date range into the cache, verified, then imported.

Every file is fetched and verified before the first row is imported: a file that fails (checksum,
not a zip, a server that keeps failing) stops the command with the store unchanged. Days the archive
does not have are listed; what exists is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from fxcli.errors import FxError
from fxcli.exchange.captures.binance_vision import Kind
from fxcli.exchange.vision_archive import (
    DEFAULT_BASE_URL,
    ArchiveClient,
    ArchiveFile,
    Fetched,
    Progress,
    Status,
    plan,
)
from fxcli.store.layout import check_name
from fxcli.store.writer import ensure_writable
from fxcli.tasks.import_ import ImportReport
from fxcli.tasks.vision import import_vision, market_named

MAX_DAYS = 366 * 10  # a range longer than the archive's history is a typo


@dataclass
class DownloadReport:
    """The outcome of one `fx download` run."""

    files: list[Fetched] = field(default_factory=list)
    imported: ImportReport | None = None

    @property
    def missing(self) -> list[Fetched]:
        """Files the archive does not have (404)."""
        return [f for f in self.files if f.status is Status.MISSING]


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/fx/binance-vision, else ~/.cache/fx/binance-vision."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fx" / "binance-vision"


def parse_day(text: str, option: str) -> date:
    """A YYYY-MM-DD option value as a date, or bad input naming the option."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day(text, option)
    except ValueError:
        return _bad_day(text, option)


def _bad_day(text: str, option: str) -> date:
    raise FxError(f"{option} {text!r} is not a date YYYY-MM-DD")


def _symbols(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        for piece in name.split(","):
            symbol = piece.strip().upper()
            if not symbol.isalnum() or not symbol.isascii():
                raise FxError(
                    f"--symbol {piece!r} is not a Binance symbol (letters and digits, e.g. BTCUSDT)"
                )
            check_name("symbol", symbol)
            if symbol not in out:
                out.append(symbol)
    if not out:
        raise FxError("--symbol: give at least one symbol")
    return out


def download_vision(
    symbols: list[str],
    start: str,
    end: str,
    *,
    market: str,
    kind: str,
    data_dir: Path,
    base_url: str | None,
    cache_dir: Path | None,
    do_import: bool = True,
    timeout_s: float = 30.0,
    retries: int = 3,
    proxy: str | None = None,
    progress: Progress | None = None,
    today: date | None = None,
    jobs: int = 1,
) -> DownloadReport:
    """Fetch (or find in the cache) every file of `symbols` for `start..end`, then import them."""
    names = _symbols(symbols)
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if last < first:
        raise FxError(f"--to {end} is before --from {start}")
    if (last - first).days >= MAX_DAYS:
        raise FxError(f"--from {start} --to {end}: more than {MAX_DAYS} days")
    chosen = market_named(market)
    assert chosen is not None
    try:
        what = Kind(kind)
    except ValueError:
        raise FxError(f"--kind {kind!r} is not one of {', '.join(k.value for k in Kind)}") from None
    if what is Kind.BOOK_TICKER and market != "usdm":
        raise FxError("--kind bookTicker: the archive has book tickers for --market usdm only")
    if do_import:
        ensure_writable(data_dir)  # before the downloads, not after them
    now = today or datetime.now(UTC).date()
    report = DownloadReport()
    with ArchiveClient(
        base_url or DEFAULT_BASE_URL,
        cache_dir or default_cache_dir(),
        timeout_s=timeout_s,
        retries=retries,
        proxy=proxy,
        progress=progress,
    ) as client:
        for symbol in names:
            for file in plan(symbol, chosen, what, first, last, now):
                report.files.extend(_fetch(client, file))
    got = [f.local for f in report.files if f.status is not Status.MISSING]
    if do_import and got:
        bar = None
        if progress is not None:
            progress.start("importing", sum(p.stat().st_size for p in got))
            bar = progress.advance
        report.imported = import_vision(got, data_dir, progress=bar, jobs=jobs)
    return report


def _fetch(client: ArchiveClient, file: ArchiveFile) -> list[Fetched]:
    """One file; a month the archive lacks (not published yet, or never) is asked for day by day."""
    fetched = client.fetch(file)
    if fetched.status is Status.MISSING and file.is_monthly:
        return [client.fetch(day) for day in file.days()]
    return [fetched]
