"""Trade backfill after a gap: the trades a recorder missed while it was down or disconnected, fetched
over the venue's REST API, stored marked `backfilled`, and the gap annotated with what came back.

    Recorder ── GapOpened ──► note_start: live trades already at the gap's first millisecond
            ├── trade ──────► seen: a few seconds of live trades (the far edge, after reconnect)
            └── Gap ────────► take ──(settle)──► REST pages ──► minus live copies ──► deliver(gap, trades)

MEXC spot keeps every trade (`GET /api/v3/aggTrades` by time range, no trade ids); MEXC futures only
the most recent 100 deals (`GET /deals/{symbol}`), so a busy futures outage is recovered partly, and
the gap says which span. A REST print equal to one received live at either edge of the gap (same
venue trade id, or without ids the same millisecond, price, quantity and side) is dropped, once per
live copy. The book cannot be fetched for the past: it stays a gap. A failure (REST down, 429, a bad
answer) never reaches the recorder: the gap is stored as `not_recovered`, with why in its detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from msgspec.structs import replace

from fxcli.exchange.pacing import BreakerOpenError
from fxcli.exchange.rest import RateLimitedError, RestClient, RestError
from fxcli.model.events import Backfill, Gap, GapReason, Trade
from fxcli.model.units import NS_PER_MS, NS_PER_S

log = logging.getLogger(__name__)

TRADE_GAP_REASONS = frozenset({GapReason.DISCONNECT, GapReason.RATE_LIMITED, GapReason.SERVER_RESTART})
"""Gaps in which trades were not received (book-only gaps keep their trades: nothing to fetch)."""

MAX_RATE_LIMIT_WAIT_S = 10.0  # a 429's Retry-After longer than this: the gap is left not recovered
RATE_LIMIT_RETRIES = 2
BOOK_NOTE = "book not recoverable"


@dataclass(frozen=True)
class BackfillTiming:
    """When to fetch, and how long live trades are remembered for the edges."""

    settle_s: float = 1.0  # after the window's end, wait this long for live pushes still in flight
    end_margin_ms: int = 2_000  # fetch past the gap's end: trades there arrived live and match
    tail_s: float = 15.0  # live trades kept per symbol (covers the margin and the settle)
    close_wait_s: float = 5.0  # at stop, fetches in flight get this long before their gaps are stored


@dataclass(frozen=True)
class Fetched:
    """What the venue gave for a window: trades (oldest first) and the span they cover completely."""

    trades: list[Trade]
    from_ns: int
    to_ns: int
    missing: str = ""  # why the span is less than the window (the venue keeps no more), or ""


class TradeHistory(Protocol):
    """A venue's REST trade history (the adapters' URLs and decoders, paged)."""

    async def fetch(self, rest: RestClient, symbol: str, start_ms: int, end_ms: int) -> Fetched: ...


class SpotHistory:
    """MEXC spot `aggTrades`: any window, in calls of at most an hour; a full page is split in two
    and asked again (whether the venue answers a full window's oldest or newest trades is not
    documented, so fx never relies on either)."""

    def __init__(self, adapter: SpotTrades, page: int | None = None) -> None:
        from fxcli.exchange.mexc_spot import AGG_TRADES_LIMIT

        self.adapter = adapter
        self.page = page or AGG_TRADES_LIMIT  # trades asked per call (the venue's maximum)

    async def fetch(self, rest: RestClient, symbol: str, start_ms: int, end_ms: int) -> Fetched:
        from fxcli.exchange.mexc_spot import AGG_TRADES_SPAN_MS

        hours = range(start_ms, end_ms + 1, AGG_TRADES_SPAN_MS + 1)
        todo = [(lo, min(end_ms, lo + AGG_TRADES_SPAN_MS)) for lo in reversed(hours)]
        trades: list[Trade] = []
        crowded: list[int] = []  # milliseconds with more trades than one answer holds
        while todo:
            lo, hi = todo.pop()
            url = self.adapter.agg_trades_url(symbol, lo, hi, self.page)
            body, received = await rest.get(url)
            answer = _decoded(rest, url, self.adapter.decode_agg_trades, body, symbol, received)
            if len(answer) < self.page:
                trades.extend(answer)
            elif lo == hi:
                trades.extend(answer)
                crowded.append(lo)
            else:
                mid = (lo + hi) // 2
                todo.extend([(mid + 1, hi), (lo, mid)])
        trades.sort(key=lambda t: t.exchange_ts_ns)
        missing = f"{len(crowded)} ms held more than {self.page} trades" if crowded else ""
        return Fetched(trades, start_ms * NS_PER_MS, end_ms * NS_PER_MS, missing)


class FuturesHistory:
    """MEXC futures recent deals: only the newest `DEALS_LIMIT`; a window older than those is
    recovered from the oldest deal served onwards (that millisecond dropped: it may be cut)."""

    def __init__(self, adapter: FuturesTrades) -> None:
        self.adapter = adapter

    async def fetch(self, rest: RestClient, symbol: str, start_ms: int, end_ms: int) -> Fetched:
        from fxcli.exchange.mexc_futures import DEALS_LIMIT

        url = self.adapter.deals_url(symbol, DEALS_LIMIT)
        body, received = await rest.get(url)
        deals = _decoded(rest, url, self.adapter.decode_deals, body, symbol, received)
        start_ns, end_ns = start_ms * NS_PER_MS, end_ms * NS_PER_MS + NS_PER_MS - 1
        oldest = deals[0].exchange_ts_ns if deals else None
        if len(deals) < DEALS_LIMIT or oldest is None or oldest < start_ns:
            return Fetched([t for t in deals if start_ns <= t.exchange_ts_ns <= end_ns], start_ns, end_ns)
        if oldest > end_ns:
            return Fetched([], end_ns, end_ns, f"the venue serves only its newest {DEALS_LIMIT} deals")
        kept = [t for t in deals if oldest < t.exchange_ts_ns <= end_ns]
        why = f"the venue serves only its newest {DEALS_LIMIT} deals"
        return Fetched(kept, oldest + NS_PER_MS, end_ns, why)


class SpotTrades(Protocol):
    def agg_trades_url(self, symbol: str, start_ms: int, end_ms: int, limit: int = ...) -> str: ...

    def decode_agg_trades(self, body: bytes, symbol: str, received_ts_ns: int) -> list[Trade]: ...


class FuturesTrades(Protocol):
    def deals_url(self, symbol: str, limit: int = ...) -> str: ...

    def decode_deals(self, body: bytes, symbol: str, received_ts_ns: int) -> list[Trade]: ...


def history_of(adapter: object) -> TradeHistory | None:
    """The venue's REST trade history, or None if the adapter offers none."""
    if hasattr(adapter, "agg_trades_url"):
        return SpotHistory(adapter)  # type: ignore[arg-type]
    if hasattr(adapter, "deals_url"):
        return FuturesHistory(adapter)  # type: ignore[arg-type]
    return None


