"""The backtest loop: events -> pipeline -> strategy -> fill model -> account, one symbol.

The same `Pipeline` and `StrategyMachine` objects serve `fx stream`; only the executor differs.
An order decided at t waits until the first event after t + latency, and executes against the
book as it was just before that event; one due after the last event of the data never executes (an
entry is rejected as `past the end of the data`: no fill at a price the order could not have had).
An open position is closed at the last event
(`end_of_data`), as freqtrade does, and flagged in the trade list.

Book gaps (`BOOK_GAP_REASONS`: a version jump, a resync, a lost connection) hide the book: from the
gap on, book events only keep the book up to date (no indicator update, no decision, no move of
engine time), trades see no book, new entries are refused (`book unknown`), and exits still fill at
the last trade (fill source `book_unknown`). The book shows again on the first event after the
gap's end. A replay gets the stored gap rows in its stream; `fx stream` hides the book the moment it
breaks and learns the end when the book is whole again, so both decide on the same events.

With an `Executor` (`fx stream --live`: `fxcli.execution.broker.LiveBroker`) a decided order goes to
the venue instead of the paper fill model: it stays pending (never due, so no new decision is made)
until the executor answers with `on_venue_fill` or `on_venue_reject`; at the end nothing is filled
on paper (cancel-on-exit is the executor's, a real position stays a real position).

With `clock_ms`, clock ticks (`fxcli.engine.clock`) run the pipeline and the strategy on a grid of
exchange time while no event arrives: before each event, a tick at every grid point its time
reaches; live, also when the venue's clock passes a grid point (`advance_clock`). A tick fills a
pending order that is due, like any event. Inside a book gap ticks decide nothing (the strategy sees
no book there; trades still do), and they never end a gap: the first market event after it does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from fxcli.backtest.fills import Costs, Fill, Quote, execute
from fxcli.engine.clock import NEVER, clock_ns_of, next_tick_ns
from fxcli.engine.params import IndicatorParams
from fxcli.engine.pipeline import Pipeline
from fxcli.engine.state import MarketState
from fxcli.model.events import BOOK_GAP_REASONS, Event, Gap, MarketEvent, Trade
from fxcli.strategy.machine import Intent, StrategyMachine, Transition
from fxcli.strategy.spec import StrategySpec

END_OF_DATA = "end_of_data"
BOOK_UNKNOWN = "book unknown"
PAST_THE_DATA = "past the end of the data"
OPEN_NS = 2**63 - 1  # a book gap whose end is not known yet


@dataclass
class TradeRecord:
    """One round trip: entry fill(s) to exit fill(s), net of fees."""

    symbol: str
    side: int
    entry_ts_ns: int
    exit_ts_ns: int
    qty: float
    entry_price: float
    exit_price: float
    entry_fee: float
    exit_fee: float
    exit_reason: str
    entry_fill: Fill
    exit_fills: list[Fill]

    @property
    def gross_pnl(self) -> float:
        """Price gain before fees, in quote."""
        return self.side * self.qty * (self.exit_price - self.entry_price)

    @property
    def pnl(self) -> float:
        """Net profit in quote (both fees paid)."""
        return self.gross_pnl - self.entry_fee - self.exit_fee

    @property
    def stake(self) -> float:
        """Entry notional in quote."""
        return self.qty * self.entry_price

    @property
    def return_ratio(self) -> float:
        """Net profit over the stake."""
        return self.pnl / self.stake


@dataclass
class EquityPoint:
    """Mark-to-market account value at one time."""

    ts_ns: int
    balance: float  # cash after realised PnL and fees
    equity: float  # balance + open position marked at the last trade
    price: float


@dataclass
class RunResult:
    """Everything a single-symbol backtest produced."""

    symbol: str
    start_balance: float
    trades: list[TradeRecord] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    equity: list[EquityPoint] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0  # market events (clock ticks not counted)
    clock_ticks: int = 0  # clock ticks that ran the pipeline and the strategy
    first_ts_ns: int = 0
    last_ts_ns: int = 0
    first_price: float = math.nan
    last_price: float = math.nan
    diagnostics: dict[str, dict[str, int]] = field(default_factory=dict)


class Executor(Protocol):
    """Where a decided order goes instead of the paper fill model; it answers later, on the loop's
    thread, through the runner's `on_venue_fill` / `on_venue_reject`."""

    def submit(self, intent: Intent, quote: Quote) -> None:
        """Send `intent`, decided when the book said `quote` (never blocks the loop)."""


