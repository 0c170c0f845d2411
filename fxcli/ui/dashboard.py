"""`fx stream`'s screens: a rich live table, or JSON lines (`--headless`), fed by a session's `Feed`.

Render functions are pure (a `DashboardView` in, a renderable or a JSON-ready dict out). `screen()`
runs the loop that drains the feed on its own thread: a few refreshes a second for the table, one
line per note and a snapshot per symbol every `every_s` for JSON lines. The engine never waits for
it: frames it cannot take are dropped by the feed.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from fxcli.backtest.fills import Fill
from fxcli.live.feed import Feed, FillNote, OrderNote, SessionInfo, StatusNote, SymbolFrame, TradeNote
from fxcli.live.latency import LATENCY_BINS, percentile_ns
from fxcli.model.units import NS_PER_S, ns_to_iso
from fxcli.strategy.machine import Transition
from fxcli.tasks.backtest import trade_rows
from fxcli.tasks.stream import StreamReport

REFRESH_PER_S = 4
RECENT_TRANSITIONS = 12
INDICATOR_COLUMNS = 6


@dataclass
class DashboardView:
    """What the table shows; the screen loop keeps it up to date."""

    info: SessionInfo | None = None
    frames: dict[str, SymbolFrame] = field(default_factory=dict)
    transitions: deque[Transition] = field(default_factory=lambda: deque(maxlen=RECENT_TRANSITIONS))
    last_status: StatusNote | None = None
    orders: deque[OrderNote] = field(default_factory=lambda: deque(maxlen=RECENT_TRANSITIONS))
    now_ns: int = 0
    frames_per_s: float = 0.0
    events_per_s: float = 0.0
    dropped_frames: int = 0
    gaps: int = 0
    connections: int = 0
    p50_us: float = math.nan
    p99_us: float = math.nan

    def apply(self, notes: list[Any], frames: list[SymbolFrame]) -> None:
        """Take what a drain of the feed returned."""
        for note in notes:
            if isinstance(note, Transition):
                self.transitions.append(note)
            elif isinstance(note, StatusNote):
                self.last_status = note
            elif isinstance(note, OrderNote):
                self.orders.append(note)
        for frame in frames:
            self.frames[frame.symbol] = frame


def _num(value: float, digits: int = 8) -> str:
    if value != value:
        return "—"
    return f"{value:,.{digits}g}" if abs(value) < 1e15 else f"{value:.3e}"


def _signed(value: float) -> Text:
    if value != value:
        return Text("—")
    return Text(f"{value:+,.2f}", style="green" if value > 0 else "red" if value < 0 else "")


def _clock(ts_ns: int) -> str:
    return ns_to_iso(ts_ns)[11:23] if ts_ns > 0 else "—"


def _spread_bps(frame: SymbolFrame) -> float:
    mid = (frame.bid + frame.ask) / 2
    return (frame.ask - frame.bid) / mid * 1e4 if mid > 0 else math.nan


def _two_lines(name: str) -> str:
    """A long variant name as a two-line header, split at the underscore nearest its middle."""
    cuts = [i for i, c in enumerate(name) if c == "_"]
    if len(name) <= 10 or not cuts:
        return name
    cut = min(cuts, key=lambda i: abs(i - len(name) / 2))
    return f"{name[: cut + 1]}\n{name[cut + 1 :]}"


def _position(frame: SymbolFrame) -> str:
    if frame.side == 0:
        return "flat"
    side = "long" if frame.side > 0 else "short"
    return f"{side} {frame.qty:.6g} @ {_num(frame.entry_price)}"


def dashboard(view: DashboardView) -> RenderableType:
    """The live screen: one row per symbol, the latest transitions, and the session's vital signs."""
    info = view.info
    names = info.indicators[:INDICATOR_COLUMNS] if info else []
    title = "fx stream (starting)"
    if info is not None:
        up = max(0, view.now_ns - info.started_ns) // NS_PER_S
        title = (
            f"fx stream {info.strategy} · {info.exchange} · {info.mode} · {info.source} · "
            f"up {up // 3600:02d}:{up % 3600 // 60:02d}:{up % 60:02d}"
        )
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    for column in ("symbol", "time", "price", "spread\nbps"):
        table.add_column(column, justify="left" if column == "symbol" else "right", no_wrap=True)
    for name in names:
        table.add_column(_two_lines(name), justify="right", no_wrap=True)
    for column in ("state", "position", "pnl", "trades"):
        table.add_column(column, justify="left" if column in ("state", "position") else "right", no_wrap=True)
    for symbol in info.symbols if info else sorted(view.frames):
        frame = view.frames.get(symbol)
        if frame is None:
            table.add_row(symbol, "—", "—", "—", *["—"] * len(names), "waiting", "", "", "")
            continue
        table.add_row(
            symbol,
            _clock(frame.ts_ns),
            _num(frame.price),
            _num(_spread_bps(frame), 3),
            *[_num(frame.indicators.get(n, math.nan), 4) for n in names],
            frame.state,
            _position(frame),
            _signed(frame.pnl),
            str(frame.trades),
        )
    recent = Table(box=box.SIMPLE_HEAD, title="latest transitions", title_justify="left")
    for column in ("time", "symbol", "from", "to", "group", "values"):
        recent.add_column(column)
    for t in reversed(view.transitions):
        recent.add_row(
            _clock(t.ts_ns), t.symbol, t.from_state.value, t.to_state.value, t.group, _values(t.values)
        )
    vitals = (
        f"{view.frames_per_s:,.0f} frames/s · {view.events_per_s:,.0f} events/s · "
        f"tick-to-decision p50 {_num(view.p50_us, 4)} µs p99 {_num(view.p99_us, 4)} µs · "
        f"{_count(view.connections, 'connection') + ' · ' if info and info.mode == 'live' else ''}"
        f"{_count(view.gaps, 'gap')} · "
        f"{_count(view.dropped_frames, 'screen frame')} dropped"
    )
    parts: list[RenderableType] = [table, recent]
    if view.orders:  # fx stream --live: real orders, newest first
        orders = Table(box=box.SIMPLE_HEAD, title="latest orders", title_justify="left")
        for column in (
            "time",
            "symbol",
            "client id",
            "role",
            "side",
            "state",
            "executed",
            "avg price",
            "detail",
        ):
            orders.add_column(column)
        for o in reversed(view.orders):
            orders.add_row(
                _clock(o.ts_ns), o.symbol, o.client_id, o.role, o.side, o.state, o.qty, o.price, o.detail
            )
        parts.append(orders)
    parts.append(Text(vitals, style="dim"))
    if view.last_status is not None:
        s = view.last_status
        where = f" {s.symbol}" if s.symbol else ""
        parts.append(Text(f"{_clock(s.ts_ns)} {s.kind}{where}: {s.detail}", style="dim"))
    return Group(*parts)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _values(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={_num(v, 7)}" for k, v in sorted(values.items()))


def summary(report: StreamReport) -> RenderableType:
    """After a session: per symbol what the engine saw and did, then the session's vital signs."""
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"fx stream {report.strategy.name} · {report.exchange} · {report.mode} ({report.ended})",
        title_justify="left",
    )
    for column in ("symbol", "events", "transitions", "trades", "profit", "last state"):
        table.add_column(column, justify="left" if column in ("symbol", "last state") else "right")
    for run in report.runs:
        result = run.result
        last = result.transitions[-1].to_state.value if result.transitions else "—"
        table.add_row(
            run.symbol,
            f"{result.events:,}",
            str(len(result.transitions)),
            str(len(result.trades)),
            _signed(sum(t.pnl for t in result.trades)),
            last,
        )
    text = f"{_count(report.frames, 'frame')}, {_count(report.events, 'event')}, {_count(report.gaps, 'gap')}"
    if report.latency_hist:
        p50, p99 = percentile_ns(report.latency_hist, 0.5), percentile_ns(report.latency_hist, 0.99)
        text += f"; tick-to-decision p50 {_num(p50 / 1000, 4)} µs, p99 {_num(p99 / 1000, 4)} µs"
    return Group(table, Text(text))


