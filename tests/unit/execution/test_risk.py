"""Risk limits of `fx stream --live`: each limit refuses the entry that would break it, naming it;
a missing limit is a refusal to start, never a default."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fxcli.execution.risk import RiskLimits, limits_from

LIMITS = RiskLimits(Decimal(25), Decimal(100), 2, Decimal(20))
D = Decimal


def test_risk_check_lets_an_entry_inside_every_limit_through() -> None:
    assert LIMITS.check("BTCUSDT", D(25), exposure={"ETHUSDT": D(50)}, daily_loss=D(0)) is None


@pytest.mark.parametrize(
    ("notional", "exposure", "loss", "named"),
    [
        (D("25.01"), {}, D(0), "max_order_notional 25"),
        (D(25), {"A": D(40), "B": D(40)}, D(0), "max_total_notional 100"),
        (D(10), {"A": D(10), "B": D(10)}, D(0), "max_open_positions 2"),
        (D(10), {}, D(20), "max_daily_loss 20"),
    ],
)
def test_risk_check_names_the_limit_an_entry_breaks(
    notional: Decimal, exposure: dict[str, Decimal], loss: Decimal, named: str
) -> None:
    why = LIMITS.check("BTCUSDT", notional, exposure=exposure, daily_loss=loss)

    assert why is not None
    assert named in why
    assert why.startswith("BTCUSDT: ")


def test_risk_check_counts_a_symbol_already_held_as_one_position() -> None:
    assert LIMITS.check("A", D(10), exposure={"A": D(10), "B": D(10)}, daily_loss=D(0)) is None


def test_limits_from_names_every_missing_limit() -> None:
    with pytest.raises(ValueError, match="missing --max-total, --max-daily-loss"):
        limits_from({"max_order_notional": 25, "max_open_positions": 2}, {})


@pytest.mark.parametrize(("key", "value"), [("max_order_notional", 0), ("max_open_positions", 1.5)])
def test_limits_from_refuses_a_bad_value_naming_where_it_came_from(key: str, value: float) -> None:
    given: dict[str, object | None] = {
        "max_order_notional": 25,
        "max_total_notional": 100,
        "max_open_positions": 2,
        "max_daily_loss": 20,
    }
    given[key] = value

    with pytest.raises(ValueError, match=f"^fx.toml: live.{key}: "):
        limits_from(given, {key: f"fx.toml: live.{key}"})


def test_limits_from_makes_exact_decimals() -> None:
    limits = limits_from(
        {"max_order_notional": 0.1, "max_total_notional": 100, "max_open_positions": 2, "max_daily_loss": 20},
        {},
    )

    assert limits.max_order_notional == D("0.1")
    assert limits.max_open_positions == 2
