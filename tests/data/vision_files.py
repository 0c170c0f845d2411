"""Archive files written to Binance's documented layouts (see fxcli/exchange/captures/binance_vision.py),
as data.binance.vision lays them out: `data/<spot|futures/um>/<daily|monthly>/<kind>/<SYMBOL>/...zip`
with a `.CHECKSUM` beside each."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from fxcli.exchange.binance import Market
from fxcli.exchange.captures.binance_vision import HEADERS, Kind, archive_path

DAY_MS = 86_400_000


def day_ms(day: str) -> int:
    """Midnight UTC of YYYY-MM-DD in ms."""
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def trade_rows(
    market: Market, kind: Kind, start_ms: int, ids: list[int], *, micro: bool = False
) -> list[str]:
    """CSV rows of trades (or aggTrades) with the given ids, one a second, alternating sides."""
    rows = []
    for n, trade_id in enumerate(ids):
        t = (start_ms + n * 1000) * (1000 if micro else 1)
        price, qty = 100 + n * 0.5, 0.25 * (n % 4 + 1)
        maker = "True" if n % 2 == 0 else "False"
        if market is Market.USDM:
            maker = maker.lower()
        if kind is Kind.TRADES:
            cells = [trade_id, f"{price:.8f}", f"{qty:.8f}", f"{price * qty:.8f}", t, maker]
        else:
            cells = [trade_id, f"{price:.8f}", f"{qty:.8f}", trade_id * 3, trade_id * 3 + 2, t, maker]
        if market is Market.SPOT:
            cells.append("True")
        rows.append(",".join(str(c) for c in cells))
    return rows


def ticker_rows(start_ms: int, count: int) -> list[str]:
    """USD-M bookTicker rows: update id, bid, bid qty, ask, ask qty, transaction time, event time."""
    return [
        f"{1000 + n},{100 + n:.2f},{1 + n:.3f},{100.5 + n:.2f},{2 + n:.3f},{t},{t + 7}"
        for n, t in ((n, start_ms + n * 500) for n in range(count))
    ]


def csv_text(market: Market, kind: Kind, rows: list[str], *, header: bool) -> str:
    head = [",".join(HEADERS[(market, kind)])] if header else []
    return "\n".join([*head, *rows]) + "\n"


def write_archive(root: Path, market: Market, kind: Kind, symbol: str, period: str, text: str) -> Path:
    """The zip (one CSV of the same stem) and its CHECKSUM under `root`, at the archive's path."""
    path = root / archive_path(market, kind, symbol, period)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.with_suffix(".csv").name, text)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(path.name + ".CHECKSUM").write_text(f"{digest}  {path.name}\n")
    return path
