"""Notifications: what `fx stream` and `fx record` tell a webhook, a Telegram chat or a Discord channel.

The engine's thread only offers a note (a transition, a fill, a closed trade, a gap, an error) to a
bounded queue; a dispatcher thread turns notes into one-line messages, keeps the day's tally for the
`daily` summary, and hands each message to every destination's sender (`ops.delivery`), which
retries and paces it on its own thread. Nothing here ever makes the engine wait.

Message types come from `FORMATTERS` (note type -> messages): issue 15's real orders and fills add
their note types there, and they are sent under `fill` as paper fills are.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fxcli.backtest.runner import TradeRecord
from fxcli.errors import FxError
from fxcli.live.feed import FillNote, Note, StatusNote, SymbolFrame, TradeNote
from fxcli.live.recorder import RecordEvent
from fxcli.model.units import NS_PER_S, ns_to_iso
from fxcli.ops.delivery import Message, Sender
from fxcli.ops.destinations import Destination
from fxcli.strategy.machine import State, Transition

MAX_INBOX = 10_000  # notes waiting for the dispatcher before new ones are dropped (and counted)
POLL_S = 0.1  # how often the dispatcher looks for notes: a message waits at most this long
CLOSE_GRACE_S = 5.0  # at the end of a run, queued messages get this long to go out
DAY_NS = 86_400 * NS_PER_S


class Event(StrEnum):
    """What a user can ask to be told (`--notify-on`)."""

    SIGNAL = "signal"  # the strategy saw a signal (MONITORING -> SIGNAL_DETECTED)
    ENTRY = "entry"  # a position was opened (its entry fill)
    EXIT = "exit"  # a position was closed: the round trip and its PnL
    FILL = "fill"  # every fill, entries and exits
    GAP = "gap"  # data missing: a connection or book gap
    ERROR = "error"  # a rejected subscription, a failed dial, a breaker, a writer overflow, a failed run
    DAILY = "daily"  # one summary per UTC day (and one for the part of a day when the run stops)


STREAM_DEFAULT = (Event.ENTRY, Event.EXIT, Event.GAP, Event.ERROR, Event.DAILY)
RECORD_EVENTS = (Event.GAP, Event.ERROR, Event.DAILY)  # fx record runs no strategy

# Status notes (`live.feed.StatusNote.kind`, and `fx record`'s event kinds) by what they mean here.
# A lost book is not sent: the gap that closes it says when it began and how long it lasted.
GAP_KINDS = frozenset({"gap", "gap_opened", "record_gap"})
ERROR_KINDS = frozenset({"rejected", "dial_failed", "breaker", "record_writer_overflow", "failed"})
RECORD_ERROR_KINDS = frozenset({"rejected", "dial_failed", "breaker", "writer_overflow", "failed"})


def parse_events(
    text: str | None, where: str, allowed: Iterable[Event], default: Iterable[Event]
) -> frozenset[Event]:
    """`entry,exit,gap` -> the events to send; FxError naming `where` for a name that is not one."""
    if text is None:
        return frozenset(default)
    allowed = tuple(allowed)
    found: set[Event] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        names = ", ".join(e.value for e in allowed)
        try:
            event = Event(part)
        except ValueError:
            raise FxError(f"{where}: {part[:40]!r} is not one of {names}") from None
        if event not in allowed:
            raise FxError(f"{where}: {part!r} needs a strategy (fx stream); fx record sends {names}")
        found.add(event)
    if not found:
        raise FxError(f"{where}: name at least one of {', '.join(e.value for e in allowed)}")
    return frozenset(found)


@dataclass(frozen=True)
class NotifyConfig:
    """Checked notification settings of one run."""

    destinations: tuple[Destination, ...]
    events: frozenset[Event]
    timeout_s: float = 10.0
    command: str = "stream"  # "stream" | "record": what the daily summary counts


# ------------------------------------------------------------------ messages


def _num(value: float) -> str:
    return f"{value:.8g}" if math.isfinite(value) else "n/a"


def _side(side: int) -> str:
    return "long" if side > 0 else "short"


def _signal(note: Transition) -> list[tuple[Event, Message]]:
    if note.to_state is not State.SIGNAL_DETECTED:
        return []
    shown = ", ".join(f"{k}={_num(v)}" for k, v in list(note.values.items())[:3])
    text = f"{note.symbol} signal {note.group}" + (f" ({shown})" if shown else "")
    fields = {"event": "signal", "symbol": note.symbol, "time": ns_to_iso(note.ts_ns), "group": note.group}
    return [(Event.SIGNAL, Message("signal", text, {**fields, "values": note.values}))]


def _fill(note: FillNote) -> list[tuple[Event, Message]]:
    fill = note.fill
    fields = {
        "symbol": note.symbol,
        "time": ns_to_iso(fill.ts_ns),
        "action": note.action,
        "side": "buy" if fill.side > 0 else "sell",
        "qty": fill.qty,
        "price": fill.price,
        "fee": fill.fee,
        "source": fill.source,
    }
    side = "buy" if fill.side > 0 else "sell"
    partial = " partial" if fill.is_partial else ""
    out = [
        (
            Event.FILL,
            Message(
                "fill",
                f"{note.symbol} fill {side}{partial} {_num(fill.qty)} @ {_num(fill.price)}, "
                f"fee {_num(fill.fee)} ({note.action}, {fill.source})",
                {"event": "fill", **fields},
            ),
        )
    ]
    if note.action == "open":
        text = f"{note.symbol} entry {_side(fill.side)} {_num(fill.qty)} @ {_num(fill.price)}"
        out.append((Event.ENTRY, Message("entry", text, {"event": "entry", **fields})))
    return out


def _exit(note: TradeNote) -> list[tuple[Event, Message]]:
    trade = note.trade
    pct = trade.pnl / trade.stake * 100 if trade.stake else math.nan
    text = (
        f"{trade.symbol} exit {_side(trade.side)} {_num(trade.qty)} @ {_num(trade.exit_price)} "
        f"({trade.exit_reason}), PnL {trade.pnl:+.2f} ({pct:+.2f}%)"
    )
    fields = {
        "event": "exit",
        "symbol": trade.symbol,
        "time": ns_to_iso(trade.exit_ts_ns),
        "side": _side(trade.side),
        "qty": trade.qty,
        "entry_price": trade.entry_price,
        "price": trade.exit_price,
        "reason": trade.exit_reason,
        "pnl": trade.pnl,
        "pnl_pct": pct,
    }
    return [(Event.EXIT, Message("exit", text, fields))]


def _status(note: StatusNote) -> list[tuple[Event, Message]]:
    if note.kind in GAP_KINDS:
        event = Event.GAP
    elif note.kind in ERROR_KINDS:
        event = Event.ERROR
    else:
        return []
    who = f"{note.symbol} " if note.symbol else ""
    text = f"{who}{note.kind}: {_short(note.detail)}"
    fields = {
        "event": event.value,
        "kind": note.kind,
        "symbol": note.symbol or None,
        "time": ns_to_iso(note.ts_ns),
        "detail": note.detail,
    }
    return [(event, Message(event.value, text, fields))]


def _record(event: RecordEvent) -> list[tuple[Event, Message]]:
    if event.kind == "gap":
        kind = Event.GAP
    elif event.kind in RECORD_ERROR_KINDS:
        kind = Event.ERROR
    else:
        return []
    symbol = str(event.fields.get("symbol") or "")
    if event.kind == "gap":  # its ns bounds are for programs; a person reads the reason and length
        got = event.fields
        detail = f"{got.get('reason', '')}, {got.get('seconds', '?')} s"
        detail += f": {got['detail']}" if got.get("detail") else ""
    else:
        detail = ", ".join(f"{k}={v}" for k, v in event.fields.items() if k != "symbol")
    text = f"{symbol + ' ' if symbol else ''}record {event.kind}: {_short(detail)}"
    fields = {
        "event": kind.value,
        "kind": f"record_{event.kind}",
        "symbol": symbol or None,
        "time": ns_to_iso(event.at_ns),
        "detail": dict(event.fields),
    }
    return [(kind, Message(kind.value, text, fields))]


FORMATTERS: dict[type, Callable[[Any], list[tuple[Event, Message]]]] = {
    Transition: _signal,
    FillNote: _fill,
    TradeNote: _exit,
    StatusNote: _status,
    RecordEvent: _record,
}


def messages_of(note: Note | RecordEvent) -> list[tuple[Event, Message]]:
    """The messages a note makes, each under the event a user asks for."""
    formatter = FORMATTERS.get(type(note))
    return formatter(note) if formatter is not None else []


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ------------------------------------------------------------------ the daily summary


@dataclass
class DailyTally:
    """What happened in one UTC day, for the `daily` message."""

    day: int  # days since the epoch (UTC)
    trades: int = 0
    wins: int = 0
    pnl: float = 0.0
    fills: int = 0
    gaps: int = 0
    errors: int = 0

    def add(self, event: Event, note: object) -> None:
        """Count one message's event (a trade also adds its PnL)."""
        if event is Event.EXIT and isinstance(note, TradeNote):
            self.trades += 1
            self.wins += note.trade.pnl > 0
            self.pnl += _trade_pnl(note.trade)
        elif event is Event.FILL:
            self.fills += 1
        elif event is Event.GAP:
            self.gaps += 1
        elif event is Event.ERROR:
            self.errors += 1

    def message(self, command: str, is_partial: bool) -> Message:
        """`fx stream daily 2024-08-08 UTC: 3 trades (2 won), PnL +1.20; 6 fills, 1 gap, 0 errors`."""
        date = ns_to_iso(self.day * DAY_NS)[:10]
        until = " (until the run stopped)" if is_partial else ""
        parts = []
        if command == "stream":
            trades = _count(self.trades, "trade")
            parts.append(f"{trades} ({self.wins} won), PnL {self.pnl:+.2f}; {_count(self.fills, 'fill')}, ")
        parts.append(f"{_count(self.gaps, 'gap')}, {_count(self.errors, 'error')}")
        text = f"fx {command} daily {date} UTC{until}: " + "".join(parts)
        fields: dict[str, Any] = {"event": "daily", "date": date, "partial": is_partial, "command": command}
        fields.update(gaps=self.gaps, errors=self.errors)
        if command == "stream":
            fields.update(trades=self.trades, wins=self.wins, pnl=round(self.pnl, 10), fills=self.fills)
        return Message("daily", text, fields)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _trade_pnl(trade: TradeRecord) -> float:
    return trade.pnl if math.isfinite(trade.pnl) else 0.0


