"""Batch replay for `fx backtest`: the streaming runner's results, computed from columns.

`fx backtest` has its whole window before it starts, so it need not update every indicator and ask
the strategy machine on every event. This runner gives the same `RunResult` as
`fxcli.backtest.runner.run` (the reference, field by field: tests/unit/backtest/test_fast_parity.py):

1. `Ticks` are built once: vectorised from the events' columns when the stream has only trades and
   book tickers, else with `Ticks.from_events`. Every indicator is its batch twin over them, equal
   to the streaming value bit for bit (tests/contracts).
2. The real `StrategyMachine` is stepped only on the rows where it acts: the next row where S1 fires
   (MONITORING), where a cooldown ends (SIGNAL_CANCELLED, EXITED), where O1 fires, the signal times
   out or Z1 fires (SIGNAL_DETECTED), where E1 fires, a stop or target is hit or ZE1 fires
   (POSITION_ACTIVE). Those rows are found with numpy masks that follow `Condition.evaluate` (NaN is
   PENDING and never fires; all / any), and the PENDING counts of the rows skipped are added as the
   machine would have counted them, in the same order of first appearance. A mask may flag a row
   where the machine then does nothing (it counts that row itself): only a missed row would differ.
3. Orders execute with the streaming runner's own fill and account code, on the first event after
   their due time, against the market state as it was just before that event: rebuilt from the
   columns, with (when there is L2 data) the book of a `MarketState` fed the snapshots and deltas
   up to that row.
4. Equity points follow the streaming sampling rule (the first row with a price in each
   `equity_every_ns` bucket), valued between account changes with the same float operations.

An observer (a paced replay watching every event) needs the streaming loop, so `run` hands such
calls, and the few inputs this runner does not model (indicator names given twice, a trade without
a price, a sampling period that is not a positive int), to `fxcli.backtest.runner.run`. `fx stream`
keeps the streaming pipeline.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable

import numpy as np

from fxcli.backtest import runner
from fxcli.backtest.fills import Costs, Fill, Quote
from fxcli.backtest.runner import (
    EquityPoint,
    RunResult,
    TradeRecord,
    _Book,
    _execute,
    _force_close,
    settle_at_end,
)
from fxcli.backtest.tape import Tape, depth_levels, indicator_column
from fxcli.engine.clock import clock_ns_of
from fxcli.engine.params import IndicatorParams
from fxcli.engine.state import MarketState
from fxcli.model.events import MarketEvent
from fxcli.strategy.conditions import Condition, Op
from fxcli.strategy.machine import Intent, State, StrategyMachine
from fxcli.strategy.spec import UNREALIZED_PNL_PCT, GroupName, StrategySpec

__all__ = [
    "EquityPoint",
    "Replay",
    "RunResult",
    "Tape",
    "TradeRecord",
    "depth_levels",
    "indicator_column",
    "run",
    "run_tape",
]

FIRST_CHUNK = 512  # rows scanned at once while a signal or a position is live; x4 per further chunk


_COMPARE = {
    Op.GTE: operator.ge,
    Op.LTE: operator.le,
    Op.GT: operator.gt,
    Op.LT: operator.lt,
    Op.EQ: operator.eq,
}

Pending = tuple[Intent, Quote, int]  # the streaming runner's pending order: intent, quote at decision, due


def run(
    spec: StrategySpec,
    symbol: str,
    indicators: Iterable[tuple[str, str, IndicatorParams]],
    events: Iterable[MarketEvent],
    costs: Costs,
    balance: float,
    *,
    equity_every_ns: int = 1_000_000_000,
    clock_ms: int = 0,
    observer: Callable[[MarketState, StrategyMachine, float], None] | None = None,
    trade_from_ns: int = 0,
) -> RunResult:
    """`fxcli.backtest.runner.run`'s result for the same arguments, from a batch replay of `events`
    (with clock rows every `clock_ms`: `Ticks.with_clock`)."""
    indicators = list(indicators)
    if observer is not None:  # it must see every event as it happens: only the streaming loop can
        return runner.run(
            spec,
            symbol,
            indicators,
            events,
            costs,
            balance,
            equity_every_ns=equity_every_ns,
            clock_ms=clock_ms,
            observer=observer,
            trade_from_ns=trade_from_ns,
        )
    stream = events if isinstance(events, list) else list(events)
    names = [name for name, _, _ in indicators]
    clock_ns = clock_ns_of(clock_ms)
    tape = Tape.of(stream, indicators, clock_ns) if stream and len(set(names)) == len(names) else None
    if tape is None or type(equity_every_ns) is not int or not 0 < equity_every_ns < 2**62:
        return runner.run(
            spec,
            symbol,
            indicators,
            stream,
            costs,
            balance,
            equity_every_ns=equity_every_ns,
            clock_ms=clock_ms,
            trade_from_ns=trade_from_ns,
        )
    return run_tape(spec, symbol, indicators, tape, costs, balance, equity_every_ns, trade_from_ns)


def run_tape(
    spec: StrategySpec,
    symbol: str,
    indicators: list[tuple[str, str, IndicatorParams]],
    tape: Tape,
    costs: Costs,
    balance: float,
    equity_every_ns: int = 1_000_000_000,
    trade_from_ns: int = 0,
) -> RunResult:
    """`run`'s result on a tape built already (indicator names distinct, `equity_every_ns` > 0)."""
    columns = [indicator_column(tape, kind, params) for _, kind, params in indicators]
    names = [name for name, _, _ in indicators]
    return Replay(spec, symbol, names, columns, tape, costs, balance, equity_every_ns, trade_from_ns).run()