class _Book:
    """The account: cash balance and the one open position's fills."""

    def __init__(self, balance: float) -> None:
        self.balance = balance
        self.entry: Fill | None = None
        self.qty = 0.0
        self.exits: list[Fill] = []

    def equity(self, price: float) -> float:
        if self.entry is None or math.isnan(price):
            return self.balance
        return self.balance + self.entry.side * self.qty * (price - self.entry.price)


class Runner:
    """The loop, pushed one event at a time: `on_event` for each, then `finish` once.

    `fx stream` calls it from the socket's callback, so a decision is made while the frame that
    caused it is still being handled; `run` drives it over an iterable. Between events, `values`
    (the indicators after the last event), `state`, `machine`, `account` and `result` (the trades,
    equity and counts so far) may be read but not changed.
    """

    def __init__(
        self,
        spec: StrategySpec,
        symbol: str,
        indicators: Iterable[tuple[str, str, IndicatorParams]],
        costs: Costs,
        balance: float,
        *,
        equity_every_ns: int = 1_000_000_000,
        clock_ms: int = 0,
        trade_from_ns: int = 0,
        executor: Executor | None = None,
    ) -> None:
        self.pipeline = Pipeline(symbol, indicators)
        self.executor = executor
        self.state = self.pipeline.state
        self.machine = StrategyMachine(spec, symbol, trade_from_ns)
        self.account = _Book(balance)
        self.result = RunResult(symbol, balance)
        self.values: dict[str, float] = {}
        self.costs = costs
        self.equity_every_ns = equity_every_ns
        self._pending: tuple[Intent, Quote, int] | None = None
        self._next_equity = 0
        self._hidden_until: int | None = None  # inside a book gap: until the first event after this
        self._started = False
        self._last_event_ns = 0  # the exchange time of the last event: a pending order due later expires
        self._last_market_ns = 0  # ... of the last market event (clock ticks not counted)
        self.clock_ns = clock_ns_of(clock_ms)
        self._next_tick = NEVER  # the next grid point (after engine time), once the first event came

    def on_gap(self, gap: Gap) -> None:
        """A stored gap reached in a replay (or a live one closed): a book gap hides the book until
        the first event after its end; other gaps change nothing."""
        if gap.reason not in BOOK_GAP_REASONS:
            return
        hidden = self._hidden_until
        if hidden is None:
            if gap.start_ns > self._next_tick:  # the ticks before the book broke still see it
                self.advance_clock(gap.start_ns - 1)
            self.state.hide_book()
            self._hidden_until = gap.end_ns
        else:  # the end of the gap that is open now, or a second gap overlapping it
            self._hidden_until = gap.end_ns if hidden == OPEN_NS else max(hidden, gap.end_ns)

    def lose_book(self) -> None:
        """Live: the book just broke; it stays hidden until `on_gap` gives the end of the gap."""
        self.state.hide_book()
        self._hidden_until = OPEN_NS

    @property
    def is_book_hidden(self) -> bool:
        """True inside a book gap."""
        return self._hidden_until is not None

    def on_event(self, event: MarketEvent) -> None:
        """Fill what is due, update the indicators, let the strategy decide."""
        ts = event.exchange_ts_ns
        if ts >= self._next_tick:
            self.advance_clock(ts)
        self._last_event_ns = ts
        if ts > self._last_market_ns:  # live, a late event can be older than the last one
            self._last_market_ns = ts
        hidden = self._hidden_until
        if hidden is not None:
            if ts > hidden:
                self._hidden_until = None
                self.state.show_book()
            elif type(event) is not Trade:
                self.state.apply_book(event)  # kept up to date, not shown, decides nothing
                self.result.events += 1
                return
        pending = self._pending
        if pending is not None and ts > pending[2]:
            _execute(pending, self.machine, self.account, self.state, self.costs, self.values, self.result)
            self._pending = pending = None
        values = self.values = self.pipeline.on_event(event)
        state, result = self.state, self.result
        now = state.now_ns
        if not self._started:
            self._started = True
            result.first_ts_ns = now
            self.machine.start(now)
            if self.clock_ns:  # the first grid point; later, catching up keeps it after engine time
                self._next_tick = next_tick_ns(now, self.clock_ns)
        result.events += 1
        self._decide(now, values, pending)

    def advance_clock(self, ts_ns: int) -> None:
        """Clock ticks at every grid point up to `ts_ns` not yet ticked (none before the first event)."""
        clock = self.clock_ns
        if self._hidden_until is not None:  # a book gap: no tick decides; skip them in O(1)
            if ts_ns >= self._next_tick:
                self._next_tick = next_tick_ns(ts_ns, clock)
            return
        while self._next_tick <= ts_ns:
            tick = self._next_tick
            self._next_tick = tick + clock
            self._last_event_ns = tick
            pending = self._pending
            if pending is not None and tick > pending[2]:
                _execute(
                    pending, self.machine, self.account, self.state, self.costs, self.values, self.result
                )
                self._pending = pending = None
            values = self.values = self.pipeline.on_clock(tick)
            self.result.clock_ticks += 1
            self._decide(tick, values, pending)

    def _decide(self, now: int, values: dict[str, float], pending: tuple[Intent, Quote, int] | None) -> None:
        """The strategy's turn after the pipeline moved to `now`, and the equity sample."""
        state, result = self.state, self.result
        price = state.price
        if price != price:
            return
        if result.first_price != result.first_price:
            result.first_price = price
        book = self.account
        if pending is None:
            intent = self.machine.on_tick(now, values, price, book.balance)
            if intent is not None:
                if intent.action == "open" and state.book_hidden:
                    result.rejected.append((now, BOOK_UNKNOWN))
                    self.machine.on_reject(now, BOOK_UNKNOWN)
                elif self.executor is None:
                    self._pending = (intent, Quote.of(state), now + self.costs.latency_ns)
                else:  # never due: only the venue's answer ends it
                    quote = Quote.of(state)
                    self._pending = (intent, quote, OPEN_NS)
                    self.executor.submit(intent, quote)
        if now >= self._next_equity:
            result.equity.append(EquityPoint(now, book.balance, book.equity(price), price))
            every = self.equity_every_ns
            self._next_equity = now - now % every + every

    def on_venue_fill(self, fill: Fill) -> None:
        """The executor's order of the pending intent ended with `fill` (its fills, aggregated)."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        _take(pending[0], fill, self.machine, self.account, self.values, self.result)

    def on_venue_reject(self, ts_ns: int, why: str) -> None:
        """The executor's order of the pending intent ended without a fill (rejected, expired)."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        if pending[0].action == "open":
            self.result.rejected.append((ts_ns, why))
        self.machine.on_reject(ts_ns, why)

    @property
    def pending_intent(self) -> Intent | None:
        """The order decided and not yet filled or rejected."""
        return None if self._pending is None else self._pending[0]

    def equity(self) -> float:
        """The account marked at the last price."""
        return self.account.equity(self.state.price)

    def finish(self) -> RunResult:
        """Execute what is pending, close an open position at the book (`end_of_data`), and return."""
        machine, book, state, result = self.machine, self.account, self.state, self.result
        # The data ends at its last market event. Live clock ticks may have run past it before the
        # stop; a replay of the recording has no tick after it, so what ends here ends there too.
        state.now_ns = min(state.now_ns, self._last_market_ns)
        # A venue order is not settled on paper, nor a real position closed on paper.
        if self._pending is not None and self.executor is None:
            settle_at_end(
                self._pending, self._last_market_ns, machine, book, state, self.costs, self.values, result
            )
            self._pending = None
        if book.entry is not None and self.executor is None:
            _force_close(machine, book, state, self.costs, self.values, result)
        result.last_ts_ns = state.now_ns
        result.last_price = state.price
        result.equity.append(EquityPoint(state.now_ns, book.balance, book.equity(state.price), state.price))
        result.transitions = machine.transitions
        result.diagnostics = {"pending": machine.diagnostics.pending, "errors": machine.diagnostics.errors}
        return result