# ---------------------------------------------------------------------------------------- JSON lines


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _fill_fields(fill: Fill) -> dict[str, Any]:
    return {
        "side": fill.side,
        "qty": fill.qty,
        "wanted_qty": fill.wanted_qty,
        "price": fill.price,
        "notional": fill.notional,
        "fee": fill.fee,
        "source": fill.source,
        "levels": fill.levels,
        "partial": fill.is_partial,
        "decided": ns_to_iso(fill.decided_ts_ns),
        "mid_at_decision": fill.mid_at_decision,
        "expected_price": fill.expected_price,
        "spread_bps": fill.spread_bps,
        "latency_bps": fill.latency_bps,
        "slippage_bps": fill.slippage_bps,
    }


def note_line(note: Any) -> dict[str, Any]:
    """One JSON line for a transition, fill, trade or status note."""
    if isinstance(note, Transition):
        doc: dict[str, Any] = {
            "type": "transition",
            "time": ns_to_iso(note.ts_ns),
            "ts_ns": note.ts_ns,
            "symbol": note.symbol,
            "from": note.from_state.value,
            "to": note.to_state.value,
            "group": note.group,
            "values": note.values,
        }
    elif isinstance(note, FillNote):
        fill = note.fill
        doc = {
            "type": "fill",
            "time": ns_to_iso(fill.ts_ns),
            "ts_ns": fill.ts_ns,
            "symbol": note.symbol,
            "action": note.action,
            **_fill_fields(fill),
        }
    elif isinstance(note, TradeNote):
        row = trade_rows([note.trade])[0]
        doc = {"type": "trade", "time": ns_to_iso(note.trade.exit_ts_ns), **row}
    elif isinstance(note, OrderNote):
        doc = {
            "type": "order",
            "time": ns_to_iso(note.ts_ns),
            "symbol": note.symbol,
            "client_id": note.client_id,
            "role": note.role,
            "side": note.side,
            "state": note.state,
            "executed_qty": note.qty or None,
            "avg_price": note.price or None,
            "detail": note.detail or None,
        }
    else:
        assert isinstance(note, StatusNote)
        doc = {
            "type": "status",
            "time": ns_to_iso(note.ts_ns),
            "kind": note.kind,
            "symbol": note.symbol or None,
            "detail": note.detail,
        }
    return _clean(doc)  # type: ignore[no-any-return]


