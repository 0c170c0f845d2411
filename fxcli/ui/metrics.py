"""The metrics a trader reads: one row per concept, grouped, for any number of columns.

A summary holds freqtrade's rows and backtesting.py's keys side by side (summary.json keeps them all,
for scripts and the compatibility modes); a table shows each concept once, read from the key that
carries fx's convention (fxcli/backtest/metrics.py CONVENTIONS). The later keys of a concept are the
same quantity under `--metrics-compat freqtrade` or `backtesting.py`, read when fx's key is absent.
`fx backtest` puts one column per symbol, `fx optimize` one per trial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.table import Table

from fxcli.backtest.undefined import is_undefined

UNDEFINED = "—"
GROUPS = ("returns", "risk", "trades", "costs and fill quality")


def _number(decimals: int) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        return f"{float(value):,.{decimals}f}"

    return render


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _magnitude(value: Any) -> str:
    # backtesting.py writes a drawdown as a negative percentage, freqtrade as a positive one: the row
    # says "fall", so it shows the size of the fall whichever tool's key it reads.
    return f"{abs(float(value)):,.2f}"


def _duration(value: Any) -> str:
    seconds = float(value)
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7_200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3_600:,.1f} h"


@dataclass(frozen=True)
class Concept:
    """One row: what it means, where it is read from, how it is written."""

    label: str  # with its unit
    group: str
    keys: tuple[str, ...]  # fx's key first; the rest only when a compatibility mode left it out
    render: Callable[[Any], str]

    def key_in(self, metrics: Mapping[str, Any]) -> str | None:
        """The summary key this concept reads in `metrics`, or None when none is there."""
        return next((k for k in self.keys if k in metrics), None)

    def cell(self, metrics: Mapping[str, Any]) -> str:
        """The value as written in a table, `—` when it is missing or undefined."""
        key = self.key_in(metrics)
        value = metrics.get(key) if key is not None else None
        return UNDEFINED if is_undefined(value) else self.render(value)


PCT, RATIO, QUOTE, BPS = _number(2), _number(3), _number(2), _number(2)

CATALOGUE: tuple[Concept, ...] = (
    Concept("Profit %", "returns", ("Total profit %", "Return [%]"), PCT),
    Concept("Profit (quote)", "returns", ("Absolute profit",), QUOTE),
    Concept("Final balance (quote)", "returns", ("Final balance", "Equity Final [$]"), QUOTE),
    Concept("Annualised return %", "returns", ("Return (Ann.) [%]",), PCT),
    Concept("Buy & hold %", "returns", ("Buy & Hold Return [%]", "Market change %"), PCT),
    Concept("Max drawdown %", "risk", ("Max. Drawdown [%]", "Max % of account underwater"), _magnitude),
    Concept("Longest drawdown", "risk", ("Max. Drawdown Duration s",), _duration),
    Concept("Volatility (ann.) %", "risk", ("Volatility (Ann.) [%]",), PCT),
    Concept("Sharpe", "risk", ("Sharpe Ratio", "Sharpe"), RATIO),
    Concept("Sortino", "risk", ("Sortino Ratio", "Sortino"), RATIO),
    Concept("Calmar", "risk", ("Calmar Ratio", "Calmar"), RATIO),
    Concept("Exposure %", "risk", ("Exposure Time [%]",), PCT),
    Concept("Trades", "trades", ("Trades", "# Trades"), _count),
    Concept("Win rate %", "trades", ("Win Rate [%]",), PCT),
    Concept("Profit factor", "trades", ("Profit factor", "Profit Factor"), RATIO),
    Concept("Expectancy (quote/trade)", "trades", ("Expectancy",), QUOTE),
    Concept("Best trade %", "trades", ("Best trade %", "Best Trade [%]"), PCT),
    Concept("Worst trade %", "trades", ("Worst trade %", "Worst Trade [%]"), PCT),
    Concept("Avg. holding time", "trades", ("Avg. Trade Duration s",), _duration),
    Concept("SQN", "trades", ("SQN",), RATIO),
    Concept("Rejected entries", "trades", ("Rejected Entry signals",), _count),
    Concept("Fees (quote)", "costs and fill quality", ("Fees paid", "Commissions [$]"), QUOTE),
    Concept("Traded volume (quote)", "costs and fill quality", ("Total trade volume",), QUOTE),
    Concept("Spread cost bps/trade", "costs and fill quality", ("Spread cost bps",), BPS),
    Concept("Latency cost bps/trade", "costs and fill quality", ("Latency cost bps",), BPS),
    Concept("Slippage bps/trade", "costs and fill quality", ("Slippage bps",), BPS),
    Concept("Fill cost bps/trade", "costs and fill quality", ("Fill cost bps",), BPS),
    Concept("Partial fills (trades)", "costs and fill quality", ("Partial fills",), _count),
)


def concept_table(
    columns: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    title: str,
    extra: Sequence[tuple[str, Sequence[str]]] = (),
) -> Table:
    """One column per (name, metrics); a row per concept any column has, grouped; `extra` rows last."""
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    table.add_column("")
    table.add_column("metric")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for group in GROUPS:
        rows = [c for c in CATALOGUE if c.group == group and any(c.key_in(m) is not None for _, m in columns)]
        for i, concept in enumerate(rows):
            table.add_row(group if i == 0 else "", concept.label, *[concept.cell(m) for _, m in columns])
        if rows:
            table.add_section()
    for i, (label, cells) in enumerate(extra):
        table.add_row("data" if i == 0 else "", label, *cells)
    return table
