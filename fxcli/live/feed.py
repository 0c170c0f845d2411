"""What a stream session publishes for a screen: session info, per-symbol frames, and notes.

Notes (transitions, fills, closed trades, connection and data news) are few and never dropped; frames
go through a bounded queue that a screen drains on its own thread, so a slow screen loses frames,
never engine time.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable
from dataclasses import dataclass

from fxcli.backtest.fills import Fill
from fxcli.backtest.runner import TradeRecord
from fxcli.live.latency import LATENCY_BINS
from fxcli.strategy.machine import Transition

MAX_FRAMES = 4096  # frames waiting for a screen before new ones are dropped


@dataclass(frozen=True)
class SessionInfo:
    """What a screen needs before the first frame: who runs what, where."""

    mode: str  # "live" | "replay"
    strategy: str
    exchange: str
    symbols: list[str]
    indicators: list[str]  # the strategy's indicator / variant names, in display order
    source: str  # ws URL, or the replayed folder
    started_ns: int
    balance: float


@dataclass(frozen=True)
class SymbolFrame:
    """One symbol as the engine sees it after an event (for screens; frames may be dropped)."""

    symbol: str
    ts_ns: int  # engine time (the venue's clock)
    events: int
    price: float
    bid: float
    ask: float
    state: str
    side: int  # the open position's side, 0 when flat
    qty: float
    entry_price: float
    equity: float
    pnl: float  # equity - starting balance: realised and unrealised, net of fees
    trades: int
    indicators: dict[str, float]


@dataclass(frozen=True)
class FillNote:
    """A paper fill, as the backtest's fill model made it (`fill.source` says what it walked)."""

    symbol: str
    action: str  # "open" | "close"
    fill: Fill


@dataclass(frozen=True)
class TradeNote:
    """A closed round trip."""

    trade: TradeRecord


@dataclass(frozen=True)
class StatusNote:
    """Connection or data news: connected, subscribed, rejected, disconnected, gap, breaker..."""

    ts_ns: int
    kind: str
    detail: str
    symbol: str = ""


@dataclass(frozen=True)
class OrderNote:
    """A live order changed state (`fx stream --live`): sent, accepted, filled, unknown, cancelled...

    `qty`/`price` are what the venue says so far (executed quantity, average price), as text: the
    venue's exact decimals."""

    ts_ns: int
    symbol: str
    client_id: str
    role: str  # "entry" | "exit" | "kill"
    side: str  # BUY | SELL
    state: str  # an `fxcli.execution.orders.OrderState` value
    qty: str = ""
    price: str = ""
    detail: str = ""


Note = Transition | FillNote | TradeNote | StatusNote | OrderNote


@dataclass
class SessionStats:
    """Counters a screen shows; written by the loop, read by the screen."""

    frames: int = 0
    events: int = 0
    gaps: int = 0
    connections: int = 0


class Feed:
    """What a session publishes for a screen.

    `notes` (transitions, fills, trades, news) are never dropped: they are few. `frames` go through
    a bounded queue; when the screen does not keep up, new frames are dropped and counted.
    """

    def __init__(self, max_frames: int = MAX_FRAMES) -> None:
        self.notes: queue.SimpleQueue[Note] = queue.SimpleQueue()
        self.frames: queue.Queue[SymbolFrame] = queue.Queue(max_frames)
        self.dropped_frames = 0
        self.info: SessionInfo | None = None
        self.stats = SessionStats()
        self.histograms: list[list[int]] = []  # one per symbol: tick-to-decision latency
        # Other readers of every note and frame (`--serve`, its metrics, notifications): called on the
        # engine's thread, so each must only hand the item over (to its own queue), never block or do I/O.
        self.taps: list[Callable[[Note | SymbolFrame], None]] = []

    def publish(self, note: Note) -> None:
        """A note for the screen (never dropped)."""
        self.notes.put(note)
        for tap in self.taps:
            tap(note)

    def offer(self, frame: SymbolFrame) -> None:
        """A frame for the screen, dropped if the screen is behind (a tap sees every frame)."""
        for tap in self.taps:
            tap(frame)
        try:
            self.frames.put_nowait(frame)
        except queue.Full:
            self.dropped_frames += 1

    def drain(self) -> tuple[list[Note], list[SymbolFrame]]:
        """Everything published since the last drain."""
        notes: list[Note] = []
        frames: list[SymbolFrame] = []
        with contextlib.suppress(queue.Empty):
            while True:
                notes.append(self.notes.get_nowait())
        with contextlib.suppress(queue.Empty):
            while True:
                frames.append(self.frames.get_nowait())
        return notes, frames

    def latency(self) -> list[int]:
        """Tick-to-decision histogram of the session so far (all symbols)."""
        merged = [0] * LATENCY_BINS
        for hist in list(self.histograms):
            for i, count in enumerate(hist):
                if count:
                    merged[i] += count
        return merged
