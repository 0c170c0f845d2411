"""The live broker: what sends `fx stream --live`'s orders to MEXC spot and follows them to the end.

One broker serves every symbol of a session, on the session's event loop (the thread that runs the
strategy): `submit(OrderAsk)` returns at once, and each ask's `OrderOutcome` is reported through
`on_outcome` on that loop (`fxcli.live.trading` turns it into the runner's fill or reject).
The order path of one ask:

1. pre-trade checks: stop-entries, a symbol quarantined by an UNKNOWN order or blocked by a symbol
   reject, the risk limits, the staleness of the book that priced the decision, the venue's symbol
   rules (`rules.check`: precision, minimum quantity and notional, order types, API symbols);
2. the intent is journaled (durable) BEFORE the request leaves, under a client id naming the run;
3. the send: an ack → ACCEPTED; a definitive error → REJECTED (an outcome without a fill) — unless
   it is a reject stale rules explain and the symbol's exchangeInfo did change (F23,
   `rulechange`): then the ask is checked again and sent once more under a new client id; an
   unknown outcome (timeout, 5xx, lost answer) → UNKNOWN, the symbol takes no new entry, and the
   order is resolved only by venue evidence (`reconcile.resolve_unknown`), never resent;
4. fills come from the user stream (`on_trade` / `on_order`) and from a poll of the order and its
   `myTrades` while it is in flight (a dropped push is found within `poll_s`); a terminal order
   whose fills are all in ends the ask with one summed outcome.

MEXC spot has no stop orders and no cancel-on-disconnect: stops live in the strategy, open entries
older than `unfilled_timeout_s` are cancelled, and `close()` cancels every open fx order of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from fxcli.exchange.mexc_private.errors import OutcomeUnknown, RetryClass, VenueError
from fxcli.exchange.mexc_private.rules import SymbolRules, check, quantize_qty
from fxcli.execution.clientid import ENTRY, EXIT
from fxcli.execution.documents import ROLE_NAMES, role_of
from fxcli.execution.failpoints import reach
from fxcli.execution.journal import Journal
from fxcli.execution.orders import OrderState, TrackedOrder, evidence
from fxcli.execution.reconcile import paged_trades, resolve_unknown
from fxcli.execution.risk import RiskLimits
from fxcli.execution.rulechange import changed_rules, stale_rules_reject
from fxcli.execution.venue import OrderVenue
from fxcli.model.orders import BUY, SELL, OrderPush, OrderRequest, VenueOrder, VenueTrade

NS_PER_S = 1_000_000_000
NOTHING_TO_SELL = frozenset({30004, 30005})  # insufficient position / oversold: the balance check
REPEAT_S = 5.0  # the same refusal of the same symbol is said once in this long


@dataclass
class OrderEvent:
    """What the broker tells the screen about one order (the feed's `OrderNote` is built from it)."""

    ts_ns: int
    symbol: str
    client_id: str
    role: str
    side: str
    state: str
    qty: str = ""
    price: str = ""
    detail: str = ""


@dataclass(frozen=True)
class OrderAsk:
    """What the session wants sent for one decision: open (spend `notional` quote) or close (sell
    the position); `last_price` and `priced_ns` are the book that priced the decision."""

    symbol: str
    action: str  # "open" | "close"
    notional: Decimal
    last_price: Decimal
    priced_ns: int


@dataclass(frozen=True)
class OrderOutcome:
    """How one ask ended: its fills summed (`qty` 0: nothing filled, `reason` says why), or, in a
    dry run, `tested` (the venue validated it; nothing was placed). `qty` is base fx holds (a
    buy's base fee taken off) or gave up (a sell, with any unsellable dust)."""

    symbol: str
    action: str
    client_id: str
    side: str
    qty: Decimal = Decimal(0)
    quote_qty: Decimal = Decimal(0)
    fee_quote: Decimal = Decimal(0)
    fills: int = 0
    reason: str = ""
    tested: bool = False


@dataclass
class _Symbol:
    """One symbol's live state: the order of its pending ask, the position, its guards."""

    symbol: str
    order: TrackedOrder | None = None
    ask: OrderAsk | None = None
    position: Decimal = Decimal(0)  # base held by this run (fills: buys - sells - base fees)
    cost: Decimal = Decimal(0)  # quote paid for `position` (the exposure the limits count)
    quarantined: str = ""  # an UNKNOWN order's client id: no new entry until it is resolved
    blocked: str = ""  # a symbol-level reject (10007, 30000, ...): no new entry this session
    adopted: bool = False  # `position` was left by an earlier run: this run's strategy does not know it


@dataclass
class BrokerStats:
    """Counts a session reports with its results."""

    sent: int = 0
    rejected: int = 0
    refused: int = 0  # stopped by a pre-trade check (nothing sent)
    unknown: int = 0
    filled: int = 0
    cancelled_on_exit: int = 0
    refusals: list[str] = field(default_factory=list)


class LiveBroker:
    """Sends a session's asks to the venue, tracks them to a terminal state, reports each outcome."""

    def __init__(
        self,
        client: OrderVenue,
        journal: Journal,
        limits: RiskLimits,
        rules: dict[str, SymbolRules],
        *,
        on_outcome: Callable[[OrderOutcome], None],
        api_symbols: set[str] | None = None,
        dry_run: bool = False,
        notify: Callable[[OrderEvent], None] = lambda event: None,
        venue_now_ns: Callable[[], int | None] = lambda: None,
        stop_entries_file: Path | None = None,
        unfilled_timeout_s: float = 30.0,
        max_book_age_s: float = 10.0,
        lag_s: float = 3.0,
        poll_s: float = 0.5,
    ) -> None:
        self.client = client
        self.journal = journal
        self.limits = limits
        self.rules = rules
        self.api_symbols = api_symbols
        self.dry_run = dry_run
        self.on_outcome = on_outcome
        self.notify = notify
        self.venue_now_ns = venue_now_ns
        self.stop_entries_file = stop_entries_file
        self.unfilled_timeout_s = unfilled_timeout_s
        self.max_book_age_ns = int(max_book_age_s * NS_PER_S)
        self.lag_s = lag_s
        self.poll_s = poll_s
        self.symbols: dict[str, _Symbol] = {s: _Symbol(s) for s in rules}
        self.stats = BrokerStats()
        self.entries_stopped = ""  # why no new entry is sent (SIGUSR1, the dead-man switch, a HALT)
        self.realised_today = Decimal(0)  # realised quote PnL of this run since 00:00 UTC
        self._day = time.gmtime().tm_yday  # the UTC day `realised_today` counts
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_order_id: dict[str, TrackedOrder] = {}
        # The venue accepted an order (its id): the user stream expects its push (a silent-key canary).
        self.on_accepted: Callable[[str], object] = lambda order_id: None
        self._last_refusal: dict[str, tuple[str, float]] = {}  # symbol -> (why, monotonic s) said last

    # -- wiring ------------------------------------------------------------------------------
    def adopt_position(self, symbol: str, qty: Decimal, cost: Decimal) -> None:
        """A position this journal's runs left on `symbol` (start-up): counted by the limits."""
        if symbol in self.symbols:
            sym = self.symbols[symbol]
            sym.position, sym.cost, sym.adopted = qty, cost, True

    def quarantine(self, symbol: str, client_id: str) -> None:
        """No new entry on `symbol` until `client_id` (an UNKNOWN order) is resolved."""
        if symbol in self.symbols:
            self.symbols[symbol].quarantined = client_id

    def stop_entries(self, why: str) -> None:
        """No new entry from now on (exits still go)."""
        if not self.entries_stopped:
            self.entries_stopped = why

    @property
    def in_flight(self) -> list[TrackedOrder]:
        """Orders of asks whose outcome is not reported yet."""
        return [s.order for s in self.symbols.values() if s.order is not None]

    # -- the order path --------------------------------------------------------------------
    def submit(self, ask: OrderAsk) -> None:
        """Called inside the frame's callback (never blocks): the I/O runs as a task on this loop,
        and the outcome comes back through `on_outcome` on this loop."""
        task = asyncio.get_running_loop().create_task(self._place(ask))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _end(self, sym: _Symbol, outcome: OrderOutcome) -> None:
        sym.order, sym.ask = None, None
        self.on_outcome(outcome)

    async def _place(self, ask: OrderAsk, *, resent: bool = False) -> None:
        sym = self.symbols.get(ask.symbol) or self.symbols.setdefault(ask.symbol, _Symbol(ask.symbol))
        role = ENTRY if ask.action == "open" else EXIT
        request, why = self._request(sym, ask)
        if request is None:  # nothing sent: an order of this symbol still in flight stays tracked
            self.stats.refused += 1
            self.stats.refusals.append(why)
            self._event(ask.symbol, "", role, "", "REFUSED", detail=why)
            self.on_outcome(OrderOutcome(ask.symbol, ask.action, "", "", reason=why))
            return
        sym.ask = ask
        if self.dry_run:
            await self._dry_run(sym, ask, request, role)
            return
        order = self.journal.record_intent(
            request.symbol,
            request.side,
            request.type,
            role=role,
            quantity=request.quantity,
            quote_qty=request.quote_qty,
            price=request.price,
        )
        sym.order = order
        reach("order-journaled")  # F18 (i): journaled, not sent
        self._event_of(order, "sending")
        self.stats.sent += 1
        try:
            ack = await self.client.new_order(order.intent.request())
        except OutcomeUnknown as exc:
            self._unknown(sym, order, exc)
            return
        except VenueError as exc:
            fresh = None
            if not resent and stale_rules_reject(exc):
                fresh = await changed_rules(self.client, self.rules[sym.symbol])
            if fresh is None:
                self._rejected(sym, order, exc)
                return
            # F23: the rules changed since the start; nothing was placed, so the ask is checked
            # against the new rules and sent once more under a new client id (never a third time).
            self.rules[sym.symbol] = fresh
            self._journal_reject(order, exc)
            self._event_of(order, f"{exc.msg}; {sym.symbol}'s exchangeInfo changed: checked and sent again")
            sym.order, sym.ask = None, None
            await self._place(ask, resent=True)
            return
        reach("order-answered")  # F18 (iii): the venue answered, the answer is not journaled
        if order.on_ack(ack):
            # The intent is on disk already: were this ack lost to a power cut, the order would
            # restart as SUBMITTING and be resolved by venue evidence like any lost answer. Not
            # waiting for a second fsync here is a third of the order's round trip (bench/orders.py).
            self.journal.record(order, evidence(ack), synced=False)
        self._by_order_id[order.order_id] = order
        self.on_accepted(order.order_id)
        self._event_of(order, f"order id {order.order_id}")

    def _request(self, sym: _Symbol, ask: OrderAsk) -> tuple[OrderRequest | None, str]:
        """The new-order request for `ask`, or None and why it is refused before anything is sent."""
        symbol = sym.symbol
        rules = self.rules.get(symbol)
        if rules is None:
            return None, f"{symbol}: not in the venue's exchangeInfo"
        if ask.action == "open":
            why = self._entry_refusal(sym, ask)
            if why:
                return None, why
            quote_qty = ask.notional.quantize(Decimal(1).scaleb(-rules.quote_decimals), rounding=ROUND_DOWN)
            exposure = {s.symbol: s.cost for s in self.symbols.values()}
            why = (
                self.limits.check(symbol, quote_qty, exposure=exposure, daily_loss=-self._realised_today())
                or ""
            )
            if why:
                return None, why
            request = OrderRequest(symbol, BUY, "MARKET", "", quote_qty=quote_qty)
        else:
            qty = quantize_qty(rules, sym.position)
            if qty <= 0:
                return None, f"{symbol}: no position to close (held {sym.position})"
            request = OrderRequest(symbol, SELL, "MARKET", "", quantity=qty)
        why = check(rules, request, ask.last_price, self.api_symbols) or ""
        return (None, why) if why else (request, "")

    def _realised_today(self) -> Decimal:
        """This run's realised PnL since 00:00 UTC (a new UTC day starts again from 0)."""
        today = time.gmtime().tm_yday
        if today != self._day:
            self._day, self.realised_today = today, Decimal(0)
        return self.realised_today

    def _entry_refusal(self, sym: _Symbol, ask: OrderAsk) -> str:
        if self.entries_stopped:
            return f"{sym.symbol}: entries stopped ({self.entries_stopped})"
        if self.stop_entries_file is not None and self.stop_entries_file.exists():
            return f"{sym.symbol}: entries stopped (control file {self.stop_entries_file} exists)"
        if sym.quarantined:
            return f"{sym.symbol}: quarantined until the outcome of {sym.quarantined} is known"
        if sym.blocked:
            return f"{sym.symbol}: blocked for this session ({sym.blocked})"
        if sym.adopted and sym.position > 0:  # the strategy would stack a second position it cannot see
            return (
                f"{sym.symbol}: holds {sym.position} from an earlier run; "
                f"fx flatten --symbol {sym.symbol} closes it"
            )
        now = self.venue_now_ns()
        if now is not None and now - ask.priced_ns > self.max_book_age_ns:
            age = (now - ask.priced_ns) / NS_PER_S
            limit = self.max_book_age_ns / NS_PER_S
            return f"{sym.symbol}: the book that priced the entry is {age:.1f} s old (max {limit:g} s)"
        return ""

    async def _dry_run(self, sym: _Symbol, ask: OrderAsk, request: OrderRequest, role: str) -> None:
        """`--dry-run-orders`: the venue validates the order (order/test); nothing is placed."""
        detail = "order/test passed; nothing placed"
        try:
            await self.client.test_order(request)
        except VenueError as exc:
            if role == EXIT and exc.code in NOTHING_TO_SELL:  # a dry run never bought what it sells
                detail = (
                    f"order/test: every rule passed but the balance ({exc.name}): a dry run holds nothing"
                )
                self._event(sym.symbol, "", role, request.side, "TESTED", detail=detail)
                self._end(sym, OrderOutcome(sym.symbol, ask.action, "", request.side, tested=True))
                return
            self._event(sym.symbol, "", role, request.side, "REJECTED", detail=exc.msg)
            self._end(
                sym, OrderOutcome(sym.symbol, ask.action, "", request.side, reason=f"order/test: {exc.msg}")
            )
            return
        self._event(sym.symbol, "", role, request.side, "TESTED", detail=detail)
        self._end(sym, OrderOutcome(sym.symbol, ask.action, "", request.side, tested=True))

    def record_paper_fill(self, symbol: str, action: str, qty: Decimal, quote_qty: Decimal) -> None:
        """A dry run's paper fill, so the limits count the position it pretends to hold."""
        sym = self.symbols[symbol]
        if action == "open":
            sym.position, sym.cost = qty, quote_qty
        else:
            sym.position, sym.cost = Decimal(0), Decimal(0)

    def _unknown(self, sym: _Symbol, order: TrackedOrder, exc: VenueError) -> None:
        self.stats.unknown += 1
        if order.on_unknown():
            self.journal.record(order, evidence("send", error=str(exc)))
        sym.quarantined = order.client_id
        self._event_of(order, f"outcome unknown ({exc.name}); {sym.symbol} quarantined")
        task = asyncio.get_running_loop().create_task(self._resolve(sym, order))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, sym: _Symbol, order: TrackedOrder) -> None:
        """Venue evidence only: the order's query (tolerating the read-after-write lag), open
        orders, all orders, trades; retried while the venue cannot be asked."""
        while True:
            try:
                resolved = await resolve_unknown(self.client, self.journal, order, lag_s=self.lag_s)
            except VenueError:
                await asyncio.sleep(self.poll_s)
                continue
            if resolved.state is not OrderState.UNKNOWN:
                break
            await asyncio.sleep(self.poll_s)
        sym.quarantined = ""
        if resolved.order_id:
            self._by_order_id[resolved.order_id] = resolved
        if resolved.state is OrderState.TOMBSTONED:  # proven never placed: the ask ends unfilled
            self._event_of(resolved, "proven absent at the venue (never placed)")
            reason = f"{resolved.client_id}: never placed (proven absent after the read-after-write lag)"
            self._end(
                sym,
                OrderOutcome(
                    sym.symbol, order_action(resolved), resolved.client_id, resolved.side, reason=reason
                ),
            )
            return
        self._event_of(resolved, "resolved by venue evidence")
        self._maybe_done(sym, resolved)

    def _journal_reject(self, order: TrackedOrder, exc: VenueError) -> None:
        self.stats.rejected += 1
        if order.on_reject():
            self.journal.record(order, evidence("send", error=str(exc), code=exc.code))

    def _rejected(self, sym: _Symbol, order: TrackedOrder, exc: VenueError) -> None:
        self._journal_reject(order, exc)
        if exc.retry is RetryClass.REJECT_SYMBOL:
            sym.blocked = f"{exc.name}: {exc.msg}"
        elif exc.retry is RetryClass.HALT:
            self.stop_entries(f"{exc.name}: {exc.msg}")
        self._event_of(order, exc.msg)
        reason = f"{exc.name}: {exc.msg}"
        self._end(
            sym, OrderOutcome(sym.symbol, order_action(order), order.client_id, order.side, reason=reason)
        )

    def _event(
        self, symbol: str, client_id: str, role: str, side: str, state: str, *, detail: str = ""
    ) -> None:
        if state == "REFUSED":  # a refused exit is asked again every tick: said once per REPEAT_S
            now = time.monotonic()
            said, at = self._last_refusal.get(symbol, ("", -REPEAT_S))
            if said == detail and now - at < REPEAT_S:
                return
            self._last_refusal[symbol] = (detail, now)
        self.notify(
            OrderEvent(
                time.time_ns(), symbol, client_id, ROLE_NAMES.get(role, role), side, state, detail=detail
            )
        )

    def _event_of(self, order: TrackedOrder, detail: str) -> None:
        avg = order.cum_quote / order.cum_qty if order.cum_qty > 0 else None
        self.notify(
            OrderEvent(
                time.time_ns(),
                order.symbol,
                order.client_id,
                role_of(order.client_id),
                order.side,
                order.state.value,
                format(order.cum_qty, "f"),
                "" if avg is None else format(avg, "f"),
                detail,
            )
        )

    # -- evidence from the venue ----------------------------------------------------------------
    def on_order(self, push: OrderPush) -> None:
        """A user-stream order push."""
        order = self._find(push.client_id, push.order_id)
        if order is not None and order.on_order(push):
            # what a push says the venue tells again (order query, myTrades) after a power cut:
            # no fsync on the stream's path (the fills' ledger stays fsynced)
            self.journal.record(order, evidence(push), synced=False)
            self._after(order)

    def on_trade(self, trade: VenueTrade) -> None:
        """A fill, from a deal push or a `myTrades` backfill: journaled once per trade id."""
        if self.journal.add_fill(trade):
            reach("fill-journaled")  # F18 (iv): between partial fills
        order = self._find(trade.client_id, trade.order_id)
        if order is not None and order.on_trade(trade):
            self.journal.record(order, evidence(trade))
            self._after(order)

    def _find(self, client_id: str, order_id: str) -> TrackedOrder | None:
        for sym in self.symbols.values():
            order = sym.order
            if order is not None and (
                order.client_id == client_id or (order_id and order.order_id == order_id)
            ):
                return order
        return self._by_order_id.get(order_id) if order_id else None

    def _after(self, order: TrackedOrder) -> None:
        sym = self.symbols.get(order.symbol)
        if sym is not None and sym.order is order:
            self._maybe_done(sym, order)

    async def poll(self) -> None:
        """One pass over the orders in flight: their state and missing fills from REST, and the
        unfilled-order timeout. `run` calls it every `poll_s` while anything is in flight."""
        for sym in list(self.symbols.values()):
            order = sym.order
            if (
                order is None
                or not order.order_id
                or order.state in (OrderState.UNKNOWN, OrderState.SUBMITTING)
            ):
                continue
            try:
                snapshot = await self.client.query_order(sym.symbol, client_id=order.client_id)
                if order.on_order(snapshot):
                    self.journal.record(order, evidence(snapshot))
                if order.cum_qty > order.fill_qty:
                    for trade in await self.client.my_trades(sym.symbol, order_id=order.order_id):
                        self.on_trade(trade)
                age_s = time.time() - order.intent.created_ms / 1000
                if order.intent.role == ENTRY and not order.is_terminal and age_s > self.unfilled_timeout_s:
                    await self._cancel(order, "unfilled timeout")
            except VenueError:
                continue  # the next pass asks again; a lag or a limit is not an outcome
            self._maybe_done(sym, order)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll the orders in flight until `stop`."""
        while not stop.is_set():
            if self.in_flight:
                await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)

    def _maybe_done(self, sym: _Symbol, order: TrackedOrder) -> None:
        """A terminal order whose fills are all in ends its ask (one summed outcome)."""
        if not order.is_terminal or order.fill_qty < order.cum_qty or sym.order is not order:
            return
        fills = list(order.fills.values())
        qty = sum((t.qty for t in fills), Decimal(0))
        action = order_action(order)
        if qty <= 0:
            self._event_of(order, "ended without a fill")
            reason = f"{order.client_id} {order.state.value} without a fill"
            self._end(sym, OrderOutcome(sym.symbol, action, order.client_id, order.side, reason=reason))
            return
        self.stats.filled += 1
        quote_qty = sum((t.quote_qty for t in fills), Decimal(0))
        rules = self.rules[sym.symbol]
        fee_quote = sum((t.fee for t in fills if t.fee_asset == rules.quote_asset), Decimal(0))
        base_fee = sum((t.fee for t in fills if t.fee_asset == rules.base_asset), Decimal(0))
        # What the runner hears is what fx holds: a buy's fee in base is taken from the quantity (the
        # quote spent is the cost), and a sell that leaves only dust below the quantity precision
        # (unsellable) closes the whole position, the dust written off at 0.
        if order.side == BUY:
            held = qty - base_fee
            sym.position += held
            sym.cost += quote_qty
        else:
            fee_quote += sum((t.fee * t.price for t in fills if t.fee_asset == rules.base_asset), Decimal(0))
            share = min(qty / sym.position, Decimal(1)) if sym.position > 0 else Decimal(1)
            basis = sym.cost * share
            self.realised_today = self._realised_today() + quote_qty - basis - fee_quote
            held = qty
            sym.position -= qty
            sym.cost -= basis
            if quantize_qty(rules, max(sym.position, Decimal(0))) <= 0:
                held += max(sym.position, Decimal(0))
                sym.position, sym.cost = Decimal(0), Decimal(0)
        self._event_of(order, f"{len(fills)} fill(s)")
        outcome = OrderOutcome(
            sym.symbol, action, order.client_id, order.side, held, quote_qty, fee_quote, len(fills)
        )
        self._end(sym, outcome)

    # -- cancels -----------------------------------------------------------------------------------
    async def _cancel(self, order: TrackedOrder, why: str) -> None:
        try:
            await self.client.cancel_order(order.symbol, client_id=order.client_id)
        except VenueError as exc:
            if exc.retry is not RetryClass.NOT_FOUND:  # -2011: already filled or cancelled
                raise
        if order.on_cancel_sent():
            self.journal.record(order, evidence("cancel", why=why))
        self._event_of(order, f"cancel sent ({why})")

    async def close(self, *, cancel_open: bool = True, wait_s: float = 5.0) -> int:
        """End of the session: wait for sends under way, cancel this run's open orders (cancel on
        exit), and follow them to a terminal state for up to `wait_s`; then fetch the run's fills
        from `myTrades` (a fill whose push was lost on an order nobody polls is still fx's). Returns
        the fx orders of this run the venue still holds open."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)
        if not cancel_open:
            return len(await self._open_at_venue())
        deadline = time.monotonic() + wait_s
        asked: set[str] = set()
        while time.monotonic() < deadline:
            # A cancel whose answer was lost (timeout, 5xx, WAF) proves nothing: the open orders are
            # read again and whatever is still open is cancelled again until none is left.
            with contextlib.suppress(VenueError):
                still = await self._open_at_venue()
                if not still and not self.in_flight:
                    break
                for order in still:
                    await self._cancel_on_exit(order)
                    if order.client_id not in asked:
                        asked.add(order.client_id)
                        self.stats.cancelled_on_exit += 1
                if self.in_flight:
                    await self.poll()
            await asyncio.sleep(min(self.poll_s, 0.2))
        with contextlib.suppress(VenueError):
            await self._backfill_run_fills()
        return len(await self._open_at_venue())

    async def _cancel_on_exit(self, order: VenueOrder) -> None:
        tracked = self._find(order.client_id, order.order_id)
        with contextlib.suppress(VenueError):
            if tracked is not None:
                await self._cancel(tracked, "cancel on exit")
            else:
                await self.client.cancel_order(order.symbol, client_id=order.client_id)

    async def _backfill_run_fills(self) -> None:
        """Every trade of this run's orders into the fill ledger (each trade id once)."""
        run_id = self.journal.run_id
        ours = [o for o in self.journal.orders() if o.intent.run_id == run_id]
        for symbol in sorted({o.symbol for o in ours}):
            since = min(o.intent.created_ms for o in ours if o.symbol == symbol) - 5_000
            for trade in await paged_trades(self.client, symbol, since):
                self.on_trade(trade)

    async def _open_at_venue(self) -> list[VenueOrder]:
        run_id = self.journal.run_id
        found: list[VenueOrder] = []
        for symbol in self.symbols:
            for order in await self.client.open_orders(symbol):
                if order.client_id.startswith(f"fx{run_id}"):
                    found.append(order)
        return found


def order_action(order: TrackedOrder) -> str:
    """ "open" for an entry, "close" for an exit or a kill-switch sale."""
    return "open" if order.intent.role == ENTRY else "close"
