"""The state machine on hand-built tick sequences; each test writes out the transitions it expects."""

from __future__ import annotations

import math

import pytest

from fxcli.strategy.machine import Intent, State, StrategyMachine, interpolate
from fxcli.strategy.spec import StrategySpec

S = 1_000_000_000  # one second in ns
NAN = math.nan


def spec(**overrides: object) -> StrategySpec:
    base: dict[str, object] = {
        "schema": 1,
        "name": "t",
        "side": "long",
        "signal_timeout_s": 10,
        "cooldown_s": 5,
        "emergency_cooldown_s": 50,
        "s1": [{"indicator": "pump", "op": "gte", "value": 3}],
        "o1": [{"indicator": "pump", "op": "lt", "value": 1}],
        "z1": [{"indicator": "surge", "op": "gte", "value": 2}],
        "ze1": [{"indicator": "UNREALIZED_PNL_PCT", "op": "gte", "value": 5}],
        "e1": [{"indicator": "spread", "op": "gt", "value": 1}],
        "exits": {"sl_buffer_pct": 10, "tp_pct": 25},
        "sizing": {"base_position_pct": 1, "min_notional": 10, "max_notional": 1000, "max_leverage": 2},
    }
    base.update(overrides)
    return StrategySpec.model_validate(base)


def path(machine: StrategyMachine) -> list[tuple[str, str, str]]:
    return [(t.from_state.value, t.to_state.value, t.group) for t in machine.transitions]


def v(pump: float = 0, surge: float = 0, spread: float = 0.1) -> dict[str, float]:
    return {"pump": pump, "surge": surge, "spread": spread}


def opened(machine: StrategyMachine, price: float = 100.0) -> Intent:
    machine.start(0)
    machine.on_tick(1 * S, v(pump=4), price, 10_000)
    intent = machine.on_tick(2 * S, v(pump=4, surge=3), price, 10_000)
    assert intent is not None
    assert intent.action == "open"
    machine.on_fill(2 * S + 50_000_000, price, intent.notional / price, v())
    return intent


def test_machine_is_inactive_until_started() -> None:
    machine = StrategyMachine(spec(), "X")

    assert machine.on_tick(1 * S, v(pump=9, surge=9), 100, 10_000) is None
    assert machine.state is State.INACTIVE
    assert path(machine) == []


def test_machine_s1_detects_signal_with_deciding_values() -> None:
    machine = StrategyMachine(spec(), "X")
    machine.start(0)

    machine.on_tick(1 * S, v(pump=2.9), 100, 10_000)
    machine.on_tick(2 * S, v(pump=3.0), 100, 10_000)

    assert path(machine) == [("INACTIVE", "MONITORING", "start"), ("MONITORING", "SIGNAL_DETECTED", "s1")]
    assert machine.transitions[-1].values == {"pump": 3.0}
    assert machine.transitions[-1].ts_ns == 2 * S


def test_machine_o1_cancels_then_cooldown_returns_to_monitoring() -> None:
    machine = StrategyMachine(spec(), "X")
    machine.start(0)
    machine.on_tick(1 * S, v(pump=4), 100, 10_000)

    machine.on_tick(2 * S, v(pump=0.5, surge=9), 100, 10_000)  # O1 before Z1: cancelled, no entry
    machine.on_tick(6 * S, v(pump=9), 100, 10_000)  # 4 s later: still cooling down
    machine.on_tick(7 * S, v(pump=9), 100, 10_000)  # 5 s: back to monitoring (no S1 on the same tick)
    machine.on_tick(8 * S, v(pump=9), 100, 10_000)

    assert path(machine)[1:] == [
        ("MONITORING", "SIGNAL_DETECTED", "s1"),
        ("SIGNAL_DETECTED", "SIGNAL_CANCELLED", "o1"),
        ("SIGNAL_CANCELLED", "MONITORING", "cooldown"),
        ("MONITORING", "SIGNAL_DETECTED", "s1"),
    ]


def test_machine_signal_times_out_without_entry() -> None:
    machine = StrategyMachine(spec(), "X")
    machine.start(0)
    machine.on_tick(1 * S, v(pump=4), 100, 10_000)

    machine.on_tick(11 * S, v(pump=4), 100, 10_000)  # exactly 10 s: not yet
    machine.on_tick(11 * S + 1, v(pump=4), 100, 10_000)

    assert path(machine)[-1] == ("SIGNAL_DETECTED", "SIGNAL_CANCELLED", "timeout")


