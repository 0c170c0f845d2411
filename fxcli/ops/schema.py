"""The `fx stream --serve` message schema, version 1: what a subscriber receives, as JSON objects.

Every message has `"v": 1` and a `"type"`; times are nanoseconds since the epoch (`*_ts_ns`, the
venue's clock for market facts) with an ISO copy in `"time"`; NaN (not warm yet, no position) is
`null`. Fields are only ever added within a version; a removed or renamed field means `"v": 2`.

    {"v": 1, "type": "snapshot", "symbol": "BTCUSDT", "ts_ns": 1723075200123000000, ...}

The types a client can subscribe to are `TYPES`; `hello`, `subscribed` and `error` answer the
client itself and are always sent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from fxcli.backtest.fills import Fill
from fxcli.live.feed import FillNote, OrderNote, SessionInfo, StatusNote, SymbolFrame, TradeNote
from fxcli.model.units import ns_to_iso
from fxcli.strategy.machine import Transition

VERSION = 1
TYPES = ("snapshot", "transition", "order", "fill", "trade", "gap", "status")
GAP_KINDS = frozenset({"gap", "book_lost", "record_gap", "record_writer_overflow"})


@dataclass(frozen=True)
class OrderView:
    """An order's news as the feed sends it: a paper order is derived from its fill; a real order
    (`fx stream --live`) from the broker's `OrderNote`.

    `status` is one of submitting, new, partially_filled, filled, pending_cancel, canceled,
    partially_canceled, rejected, unknown, not_placed.
    """

    ts_ns: int
    symbol: str
    order_id: str
    action: str  # "open" | "close"
    side: int  # +1 buy, -1 sell
    qty: float  # base quantity asked for
    filled_qty: float
    price: float  # average fill price so far (NaN before any fill)
    status: str
    is_paper: bool
    reason: str = ""


def _num(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def _head(kind: str, ts_ns: int) -> dict[str, Any]:
    return {"v": VERSION, "type": kind, "ts_ns": ts_ns, "time": ns_to_iso(ts_ns)}


def hello(info: SessionInfo | None, rate_per_s: float) -> dict[str, Any]:
    """Sent on connect: the session a client is looking at, and what it may subscribe to."""
    session = None
    if info is not None:
        session = {
            "mode": info.mode,
            "strategy": info.strategy,
            "exchange": info.exchange,
            "symbols": info.symbols,
            "indicators": info.indicators,
            "source": info.source,
            "started_ns": info.started_ns,
        }
    return {"v": VERSION, "type": "hello", "session": session, "types": list(TYPES), "rate_per_s": rate_per_s}


def snapshot(frame: SymbolFrame) -> dict[str, Any]:
    """A symbol's indicators, price, strategy state and position (at most `--serve-rate` a second)."""
    doc = _head("snapshot", frame.ts_ns)
    doc.update(
        symbol=frame.symbol,
        events=frame.events,
        price=_num(frame.price),
        bid=_num(frame.bid),
        ask=_num(frame.ask),
        state=frame.state,
        position={"side": frame.side, "qty": frame.qty, "entry_price": _num(frame.entry_price)},
        equity=_num(frame.equity),
        pnl=_num(frame.pnl),
        trades=frame.trades,
        indicators={name: _num(value) for name, value in frame.indicators.items()},
    )
    return doc


def transition(t: Transition) -> dict[str, Any]:
    """A change of the strategy's state and the indicator values that decided it."""
    doc = _head("transition", t.ts_ns)
    doc.update(
        symbol=t.symbol,
        from_state=t.from_state.value,
        to_state=t.to_state.value,
        group=t.group,
        values={name: _num(value) for name, value in t.values.items()},
    )
    return doc


def order(note: OrderView) -> dict[str, Any]:
    """An order's state: paper market orders are `filled` (or `partially_filled`) as they are made."""
    doc = _head("order", note.ts_ns)
    doc.update(
        symbol=note.symbol,
        order_id=note.order_id,
        action=note.action,
        side=note.side,
        qty=note.qty,
        filled_qty=note.filled_qty,
        price=_num(note.price),
        status=note.status,
        paper=note.is_paper,
        reason=note.reason,
    )
    return doc


