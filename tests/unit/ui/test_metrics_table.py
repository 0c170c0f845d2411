"""The metrics table: one row per concept, read from fx's key, undefined values as `—` with a reason."""

from __future__ import annotations

import io
import math

import numpy as np
from rich.console import Console
from rich.table import Table

from fxcli.backtest.metrics import ClosedTrade, Ledger, backtesting_py_metrics, freqtrade_metrics, fx_metrics
from fxcli.backtest.undefined import undefined_reasons
from fxcli.ui.metrics import CATALOGUE, GROUPS, UNDEFINED, concept_table

DAY = 86_400 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z


def ledger(trades: list[ClosedTrade], days: int = 3) -> Ledger:
    ts = np.arange(T0, T0 + days * DAY, DAY // 24, dtype=np.int64)
    close = 100.0 + np.sin(np.arange(len(ts)))
    pnl = np.zeros(len(ts))
    for t in trades:
        pnl[ts >= t.exit_ts_ns] += t.pnl
    return Ledger(trades, 1_000.0, int(ts[0]), int(ts[-1]), ts, 1_000.0 + pnl, close)


def trade(day: float, entry: float, exit_: float, spread: float = 1.0, partial: bool = False) -> ClosedTrade:
    close = T0 + int(day * DAY)
    return ClosedTrade(
        close - DAY // 8, close, +1, 1.0, entry, exit_, 0.1, "tp", "X", spread, 0.5, 0.25, partial
    )


def text(table: Table) -> str:
    console = Console(width=160, record=True, color_system=None, file=io.StringIO())
    console.print(table)
    return console.export_text()


def row(rendered: str, label: str) -> list[str]:
    lines = [line.split() for line in rendered.splitlines() if f" {label} " in f" {line} "]
    assert len(lines) == 1, (label, lines)
    return lines[0]


def test_every_concept_is_one_row_with_its_own_keys() -> None:
    labels = [c.label for c in CATALOGUE]
    keys = [k for c in CATALOGUE for k in c.keys]
    assert len(labels) == len(set(labels))
    assert len(keys) == len(set(keys)), "a summary key feeds two rows"
    assert {c.group for c in CATALOGUE} == set(GROUPS)


def test_every_concept_reads_a_key_fx_metrics_writes() -> None:
    metrics = fx_metrics(ledger([trade(0.5, 100, 110), trade(1.5, 100, 95), trade(2.2, 100, 104)]))
    missing = [c.keys[0] for c in CATALOGUE if c.keys[0] not in metrics]
    assert missing == []


def test_the_table_shows_each_concept_once_not_both_tools_keys() -> None:
    metrics = fx_metrics(ledger([trade(0.5, 100, 110), trade(1.5, 100, 95), trade(2.2, 100, 104)]))
    rendered = text(concept_table([("X", metrics), ("Y", metrics)], title="t"))
    for duplicate in ("# Trades", "Profit Factor", "Sharpe Ratio", "Return [%]", "Win Rate [%]"):
        assert duplicate not in rendered
    assert row(rendered, "Trades")[-2:] == ["3", "3"]
    assert row(rendered, "Partial fills (trades)")[-1] == "0"
    # Fill quality is the mean round trip of the trades' fill lines: 1 + 0.5 + 0.25 bps each.
    assert row(rendered, "Fill cost bps/trade")[-1] == "1.75"


def test_one_trade_sharpe_is_undefined_with_a_reason_not_minus_100() -> None:
    one = ledger([trade(1.5, 100, 103)])
    assert freqtrade_metrics(one)["Sharpe"] == -100.0  # freqtrade's own stand-in, kept by its compat mode
    metrics = fx_metrics(one)
    assert math.isnan(float(metrics["Sharpe"]))  # type: ignore[arg-type]
    reasons = undefined_reasons(metrics)
    assert "standard deviation of trade returns is 0" in reasons["Sharpe"]
    assert reasons["Profit factor"] == "no losing trade: gross loss is 0"
    assert "Sharpe" in metrics  # the key stays in summary.json, its value is null
    rendered = text(concept_table([("X", metrics)], title="t"))
    assert row(rendered, "Sharpe")[-1] != "-100.000"
    assert row(rendered, "Profit factor")[-1] == UNDEFINED


def test_a_flat_equity_curve_has_no_sharpe_ratio() -> None:
    metrics = fx_metrics(ledger([], days=5))
    reasons = undefined_reasons(metrics)
    assert reasons["Sharpe Ratio"] == "flat equity curve: volatility is 0"
    assert reasons["Sharpe"] == "no closed trades"
    assert row(text(concept_table([("X", metrics)], title="t")), "Sharpe")[-1] == UNDEFINED


def test_compat_modes_read_their_own_keys() -> None:
    trades = [trade(0.5, 100, 110), trade(1.5, 100, 95)]
    bt = backtesting_py_metrics(ledger(trades))
    rendered = text(concept_table([("X", bt)], title="t"))
    assert row(rendered, "Trades")[-1] == "2"
    assert row(rendered, "Sharpe")[-1] == f"{bt['Sharpe Ratio']:,.3f}"
    ft = freqtrade_metrics(ledger(trades))
    assert row(text(concept_table([("X", ft)], title="t")), "Sharpe")[-1] == f"{ft['Sharpe']:,.3f}"
