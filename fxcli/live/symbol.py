"""One symbol of a stream session: its `Runner`, fed on the loop's thread, and what it publishes."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from fxcli.backtest.fills import Fill
from fxcli.backtest.runner import Runner, RunResult
from fxcli.live.feed import FillNote, SymbolFrame, TradeNote
from fxcli.live.latency import LATENCY_BINS
from fxcli.model.events import Gap, MarketEvent
from fxcli.model.units import NS_PER_S
from fxcli.strategy.machine import State, Transition

if TYPE_CHECKING:
    from fxcli.live.session import Session

FRAME_EVERY_NS = 250_000_000  # a symbol's frame for screens at most 4 times a second
EQUITY_EVERY_NS = 60 * NS_PER_S  # a stream's equity curve: one point a minute (a backtest: a second)
MAX_EQUITY_POINTS = 120  # per symbol; beyond, every other older point goes: memory stays flat 24/7


class LiveSymbol:
    """One symbol's `Runner`, fed on the loop's thread, and what it publishes."""

    def __init__(self, session: Session, symbol: str) -> None:
        self.session = session
        self.symbol = symbol
        self.hist = [0] * LATENCY_BINS
        session.feed.histograms.append(self.hist)
        s = session
        self.runner = Runner(
            s.spec,
            symbol,
            s.indicators,
            s.costs,
            s.balance,
            equity_every_ns=EQUITY_EVERY_NS,
            clock_ms=s.clock_ms,
        )
        if s.trading is not None:  # --live: the runner's orders go to the venue
            self.runner.executor = s.trading.bind(symbol, self.runner)
        self.venue_clock = s.venue_clock
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._framed_steps = 0  # events and clock ticks the last frame showed
        self._transitions_seen = 0
        self._trades_seen = 0
        self._next_frame_ns = 0

    def on_events(self, t0_ns: int, events: list[MarketEvent]) -> None:
        """Run `events` (received at `t0_ns`) through the strategy; record each decision's latency."""
        if self.error is not None:
            return
        runner = self.runner
        on_event, state, hist = runner.on_event, runner.state, self.hist
        transitions = runner.machine.transitions
        if events:
            self.venue_clock.observe(t0_ns, events[-1].exchange_ts_ns)
        try:
            for event in events:
                on_event(event)
                if state.price != state.price:
                    continue  # no price yet: nothing was decided
                ns = time.time_ns() - t0_ns
                if ns < 32:  # latency_bin, inlined: this runs once per event
                    hist[ns if ns > 0 else 0] += 1
                else:
                    shift = ns.bit_length() - 5
                    index = (shift << 4) + (ns >> shift)
                    hist[index if index < LATENCY_BINS else LATENCY_BINS - 1] += 1
                if len(transitions) != self._transitions_seen:  # a trade closes only on a transition
                    self._publish(transitions)
        except Exception as exc:  # reported by the session; the other symbols stop with it
            self.error = exc
            self.session.request_stop(f"{self.symbol}: {type(exc).__name__}: {exc}")
            return
        now = time.time_ns()
        if now >= self._next_frame_ns and runner.result.events:
            self._offer_frame(now)

    def advance_clock(self, venue_now_ns: int) -> None:
        """Live: clock ticks up to the venue's time now (from the session's timer); once started."""
        if self.error is not None or not self.runner.result.events:
            return
        transitions = self.runner.machine.transitions
        try:
            self.runner.advance_clock(venue_now_ns)
        except Exception as exc:  # as in on_events: reported by the session
            self.error = exc
            self.session.request_stop(f"{self.symbol}: {type(exc).__name__}: {exc}")
            return
        if len(transitions) != self._transitions_seen:
            self._publish(transitions)

    def lose_book(self) -> None:
        """The live book broke: the strategy sees no book (and opens nothing) until it is whole again."""
        if self.error is None:
            self.runner.lose_book()

    def on_gap(self, gap: Gap) -> None:
        """A gap: a book gap hides the book until the first event after its end."""
        if self.error is None:
            self.runner.on_gap(gap)

    def refresh(self, now: int) -> None:
        """A frame for a symbol whose market went quiet since its last one: show where it stopped, and
        what the clock ticks of the silence moved (time-weighted indicators, the strategy's state)."""
        live = self.runner.result
        if self.error is None and live.events + live.clock_ticks != self._framed_steps:
            self._offer_frame(now)

    def finish(self) -> None:
        """Close the run (an open position at the book, as a backtest's end) and publish the rest."""
        if self.error is not None:
            return
        result = self.runner.finish()
        self._publish(result.transitions)
        self.result = result

    def _offer_frame(self, now: int) -> None:
        self._next_frame_ns = now + self.session.frame_every_ns
        live = self.runner.result
        self._framed_steps = live.events + live.clock_ticks
        self.session.feed.offer(self._frame())
        if len(live.equity) > MAX_EQUITY_POINTS:
            del live.equity[1:-1:2]

    def _publish(self, transitions: list[Transition]) -> None:
        runner = self.runner
        result = runner.result
        feed = self.session.feed
        new = transitions[self._transitions_seen :]
        self._transitions_seen += len(new)
        for t in new:
            feed.publish(t)
            if t.group != "fill":
                continue
            if t.to_state is State.POSITION_ACTIVE:
                entry: Fill | None = runner.account.entry
                if entry is not None:
                    feed.publish(FillNote(self.symbol, "open", entry))
            elif t.to_state is State.EXITED and result.trades:
                feed.publish(FillNote(self.symbol, "close", result.trades[-1].exit_fills[-1]))
        for trade in result.trades[self._trades_seen :]:
            feed.publish(TradeNote(trade))
        self._trades_seen = len(result.trades)

    def _frame(self) -> SymbolFrame:
        runner = self.runner
        state, machine, live = runner.state, runner.machine, runner.result
        pos = machine.position
        values = runner.values
        equity = runner.equity()
        return SymbolFrame(
            symbol=self.symbol,
            ts_ns=state.now_ns,
            events=live.events,
            price=state.price,
            bid=state.bid,
            ask=state.ask,
            state=machine.state.value,
            side=pos.side if pos is not None else 0,
            qty=pos.qty if pos is not None else 0.0,
            entry_price=pos.entry_price if pos is not None else math.nan,
            equity=equity,
            pnl=equity - live.start_balance,
            trades=len(live.trades),
            indicators={name: float(values.get(name, math.nan)) for name in self.session.names},
        )