def run(
    spec: StrategySpec,
    symbol: str,
    indicators: Iterable[tuple[str, str, IndicatorParams]],
    events: Iterable[Event],
    costs: Costs,
    balance: float,
    *,
    equity_every_ns: int = 1_000_000_000,
    clock_ms: int = 0,
    observer: Callable[[MarketState, StrategyMachine, float], None] | None = None,
    trade_from_ns: int = 0,
) -> RunResult:
    """Replay `events` (time-ordered, stored gaps among them) through a fresh pipeline and machine,
    with clock ticks every `clock_ms` (0: none); no signal is looked for before `trade_from_ns`.

    `observer`, when given, sees the state, the machine and the equity after every event (for
    watching a paced replay); it must not change them.
    """
    runner = Runner(
        spec,
        symbol,
        indicators,
        costs,
        balance,
        equity_every_ns=equity_every_ns,
        clock_ms=clock_ms,
        trade_from_ns=trade_from_ns,
    )
    on_event, on_gap = runner.on_event, runner.on_gap
    state, machine = runner.state, runner.machine
    for event in events:
        if type(event) is Gap:
            on_gap(event)
            continue
        on_event(event)  # type: ignore[arg-type]
        if observer is not None and state.price == state.price:
            observer(state, machine, runner.equity())
    return runner.finish()