def _decoded(
    rest: RestClient,
    url: str,
    decode: Callable[[bytes, str, int], list[Trade]],
    body: bytes,
    symbol: str,
    at: int,
) -> list[Trade]:
    """A decoded answer; a malformed one is a failed call (it counts against the breaker)."""
    try:
        return decode(body, symbol, at)
    except ValueError as exc:
        rest.breaker.record_failure()
        raise RestError(url, str(exc)) from None


def without_live_copies(fetched: list[Trade], live: list[Trade]) -> list[Trade]:
    """`fetched` minus one print per live copy: by venue trade id where the fetched print has one,
    else by (millisecond, price, qty, side)."""
    ids = {t.trade_id for t in live if t.trade_id is not None}
    copies = Counter(_content(t) for t in live)
    kept = []
    for trade in fetched:
        if trade.trade_id is not None:
            if trade.trade_id in ids:
                continue
        else:
            key = _content(trade)
            if copies[key] > 0:
                copies[key] -= 1
                continue
        kept.append(trade)
    return kept


def _content(t: Trade) -> tuple[int, float, float, int]:
    return t.exchange_ts_ns // NS_PER_MS, t.price, t.qty, t.side


Deliver = Callable[[Gap, int, list[Trade]], None]
"""Store a gap (annotated) and its backfilled trades; called on the event loop."""
Announce = Callable[[str, int, dict[str, object]], None]