def paper_order(note: FillNote) -> OrderView:
    """The paper market order behind a paper fill: decided at `decided_ts_ns`, filled at once."""
    fill: Fill = note.fill
    return OrderView(
        ts_ns=fill.ts_ns,
        symbol=note.symbol,
        order_id=f"paper-{note.symbol}-{fill.decided_ts_ns}-{note.action}",
        action=note.action,
        side=fill.side,
        qty=fill.wanted_qty,
        filled_qty=fill.qty,
        price=fill.price,
        status="partially_filled" if fill.is_partial else "filled",
        is_paper=True,
    )


# The journal's order states (fxcli.execution.orders.OrderState) as the feed's statuses.
LIVE_STATUS = {
    "SUBMITTING": "submitting",
    "ACCEPTED": "new",
    "REJECTED": "rejected",
    "UNKNOWN": "unknown",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "PENDING_CANCEL": "pending_cancel",
    "CANCELED": "canceled",
    "PARTIALLY_CANCELED": "partially_canceled",
    "TOMBSTONED": "not_placed",
}


def live_order(note: OrderNote) -> OrderView:
    """A real order's news (`fx stream --live`): its client order id, what the venue filled so far."""
    return OrderView(
        ts_ns=note.ts_ns,
        symbol=note.symbol,
        order_id=note.client_id,
        action="open" if note.role == "entry" else "close",
        side=1 if note.side == "BUY" else -1,
        qty=math.nan,  # asked in quote for entries: the venue decides the base quantity
        filled_qty=float(note.qty) if note.qty else 0.0,
        price=float(note.price) if note.price else math.nan,
        status=LIVE_STATUS.get(note.state, note.state.lower()),
        is_paper=False,
        reason=note.detail,
    )


def is_venue_fill(note: FillNote) -> bool:
    """A real fill (`fx stream --live`): its order's news comes from the broker, not from the fill."""
    return note.fill.source == "venue"


def fill(note: FillNote) -> dict[str, Any]:
    """One execution, with its quality line (what the fill model walked, what it cost in bps)."""
    f = note.fill
    doc = _head("fill", f.ts_ns)
    doc.update(
        symbol=note.symbol,
        order_id=None if is_venue_fill(note) else paper_order(note).order_id,
        action=note.action,
        side=f.side,
        qty=f.qty,
        price=_num(f.price),
        notional=_num(f.notional),
        fee=_num(f.fee),
        source=f.source,
        levels=f.levels,
        decided_ts_ns=f.decided_ts_ns,
        cost_bps=_num(f.cost_bps),
        paper=not is_venue_fill(note),
    )
    return doc


def trade(note: TradeNote) -> dict[str, Any]:
    """A closed round trip, net of fees."""
    t = note.trade
    doc = _head("trade", t.exit_ts_ns)
    doc.update(
        symbol=t.symbol,
        side=t.side,
        entry_ts_ns=t.entry_ts_ns,
        exit_ts_ns=t.exit_ts_ns,
        qty=t.qty,
        entry_price=_num(t.entry_price),
        exit_price=_num(t.exit_price),
        fees=_num(t.entry_fee + t.exit_fee),
        pnl=_num(t.pnl),
        exit_reason=t.exit_reason,
    )
    return doc


def status(note: StatusNote) -> dict[str, Any]:
    """Connection or data news; gaps and lost books are the `gap` type, the rest `status`."""
    doc = _head("gap" if note.kind in GAP_KINDS else "status", note.ts_ns)
    doc.update(symbol=note.symbol or None, kind=note.kind, detail=note.detail)
    return doc


def error(message: str) -> dict[str, Any]:
    """A client's request could not be taken (the connection stays open)."""
    return {"v": VERSION, "type": "error", "message": message}


def subscribed(symbols: list[str], types: list[str]) -> dict[str, Any]:
    """The subscription now in force."""
    return {"v": VERSION, "type": "subscribed", "symbols": symbols, "types": types}


def messages_of(item: object) -> list[dict[str, Any]]:
    """The messages a feed item becomes (a paper fill is an order and a fill); [] for unknown items."""
    if isinstance(item, Transition):
        return [transition(item)]
    if isinstance(item, FillNote):
        return [fill(item)] if is_venue_fill(item) else [order(paper_order(item)), fill(item)]
    if isinstance(item, OrderNote):
        return [order(live_order(item))]
    if isinstance(item, TradeNote):
        return [trade(item)]
    if isinstance(item, StatusNote):
        return [status(item)]
    if isinstance(item, SymbolFrame):
        return [snapshot(item)]
    return []


def encode(doc: dict[str, Any]) -> str:
    """One message as compact JSON (never NaN: the schema says null)."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, default=str)