def _operand(value: float | None) -> float:
    assert value is not None  # the Condition validator guarantees the operands of its op
    return value


def _hits(condition: Condition, x: np.ndarray) -> np.ndarray:
    """Where `condition` is TRUE on the values `x` (NaN compares False: it is PENDING, never TRUE)."""
    op = condition.op
    if op is Op.BETWEEN:
        hit = (_operand(condition.min) <= x) & (x <= _operand(condition.max))
    elif op is Op.ALLOWED:
        hit = np.isin(x, np.asarray(condition.values, dtype=np.float64))
    else:
        hit = _COMPARE[op](x, _operand(condition.value))
    return np.asarray(hit, dtype=bool)


class _Group:
    """One condition group evaluated over a range of rows, as `StrategyMachine._fires` would on each.

    A condition reads its indicator's column; UNREALIZED_PNL_PCT reads the position's P&L (E1 / ZE1
    only: the machine adds it to their view alone); a name the values do not hold is PENDING on
    every row. Values are floats, so no evaluation can raise: ERROR never happens here.
    """

    def __init__(
        self, name: GroupName, conditions: list[Condition], require: str, columns: dict[str, np.ndarray]
    ) -> None:
        self.name = name
        self.require = require
        with_pnl = name in (GroupName.E1, GroupName.ZE1)
        self.checks: list[tuple[Condition, np.ndarray | None, bool]] = []
        for c in conditions:
            pnl = with_pnl and c.indicator == UNREALIZED_PNL_PCT
            column = None if pnl else columns.get(c.indicator)
            self.checks.append((c, column, pnl))

    def evaluate(self, a: int, b: int, pnl: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Rows of [a, b) where the group fires, and each condition's PENDING rows."""
        fires: np.ndarray | None = None
        pending: list[np.ndarray] = []
        for condition, column, uses_pnl in self.checks:
            x = pnl if uses_pnl else None if column is None else column[a:b]
            if x is None:  # not in the values: PENDING
                pending.append(np.ones(b - a, dtype=bool))
                hit = np.zeros(b - a, dtype=bool)
            else:
                pending.append(np.isnan(x))
                hit = _hits(condition, x)
            if fires is None:
                fires = hit
            elif self.require == "all":
                fires &= hit
            else:
                fires |= hit
        return (np.zeros(b - a, dtype=bool) if fires is None else fires), pending


class Replay:
    """One batch replay: the machine stepped on the rows where it acts, the rest counted in bulk.

    It takes the indicator columns ready (`indicator_column`), so replays that differ only in the
    strategy's thresholds, exits or sizing share them. `advance(limit)` steps it up to a row and
    `partial(limit)` reports what happened before that row; `finish()` ends the run: `run()` is
    `advance(n)` then `finish()`, and a replay advanced in steps ends exactly as one run at once.
    """

    def __init__(
        self,
        spec: StrategySpec,
        symbol: str,
        names: list[str],
        columns: list[np.ndarray],
        tape: Tape,
        costs: Costs,
        balance: float,
        equity_every_ns: int = 1_000_000_000,
        trade_from_ns: int = 0,
    ) -> None:
        self.spec = spec
        self.symbol = symbol
        self.tape = tape
        self.costs = costs
        self.every = equity_every_ns
        ticks = tape.ticks
        self.n = len(ticks)
        self.now = ticks.ts_ns
        self.price = tape.price
        self.names = names
        self.values_of = columns
        by_name = dict(zip(self.names, self.values_of, strict=True))
        self.groups = {g: _Group(g, spec.group(g), spec.require.get(g, "all"), by_name) for g in GroupName}
        self.machine = StrategyMachine(spec, symbol, trade_from_ns)
        self.book = _Book(balance)
        self.result = RunResult(symbol, balance)
        # Account changes: (first row they hold for, balance, entry fill, open qty).
        self.accounts: list[tuple[int, float, Fill | None, float]] = [(0, balance, None, 0.0)]
        timeout = spec.signal_timeout_s * 1e9
        self.timeout_after = math.floor(timeout) if timeout < 2**62 else None
        self._live: MarketState | None = None
        self._applied = 0  # L2 events fed to `_live`
        self._started = False
        self._row = 0  # the loop's next row to look from
        self._action: int | None = None  # the next action row, found (and its PENDING counted) already
        self._at_end: Pending | None = None  # an order due after the last row
        self._done = False
        self._first = 0  # the first row with a price

    # -- the state the streaming runner would hold after row r ------------------------------------
    def values(self, r: int) -> dict[str, float]:
        """The pipeline's snapshot after row r."""
        return {name: column.item(r) for name, column in zip(self.names, self.values_of, strict=True)}

    def state(self, r: int) -> MarketState:
        """A MarketState equal, in every field the fill model and the runner read, to the one after row r.

        Time, last trade and top of book come from the columns. With L2 data, one MarketState is fed
        the snapshots and deltas up to row r (only they move its book and `has_l2`); rows never go
        back, as orders execute in time order.
        """
        tape = self.tape
        if not tape.l2_rows:
            return self._top(MarketState(self.symbol), r)
        live = self._live
        if live is None:
            live = self._live = MarketState(self.symbol)
        rows, events = tape.l2_rows, tape.l2_events
        while self._applied < len(rows) and rows[self._applied] <= r:
            live.apply(events[self._applied])
            self._applied += 1
        return self._top(live, r)

    def _top(self, state: MarketState, r: int) -> MarketState:
        """`state` with the time, last trade and top of book after row r."""
        tape, ticks = self.tape, self.tape.ticks
        state.now_ns = int(self.now[r])
        state.is_trade = bool(ticks.is_trade[r])
        state.price = float(self.price[r])
        state.trades_seen = int(tape.seen[r])
        state.bid, state.ask = float(ticks.bid[r]), float(ticks.ask[r])
        state.bid_qty, state.ask_qty = float(ticks.bid_qty[r]), float(ticks.ask_qty[r])
        return state

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """The whole replay's result."""
        self.advance(self.n)
        return self.finish()

    def _start(self) -> None:
        self._started = True
        n, now, result = self.n, self.now, self.result
        result.clock_ticks = self.tape.clock_ticks
        result.events = n - result.clock_ticks
        result.first_ts_ns = int(now[0])
        self.machine.start(result.first_ts_ns)
        valid = ~np.isnan(self.price)
        self._first = int(np.argmax(valid)) if valid.any() else n
        if self._first < n:
            result.first_price = float(self.price[self._first])
        self._prepare_s1()
        self._row = self._first

    def advance(self, limit: int) -> None:
        """Step the machine on every action row before `limit` (an order decided there executes,
        even on a row past `limit`)."""
        if not self._started:
            self._start()
        n, now, machine, result = self.n, self.now, self.machine, self.result
        latency = self.costs.latency_ns
        ticks = self.tape.ticks
        while not self._done:
            if self._row >= n:
                self._done = True
                break
            k = self._next_action(self._row) if self._action is None else self._action
            if k >= n:
                self._done = True
                break
            if k >= limit:
                self._action = k  # its skipped rows' PENDING counts are added: do not count them twice
                return
            self._action = None
            ts = int(now[k])
            price = float(self.price[k])
            intent = machine.on_tick(ts, self.values(k), price, self.book.balance)
            if intent is None:
                self._row = k + 1
                continue
            pending = (intent, Quote(ts, float(ticks.bid[k]), float(ticks.ask[k]), price), ts + latency)
            e = self._execution_row(k, pending[2])
            if e >= n:
                self._at_end = pending
                self._done = True
                break
            _execute(pending, machine, self.book, self.state(e - 1), self.costs, self.values(e - 1), result)
            self.accounts.append((e, self.book.balance, self.book.entry, self.book.qty))
            self._row = e

    def partial(self, limit: int) -> RunResult:
        """What the run holds after `advance(limit)`: the rows before `limit`, open positions left open
        (equity marked at the last price), PENDING counts up to the next action row."""
        if not self._started:
            self._start()
        limit = max(1, min(limit, self.n))
        src = self.result
        last = limit - 1
        out = RunResult(self.symbol, src.start_balance)
        out.trades = list(src.trades)
        out.transitions = list(self.machine.transitions)
        out.rejected = list(src.rejected)
        is_clock = self.tape.is_clock
        out.clock_ticks = 0 if is_clock is None else int(np.count_nonzero(is_clock[:limit]))
        out.events = limit - out.clock_ticks
        out.first_ts_ns, out.first_price = src.first_ts_ns, src.first_price
        out.last_ts_ns, out.last_price = int(self.now[last]), float(self.price[last])
        out.equity = self._equity(self._first, limit)
        out.diagnostics = {
            "pending": dict(self.machine.diagnostics.pending),
            "errors": dict(self.machine.diagnostics.errors),
        }
        return out

    def finish(self) -> RunResult:
        """End the run (after `advance(n)`): settle an order due past the data, close an open position."""
        self.advance(self.n)
        n, machine, result = self.n, self.machine, self.result
        at_end = self._at_end
        result.equity = self._equity(self._first)
        # The last state; its L2 book is replayed only when an order or a position needs it.
        needs_book = at_end is not None or self.book.entry is not None
        state = self.state(n - 1) if needs_book else self._top(MarketState(self.symbol), n - 1)
        values = self.values(n - 1)
        if at_end is not None:
            last_event_ns = int(self.tape.raw_ts[-1])
            settle_at_end(at_end, last_event_ns, machine, self.book, state, self.costs, values, result)
        if self.book.entry is not None:
            _force_close(machine, self.book, state, self.costs, values, result)
        result.last_ts_ns = state.now_ns
        result.last_price = state.price
        result.equity.append(
            EquityPoint(state.now_ns, self.book.balance, self.book.equity(state.price), state.price)
        )
        result.transitions = machine.transitions
        result.diagnostics = {"pending": machine.diagnostics.pending, "errors": machine.diagnostics.errors}
        return result

    def _execution_row(self, decided: int, due: int) -> int:
        """The first row after `decided` whose own exchange time is past `due` (n: after the last)."""
        e = int(np.searchsorted(self.now, due, side="right"))
        if e > decided:
            # Engine time first passes `due` at e, so that event's own time did: none before it did.
            return e
        later = np.flatnonzero(self.tape.raw_ts[decided + 1 :] > due)  # a negative latency
        return decided + 1 + int(later[0]) if len(later) else self.n

    # -- where the machine acts next -----------------------------------------------------------------
    def _next_action(self, row: int) -> int:
        """The first row >= `row` where stepping the machine can change something (n: none).

        The PENDING diagnostics of the rows skipped are added as the machine would have counted them.
        """
        machine = self.machine
        state = machine.state
        if state is State.MONITORING:
            return self._next_s1(max(row, self._first_at(machine._resume_ts)))
        if state in (State.SIGNAL_CANCELLED, State.EXITED):
            return max(row, self._first_at(machine._resume_ts))
        if state is State.SIGNAL_DETECTED:
            return self._scan(row, self._signal_rows)
        if state is State.POSITION_ACTIVE and machine.position is not None and machine.position.entry_price:
            return self._scan(row, self._position_rows)
        return row  # a close to retry, or a state the machine ignores ticks in: step it

    def _first_at(self, ts_ns: int) -> int:
        """The first row with engine time >= `ts_ns`."""
        return int(np.searchsorted(self.now, ts_ns, side="left"))

    def _prepare_s1(self) -> None:
        fires, pending = self.groups[GroupName.S1].evaluate(0, self.n)
        self.s1_rows = np.flatnonzero(fires)
        del fires
        # PENDING counts before each row; 32-bit while they fit (8 bytes a row less, kept all run).
        width = np.int32 if (self.n + 1) * max(1, len(pending)) < 2**31 else np.int64
        per_row: np.ndarray = np.zeros(self.n, dtype=width)
        for mask in pending:
            np.add(per_row, mask, out=per_row)
        del pending
        self.s1_pending = np.zeros(self.n + 1, dtype=width)
        np.cumsum(per_row, out=self.s1_pending[1:])

    def _next_s1(self, row: int) -> int:
        """The next row where S1 fires; S1's PENDING counts of the rows before it are added."""
        at = int(np.searchsorted(self.s1_rows, row, side="left"))
        k = int(self.s1_rows[at]) if at < len(self.s1_rows) else self.n
        if k > row:
            total = int(self.s1_pending[k] - self.s1_pending[row])
            if total:
                pending = self.machine.diagnostics.pending
                key = GroupName.S1.value
                pending[key] = pending.get(key, 0) + total
        return k

    def _signal_rows(self, a: int, b: int) -> tuple[np.ndarray, list[tuple[GroupName, list[np.ndarray]]]]:
        """SIGNAL_DETECTED: O1 fires, the signal times out, or Z1 fires; O1 then Z1 are evaluated."""
        o1, o1_pending = self.groups[GroupName.O1].evaluate(a, b)
        z1, z1_pending = self.groups[GroupName.Z1].evaluate(a, b)
        acts = o1 | z1
        if self.timeout_after is not None:
            acts |= (self.now[a:b] - self.machine._signal_ts) > self.timeout_after
        return acts, [(GroupName.O1, o1_pending), (GroupName.Z1, z1_pending)]

    def _position_rows(self, a: int, b: int) -> tuple[np.ndarray, list[tuple[GroupName, list[np.ndarray]]]]:
        """POSITION_ACTIVE: E1 fires, a stop or target is hit, or ZE1 fires; E1 then ZE1 are evaluated."""
        pos = self.machine.position
        assert pos is not None
        price = self.price[a:b]
        pnl = pos.side * (price / pos.entry_price - 1.0) * 100.0  # StrategyMachine._manage's operations
        e1, e1_pending = self.groups[GroupName.E1].evaluate(a, b, pnl)
        ze1, ze1_pending = self.groups[GroupName.ZE1].evaluate(a, b, pnl)
        if pos.side > 0:
            exits = (price <= pos.stop_price) | (price >= pos.take_price)
        else:
            exits = (price >= pos.stop_price) | (price <= pos.take_price)
        return e1 | exits | ze1, [(GroupName.E1, e1_pending), (GroupName.ZE1, ze1_pending)]

    def _scan(
        self,
        row: int,
        rows: Callable[[int, int], tuple[np.ndarray, list[tuple[GroupName, list[np.ndarray]]]]],
    ) -> int:
        """The first row >= `row` where `rows` says the machine acts, in growing chunks."""
        size = FIRST_CHUNK
        a = row
        while a < self.n:
            b = min(self.n, a + size)
            acts, evaluated = rows(a, b)
            hits = np.flatnonzero(acts)
            end = a + int(hits[0]) if len(hits) else b
            self._count(evaluated, end - a)
            if len(hits):
                return end
            a, size = b, size * 4
        return self.n

    def _count(self, evaluated: list[tuple[GroupName, list[np.ndarray]]], length: int) -> None:
        """Add the PENDING counts of the first `length` rows; new groups in order of first appearance."""
        if length <= 0:
            return
        counts = self.machine.diagnostics.pending
        new: list[tuple[int, int, str, int]] = []
        for order, (group, masks) in enumerate(evaluated):
            heads = [mask[:length] for mask in masks]
            total = sum(int(np.count_nonzero(head)) for head in heads)
            if not total:
                continue
            if group.value in counts:
                counts[group.value] += total
            else:
                first = min(int(np.argmax(head)) for head in heads if head.any())
                new.append((first, order, group.value, total))
        for _, _, key, total in sorted(new):
            counts[key] = total

    # -- equity -------------------------------------------------------------------------------------
    def _equity(self, first: int, stop: int | None = None) -> list[EquityPoint]:
        """The points the streaming runner samples in its loop before row `stop` (all: None): the first
        row with a price (and engine time >= 0) in each `equity_every_ns` bucket, valued with the
        account as it was on that row."""
        now, n = self.now, self.n if stop is None else stop
        start = max(first, self._first_at(0))
        if start >= n:
            return []
        bucket = now[start:n] // self.every
        rows = start + np.concatenate(([0], np.flatnonzero(bucket[1:] != bucket[:-1]) + 1))
        prices = self.price[rows]
        times, marks = now[rows].tolist(), prices.tolist()
        bounds = np.searchsorted(rows, [row for row, *_ in self.accounts] + [n], side="left").tolist()
        points: list[EquityPoint] = []
        for (_, cash, entry, qty), lo, hi in zip(self.accounts, bounds[:-1], bounds[1:], strict=True):
            # _Book.equity: the balance as it is (an int stays an int), or balance + side * qty * (price
            # - entry price) with an open position.
            values = (
                [cash] * (hi - lo)
                if entry is None
                else (cash + entry.side * qty * (prices[lo:hi] - entry.price)).tolist()
            )
            points.extend(map(EquityPoint, times[lo:hi], [cash] * (hi - lo), values, marks[lo:hi]))
        return points
