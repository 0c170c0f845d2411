"""The order state machine: one written transition table, and a tracked order that applies every
piece of venue evidence idempotently.

Evidence arrives from four sources that may repeat, reorder or drop messages (the new-order answer,
REST snapshots, user-stream order pushes, fills from pushes or `myTrades`), so each `on_*` method
may be called any number of times in any order and reaches the same result:

- snapshots (`VenueOrder`, `OrderPush`) never move `cum_qty` backwards: a stale one is ignored;
- fills are counted once per trade id;
- terminal states (REJECTED, FILLED, CANCELED, PARTIALLY_CANCELED) are terminal;
- UNKNOWN is left only by venue evidence (an ack, a snapshot, a fill, or reconciliation's proof of
  absence → TOMBSTONED), never by a timer.

A move the table does not allow is ignored (it is stale or duplicated evidence), never an error.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from fxcli.model.orders import (
    CANCELED,
    FILLED,
    NEW,
    PARTIALLY_CANCELED,
    PARTIALLY_FILLED,
    Ack,
    OrderPush,
    OrderRequest,
    VenueOrder,
    VenueTrade,
)


class OrderState(StrEnum):
    """Where one order intent stands, as fx knows it."""

    SUBMITTING = "SUBMITTING"  # journaled; the request may or may not have left
    ACCEPTED = "ACCEPTED"  # the venue holds it, nothing filled
    REJECTED = "REJECTED"  # a definitive error: not placed
    UNKNOWN = "UNKNOWN"  # sent, outcome unknown (timeout, lost response, 5xx, crash)
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"  # cancel sent; MEXC may answer with the pre-cancel status
    CANCELED = "CANCELED"
    PARTIALLY_CANCELED = "PARTIALLY_CANCELED"
    TOMBSTONED = "TOMBSTONED"  # proven absent after the read-after-write lag; still watched


S = OrderState
# The written transition table (also in README.md, "The order journal"). A state may always "move" to itself
# when a snapshot or fill only raises cum_qty; the table lists the moves between different states.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.SUBMITTING: frozenset(
        {S.ACCEPTED, S.REJECTED, S.UNKNOWN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.PARTIALLY_CANCELED}
    ),
    S.UNKNOWN: frozenset(
        {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.PARTIALLY_CANCELED, S.TOMBSTONED}
    ),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED, S.PARTIALLY_CANCELED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.PENDING_CANCEL, S.PARTIALLY_CANCELED}),
    S.PENDING_CANCEL: frozenset({S.FILLED, S.CANCELED, S.PARTIALLY_CANCELED}),
    # A tombstoned id that turns up at the venue is adopted (and flagged as an incident).
    S.TOMBSTONED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.PARTIALLY_CANCELED}),
    S.REJECTED: frozenset(),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.PARTIALLY_CANCELED: frozenset(),
}
TERMINAL = frozenset(state for state, moves in TRANSITIONS.items() if not moves)
# States in which the venue may hold a live order of ours (what cancel-on-exit must cancel).
AT_VENUE = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL})
# States that block new entries on the symbol: the outcome of a send is not known yet.
IN_DOUBT = frozenset({S.SUBMITTING, S.UNKNOWN})

_VENUE_STATUS = {
    NEW: S.ACCEPTED,
    PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    FILLED: S.FILLED,
    CANCELED: S.CANCELED,
    PARTIALLY_CANCELED: S.PARTIALLY_CANCELED,
}
# A live status seen while a cancel is pending is the venue's pre-cancel answer, not a new state.
_LIVE_DURING_CANCEL = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED})


def can_move(old: OrderState, new: OrderState) -> bool:
    """Whether the table allows `old` → `new` (a state may always stay where it is)."""
    return new == old or new in TRANSITIONS[old]


def now_ms() -> int:
    """Wall-clock milliseconds (journal timestamps and the read-after-write lag use this clock)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Intent:
    """One order fx decided to send, as journaled before the request leaves."""

    client_id: str
    run_id: str
    seq: int
    role: str
    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    created_ms: int

    def request(self) -> OrderRequest:
        """The new-order request for this intent."""
        return OrderRequest(
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            client_id=self.client_id,
            quantity=self.quantity,
            quote_qty=self.quote_qty,
            price=self.price,
        )