def frame_line(frame: SymbolFrame) -> dict[str, Any]:
    """One JSON line for a symbol's snapshot."""
    position = (
        {"side": frame.side, "qty": frame.qty, "entry_price": frame.entry_price} if frame.side else None
    )
    return _clean(  # type: ignore[no-any-return]
        {
            "type": "snapshot",
            "time": ns_to_iso(frame.ts_ns),
            "ts_ns": frame.ts_ns,
            "symbol": frame.symbol,
            "price": frame.price,
            "bid": frame.bid,
            "ask": frame.ask,
            "state": frame.state,
            "position": position,
            "equity": frame.equity,
            "pnl": frame.pnl,
            "trades": frame.trades,
            "events": frame.events,
            "indicators": frame.indicators,
        }
    )


def start_line(info: SessionInfo) -> dict[str, Any]:
    """The first JSON line: what runs."""
    return {
        "type": "start",
        "time": ns_to_iso(info.started_ns),
        "mode": info.mode,
        "strategy": info.strategy,
        "exchange": info.exchange,
        "symbols": info.symbols,
        "source": info.source,
        "indicators": info.indicators,
    }


def summary_line(report: StreamReport) -> dict[str, Any]:
    """The last JSON line: per symbol counts and profit, and where the session was written."""
    doc: dict[str, Any] = {
        "type": "summary",
        "time": ns_to_iso(report.stopped_ns),
        "mode": report.mode,
        "strategy": report.strategy.name,
        "exchange": report.exchange,
        "ended": report.ended,
        "frames": report.frames,
        "events": report.events,
        "gaps": report.gaps,
        "dropped_screen_frames": report.dropped_frames,
        "tick_to_decision_us": {
            "p50": percentile_ns(report.latency_hist, 0.5) / 1000,
            "p99": percentile_ns(report.latency_hist, 0.99) / 1000,
        },
        "symbols": {
            r.symbol: {
                "events": r.result.events,
                "clock_ticks": r.result.clock_ticks,
                "transitions": len(r.result.transitions),
                "trades": len(r.result.trades),
                "profit": sum(t.pnl for t in r.result.trades),
                "state": r.result.transitions[-1].to_state.value if r.result.transitions else None,
            }
            for r in report.runs
        },
        "transitions": report.transitions,
        "trades": len(report.trades),
        "out_dir": str(report.out_dir) if report.out_dir else None,
    }
    if report.recorded is not None:
        stats = report.recorded.stats
        doc["recorded"] = {
            "frames": stats.frames,
            "trades": stats.trades,
            "rows_written": stats.rows_written,
            "gaps": stats.gap_count,
            "raw_files": report.recorded.raw_files,
        }
    return _clean(doc)  # type: ignore[no-any-return]


