"""Independent references for the data tests: raw Binance captures read with `json` only.

Nothing here imports fxcli. The order-book rebuild follows Binance's documented rules literally
("How to manage a local order book correctly"), so that a test can hold fx's import and replay
against it:

- spot: buffer diffs, take the REST snapshot's `lastUpdateId`, drop diffs with `u <= lastUpdateId`;
  the first applied diff has `U <= lastUpdateId + 1 <= u`, then each `U == previous u + 1`.
- USD-M / COIN-M futures: drop diffs with `u < lastUpdateId`; the first applied diff has
  `U <= lastUpdateId <= u`, then each `pu == previous u`.

A diff that breaks the chain means "start over": the book waits for the next snapshot and buffers
from that diff on. Levels are `dict[price, qty]` built with `float()` of the decimal strings.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Ladder = list[tuple[float, float]]


@dataclass(frozen=True)
class Diff:
    """One `depthUpdate` frame as received."""

    symbol: str
    first_id: int  # U
    last_id: int  # u
    prev_id: int | None  # pu (futures only)
    bids: list[list[str]]
    asks: list[list[str]]


@dataclass(frozen=True)
class Snapshot:
    """One REST depth snapshot as received."""

    symbol: str
    last_update_id: int
    bids: list[list[str]]
    asks: list[list[str]]


@dataclass
class RawCapture:
    """Everything the tests need from one hftbacktest capture, parsed with gzip + json."""

    trades: list[dict[str, Any]] = field(default_factory=list)  # `data` of each trade, plus "_local"
    ticker_update_ids: list[int] = field(default_factory=list)
    book: list[Diff | Snapshot] = field(default_factory=list)  # depth diffs and snapshots, file order


def read_hftbacktest(path: Path, symbol: str) -> RawCapture:
    """Parse an hftbacktest `<local_ts_ns> <json>` capture the way its README describes."""
    raw = RawCapture()
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            ts, payload = line.rstrip("\n").split(" ", 1)
            msg: dict[str, Any] = json.loads(payload)
            if "stream" not in msg:
                raw.book.append(_snapshot(symbol, msg))
                continue
            kind = msg["stream"].split("@", 1)[1]
            data: dict[str, Any] = msg["data"]
            if kind == "trade":
                raw.trades.append({**data, "_local": int(ts)})
            elif kind == "bookTicker":
                raw.ticker_update_ids.append(int(data["u"]))
            elif kind.startswith("depth"):
                raw.book.append(_diff(data))
            else:
                raise AssertionError(f"{path}: unexpected stream {msg['stream']!r}")
    return raw


def _diff(data: dict[str, Any]) -> Diff:
    prev = data.get("pu")
    return Diff(
        str(data["s"]),
        int(data["U"]),
        int(data["u"]),
        None if prev is None else int(prev),
        data["b"],
        data["a"],
    )


def _snapshot(symbol: str, body: dict[str, Any]) -> Snapshot:
    return Snapshot(symbol, int(body["lastUpdateId"]), body["bids"], body["asks"])


@dataclass
class CryptofeedCapture:
    """A cryptofeed ws file and its REST snapshots, merged in receive-time order."""

    messages: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (symbol, type, data)
    book: list[Diff | Snapshot] = field(default_factory=list)


def read_cryptofeed(ws_path: Path, http_path: Path) -> CryptofeedCapture:
    """Parse a cryptofeed ws + http pair by the rules in the data README."""
    timed: list[tuple[Decimal, int, Diff | Snapshot | None, tuple[str, str, dict[str, Any]] | None]] = []
    order = 0
    for path in (http_path, ws_path):
        for line in path.read_text(encoding="utf-8").split("\n"):
            order += 1
            if not line or " <-> " in line:
                continue
            if line.startswith("http"):
                url, rest = line.split(" -> ", 1)
                ts, body = rest.split(": ", 1)
                if "/depth" not in url:
                    continue
                symbol = parse_qs(urlsplit(url).query)["symbol"][0].upper()
                timed.append((Decimal(ts), order, _snapshot(symbol, json.loads(body)), None))
                continue
            if line.startswith("configuration: "):
                continue
            ts, frame = line.split(": ", 1)
            msg: dict[str, Any] = json.loads(frame)
            kind = msg["stream"].split("@", 1)[1]
            data: dict[str, Any] = msg["data"]
            diff = _diff(data) if kind.startswith("depth") else None
            timed.append((Decimal(ts), order, diff, (str(data["s"]), kind, data)))
    capture = CryptofeedCapture()
    for _, _, book_item, message in sorted(timed, key=lambda t: (t[0], t[1])):
        if message is not None:
            capture.messages.append(message)
        if book_item is not None:
            capture.book.append(book_item)
    return capture


class ReferenceBook:
    """One symbol's book, rebuilt by Binance's documented rules (see the module docstring)."""

    def __init__(self, *, futures: bool) -> None:
        self.futures = futures
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.last_update_id: int | None = None  # of the snapshot we are syncing onto
        self.previous_u: int | None = None  # u of the last applied diff; None until the first
        self.buffer: list[Diff] = []

    def on_snapshot(self, snapshot: Snapshot) -> Iterator[Diff]:
        """Take the snapshot, then run the buffered diffs through the rules; yields applied diffs."""
        self.bids = {float(p): float(q) for p, q in snapshot.bids if float(q) != 0.0}
        self.asks = {float(p): float(q) for p, q in snapshot.asks if float(q) != 0.0}
        self.last_update_id = snapshot.last_update_id
        self.previous_u = None
        pending, self.buffer = self.buffer, []
        for diff in pending:
            yield from self.on_diff(diff)

    def on_diff(self, diff: Diff) -> Iterator[Diff]:
        """Buffer, drop or apply one diff; yields it when it was applied."""
        if self.last_update_id is None:
            self.buffer.append(diff)
            return
        if not self._continues(diff):
            if self.previous_u is None and self._stale(diff):
                return
            # Out of sync: wait for a new snapshot and buffer from here on.
            self.last_update_id = None
            self.previous_u = None
            self.buffer = [diff]
            return
        for price, qty in diff.bids:
            self._set(self.bids, float(price), float(qty))
        for price, qty in diff.asks:
            self._set(self.asks, float(price), float(qty))
        self.previous_u = diff.last_id
        yield diff

    def _stale(self, diff: Diff) -> bool:
        assert self.last_update_id is not None
        if self.futures:
            return diff.last_id < self.last_update_id
        return diff.last_id <= self.last_update_id

    def _continues(self, diff: Diff) -> bool:
        assert self.last_update_id is not None
        last = self.last_update_id
        if self.previous_u is None:
            if self.futures:
                return diff.first_id <= last <= diff.last_id
            return diff.first_id <= last + 1 <= diff.last_id
        if self.futures:
            return diff.prev_id == self.previous_u
        return diff.first_id == self.previous_u + 1

    @staticmethod
    def _set(side: dict[float, float], price: float, qty: float) -> None:
        if qty == 0.0:
            side.pop(price, None)
        else:
            side[price] = qty

    def ladders(self) -> tuple[Ladder, Ladder]:
        """All bids (best first, descending) and all asks (best first, ascending)."""
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())


def rebuild(items: Iterable[Diff | Snapshot], *, futures: bool) -> Iterator[tuple[Diff, ReferenceBook]]:
    """Run a capture's diffs and snapshots (in receive order) through one book per symbol.

    Yields every applied diff with its symbol's book right after the diff was applied.
    """
    books: dict[str, ReferenceBook] = {}
    for item in items:
        book = books.get(item.symbol)
        if book is None:
            book = books[item.symbol] = ReferenceBook(futures=futures)
        applied = book.on_snapshot(item) if isinstance(item, Snapshot) else book.on_diff(item)
        for diff in applied:
            yield diff, book


@dataclass(frozen=True)
class ReferenceRun:
    """The reference rebuild of one symbol: every applied diff's `u`, and the ladders at checkpoints."""

    applied: list[int]
    checkpoints: dict[str, int]  # label -> u of the diff after which the ladders were taken
    ladders: dict[int, tuple[Ladder, Ladder]]  # u -> (bids, asks)


def reference_run(
    items: list[Diff | Snapshot], symbol: str, *, futures: bool, fractions: dict[str, float]
) -> ReferenceRun:
    """Rebuild `symbol`'s book; take its full ladders after the applied diffs at `fractions` (0..1)."""
    mine = [item for item in items if item.symbol == symbol]
    applied = [diff.last_id for diff, _ in rebuild(mine, futures=futures)]
    if not applied:
        raise AssertionError(f"the reference applied no diff for {symbol}")
    checkpoints = {
        label: applied[min(int(fraction * len(applied)), len(applied) - 1)]
        for label, fraction in fractions.items()
    }
    wanted = set(checkpoints.values())
    ladders = {
        diff.last_id: book.ladders()
        for diff, book in rebuild(mine, futures=futures)
        if diff.last_id in wanted
    }
    return ReferenceRun(applied, checkpoints, ladders)
