"""What a trial is scored on: `summary.json` metrics, their direction, how symbols combine, the pick.

An objective is a metric key exactly as `fx backtest` writes it under `symbols.<S>.metrics`
("Total profit %", "Sharpe Ratio", "Max. Drawdown [%]", ...). Over several symbols:

* additive metrics (ADDITIVE: profit, trade counts) are the totals over symbols, "Total profit %"
  being the combined profit over the combined starting balance, as `summary.json`'s `combined`;
* every other metric is the mean over symbols; a metric undefined (NaN) for any symbol leaves the
  trial's score undefined, and such a trial is failed (reason in its user attributes), never ranked.

A minimum number of closed trades (over all symbols, default 1) is a soft constraint
(`trial.set_constraint`): a trial below it stays in the study (the sampler learns from it) but is
never the best and never on the reported Pareto front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fxcli.errors import FxError

MAXIMIZE, MINIMIZE = "maximize", "minimize"

# Direction of every numeric metric fx backtest writes (fx, freqtrade and backtesting.py keys).
# Drawdowns written as negative percentages (backtesting.py's) are maximised: nearer 0 is better.
DIRECTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "Total profit %",
            "Absolute profit",
            "Final balance",
            "CAGR %",
            "Sortino",
            "Sharpe",
            "Calmar",
            "Profit factor",
            "Expectancy",
            "Expectancy Ratio",
            "Avg. daily profit %",
            "Best trade %",
            "Worst trade %",
            "Best day",
            "Worst day",
            "Min balance",
            "Max balance",
            "Trades",
            "# Trades",
            "Equity Final [$]",
            "Equity Peak [$]",
            "Return [%]",
            "Return (Ann.) [%]",
            "CAGR [%]",
            "Sharpe Ratio",
            "Sortino Ratio",
            "Calmar Ratio",
            "Alpha [%]",
            "Max. Drawdown [%]",
            "Avg. Drawdown [%]",
            "Win Rate [%]",
            "Best Trade [%]",
            "Worst Trade [%]",
            "Avg. Trade [%]",
            "Profit Factor",
            "Expectancy [%]",
            "SQN",
            "Kelly Criterion",
        ),
        MAXIMIZE,
    ),
    **dict.fromkeys(
        (
            "Max % of account underwater",
            "Absolute Drawdown (Account) %",
            "Absolute Drawdown",
            "Avg. Duration Loser s",
            "Volatility (Ann.) [%]",
            "Max. Drawdown Duration s",
            "Avg. Drawdown Duration s",
            "Rejected Entry signals",
        ),
        MINIMIZE,
    ),
}
ADDITIVE = frozenset({"Absolute profit", "Trades", "# Trades", "Rejected Entry signals"})
DEFAULT_OBJECTIVE = "Total profit %"
TRADES_KEY = "Trades"


@dataclass(frozen=True)
class Objectives:
    """The metrics a study optimises, in order (the first decides the pick among Pareto trials)."""

    metrics: tuple[str, ...]

    @property
    def directions(self) -> list[str]:
        """Optuna's direction per objective."""
        return [DIRECTIONS[m] for m in self.metrics]

    def score(self, per_symbol: Mapping[str, Mapping[str, Any]]) -> list[float] | None:
        """The objective values of one trial (None when one is undefined for some symbol)."""
        values = [aggregate(metric, per_symbol) for metric in self.metrics]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        return finite if len(finite) == len(values) else None


def parse_objectives(text: str) -> Objectives:
    """`--objective "Sharpe Ratio,Max. Drawdown [%]"`: known metric keys, each at most once."""
    metrics = tuple(part.strip() for part in text.split(",") if part.strip())
    if not metrics:
        raise FxError("--objective: give at least one metric")
    for metric in metrics:
        if metric not in DIRECTIONS:
            close = [k for k in DIRECTIONS if k.lower().startswith(metric.lower()[:3])]
            hint = f" (did you mean {', '.join(repr(c) for c in close[:4])}?)" if close else ""
            raise FxError(f"--objective {metric!r}: not a numeric summary.json metric{hint}")
    if len(set(metrics)) != len(metrics):
        raise FxError(f"--objective {text!r}: a metric is named twice")
    return Objectives(metrics)


def aggregate(metric: str, per_symbol: Mapping[str, Mapping[str, Any]]) -> float | None:
    """The study's value of `metric` over symbols (module docstring); None when undefined."""
    if not per_symbol:
        return None
    if metric == "Total profit %":
        profit = [_number(m.get("Absolute profit")) for m in per_symbol.values()]
        start = [_number(m.get("Starting balance")) for m in per_symbol.values()]
        if any(v is None for v in (*profit, *start)) or not sum(start):  # type: ignore[arg-type]
            return None
        return sum(profit) / sum(start) * 100  # type: ignore[arg-type]
    values = [_number(m.get(metric)) for m in per_symbol.values()]
    if any(v is None for v in values):
        return None
    numbers: list[float] = values  # type: ignore[assignment]
    return float(sum(numbers)) if metric in ADDITIVE else float(sum(numbers) / len(numbers))


def trades_of(per_symbol: Mapping[str, Mapping[str, Any]]) -> int:
    """Closed trades over all symbols (the min-trades constraint counts these)."""
    return sum(int(m.get(TRADES_KEY, m.get("# Trades", 0)) or 0) for m in per_symbol.values())


def flat_metrics(per_symbol: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """Every numeric metric aggregated over symbols as `aggregate` does (what trials.parquet holds)."""
    keys = dict.fromkeys(k for m in per_symbol.values() for k, v in m.items() if _is_number(v))
    out: dict[str, float | None] = {}
    for key in keys:
        out[key] = aggregate(key, per_symbol) if key in DIRECTIONS else _mean(key, per_symbol)
    return out


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """True when `a` is at least as good as `b` everywhere and better somewhere."""
    better = False
    for x, y, d in zip(a, b, directions, strict=True):
        if (x < y) if d == MAXIMIZE else (x > y):
            return False
        better = better or x != y
    return better


def best_key(values: Sequence[float], number: int, directions: Sequence[str]) -> tuple[float, int]:
    """Sort key of the pick rule: the first objective's value (best first), then the lower number."""
    first = values[0] if directions[0] == MINIMIZE else -values[0]
    return (first, number)


def _mean(key: str, per_symbol: Mapping[str, Mapping[str, Any]]) -> float | None:
    values = [_number(m.get(key)) for m in per_symbol.values()]
    if any(v is None for v in values):
        return None
    numbers: list[float] = values  # type: ignore[assignment]
    return float(sum(numbers) / len(numbers))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    """A finite float, or None for a missing, NaN, infinite or non-numeric value."""
    if not _is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