@dataclass
class _Job:
    gap: Gap
    slot: int
    start_edge: list[Trade]
    task: asyncio.Task[None] | None = None
    delivered: bool = False


@dataclass
class Backfiller:
    """Gaps in, annotated gaps and their fetched trades out (through `deliver`), one task per gap."""

    history: TradeHistory
    rest: RestClient
    deliver: Deliver
    announce: Announce
    offset_ms: Callable[[], float | None] = lambda: None  # the venue's clock minus ours, when known
    timing: BackfillTiming = field(default_factory=BackfillTiming)
    recovered_trades: int = 0
    _tails: dict[str, deque[Trade]] = field(default_factory=dict)
    _starts: dict[str, list[Trade]] = field(default_factory=dict)
    _pending: dict[asyncio.Task[None], _Job] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    def seen(self, trade: Trade) -> None:
        """A live trade (kept a few seconds: it may be the REST answer's copy at a gap's edge)."""
        tail = self._tails.get(trade.symbol)
        if tail is None:
            tail = self._tails[trade.symbol] = deque()
        tail.append(trade)
        oldest = trade.exchange_ts_ns - int(self.timing.tail_s * NS_PER_S)
        while tail[0].exchange_ts_ns < oldest:
            tail.popleft()

    def note_start(self, symbol: str, start_ns: int, stored: list[Trade] | None = None) -> None:
        """A gap of `symbol` opens at `start_ns`: the prints already received from its first
        millisecond on (live ones, or `stored` ones after a restart) are the near edge's copies."""
        first = start_ns - start_ns % NS_PER_MS
        live = [t for t in self._tails.get(symbol, ()) if t.exchange_ts_ns >= first]
        self._starts[symbol] = [*(stored or []), *live]

    def take(self, gap: Gap, slot: int) -> bool:
        """Fetch the trades of `gap` if it lost them (its start was noted); True if `deliver` will
        store it."""
        eligible = gap.symbol in self._starts and gap.reason in TRADE_GAP_REASONS  # trades were lost
        if self._closed or not eligible or gap.end_ns <= gap.start_ns:
            return False
        job = _Job(gap, slot, self._starts.pop(gap.symbol, []))
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"backfill {gap.symbol}")
        job.task = task
        self._pending[task] = job
        task.add_done_callback(self._pending.pop)
        return True

    async def close(self) -> None:
        """Fetch what is pending now (no more live trades will come), for at most `close_wait_s`;
        a gap still waiting then is stored as not recovered."""
        self._closed = True
        self._stopping.set()
        tasks = list(self._pending)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=self.timing.close_wait_s)
        for task in late:
            job = self._pending.get(task)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if job is not None and not job.delivered:
                self._finish(job, [], Backfill.NOT_RECOVERED, "the recorder stopped before the fetch ended")

    # ------------------------------------------------------------------ internals

    async def _run(self, job: _Job) -> None:
        try:
            await self._backfill(job)
        except Exception as exc:  # whatever went wrong, the gap itself is stored (and the recorder goes on)
            log.exception("backfill of %s", job.gap.symbol)
            if not job.delivered:
                self._finish(job, [], Backfill.NOT_RECOVERED, f"unexpected {type(exc).__name__}: {exc}")

    async def _backfill(self, job: _Job) -> None:
        gap = job.gap
        # The gap ends (local clock) when every channel is subscribed again: later prints come live.
        # On the venue's clock that is `offset` later; the REST window reaches a margin past it,
        # where every print has a live copy to match.
        offset_ns = int((self.offset_ms() or 0.0) * NS_PER_MS)
        start_ms = gap.start_ns // NS_PER_MS
        last_ms = (gap.end_ns + offset_ns) // NS_PER_MS
        window_end_ms = last_ms + self.timing.end_margin_ms
        # Live pushes up to the window's end must have arrived before the edge can be matched.
        due_s = gap.end_ns / NS_PER_S + self.timing.end_margin_ms / 1000 + self.timing.settle_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), max(0.0, due_s - time.time()))
        try:
            fetched = await self._fetch(gap.symbol, start_ms, window_end_ms)
        except (RestError, BreakerOpenError) as exc:
            self._finish(job, [], Backfill.NOT_RECOVERED, str(exc))
            return
        live = [*job.start_edge, *self._tails.get(gap.symbol, ())]
        last_ns = last_ms * NS_PER_MS + NS_PER_MS - 1
        missed = [t for t in without_live_copies(fetched.trades, live) if t.exchange_ts_ns <= last_ns]
        from_ns = max(gap.start_ns, fetched.from_ns)
        to_ns = min(gap.end_ns, fetched.to_ns) if fetched.to_ns >= from_ns else from_ns
        if fetched.missing:
            if from_ns >= gap.end_ns:
                self._finish(job, [], Backfill.NOT_RECOVERED, fetched.missing)
                return
            self._finish(job, missed, Backfill.PARTIAL, fetched.missing, (from_ns, to_ns))
            return
        self._finish(job, missed, Backfill.RECOVERED, "", (gap.start_ns, gap.end_ns))

    async def _fetch(self, symbol: str, start_ms: int, end_ms: int) -> Fetched:
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                return await self.history.fetch(self.rest, symbol, start_ms, end_ms)
            except RateLimitedError as exc:
                if attempt == RATE_LIMIT_RETRIES or exc.retry_after_s > MAX_RATE_LIMIT_WAIT_S:
                    raise
                await asyncio.sleep(exc.retry_after_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def _finish(
        self,
        job: _Job,
        trades: list[Trade],
        status: Backfill,
        why: str,
        span: tuple[int, int] | None = None,
    ) -> None:
        gap = job.gap
        job.delivered = True
        if status is Backfill.NOT_RECOVERED:
            note = f"trades not recovered: {why}; {BOOK_NOTE}"
        else:
            lo, hi = span or (gap.start_ns, gap.end_ns)
            seconds = (hi - lo) / NS_PER_S
            note = f"trades recovered over {seconds:.3f} s ({len(trades)} trades)"
            if why:
                note += f", the rest not: {why}"
            note += f"; {BOOK_NOTE}"
        annotated = replace(
            gap,
            detail=f"{gap.detail}; {note}" if gap.detail else note,
            backfill=status.value,
            backfill_from_ns=span[0] if span else None,
            backfill_to_ns=span[1] if span else None,
            backfill_trades=len(trades),
        )
        self.recovered_trades += len(trades)
        if status is Backfill.NOT_RECOVERED:
            log.warning("backfill of %s failed: %s", gap.symbol, why)
        fields: dict[str, object] = {
            "symbol": gap.symbol,
            "status": status.value,
            "trades": len(trades),
            "start_ns": gap.start_ns,
            "end_ns": gap.end_ns,
        }
        if why:
            fields["detail"] = why
        self.announce("backfill", time.time_ns(), fields)
        self.deliver(annotated, job.slot, trades)


def backfill_off(gap: Gap) -> Gap:
    """A trade-losing gap of a run with `--backfill off`: says so (coverage shows it as not tried)."""
    if gap.reason not in TRADE_GAP_REASONS or gap.backfill is not None:
        return gap
    return replace(gap, backfill=Backfill.OFF.value)
