"""Why a metric has no value: one sentence per undefined key of a summary.

The reasons are read off the metrics themselves (trade counts, the annualised return, volatility),
so a summary.json, a trial row of `fx optimize` and a fresh run all explain a null the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

NO_TRADES = "no closed trades"
SHORT_RUN = "the equity curve covers fewer than two calendar days: no daily return to annualise"

# Keys that describe trades and so have no value without one.
_PER_TRADE = frozenset(
    {
        *("Sharpe", "Sortino", "Calmar", "Profit factor", "Profit Factor", "Expectancy", "Expectancy Ratio"),
        *("Expectancy [%]", "Avg. stake amount", "Best trade %", "Worst trade %", "Best Trade [%]"),
        *("Worst Trade [%]", "Avg. Trade [%]", "Best day", "Worst day", "Win Rate [%]", "SQN"),
        *("Kelly Criterion", "Max. Trade Duration s", "Avg. Trade Duration s", "Avg. Duration Winners s"),
        *("Avg. Duration Loser s", "Spread cost bps", "Latency cost bps", "Slippage bps", "Fill cost bps"),
    }
)
_ANNUALISED = frozenset(
    {"Return (Ann.) [%]", "Volatility (Ann.) [%]", "Sharpe Ratio", "Sortino Ratio", "Calmar Ratio"}
)
_BY_KEY = {
    "Sharpe": "every trade returned the same: the standard deviation of trade returns is 0",
    "Sortino": "losing trades' returns do not vary (no loss, one loss, or equal losses)",
    "Calmar": "closed-trade profit never fell from a peak: no drawdown to divide by",
    "Profit factor": "no losing trade: gross loss is 0",
    "Profit Factor": "no losing trade: the sum of losing returns is 0",
    "Expectancy Ratio": "no losing trade: average loss is 0",
    "Avg. Duration Winners s": "no winning trade",
    "Avg. Duration Loser s": "no losing trade",
    "Kelly Criterion": "needs at least one winning and one losing trade",
    "SQN": "needs two trades with different profits (their standard deviation is 0)",
    "Sharpe Ratio": "flat equity curve: volatility is 0",
    "Sortino Ratio": "no losing day and no positive annual return",
    "Calmar Ratio": "equity never fell from a peak: no drawdown to divide by",
    "CAGR [%]": "the equity curve spans no time",
    "Avg. Drawdown [%]": "equity never fell from a peak",
    "Max. Drawdown Duration s": "equity never fell from a peak",
    "Avg. Drawdown Duration s": "equity never fell from a peak",
    "Beta": "the market price did not move (or fewer than three equity points)",
    "Alpha [%]": "Beta is undefined",
    "Market change %": "no market price in the window",
    "Buy & Hold Return [%]": "no market price in the window",
}


def is_undefined(value: object) -> bool:
    """None or NaN: the value a metric has when it has no meaning for the run."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def undefined_reasons(metrics: Mapping[str, object]) -> dict[str, str]:
    """{key: why} for every key of `metrics` whose value is undefined."""
    trades = metrics.get("Trades", metrics.get("# Trades"))
    short = is_undefined(metrics.get("Return (Ann.) [%]", 0.0))
    reasons: dict[str, str] = {}
    for key, value in metrics.items():
        if not is_undefined(value):
            continue
        if trades == 0 and key in _PER_TRADE:
            reasons[key] = NO_TRADES
        elif short and key in _ANNUALISED:
            reasons[key] = SHORT_RUN
        elif key.endswith(" bps"):
            reasons[key] = "the trades carry no fill record"
        else:
            reasons[key] = _BY_KEY.get(key, "not defined for this run")
    return reasons
