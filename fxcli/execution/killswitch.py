"""The kill switch (`fx flatten`) and the dead-man switch: MEXC spot cancels nothing by itself.

MEXC has no cancel-on-disconnect and no stop orders through the API, so both live in fx:

- `flatten` cancels every open order of fx (any run this journal has seen; foreign orders are never
  touched) and sells what fx's fills left on each symbol, floored to the symbol's precision and to
  the free balance. A symbol whose open orders are all fx's is cleared with one `DELETE openOrders`
  (one order-budget token, however many orders); a symbol with foreign orders gets one cancel per
  fx order, paced by the client's order budget.
- `DeadManSwitch` is a thread outside the event loop: when the engine stops beating for `timeout_s`
  (a hung strategy, a blocked loop) it runs its action there, with its own client, so a stuck loop
  cannot keep open entries at the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from fxcli.exchange.mexc_private.errors import RetryClass, VenueError
from fxcli.exchange.mexc_private.rules import SymbolRules, quantize_qty
from fxcli.execution.clientid import ENTRY, KILL, parse
from fxcli.execution.failpoints import reach
from fxcli.execution.journal import Journal
from fxcli.execution.orders import OrderState, TrackedOrder, evidence
from fxcli.execution.reconcile import paged_trades, resolve_unknown
from fxcli.execution.venue import OrderVenue
from fxcli.model.orders import BUY, SELL, Balance, VenueOrder, VenueTrade


@dataclass
class FlattenReport:
    """What `fx flatten` did, per symbol."""

    cancelled: dict[str, list[str]] = field(default_factory=dict)  # symbol -> client ids
    sold: dict[str, str] = field(default_factory=dict)  # symbol -> base quantity sent to sell
    left_open: dict[str, list[str]] = field(default_factory=dict)  # fx orders still open after
    foreign: dict[str, int] = field(default_factory=dict)  # open orders not placed by fx (kept)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def is_ours(client_id: str, run_ids: set[str], *, roles: Iterable[str] | None = None) -> bool:
    """Whether `client_id` was placed by a run this journal knows (and has one of `roles`)."""
    parsed = parse(client_id)
    if parsed is None or parsed[0] not in run_ids:
        return False
    return roles is None or parsed[1] in set(roles)


async def cancel_ours(
    client: OrderVenue, symbol: str, run_ids: set[str], *, roles: Iterable[str] | None = None
) -> tuple[list[str], int]:
    """Cancel fx's open orders of `symbol` (of `roles`, default all); returns their client ids and the
    number of foreign open orders left alone."""
    wanted = set(roles) if roles is not None else None
    open_now = await client.open_orders(symbol)
    ours = [o for o in open_now if is_ours(o.client_id, run_ids, roles=wanted)]
    foreign = sum(1 for o in open_now if not is_ours(o.client_id, run_ids))
    if not ours:
        return [], foreign
    if len(ours) == len(open_now) and len(ours) > 1:  # all of them fx's: one request clears the symbol
        await client.cancel_open_orders(symbol)
        return [o.client_id for o in ours], foreign
    cancelled = []
    for order in ours:
        try:
            await client.cancel_order(symbol, client_id=order.client_id)
        except VenueError as exc:
            if exc.retry is not RetryClass.NOT_FOUND:  # -2011: filled or cancelled meanwhile
                raise
        cancelled.append(order.client_id)
        reach("cancel-all")  # F18 (v): one cancel of a cancel-all done, the rest not
    return cancelled, foreign


def positions(fills: Iterable[VenueTrade], rules: dict[str, SymbolRules]) -> dict[str, Decimal]:
    """Base held per symbol according to fx's fill ledger: buys - sells - fees paid in base, of fx's
    own orders only (an order placed outside fx is the user's; fx never sells what it bought)."""
    held: dict[str, Decimal] = {}
    for t in fills:
        if parse(t.client_id) is None:  # the ledger keeps the account's foreign trades too: not fx's
            continue
        r = rules.get(t.symbol)
        base_fee = t.fee if r is not None and t.fee_asset == r.base_asset else Decimal(0)
        signed = t.qty if t.side == BUY else -t.qty
        held[t.symbol] = held.get(t.symbol, Decimal(0)) + signed - base_fee
    return held


async def flatten(
    client: OrderVenue,
    journal: Journal,
    rules: dict[str, SymbolRules],
    *,
    symbols: list[str] | None = None,
    wait_s: float = 2.0,
    lag_s: float = 3.0,
) -> FlattenReport:
    """Cancel every fx order and sell fx's positions (of `symbols`, default every symbol fx traded)."""
    started = time.monotonic()
    report = FlattenReport()
    run_ids = journal.run_ids()
    traded = {o.symbol for o in journal.orders()} | {t.symbol for t in journal.fills()}
    todo = sorted(traded) if symbols is None else symbols
    await asyncio.gather(*(_cancel_symbol(client, s, run_ids, report) for s in todo))
    held = positions(journal.fills(), rules)
    balances: dict[str, Balance] = {}
    if any(held.get(s, Decimal(0)) > 0 for s in todo):
        balances = await client.account()
    for symbol in todo:
        await _sell_position(
            client, journal, rules, symbol, held.get(symbol, Decimal(0)), balances, report, lag_s=lag_s
        )
    deadline = time.monotonic() + wait_s
    while True:  # cancels are requests: the terminal state shows in open orders a moment later
        left = {}
        for symbol in todo:
            still = [o.client_id for o in await client.open_orders(symbol) if is_ours(o.client_id, run_ids)]
            if still:
                left[symbol] = still
        if not left or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    report.left_open = left
    report.seconds = time.monotonic() - started
    return report


async def _cancel_symbol(client: OrderVenue, symbol: str, run_ids: set[str], report: FlattenReport) -> None:
    try:
        cancelled, foreign = await cancel_ours(client, symbol, run_ids)
    except VenueError as exc:
        report.errors.append(f"{symbol}: cancel: {exc}")
        return
    if cancelled:
        report.cancelled[symbol] = cancelled
    if foreign:
        report.foreign[symbol] = foreign


async def _sell_position(
    client: OrderVenue,
    journal: Journal,
    rules: dict[str, SymbolRules],
    symbol: str,
    held: Decimal,
    balances: dict[str, Balance],
    report: FlattenReport,
    *,
    lag_s: float = 3.0,
) -> None:
    r = rules.get(symbol)
    if held <= 0 or r is None:
        return
    free = balances.get(r.base_asset)
    qty = quantize_qty(r, min(held, free.free if free is not None else Decimal(0)))
    if qty <= 0 or qty < r.min_qty:
        return
    order = journal.record_intent(symbol, SELL, "MARKET", role=KILL, quantity=qty)
    try:
        ack = await client.new_order(order.intent.request())
    except VenueError as exc:
        if exc.retry is RetryClass.UNKNOWN_OUTCOME:
            if order.on_unknown():
                journal.record(order, evidence("send", error=str(exc)))
            if await _settle(client, journal, order, lag_s):
                report.sold[symbol] = format(order.fill_qty, "f")
                return
        elif order.on_reject():
            journal.record(order, evidence("send", error=str(exc), code=exc.code))
        report.errors.append(f"{symbol}: sell {qty}: {exc}")
        return
    if order.on_ack(ack):
        journal.record(order, evidence(ack))
    report.sold[symbol] = format(qty, "f")
    # The sale's fills go into the ledger now: positions are summed from it, and a sale left out
    # would be sold again by the next flatten and adopted by the next session (a phantom position).
    with contextlib.suppress(VenueError):  # left ACCEPTED: the next start-up reconciliation finishes it
        for trade in await paged_trades(
            client, symbol, order.intent.created_ms - 5_000, order_id=ack.order_id
        ):
            journal.add_fill(trade)
            if order.on_trade(trade):
                journal.record(order, evidence(trade))
        if order.on_order(await client.query_order(symbol, client_id=order.client_id)):
            journal.record(order, {"kind": "query"})


async def _settle(client: OrderVenue, journal: Journal, order: TrackedOrder, lag_s: float) -> bool:
    """A sale whose answer was lost: venue evidence decides (never a resend), within the
    read-after-write lag and 2 s more; True when it is known to have filled (its fills journaled).
    Still unknown: reported, and the next start-up reconciliation resolves it."""
    deadline = time.monotonic() + lag_s + 2.0
    while order.state is OrderState.UNKNOWN and time.monotonic() < deadline:
        with contextlib.suppress(VenueError):
            await resolve_unknown(client, journal, order, lag_s=lag_s)
        if order.state is OrderState.UNKNOWN:
            await asyncio.sleep(0.1)
    return order.fill_qty > 0 and order.fill_qty >= order.cum_qty


async def cancel_entries(client: OrderVenue, symbols: Iterable[str], run_id: str) -> list[VenueOrder]:
    """Cancel this run's open entry orders (the dead-man switch's action); returns what was open."""
    found: list[VenueOrder] = []
    for symbol in symbols:
        open_now = await client.open_orders(symbol)
        entries = [o for o in open_now if is_ours(o.client_id, {run_id}, roles=(ENTRY,))]
        for order in entries:
            try:
                await client.cancel_order(symbol, client_id=order.client_id)
            except VenueError as exc:
                if exc.retry is not RetryClass.NOT_FOUND:
                    raise
        found += entries
    return found


class DeadManSwitch:
    """A watchdog thread: no `beat()` for `timeout_s` → `action()` once, on this thread."""

    def __init__(self, timeout_s: float, action: Callable[[], None]) -> None:
        self.timeout_s = timeout_s
        self.action = action
        self.fired_at: float | None = None
        self.error: BaseException | None = None
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fx-dead-man", daemon=True)

    def start(self) -> DeadManSwitch:
        self._last = time.monotonic()
        self._thread.start()
        return self

    def beat(self) -> None:
        """The engine is alive (called from the loop a few times a second)."""
        self._last = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 5)

    def _watch(self) -> None:
        while not self._stop.wait(min(self.timeout_s / 4, 0.5)):
            if self.fired_at is None and time.monotonic() - self._last > self.timeout_s:
                self.fired_at = time.monotonic()
                try:
                    self.action()
                except Exception as exc:  # reported by the owner; the watchdog must not die silently
                    self.error = exc