def _execute(
    pending: tuple[Intent, Quote, int],
    machine: StrategyMachine,
    book: _Book,
    state: MarketState,
    costs: Costs,
    values: dict[str, float],
    result: RunResult,
) -> None:
    intent, decided, _ = pending
    if intent.action == "open":
        if state.book_hidden:  # the book broke between the decision and the fill
            result.rejected.append((state.now_ns, BOOK_UNKNOWN))
            machine.on_reject(state.now_ns, BOOK_UNKNOWN)
            return
        fill = execute(state, decided, intent.side, costs, notional=intent.notional)
        if fill is None:
            result.rejected.append((state.now_ns, "no price to fill at"))
            machine.on_reject(state.now_ns, "no price")
            return
    else:
        fill = execute(state, decided, intent.side, costs, qty=min(intent.qty, book.qty))
        if fill is None:
            machine.on_reject(state.now_ns, "no price")
            return
    _take(intent, fill, machine, book, values, result)


def _take(
    intent: Intent,
    fill: Fill,
    machine: StrategyMachine,
    book: _Book,
    values: dict[str, float],
    result: RunResult,
) -> None:
    """`fill` of `intent` into the account and the machine (paper or venue, the same bookkeeping)."""
    if intent.action == "open":
        book.entry, book.qty, book.exits = fill, fill.qty, []
        book.balance -= fill.fee
    else:
        _close(book, fill, intent.reason, result)
    machine.on_fill(fill.ts_ns, fill.price, fill.qty, values)


def settle_at_end(
    pending: tuple[Intent, Quote, int],
    last_event_ns: int,
    machine: StrategyMachine,
    book: _Book,
    state: MarketState,
    costs: Costs,
    values: dict[str, float],
    result: RunResult,
) -> None:
    """An order still pending when the data ends: executed if it was due at the last event, else it
    expires unfilled (an entry is rejected; a close leaves the position to the end-of-data close)."""
    intent, _, due_ns = pending
    if due_ns <= last_event_ns:
        _execute(pending, machine, book, state, costs, values, result)
    elif intent.action == "open":
        result.rejected.append((state.now_ns, PAST_THE_DATA))
        machine.on_reject(state.now_ns, PAST_THE_DATA)


def _close(book: _Book, fill: Fill, reason: str, result: RunResult) -> None:
    entry = book.entry
    assert entry is not None
    book.balance += entry.side * fill.qty * (fill.price - entry.price) - fill.fee
    book.exits.append(fill)
    book.qty -= fill.qty
    if book.qty > entry.qty * 1e-9:
        return
    exits = book.exits
    qty = sum(f.qty for f in exits)
    result.trades.append(
        TradeRecord(
            symbol=result.symbol,
            side=entry.side,
            entry_ts_ns=entry.ts_ns,
            exit_ts_ns=exits[-1].ts_ns,
            qty=entry.qty,
            entry_price=entry.price,
            exit_price=sum(f.notional for f in exits) / qty,
            entry_fee=entry.fee,
            exit_fee=sum(f.fee for f in exits),
            exit_reason=reason,
            entry_fill=entry,
            exit_fills=list(exits),
        )
    )
    book.entry, book.qty, book.exits = None, 0.0, []


def _force_close(
    machine: StrategyMachine,
    book: _Book,
    state: MarketState,
    costs: Costs,
    values: dict[str, float],
    result: RunResult,
) -> None:
    assert book.entry is not None
    decided = Quote.of(state)
    fill = execute(state, decided, -book.entry.side, costs, qty=book.qty)
    # Whatever the book could not absorb is closed at the last price: the run has to end flat.
    if fill is None:
        _close(book, _at_last(state, decided, -book.entry.side, book.qty, costs), END_OF_DATA, result)
    elif fill.is_partial:
        rest = book.qty - fill.qty
        _close(book, fill, END_OF_DATA, result)
        if book.entry is not None:
            _close(book, _at_last(state, decided, -book.entry.side, rest, costs), END_OF_DATA, result)
    else:
        _close(book, fill, END_OF_DATA, result)
    machine.transitions.append(
        Transition(
            state.now_ns, machine.symbol, machine.state, machine.state, END_OF_DATA, {"price": state.price}
        )
    )


def _at_last(state: MarketState, decided: Quote, side: int, qty: float, costs: Costs) -> Fill:
    price = state.price * (1.0 + side * costs.slippage_bps / 1e4)
    notional = qty * price
    mid = decided.mid
    return Fill(
        decided.ts_ns,
        state.now_ns,
        side,
        qty,
        qty,
        price,
        notional,
        notional * costs.taker_fee_bps / 1e4,
        "last_trade",
        0,
        mid,
        decided.best(side),
        0.0,
        0.0,
        side * (price - mid) / mid * 1e4,
    )
