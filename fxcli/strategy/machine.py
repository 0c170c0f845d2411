"""The seed's state machine for one symbol.

    INACTIVE -> MONITORING -> SIGNAL_DETECTED -> SIGNAL_CANCELLED -> (cooldown) -> MONITORING
                                             -> ENTRY_EVALUATION -> POSITION_ACTIVE
    POSITION_ACTIVE -> EMERGENCY_EXIT (E1, checked first) | CLOSE_ORDER_EVALUATION (stop-loss,
    take-profit, ZE1) -> EXITED -> (cooldown) -> MONITORING

The machine decides; it does not fill. Entering ENTRY_EVALUATION, CLOSE_ORDER_EVALUATION or
EMERGENCY_EXIT returns an `Intent`, and the machine waits in that state until the executor (the
backtester's fill model, or the live paper broker) reports the fill with `on_fill` or a refusal with
`on_reject`. Every change of state is a `Transition` carrying the values that decided it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from math import isnan

from fxcli.strategy.spec import UNREALIZED_PNL_PCT, GroupName, StrategySpec


class State(StrEnum):
    """The seed's states."""

    INACTIVE = "INACTIVE"
    MONITORING = "MONITORING"
    SIGNAL_DETECTED = "SIGNAL_DETECTED"
    SIGNAL_CANCELLED = "SIGNAL_CANCELLED"
    ENTRY_EVALUATION = "ENTRY_EVALUATION"
    POSITION_ACTIVE = "POSITION_ACTIVE"
    CLOSE_ORDER_EVALUATION = "CLOSE_ORDER_EVALUATION"
    EMERGENCY_EXIT = "EMERGENCY_EXIT"
    EXITED = "EXITED"


@dataclass(frozen=True)
class Transition:
    """One change of state, and the indicator values that decided it."""

    ts_ns: int
    symbol: str
    from_state: State
    to_state: State
    group: str  # s1, o1, z1, ze1, e1, stop_loss, take_profit, timeout, cooldown, start, fill, rejected
    values: dict[str, float]


@dataclass(frozen=True)
class Intent:
    """An order the machine wants: open `notional` quote, or close `qty` base; `side` +1 buy / -1 sell."""

    ts_ns: int
    symbol: str
    action: str  # "open" | "close"
    side: int
    notional: float
    qty: float
    reason: str


@dataclass
class Position:
    """The open position: signed by `side`, with its fixed stop and target."""

    side: int
    qty: float
    entry_price: float
    entry_ts_ns: int
    stop_price: float
    take_price: float
    opened_qty: float = 0.0


@dataclass
class Diagnostics:
    """How often each group could not be decided (PENDING / ERROR never fire)."""

    pending: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


