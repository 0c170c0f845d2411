"""`--metrics-compat freqtrade`: freqtrade's formulas (docs/metrics.md §2.2) on a worked example,
every expected value derived by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fxcli.backtest.metrics import ClosedTrade, Ledger, freqtrade_metrics

DAY = 86_400 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z


def trade(close_day: float, side: int, entry: float, exit_: float, fees: float = 0.0) -> ClosedTrade:
    close = T0 + int(close_day * DAY)
    return ClosedTrade(close - DAY // 4, close, side, 1.0, entry, exit_, fees)


@pytest.fixture
def metrics() -> dict[str, object]:
    # Net profits in close order: +20, -50, +10, -10 on a 1,000 balance over 10 whole days.
    trades = [
        trade(2.5, +1, 100.0, 110.0),  # closes day 2: +10 (listed first, closes later than the next one)
        trade(1.5, +1, 100.0, 50.0),  # closes day 1: -50
        trade(0.5, +1, 100.0, 120.0),  # closes day 0: +20
        trade(4.5, -1, 100.0, 110.0),  # closes day 4, a short: -10
    ]
    ledger = Ledger(
        trades,
        1_000.0,
        T0,
        T0 + 10 * DAY,
        np.array([T0, T0 + 10 * DAY]),
        np.array([1_000.0, 970.0]),
        np.array([50.0, 40.0]),
    )
    return freqtrade_metrics(ledger)


def test_freqtrade_totals(metrics: dict[str, object]) -> None:
    assert metrics["Absolute profit"] == pytest.approx(-30.0)
    assert metrics["Final balance"] == pytest.approx(970.0)
    assert metrics["Total profit %"] == pytest.approx(-3.0)
    assert metrics["CAGR %"] == pytest.approx((0.97 ** (365 / 10) - 1) * 100)
    assert metrics["Total/Daily Avg Trades"] == "4 / 0.40"
    assert metrics["Avg. daily profit %"] == pytest.approx(-0.3)
    assert metrics["Market change %"] == pytest.approx(-20.0)


def test_freqtrade_sharpe_uses_per_trade_sigma_and_per_day_mean(metrics: dict[str, object]) -> None:
    # r = [0.02, -0.05, 0.01, -0.01]; mean per day = -0.03 / 10; population sigma:
    # mean r = -0.0075; squared deviations 7.5625e-4, 1.80625e-3, 3.0625e-4, 6.25e-6 -> var 7.1875e-4.
    sigma = math.sqrt(7.1875e-4)
    assert metrics["Sharpe"] == pytest.approx(-0.003 / sigma * math.sqrt(365), rel=1e-9)


def test_freqtrade_sortino_uses_only_losing_trades(metrics: dict[str, object]) -> None:
    # Losers' r = [-0.05, -0.01]: mean -0.03, population sigma 0.02.
    assert metrics["Sortino"] == pytest.approx(-0.003 / 0.02 * math.sqrt(365), rel=1e-9)


def test_freqtrade_drawdown_counts_losses_before_any_win_from_the_start_balance(
    metrics: dict[str, object],
) -> None:
    # Cumulative +20, -30, -20, -30; peak max(0, cummax) = 20 throughout; deepest -50 at the 2nd trade.
    assert metrics["Absolute Drawdown"] == pytest.approx(50.0)
    assert metrics["Drawdown high"] == pytest.approx(20.0)
    assert metrics["Drawdown low"] == pytest.approx(-30.0)
    assert metrics["Absolute Drawdown (Account) %"] == pytest.approx((1020 - 970) / 1020 * 100)
    assert metrics["Max % of account underwater"] == pytest.approx((1020 - 970) / 1020 * 100)
    assert metrics["Drawdown Start"] == "2024-01-01 12:00:00"
    assert metrics["Drawdown End"] == "2024-01-02 12:00:00"
    assert (metrics["Min balance"], metrics["Max balance"]) == (pytest.approx(970.0), pytest.approx(1020.0))


def test_freqtrade_calmar_has_percent_and_sqrt_365(metrics: dict[str, object]) -> None:
    # (total / start / days x 100) / relative drawdown at the deepest point x sqrt(365)
    assert metrics["Calmar"] == pytest.approx(-0.3 / (50 / 1020) * math.sqrt(365), rel=1e-9)


def test_freqtrade_profit_factor_and_expectancy_in_currency(metrics: dict[str, object]) -> None:
    # Winners 20 + 10 = 30; losers 50 + 10 = 60; avg win 15, avg loss 30, win rate 0.5.
    assert metrics["Profit factor"] == pytest.approx(0.5)
    assert metrics["Expectancy"] == pytest.approx(0.5 * 15 - 0.5 * 30)
    assert metrics["Expectancy Ratio"] == pytest.approx((1 + 15 / 30) * 0.5 - 1)


def test_freqtrade_days_streaks_and_durations(metrics: dict[str, object]) -> None:
    # Per close day: +20 (day 0), -50 (day 1), +10 (day 2), -10 (day 4): 2 up days, 2 down days.
    assert metrics["Days win/draw/lose"] == "2 / 0 / 2"
    assert metrics["Best day"] == pytest.approx(20.0)
    assert metrics["Worst day"] == pytest.approx(-50.0)
    assert metrics["Max Consecutive Wins / Loss"] == "1 / 1"
    assert metrics["Avg. Duration Winners s"] == pytest.approx(6 * 3600)
    assert metrics["Best trade %"] == pytest.approx(20.0)
    assert metrics["Worst trade %"] == pytest.approx(-50.0)


def test_freqtrade_no_trades_gives_zeros_not_errors() -> None:
    ledger = Ledger(
        [],
        1_000.0,
        T0,
        T0 + DAY,
        np.array([T0, T0 + DAY]),
        np.array([1_000.0, 1_000.0]),
        np.array([1.0, 1.0]),
    )

    metrics = freqtrade_metrics(ledger)

    assert (metrics["Sharpe"], metrics["Absolute profit"], metrics["Profit factor"]) == (0.0, 0.0, 0.0)
