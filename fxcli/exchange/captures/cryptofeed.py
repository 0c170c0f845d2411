"""cryptofeed's raw-data recorder files (`<VENUE>.ws.1.0`, `<VENUE>.http.0.0`, `<VENUE>.0`).

    wss://stream.binance.com:9443/stream?streams=nknusdt@depth@100ms/... <-> 1633998512.0
    1633998523.957215: {"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,...}}
    https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000 -> 1633998512.320639: {"lastUpdateId":...}

Receive times are Unix seconds printed by Python's `str(float)`; they are parsed as decimal text,
and one outside 2000..2100 (see limits.py) makes the line an error record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from fxcli.exchange.binance import Market
from fxcli.exchange.captures.limits import EARLIEST_NS, LATEST_NS, WINDOW_TEXT
from fxcli.exchange.captures.source import Progress, Record, numbered_lines
from fxcli.model.units import seconds_str_to_ns

WS_LINE = re.compile(rb"^(\d{9,11}(?:\.\d+)?): (\{.*\})\s*$")
HTTP_LINE = re.compile(rb"^(https?://\S+) -> (\d{9,11}(?:\.\d+)?): (\{.*\})\s*$")
CONNECT_LINE = re.compile(rb"^\S+ <-> \d")
SYMBOL_PARAM = re.compile(rb"[?&]symbol=([A-Za-z0-9_]+)")
NAME = re.compile(r"^(BINANCE(?:_[A-Z]+)?)\.(?:ws\.\d+\.\d+|http\.\d+\.\d+|\d+)$")

VENUES = {
    "BINANCE": Market.SPOT,
    "BINANCE_FUTURES": Market.USDM,
    "BINANCE_DELIVERY": Market.COINM,
    "BINANCE_US": Market.US,
    "BINANCE_TR": Market.TR,
}


def looks_like(first: bytes) -> bool:
    """True if a first line has this format."""
    return bool(
        CONNECT_LINE.match(first)
        or HTTP_LINE.match(first)
        or WS_LINE.match(first)
        or first.startswith(b"configuration: ")
    )


def venue(path: Path) -> Market | None:
    """The Binance market a cryptofeed file belongs to, from its name (BINANCE_FUTURES.ws.1.0...)."""
    match = NAME.match(path.name)
    return VENUES.get(match.group(1)) if match else None


def siblings(path: Path) -> list[Path]:
    """The other files of the same capture (the REST snapshots for a ws file, and vice versa)."""
    match = NAME.match(path.name)
    if not match:
        return []
    prefix = match.group(1)
    return sorted(
        p
        for p in path.parent.glob(f"{prefix}.*")
        if p != path and (".ws." in p.name or ".http." in p.name) and NAME.match(p.name)
    )


def read(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """Records of one cryptofeed file in file order (exchangeInfo and configuration lines skipped)."""
    for line_no, line, error in numbered_lines(path, progress):
        if line is None:
            yield Record(line_no, 0, "error", error.encode())
            return
        if not line.strip() or CONNECT_LINE.match(line) or line.startswith(b"configuration: "):
            continue
        ws = WS_LINE.match(line)
        if ws is not None:
            yield _record(line_no, ws.group(1), "stream", ws.group(2))
            continue
        http = HTTP_LINE.match(line)
        if http is not None:
            url, ts, body = http.groups()
            if b"/depth" not in url:
                continue  # exchangeInfo and other REST answers hold no ticks
            symbol = SYMBOL_PARAM.search(url)
            yield _record(line_no, ts, "snapshot", body, symbol.group(1).decode().upper() if symbol else None)
            continue
        yield Record(line_no, 0, "error", b"not a cryptofeed capture line")


def _record(line_no: int, seconds: bytes, kind: str, payload: bytes, symbol: str | None = None) -> Record:
    """The line's record, or an error record if its receive time cannot be stored."""
    text = seconds.decode()
    ts = seconds_str_to_ns(text)
    if not EARLIEST_NS <= ts < LATEST_NS:
        return Record(line_no, 0, "error", f"local time {text} s is outside {WINDOW_TEXT}".encode())
    return Record(line_no, ts, kind, payload, symbol)