def interpolate(points: list[tuple[float, float]], x: float) -> float:
    """Piecewise-linear through `points`, flat beyond the first and last."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


class StrategyMachine:
    """One strategy on one symbol."""

    def __init__(self, spec: StrategySpec, symbol: str, trade_from_ns: int = 0) -> None:
        """`trade_from_ns`: no signal is looked for before it (a warm-up lead: the indicators see the
        data, the strategy opens nothing); it is the first cooldown's end."""
        self.spec = spec
        self.symbol = symbol
        self.state = State.INACTIVE
        self.transitions: list[Transition] = []
        self.position: Position | None = None
        self.diagnostics = Diagnostics()
        self._signal_ts = 0
        self._resume_ts = trade_from_ns
        self._closing_reason = ""
        self._groups = {
            g: (spec.group(g), [(c.indicator, c.test()) for c in spec.group(g)], spec.require.get(g, "all"))
            for g in GroupName
        }

    # -- transitions -------------------------------------------------------------------------
    def _go(self, ts_ns: int, to: State, group: str, values: dict[str, float] | None = None) -> None:
        self.transitions.append(Transition(ts_ns, self.symbol, self.state, to, group, values or {}))
        self.state = to

    def _fires(self, group: GroupName, values: Mapping[str, float]) -> tuple[bool, dict[str, float]]:
        # One pass, on every tick: Condition.evaluate's results (PENDING for a missing or NaN value,
        # ERROR when the comparison fails), counted without building them.
        conditions, tests, require = self._groups[group]
        if not tests:
            return False, {}
        hits = pending = errors = 0
        for name, test in tests:
            x = values.get(name)
            try:
                if x is None or isnan(x):
                    pending += 1
                elif test(x):
                    hits += 1
            except Exception:  # a value of the wrong type from a custom source: ERROR, not a crash
                errors += 1
        if pending or errors:
            diagnostics, key = self.diagnostics, group.value
            if pending:
                diagnostics.pending[key] = diagnostics.pending.get(key, 0) + pending
            if errors:
                diagnostics.errors[key] = diagnostics.errors.get(key, 0) + errors
        if not (hits == len(tests) if require == "all" else hits):
            return False, {}
        return True, {c.indicator: float(values.get(c.indicator, math.nan)) for c in conditions}

    def start(self, ts_ns: int) -> None:
        """INACTIVE -> MONITORING."""
        if self.state is State.INACTIVE:
            self._go(ts_ns, State.MONITORING, "start")

    # -- ticks -------------------------------------------------------------------------------
    def on_tick(self, ts_ns: int, values: Mapping[str, float], price: float, balance: float) -> Intent | None:
        """Evaluate the groups that apply in the current state; maybe return an order to execute."""
        state = self.state
        if state is State.MONITORING:
            if ts_ns >= self._resume_ts:
                fired, decided = self._fires(GroupName.S1, values)
                if fired:
                    self._signal_ts = ts_ns
                    self._go(ts_ns, State.SIGNAL_DETECTED, "s1", decided)
            return None
        if state is State.SIGNAL_DETECTED:
            return self._signal(ts_ns, values, balance)
        if state in (State.SIGNAL_CANCELLED, State.EXITED):
            if ts_ns >= self._resume_ts:
                self._go(ts_ns, State.MONITORING, "cooldown")
            return None
        if state is State.POSITION_ACTIVE:
            return self._manage(ts_ns, values, price)
        if state in (State.CLOSE_ORDER_EVALUATION, State.EMERGENCY_EXIT) and self.position is not None:
            return self._close_intent(ts_ns)  # the last close was partial or refused: try again
        return None

    def _signal(self, ts_ns: int, values: Mapping[str, float], balance: float) -> Intent | None:
        fired, decided = self._fires(GroupName.O1, values)
        if fired:
            self._cancel(ts_ns, "o1", decided)
            return None
        if ts_ns - self._signal_ts > self.spec.signal_timeout_s * 1e9:
            self._cancel(ts_ns, "timeout", {})
            return None
        fired, decided = self._fires(GroupName.Z1, values)
        if not fired:
            return None
        notional = self.size(values, balance)
        self._go(ts_ns, State.ENTRY_EVALUATION, "z1", {**decided, "notional": notional})
        if notional < self.spec.sizing.min_notional:
            self._cancel(ts_ns, "rejected", {"notional": notional, "balance": balance})
            return None
        side = self.spec.side.sign
        return Intent(ts_ns, self.symbol, "open", side, notional, 0.0, "z1")

    def _cancel(self, ts_ns: int, group: str, values: dict[str, float]) -> None:
        self._go(ts_ns, State.SIGNAL_CANCELLED, group, values)
        self._resume_ts = ts_ns + int(self.spec.cooldown_s * 1e9)

    def _manage(self, ts_ns: int, values: Mapping[str, float], price: float) -> Intent | None:
        pos = self.position
        assert pos is not None
        pnl_pct = pos.side * (price / pos.entry_price - 1.0) * 100.0
        view = {**values, UNREALIZED_PNL_PCT: pnl_pct}
        fired, decided = self._fires(GroupName.E1, view)
        if fired:
            self._closing_reason = "e1"
            self._go(ts_ns, State.EMERGENCY_EXIT, "e1", decided)
            return self._close_intent(ts_ns)
        stop_hit = price <= pos.stop_price if pos.side > 0 else price >= pos.stop_price
        take_hit = price >= pos.take_price if pos.side > 0 else price <= pos.take_price
        if stop_hit or take_hit:
            self._closing_reason = "stop_loss" if stop_hit else "take_profit"
            level = pos.stop_price if stop_hit else pos.take_price
            self._go(
                ts_ns,
                State.CLOSE_ORDER_EVALUATION,
                self._closing_reason,
                {"price": price, "level": level, UNREALIZED_PNL_PCT: pnl_pct},
            )
            return self._close_intent(ts_ns)
        fired, decided = self._fires(GroupName.ZE1, view)
        if fired:
            self._closing_reason = "ze1"
            self._go(ts_ns, State.CLOSE_ORDER_EVALUATION, "ze1", decided)
            return self._close_intent(ts_ns)
        return None

    def _close_intent(self, ts_ns: int) -> Intent:
        pos = self.position
        assert pos is not None
        return Intent(ts_ns, self.symbol, "close", -pos.side, 0.0, pos.qty, self._closing_reason)

    # -- sizing ------------------------------------------------------------------------------
    def size(self, values: Mapping[str, float], balance: float) -> float:
        """Seed sizing: balance x base % x risk multiplier, clamped to [min, max] and max leverage."""
        sizing = self.spec.sizing
        multiplier = 1.0
        if sizing.risk_variant:
            risk = values.get(sizing.risk_variant, math.nan)
            if not math.isnan(risk):
                multiplier = interpolate(sizing.risk_points, risk)
        notional = balance * sizing.base_position_pct / 100.0 * multiplier
        notional = min(max(notional, sizing.min_notional), sizing.max_notional)
        return min(notional, balance * sizing.max_leverage)

    # -- fills -------------------------------------------------------------------------------
    def on_fill(self, ts_ns: int, price: float, qty: float, values: Mapping[str, float]) -> None:
        """The executor filled our pending order (`qty` base at average `price`)."""
        if self.state is State.ENTRY_EVALUATION:
            side = self.spec.side.sign
            exits = self.spec.exits
            stop_ref = values.get(exits.stop_loss_variant, math.nan) if exits.stop_loss_variant else math.nan
            take_ref = (
                values.get(exits.take_profit_variant, math.nan) if exits.take_profit_variant else math.nan
            )
            stop_ref = price if math.isnan(stop_ref) else stop_ref
            take_ref = price if math.isnan(take_ref) else take_ref
            self.position = Position(
                side=side,
                qty=qty,
                entry_price=price,
                entry_ts_ns=ts_ns,
                stop_price=stop_ref * (1.0 - side * exits.sl_buffer_pct / 100.0),
                take_price=take_ref * (1.0 + side * exits.tp_pct / 100.0),
                opened_qty=qty,
            )
            self._go(
                ts_ns,
                State.POSITION_ACTIVE,
                "fill",
                {
                    "price": price,
                    "qty": qty,
                    "stop": self.position.stop_price,
                    "take": self.position.take_price,
                },
            )
        elif self.state in (State.CLOSE_ORDER_EVALUATION, State.EMERGENCY_EXIT) and self.position is not None:
            self.position.qty -= qty
            if self.position.qty <= self.position.opened_qty * 1e-9:  # float dust is not a position
                self.position = None
                cooldown = (
                    self.spec.emergency_cooldown_s if self._closing_reason == "e1" else self.spec.cooldown_s
                )
                self._resume_ts = ts_ns + int(cooldown * 1e9)
                self._go(ts_ns, State.EXITED, "fill", {"price": price, "qty": qty})

    def on_reject(self, ts_ns: int, why: str) -> None:
        """The executor could not fill: an entry is abandoned, an exit is retried on the next tick."""
        if self.state is State.ENTRY_EVALUATION:
            self._cancel(ts_ns, "rejected", {})
