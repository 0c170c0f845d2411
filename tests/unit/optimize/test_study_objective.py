"""Objectives: directions, aggregation over symbols, the min-trades count, Pareto dominance."""

from __future__ import annotations

import math

import pytest

from fxcli.errors import FxError
from fxcli.optimize.objective import aggregate, dominates, parse_objectives, trades_of

A = {"Absolute profit": 30.0, "Starting balance": 1000.0, "Sharpe Ratio": 1.0, "Trades": 3}
B = {"Absolute profit": -10.0, "Starting balance": 3000.0, "Sharpe Ratio": 2.0, "Trades": 1}


def test_total_profit_is_combined_profit_over_combined_balance() -> None:
    assert aggregate("Total profit %", {"A": A, "B": B}) == pytest.approx(20.0 / 4000.0 * 100)


def test_other_metrics_are_means_and_counts_are_sums() -> None:
    assert aggregate("Sharpe Ratio", {"A": A, "B": B}) == pytest.approx(1.5)
    assert aggregate("Trades", {"A": A, "B": B}) == 4
    assert trades_of({"A": A, "B": B}) == 4


def test_a_metric_undefined_for_one_symbol_is_undefined() -> None:
    assert aggregate("Sharpe Ratio", {"A": A, "B": {**B, "Sharpe Ratio": math.nan}}) is None
    assert parse_objectives("Sharpe Ratio").score({"A": {**A, "Sharpe Ratio": None}}) is None


def test_parse_objectives_directions_and_errors() -> None:
    objectives = parse_objectives("Return [%], Max % of account underwater")

    assert objectives.directions == ["maximize", "minimize"]
    with pytest.raises(FxError, match=r"not a numeric summary\.json metric"):
        parse_objectives("Profit")
    with pytest.raises(FxError, match="named twice"):
        parse_objectives("Sharpe,Sharpe")


def test_dominates_respects_directions() -> None:
    assert dominates([2.0, 1.0], [1.0, 2.0], ["maximize", "minimize"])
    assert not dominates([2.0, 3.0], [1.0, 2.0], ["maximize", "minimize"])
    assert not dominates([1.0, 2.0], [1.0, 2.0], ["maximize", "minimize"])