def _note_ns(note: object) -> int | None:
    """The venue time a note carries (a replay's days are the recording's days, not today)."""
    if isinstance(note, Transition | StatusNote):
        return note.ts_ns
    if isinstance(note, FillNote):
        return note.fill.ts_ns
    if isinstance(note, TradeNote):
        return note.trade.exit_ts_ns
    if isinstance(note, RecordEvent):
        return note.at_ns
    return None


# ------------------------------------------------------------------ the notifier


@dataclass
class NotifyStats:
    """What the notifier did, for the run's results (names redacted)."""

    destinations: list[dict[str, Any]] = field(default_factory=list)
    dropped_notes: int = 0  # the dispatcher's queue was full

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"destinations": self.destinations, "dropped_notes": self.dropped_notes}


class Notifier:
    """Notes in (from the engine's thread, never blocking), messages out to every destination."""

    def __init__(self, config: NotifyConfig, report: Callable[[str], None], *, wall_clock: bool) -> None:
        self.config = config
        self.dropped_notes = 0
        self._events = config.events
        self._is_signal_wanted = Event.SIGNAL in config.events
        self._wall_clock = wall_clock  # live: days by the wall clock; a replay: by the notes' times
        self._senders = [Sender(d, report, config.timeout_s) for d in config.destinations]
        # A deque, not a queue.Queue: the engine's append takes no lock and wakes no thread; the
        # dispatcher looks every POLL_S, so it takes the GIL a few times a second, not once per note.
        self._inbox: deque[Note | RecordEvent] = deque()
        self._closing = threading.Event()
        self._tally: DailyTally | None = None
        self._thread = threading.Thread(target=self._dispatch, name="fx-notify", daemon=True)

    def start(self) -> None:
        """Start the dispatcher and the senders."""
        for sender in self._senders:
            sender.start()
        self._thread.start()

    def offer(self, note: Note | SymbolFrame | RecordEvent) -> None:
        """A note from the engine: queued, never waited on (a full queue drops it and counts it).
        Screen frames (a feed's taps see them too) are not news."""
        if isinstance(note, SymbolFrame):
            return
        if isinstance(note, Transition) and (
            not self._is_signal_wanted or note.to_state is not State.SIGNAL_DETECTED
        ):
            return  # most transitions interest nobody here: keep them off the queue
        if len(self._inbox) >= MAX_INBOX:
            self.dropped_notes += 1
            return
        self._inbox.append(note)

    def close(self, grace_s: float = CLOSE_GRACE_S) -> NotifyStats:
        """Send the day's summary so far (with `daily`) and what is queued, for at most `grace_s`."""
        deadline = time.monotonic() + grace_s
        self._closing.set()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        for sender in self._senders:
            sender.close(deadline)
        for sender in self._senders:
            sender.join()
        return NotifyStats([s.stats.as_dict() for s in self._senders], self.dropped_notes)

    def _dispatch(self) -> None:
        is_last = False
        while not is_last:
            is_last = self._closing.wait(POLL_S)
            if self._wall_clock:
                self._roll_day(time.time_ns())  # a quiet market still gets its daily summary
            while self._inbox:
                self._dispatch_one(self._inbox.popleft())
        if self._tally is not None and Event.DAILY in self._events:
            self._send(self._tally.message(self.config.command, is_partial=True))

    def _dispatch_one(self, note: Note | RecordEvent) -> None:
        now_ns = time.time_ns() if self._wall_clock else _note_ns(note)
        if now_ns is not None:
            self._roll_day(now_ns)
        for event, message in messages_of(note):
            if self._tally is not None:
                self._tally.add(event, note)
            if event in self._events and event is not Event.DAILY:
                self._send(message)

    def _roll_day(self, now_ns: int) -> None:
        day = now_ns // DAY_NS
        if self._tally is None:
            self._tally = DailyTally(day)
        elif day > self._tally.day:
            if Event.DAILY in self._events:
                self._send(self._tally.message(self.config.command, is_partial=False))
            self._tally = DailyTally(day)

    def _send(self, message: Message) -> None:
        for sender in self._senders:
            sender.put(message)


def notifying(
    config: NotifyConfig | None, report: Callable[[str], None], *, wall_clock: bool
) -> Notifier | None:
    """A started notifier for `config`, or None when no destination is configured."""
    if config is None or not config.destinations:
        return None
    notifier = Notifier(config, report, wall_clock=wall_clock)
    notifier.start()
    return notifier


def destinations_named(
    urls: Iterable[tuple[str, str]], environ: Mapping[str, str] | None = None
) -> tuple[Destination, ...]:
    """Each (url, where) checked (`ops.destinations.destination`); the same URL twice is sent to once.
    Two that would print alike (two webhooks on one host) are told apart by their place: `#2`."""
    from fxcli.ops.destinations import destination

    found: dict[str, Destination] = {}
    for url, where in urls:
        dest = destination(url, where, environ)
        found.setdefault(dest.url, dest)
    names = Counter(d.name for d in found.values())
    return tuple(
        dataclasses.replace(d, name=f"{d.name} #{i}") if names[d.name] > 1 else d
        for i, d in enumerate(found.values(), start=1)
    )