@dataclass
class TrackedOrder:
    """An intent and everything the venue has said about it; `on_*` return whether anything changed
    (the caller journals a change with its evidence)."""

    intent: Intent
    state: OrderState = S.SUBMITTING
    order_id: str = ""
    cum_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    fills: dict[str, VenueTrade] = field(default_factory=dict)
    updated_ms: int = 0
    cancel_requested: bool = False
    incident: str = ""  # why this order needs a human look (a tombstoned id that turned up)

    @property
    def client_id(self) -> str:
        return self.intent.client_id

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def side(self) -> str:
        return self.intent.side

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def fill_qty(self) -> Decimal:
        """Σ quantity of the fills seen (by trade id); below `cum_qty` means fills are missing."""
        return sum((t.qty for t in self.fills.values()), Decimal(0))

    def on_ack(self, ack: Ack) -> bool:
        """The new-order answer: the venue holds the order (MEXC's ack has no status or fills)."""
        changed = self._learn_order_id(ack.order_id)
        if self.state in (S.SUBMITTING, S.UNKNOWN, S.TOMBSTONED):
            changed = self._move(S.ACCEPTED) or changed
        return changed

    def on_reject(self) -> bool:
        """A definitive error answered the send (the order was not placed)."""
        return self.state == S.SUBMITTING and self._move(S.REJECTED)

    def on_unknown(self) -> bool:
        """The send's outcome is unknown (timeout, lost response, 5xx, a crash before the answer)."""
        return self.state == S.SUBMITTING and self._move(S.UNKNOWN)

    def on_cancel_sent(self) -> bool:
        """A cancel request left; the order stays live until the venue confirms a terminal state."""
        changed = not self.cancel_requested
        self.cancel_requested = True
        if self.state in (S.ACCEPTED, S.PARTIALLY_FILLED):
            changed = self._move(S.PENDING_CANCEL) or changed
        return changed

    def on_absent(self) -> bool:
        """Reconciliation's proof that an UNKNOWN order was never placed (two not-founds after the
        read-after-write lag, and absent from open orders, all orders and trades)."""
        return self.state == S.UNKNOWN and self._move(S.TOMBSTONED)

    def on_order(self, snapshot: VenueOrder | OrderPush) -> bool:
        """A REST snapshot or an order push; ignored when its cumulative quantity is behind ours."""
        cum_qty = snapshot.executed_qty if isinstance(snapshot, VenueOrder) else snapshot.cum_qty
        changed = self._learn_order_id(snapshot.order_id)
        if cum_qty < self.cum_qty or self.is_terminal:
            return changed
        target = _VENUE_STATUS.get(snapshot.status)
        if target is None:
            return changed
        if self.state == S.PENDING_CANCEL and target in _LIVE_DURING_CANCEL:
            target = S.PENDING_CANCEL
        if not can_move(self.state, target):
            return changed
        if cum_qty > self.cum_qty or snapshot.cum_quote > self.cum_quote:
            self.cum_qty = max(self.cum_qty, cum_qty)
            self.cum_quote = max(self.cum_quote, snapshot.cum_quote)
            changed = True
        return self._move(target) or changed

    def on_trade(self, trade: VenueTrade) -> bool:
        """One fill; True only the first time its trade id is seen. A fill is also proof that the
        order exists, so it moves an UNKNOWN (or tombstoned) order on."""
        if trade.trade_id in self.fills:
            return False
        self.fills[trade.trade_id] = trade
        self._learn_order_id(trade.order_id)
        fill_qty = self.fill_qty
        if fill_qty > self.cum_qty:
            self.cum_qty = fill_qty
            self.cum_quote = max(self.cum_quote, sum((t.quote_qty for t in self.fills.values()), Decimal(0)))
        full = self.intent.quantity is not None and self.cum_qty >= self.intent.quantity
        if full:
            self._move(S.FILLED)  # the table refuses it from a terminal state
        elif self.state != S.PENDING_CANCEL:
            self._move(S.PARTIALLY_FILLED)
        self.updated_ms = now_ms()
        return True

    def _learn_order_id(self, order_id: str) -> bool:
        if order_id and not self.order_id:
            self.order_id = order_id
            return True
        return False

    def _move(self, new: OrderState) -> bool:
        if new == self.state or not can_move(self.state, new):
            return False
        if self.state == S.TOMBSTONED:
            self.incident = "a tombstoned client id was found at the venue after it was declared absent"
        self.state = new
        self.updated_ms = now_ms()
        return True


def evidence(item: object, **extra: object) -> dict[str, object]:
    """A JSON-ready record of what moved an order (a venue value, or notes): Decimals as strings,
    plus the value's type name so the journal says which source it came from."""
    record: dict[str, object] = {}
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        record["kind"] = type(item).__name__
        for key, value in dataclasses.asdict(item).items():
            record[key] = str(value) if isinstance(value, Decimal) else value
    elif item is not None:
        record["kind"] = str(item)
    for key, value in extra.items():
        record[key] = str(value) if isinstance(value, Decimal) else value
    return record