def dumps(doc: dict[str, Any]) -> str:
    """A JSON line (no NaN: they were made null)."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, default=str)


# ---------------------------------------------------------------------------------------- the loop


class _Rates:
    """Frames/s and events/s between two looks at the counters, and the recent latency."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.at = time.monotonic()
        self.frames = self.events = 0
        self.hist = [0] * LATENCY_BINS

    def update(self, view: DashboardView) -> None:
        now = time.monotonic()
        stats = self.feed.stats
        elapsed = max(now - self.at, 1e-9)
        view.frames_per_s = (stats.frames - self.frames) / elapsed
        view.events_per_s = (stats.events - self.events) / elapsed
        self.at, self.frames, self.events = now, stats.frames, stats.events
        hist = self.feed.latency()
        recent = [a - b for a, b in zip(hist, self.hist, strict=True)]
        self.hist = hist
        view.p50_us = percentile_ns(recent, 0.5) / 1000
        view.p99_us = percentile_ns(recent, 0.99) / 1000
        view.dropped_frames = self.feed.dropped_frames
        view.gaps = stats.gaps
        view.connections = stats.connections
        view.now_ns = time.time_ns()


@contextmanager
def screen(
    feed: Feed,
    *,
    headless: bool,
    every_s: float = 1.0,
    console: Console | None = None,
    out: IO[str] | None = None,
    on_closed_output: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Show `feed` while the block runs: a live table on `console`, or JSON lines on `out`.

    With JSON lines, a closed output (`fx stream --headless | head`) calls `on_closed_output` (to stop
    the session) and the rest is discarded.
    """
    done = threading.Event()
    if headless:
        writer = _Lines(feed, out or sys.stdout, every_s, on_closed_output)
        target: Callable[[threading.Event], None] = writer.loop
    else:
        target = _LiveTable(feed, console or Console(stderr=False)).loop
    thread = threading.Thread(target=target, args=(done,), name="fx-stream-screen", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class _Lines:
    def __init__(
        self, feed: Feed, out: IO[str], every_s: float, on_closed: Callable[[], None] | None
    ) -> None:
        self.feed = feed
        self.out = out
        self.every_s = every_s
        self.on_closed = on_closed
        self.is_closed = False
        self.rates = _Rates(feed)
        self.view = DashboardView()
        self.started = False

    def loop(self, done: threading.Event) -> None:
        next_snapshot = time.monotonic() + self.every_s
        pending: dict[str, SymbolFrame] = {}
        while True:
            finishing = done.wait(0.05)
            if not self.started:
                if self.feed.info is None:
                    if finishing:
                        return  # the session never started: nothing to say
                    continue
                self.started = True
                self.write([dumps(start_line(self.feed.info))])
            notes, frames = self.feed.drain()
            lines = []
            lines += [dumps(note_line(n)) for n in notes]
            for frame in frames:
                pending[frame.symbol] = frame
            now = time.monotonic()
            if now >= next_snapshot or finishing:
                next_snapshot = now + self.every_s
                lines += [dumps(frame_line(f)) for f in pending.values()]
                pending.clear()
                self.rates.update(self.view)
                lines.append(dumps(_stats_line(self.view)))
            self.write(lines)
            if finishing:
                return

    def write(self, lines: list[str]) -> None:
        if not lines or self.is_closed:
            return
        try:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.is_closed = True
            _discard_stdout(self.out)
            if self.on_closed is not None:
                self.on_closed()


def _stats_line(view: DashboardView) -> dict[str, Any]:
    return _clean(  # type: ignore[no-any-return]
        {
            "type": "stats",
            "time": ns_to_iso(view.now_ns),
            "frames_per_s": round(view.frames_per_s, 1),
            "events_per_s": round(view.events_per_s, 1),
            "connections": view.connections,
            "gaps": view.gaps,
            "dropped_screen_frames": view.dropped_frames,
            "tick_to_decision_us": {"p50": view.p50_us, "p99": view.p99_us},
        }
    )


def _discard_stdout(out: IO[str]) -> None:
    """Point a closed stdout at /dev/null so the interpreter's last flush does not complain."""
    if out is sys.stdout:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass


class _LiveTable:
    def __init__(self, feed: Feed, console: Console) -> None:
        self.feed = feed
        self.console = console
        self.view = DashboardView()
        self.rates = _Rates(feed)

    def loop(self, done: threading.Event) -> None:
        from rich.live import Live

        view = self.view
        with Live(
            dashboard(view), console=self.console, auto_refresh=False, transient=True, redirect_stderr=True
        ) as live:
            while True:
                finishing = done.wait(1.0 / REFRESH_PER_S)
                notes, frames = self.feed.drain()
                view.info = self.feed.info
                view.apply(notes, frames)
                self.rates.update(view)
                live.update(dashboard(view), refresh=True)
                if finishing:
                    return
