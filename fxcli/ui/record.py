"""`fx record`'s output: a one-line live status (rich), or JSON lines for cron and systemd.

The render functions are pure. `RecordOutput` prints on its own thread: the recorder's event loop
only puts lines on a queue, so a slow terminal or a full pipe never holds it up (lines beyond
`MAX_LINES` waiting are dropped and counted, the recording is not).
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.text import Text

from fxcli.model.units import NS_PER_S, ns_to_iso

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from fxcli.live.record import RecordSummary
    from fxcli.live.recorder import RecordEvent, RecordStats

MAX_LINES = 10_000
HIDDEN_IN_TEXT = frozenset({"names", "start_ns", "end_ns"})  # in the JSON lines, too long for a terminal


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _age(now_ns: int, then_ns: int | None) -> str:
    if then_ns is None:
        return "never"
    return f"{max(0, now_ns - then_ns) / NS_PER_S:.1f} s ago"


def _uptime(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def status_text(stats: RecordStats) -> str:
    """The status line as plain text.

    mexc-spot  up 0:00:12  conn 2/2  symbols 40/40  books 40  812 frames/s  trades 9,614  gaps 1
    dup 0  last write 0.3 s ago  raw 1.2 MB
    """
    parts = [
        stats.venue,
        f"up {_uptime((stats.now_ns - stats.started_ns) / NS_PER_S)}",
        f"conn {stats.connections_live}/{stats.connections}",
        f"symbols {stats.symbols_live}/{stats.symbols}",
        f"books {stats.books_synced}",
        f"{stats.frames_per_s:,.0f} frames/s",
        f"trades {stats.trades:,}",
        f"gaps {stats.gap_count}",
        f"dup {stats.duplicates:,}",
        f"last write {_age(stats.now_ns, stats.last_write_ns)}",
        f"raw {_size(stats.raw_bytes)}",
    ]
    if stats.overflow_rows or stats.raw_overflow:
        parts.append(f"OVERFLOW rows {stats.overflow_rows:,} raw {stats.raw_overflow:,}")
    return "  ".join(parts)


def status_line(stats: RecordStats) -> Text:
    """The status line, red when something is missing (a connection down, a gap, an overflow)."""
    healthy = (
        stats.connections_live >= stats.connections
        and stats.symbols_live == stats.symbols
        and not stats.overflow_rows
        and not stats.raw_overflow
    )
    return Text(status_text(stats), style="green" if healthy and not stats.gap_count else "yellow")


def event_record(event: RecordEvent) -> dict[str, Any]:
    """One event as a JSON-ready mapping: `{"ts": ISO time, "event": kind, ...fields}`."""
    return {"ts": ns_to_iso(event.at_ns), "event": event.kind, **event.fields}


def stats_record(stats: RecordStats) -> dict[str, Any]:
    """The periodic stats line as a JSON-ready mapping."""
    return {
        "ts": ns_to_iso(stats.now_ns),
        "event": "stats",
        "exchange": stats.venue,
        "uptime_s": round((stats.now_ns - stats.started_ns) / NS_PER_S, 3),
        "frames": stats.frames,
        "frames_per_s": round(stats.frames_per_s, 1),
        "bytes_in": stats.bytes_in,
        "undecodable": stats.problems,
        "skipped_items": stats.skipped,
        "connections": stats.connections,
        "connections_live": stats.connections_live,
        "symbols": stats.symbols,
        "symbols_live": stats.symbols_live,
        "books_synced": stats.books_synced,
        "trades": stats.trades,
        "duplicates_dropped": stats.duplicates,
        "gaps": dict(sorted(stats.gaps.items())),
        "rows_submitted": stats.rows_submitted,
        "rows_written": stats.rows_written,
        "overflow_rows": stats.overflow_rows,
        "raw_records": stats.raw_records,
        "raw_bytes": stats.raw_bytes,
        "raw_overflow": stats.raw_overflow,
        "last_write": ns_to_iso(stats.last_write_ns) if stats.last_write_ns else None,
        "clock_offset_ms": None if stats.clock_offset_ms is None else round(stats.clock_offset_ms, 3),
    }


def json_line(payload: dict[str, Any]) -> str:
    """One compact JSON line."""
    return json.dumps(payload, separators=(",", ":"), default=str, allow_nan=False)


def event_text(event: RecordEvent) -> str:
    """One event as a human log line: `12:00:01.250 gap symbol=BUSDT reason=disconnect ...`."""
    clock = ns_to_iso(event.at_ns)[11:23]
    fields = " ".join(f"{k}={v}" for k, v in event.fields.items() if k not in HIDDEN_IN_TEXT)
    return f"{clock} {event.kind} {fields}".rstrip()


def summary_text(summary: RecordSummary) -> str:
    """The last line of a run on a terminal."""
    s = summary.stats
    return (
        f"recorded {s.venue} for {_uptime(summary.seconds)}: {s.frames:,} frames, {s.trades:,} trades, "
        f"{s.rows_written:,} rows written, {s.gap_count} gaps, {summary.raw_files} raw files "
        f"({_size(s.raw_bytes)})"
    )


class RecordOutput:
    """Callbacks for the recorder (`notify`, `observe`) that print on a thread of their own."""

    def __init__(self, *, headless: bool, stats_every_s: float, console: Console | None = None) -> None:
        self.headless = headless
        self.stats_every_s = stats_every_s
        self.dropped = 0
        self._console = console
        self._live: Live | None = None
        self._lines: queue.Queue[str | Text | None] = queue.Queue(MAX_LINES)
        self._last_stats = 0.0
        self._thread = threading.Thread(target=self._print, name="fx-record-output", daemon=True)

    def notify(self, event: RecordEvent) -> None:
        """An event: a JSON line (headless) or a log line above the status line."""
        if self.headless:
            self._put(json_line(event_record(event)))
        elif event.kind not in ("subscribed", "started", "stopped", "stopping"):
            self._put(Text(event_text(event), style="red" if event.kind == "gap" else "dim"))

    def observe(self, stats: RecordStats) -> None:
        """Counters: the status line (refreshed by rich), or a stats JSON line every `stats_every_s`."""
        if self._live is not None:
            self._live.update(status_line(stats))
            return
        now = time.monotonic()
        if self.headless and now - self._last_stats >= self.stats_every_s:
            self._last_stats = now
            self._put(json_line(stats_record(stats)))

    def log(self, record: logging.LogRecord) -> None:
        """A warning from the live machinery (book resyncs, rejections): a line like the events."""
        message = record.getMessage()
        if self.headless:
            ts = ns_to_iso(int(record.created * NS_PER_S))
            payload = {"ts": ts, "event": "log", "level": record.levelname.lower(), "logger": record.name}
            self._put(json_line({**payload, "message": message}))
        else:
            self._put(Text(f"{record.levelname.lower()}: {message}", style="yellow"))

    @contextmanager
    def running(self) -> Iterator[RecordOutput]:
        """Start the printing thread, the live status line, and log capture for the length of the block."""
        from rich.live import Live

        live = None
        if not self.headless and self._console is not None:
            live = Live(Text("connecting..."), console=self._console, refresh_per_second=4, transient=True)
            live.start()
            self._live = live
        handler = _QueueHandler(self)
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(min(old_level or logging.WARNING, logging.WARNING))
        self._thread.start()
        try:
            yield self
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            self._lines.put(None)
            self._thread.join(timeout=5.0)
            if live is not None:
                live.stop()
            self._live = None

    def _put(self, line: str | Text) -> None:
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _print(self) -> None:
        while True:
            line = self._lines.get()
            if line is None:
                return
            try:
                if isinstance(line, str):
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
                elif self._live is not None:
                    self._live.console.print(line)
            except (OSError, ValueError):  # stdout closed (a pipe reader went away): keep recording
                self.dropped += 1


class _QueueHandler(logging.Handler):
    """Log records (WARNING and up) to a `RecordOutput`, never to the terminal directly."""

    def __init__(self, output: RecordOutput) -> None:
        super().__init__(logging.WARNING)
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.output.log(record)
        except Exception:  # a log line must never take the recorder down
            self.handleError(record)