def test_machine_z1_sizes_opens_and_fill_sets_stop_and_target() -> None:
    machine = StrategyMachine(spec(), "X")

    intent = opened(machine, price=200.0)

    assert intent == Intent(2 * S, "X", "open", 1, 100.0, 0.0, "z1")  # 1 % of 10,000
    assert path(machine)[-2:] == [
        ("SIGNAL_DETECTED", "ENTRY_EVALUATION", "z1"),
        ("ENTRY_EVALUATION", "POSITION_ACTIVE", "fill"),
    ]
    assert machine.position is not None
    assert (machine.position.qty, machine.position.stop_price, machine.position.take_price) == (
        0.5,
        180.0,
        250.0,
    )


def test_machine_e1_is_checked_before_ze1_and_stop() -> None:
    machine = StrategyMachine(spec(), "X")
    opened(machine, price=100.0)

    intent = machine.on_tick(3 * S, v(spread=2), 80.0, 10_000)  # E1 true, stop hit and ZE1 false

    assert intent is not None
    assert (intent.action, intent.side, intent.reason) == ("close", -1, "e1")
    assert path(machine)[-1] == ("POSITION_ACTIVE", "EMERGENCY_EXIT", "e1")


def test_machine_stop_loss_exit_then_cooldown() -> None:
    machine = StrategyMachine(spec(), "X")
    opened(machine, price=100.0)

    assert machine.on_tick(3 * S, v(), 90.01, 10_000) is None
    intent = machine.on_tick(4 * S, v(), 90.0, 10_000)
    assert intent is not None
    machine.on_fill(4 * S + 1, 89.9, intent.qty, v())
    machine.on_tick(8 * S, v(pump=9), 95, 10_000)  # 4 s after the exit fill: cooling down
    machine.on_tick(9 * S + 1, v(pump=9), 95, 10_000)  # 5 s: monitoring again
    machine.on_tick(9 * S + 2, v(pump=9), 95, 10_000)

    assert path(machine)[-4:] == [
        ("POSITION_ACTIVE", "CLOSE_ORDER_EVALUATION", "stop_loss"),
        ("CLOSE_ORDER_EVALUATION", "EXITED", "fill"),
        ("EXITED", "MONITORING", "cooldown"),
        ("MONITORING", "SIGNAL_DETECTED", "s1"),
    ]
    assert machine.transitions[-4].values == {
        "price": 90.0,
        "level": 90.0,
        "UNREALIZED_PNL_PCT": pytest.approx(-10.0),
    }
    assert machine.position is None


def test_machine_ze1_reads_unrealized_pnl_pct() -> None:
    machine = StrategyMachine(spec(), "X")
    opened(machine, price=100.0)

    assert machine.on_tick(3 * S, v(), 104.9, 10_000) is None
    intent = machine.on_tick(4 * S, v(), 105.0, 10_000)

    assert intent is not None
    assert intent.reason == "ze1"
    assert machine.transitions[-1].values == {"UNREALIZED_PNL_PCT": pytest.approx(5.0)}


def test_machine_short_side_take_profit_below_entry() -> None:
    machine = StrategyMachine(spec(side="short"), "X")
    opened(machine, price=100.0)
    assert machine.position is not None
    assert machine.position.take_price == 75.0

    intent = machine.on_tick(3 * S, v(), 75.0, 10_000)

    assert intent is not None
    assert (intent.side, intent.reason) == (1, "take_profit")


def test_machine_emergency_cooldown_blocks_new_signals_longer() -> None:
    machine = StrategyMachine(spec(), "X")
    opened(machine)
    intent = machine.on_tick(3 * S, v(spread=5), 100, 10_000)
    assert intent is not None
    machine.on_fill(3 * S, 100, intent.qty, v())

    machine.on_tick(30 * S, v(pump=9), 100, 10_000)  # 27 s: ordinary cooldown is over, E1's is not
    after_27s = machine.state
    machine.on_tick(53 * S, v(pump=9), 100, 10_000)

    assert (after_27s, machine.state) == (State.EXITED, State.MONITORING)


