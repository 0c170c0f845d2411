"""Renderings of `fx backtest` results."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from fxcli.engine.state import MarketState
from fxcli.strategy.machine import StrategyMachine
from fxcli.ui.metrics import concept_table

if TYPE_CHECKING:
    from fxcli.tasks.backtest import BacktestReport


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    return str(value)


def summary_table(report: BacktestReport) -> Table:
    """One row per metric concept in fx's convention (fxcli/ui/metrics.py), one column per symbol."""
    table = concept_table(
        [(run.symbol, run.metrics) for run in report.runs],
        title=f"backtest {report.strategy.name} ({report.run_id})",
        extra=[
            ("events", [f"{r.result.events:,}" for r in report.runs]),
            ("gaps flagged", [str(len(r.gaps)) for r in report.runs]),
        ],
    )
    combined = report.summary.get("combined", {})
    undefined = any(r.get("undefined") for r in report.summary.get("symbols", {}).values())
    table.caption = (
        f"{combined.get('trades', 0)} trades, profit {_fmt(combined.get('absolute_profit'))} "
        f"({_fmt(combined.get('total_profit_pct'))} %); results in {report.out_dir}"
        + ("; — is undefined for this run (why: --json, `undefined`)" if undefined else "")
    )
    table.caption_justify = "left"
    return table


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """Every metric of one run, in order."""
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, _fmt(value))
    return table


def correlation_table(correlation: dict[str, dict[str, float]]) -> Table:
    """Correlation of per-symbol strategy returns."""
    table = Table(
        box=box.SIMPLE_HEAD, title="correlation of strategy returns (1-minute)", title_justify="left"
    )
    symbols = list(correlation)
    table.add_column("")
    for s in symbols:
        table.add_column(s, justify="right")
    for a in symbols:
        table.add_row(a, *[_fmt(correlation[a].get(b)) for b in symbols])
    return table


def events_table(events: dict[str, Any]) -> Table:
    """One row per labelled event, and the aggregate in the caption."""
    table = Table(box=box.SIMPLE_HEAD, title="events", title_justify="left")
    for name in ("symbol", "onset", "detected", "lag s", "move %", "captured %", "share", "max adverse %"):
        table.add_column(name, justify="left" if name in ("symbol", "onset") else "right")
    for e in events["per_event"]:
        table.add_row(
            e["symbol"],
            e["onset"],
            "yes" if e["detected"] else ("no" if e["covered"] else "no data"),
            _fmt(e["detection_lag_s"]),
            _fmt(e["move_pct"]),
            _fmt(e["captured_pct"]),
            _fmt(e["share_captured"]),
            _fmt(e["max_adverse_pct"]),
        )
    alarms = sum(events["false_alarms"].values())
    table.caption = (
        f"{events['detected']} of {events['covered']} covered events detected, median lag "
        f"{_fmt(events['median_detection_lag_s'])} s, mean share captured "
        f"{_fmt(events['mean_share_captured'])}, {alarms} false alarms"
    )
    table.caption_justify = "left"
    return table


@contextmanager
def replay_status(
    console: Console, *, enabled: bool
) -> Iterator[Callable[[MarketState, StrategyMachine, float], None] | None]:
    """A status line (time, price, state, equity) refreshed 4 times a second during a paced replay."""
    if not enabled:
        yield None
        return
    import time

    from rich.live import Live
    from rich.text import Text

    from fxcli.model.units import ns_to_iso

    last = [0.0]
    with Live(Text(""), console=console, refresh_per_second=4, transient=True) as live:

        def observe(state: MarketState, machine: StrategyMachine, equity: float) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.25:
                last[0] = now
                live.update(
                    Text(
                        f"{ns_to_iso(state.now_ns)}  {state.symbol}  price {state.price:,.8g}  "
                        f"{machine.state.value}  equity {equity:,.2f}"
                    )
                )

        yield observe