def test_machine_pending_and_error_never_fire_and_are_counted() -> None:
    machine = StrategyMachine(spec(), "X")
    machine.start(0)

    machine.on_tick(1 * S, {"pump": NAN}, 100, 10_000)
    machine.on_tick(2 * S, {}, 100, 10_000)
    machine.on_tick(3 * S, {"pump": "high"}, 100, 10_000)  # type: ignore[dict-item]

    assert machine.state is State.MONITORING
    assert machine.diagnostics.pending == {"s1": 2}
    assert machine.diagnostics.errors == {"s1": 1}


def test_machine_require_any_fires_on_one_true_condition() -> None:
    two = [{"indicator": "pump", "op": "gte", "value": 3}, {"indicator": "surge", "op": "gte", "value": 3}]
    machine = StrategyMachine(spec(s1=two, require={"s1": "any"}), "X")
    machine.start(0)

    machine.on_tick(1 * S, v(pump=0, surge=5), 100, 10_000)

    assert machine.state is State.SIGNAL_DETECTED
    assert machine.transitions[-1].values == {"pump": 0.0, "surge": 5.0}


def test_machine_partial_close_retries_remainder_on_next_tick() -> None:
    machine = StrategyMachine(spec(), "X")
    opened(machine, price=100.0)
    first = machine.on_tick(3 * S, v(spread=5), 100, 10_000)
    assert first is not None

    machine.on_fill(3 * S, 100, first.qty * 0.4, v())
    retry = machine.on_tick(4 * S, v(), 100, 10_000)

    assert machine.state is State.EMERGENCY_EXIT
    assert retry is not None
    assert retry.qty == pytest.approx(first.qty * 0.6)


def test_machine_rejected_entry_cancels_signal() -> None:
    machine = StrategyMachine(spec(), "X")
    machine.start(0)
    machine.on_tick(1 * S, v(pump=4), 100, 10_000)
    machine.on_tick(2 * S, v(pump=4, surge=3), 100, 10_000)

    machine.on_reject(2 * S, "no liquidity")

    assert path(machine)[-1] == ("ENTRY_EVALUATION", "SIGNAL_CANCELLED", "rejected")


def test_machine_too_small_balance_rejects_before_ordering() -> None:
    machine = StrategyMachine(spec(), "X")
    machine.start(0)
    machine.on_tick(1 * S, v(pump=4), 100, 4)

    intent = machine.on_tick(2 * S, v(pump=4, surge=3), 100, 4)  # leverage 2 x 4 = 8 < min 10

    assert intent is None
    assert path(machine)[-1] == ("ENTRY_EVALUATION", "SIGNAL_CANCELLED", "rejected")


@pytest.mark.parametrize(
    ("risk", "expected"), [(0, 1.2), (20, 1.2), (35, 1.1), (50, 1.0), (60, 0.775), (90, 0.55)]
)
def test_sizing_risk_multiplier_is_interpolated_and_flat_beyond(risk: float, expected: float) -> None:
    assert interpolate([(20, 1.2), (50, 1.0), (70, 0.55)], risk) == pytest.approx(expected)


def test_sizing_clamps_to_min_max_and_leverage() -> None:
    sized = spec(
        sizing={
            "base_position_pct": 0.5,
            "risk_variant": "risk",
            "min_notional": 10,
            "max_notional": 1000,
            "max_leverage": 2,
        }
    )
    machine = StrategyMachine(sized, "X")

    assert machine.size({"risk": 50}, 10_000) == pytest.approx(50.0)
    assert machine.size({"risk": 20}, 10_000) == pytest.approx(60.0)
    assert machine.size({"risk": NAN}, 10_000) == pytest.approx(50.0)
    assert machine.size({"risk": 50}, 1_000) == pytest.approx(10.0)  # min notional
    assert machine.size({"risk": 50}, 1_000_000) == pytest.approx(1000.0)  # max notional
    assert machine.size({"risk": 50}, 6) == pytest.approx(10.0)  # min notional, within 2x leverage of 6
    assert machine.size({"risk": 50}, 4) == pytest.approx(8.0)  # leverage cap below min: the caller rejects
