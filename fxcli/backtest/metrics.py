"""Backtest metrics, each with its convention written down, and two compatibility modes.

fx's own summary (`fx_metrics`) is the union of freqtrade's summary rows and backtesting.py's keys:
trade statistics are computed from closed trades net of fees (freqtrade's basis); drawdown, exposure
and risk ratios from the mark-to-market equity curve sampled by the backtest (backtesting.py's
basis, so an open losing position counts). `freqtrade_metrics` and `backtesting_py_metrics`
reproduce those tools' own formulas on the same trades (docs/metrics.md): freqtrade 2024.10+ with
the 2025 drawdown fix (the first peak is the starting balance), and backtesting.py 0.6.6.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S


@dataclass(frozen=True)
class ClosedTrade:
    """One round trip as metrics see it."""

    entry_ts_ns: int
    exit_ts_ns: int
    side: int  # +1 long, -1 short
    qty: float
    entry_price: float
    exit_price: float
    fees: float  # entry + exit, quote
    exit_reason: str = ""
    symbol: str = ""
    # Fill quality of the round trip (entry leg + exit legs, each qty-weighted), in bps of the mid at
    # decision; NaN when the trade did not come from the fill model (hand-made ledgers in tests).
    spread_bps: float = math.nan
    latency_bps: float = math.nan
    slippage_bps: float = math.nan
    partial: bool = False  # a leg got less than it asked for

    @property
    def pnl(self) -> float:
        """Net profit in quote."""
        return self.side * self.qty * (self.exit_price - self.entry_price) - self.fees

    @property
    def stake(self) -> float:
        """Entry notional in quote."""
        return self.qty * self.entry_price

    @property
    def return_ratio(self) -> float:
        """Net return on the stake (backtesting.py's `ReturnPct`, as a ratio)."""
        return self.side * (self.exit_price / self.entry_price - 1.0) - self.fees / self.stake

    @property
    def duration_s(self) -> float:
        """Holding time in seconds."""
        return (self.exit_ts_ns - self.entry_ts_ns) / NS_PER_S


@dataclass(frozen=True)
class Ledger:
    """Everything the metrics read: trades, the equity curve and the market's prices at its points."""

    trades: Sequence[ClosedTrade]
    start_balance: float
    start_ts_ns: int
    end_ts_ns: int
    equity_ts_ns: np.ndarray  # int64, the "bars" of the equity curve
    equity: np.ndarray  # mark-to-market account value at each point
    close: np.ndarray  # market price at each point
    rejected_entries: int = 0
    warmup_points: int = 0  # points before the strategy could trade (backtesting.py's warm-up bars)


# -- freqtrade --------------------------------------------------------------------------------------
def _days(ledger: Ledger) -> int:
    """freqtrade's whole days, at least 1."""
    return max(1, (ledger.end_ts_ns - ledger.start_ts_ns) // NS_PER_DAY)


def _by_close(trades: Sequence[ClosedTrade]) -> list[ClosedTrade]:
    return sorted(trades, key=lambda t: t.exit_ts_ns)


@dataclass(frozen=True)
class ClosedDrawdown:
    """freqtrade's drawdown of cumulative closed-trade profit (peak starts at the starting balance)."""

    abs_drawdown: float
    relative_at_abs: float  # "Absolute Drawdown (Account)"
    max_relative: float  # "Max % of account underwater"
    high_value: float
    low_value: float
    high_ts_ns: int
    low_ts_ns: int


def closed_drawdown(trades: Sequence[ClosedTrade], start_balance: float) -> ClosedDrawdown | None:
    """Drawdown on closed trades sorted by close time; None without trades."""
    ordered = _by_close(trades)
    if not ordered:
        return None
    cumulative = np.cumsum([t.pnl for t in ordered])
    high = np.maximum(0.0, np.maximum.accumulate(cumulative))
    drawdown = cumulative - high
    relative = ((start_balance + high) - (start_balance + cumulative)) / (start_balance + high)
    low_i = int(np.argmin(drawdown))
    high_i = int(np.argmax(high[: low_i + 1]))
    return ClosedDrawdown(
        abs_drawdown=float(abs(drawdown[low_i])),
        relative_at_abs=float(relative[low_i]),
        max_relative=float(relative.max()),
        high_value=float(cumulative[high_i]),
        low_value=float(cumulative[low_i]),
        high_ts_ns=ordered[high_i].exit_ts_ns,
        low_ts_ns=ordered[low_i].exit_ts_ns,
    )


def _streaks(values: Sequence[float]) -> tuple[int, int]:
    wins = losses = best_wins = best_losses = 0
    for value in values:
        wins = wins + 1 if value > 0 else 0
        losses = losses + 1 if value < 0 else 0
        best_wins, best_losses = max(best_wins, wins), max(best_losses, losses)
    return best_wins, best_losses


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def freqtrade_metrics(ledger: Ledger) -> dict[str, object]:
    """freqtrade's SUMMARY METRICS rows, by freqtrade's formulas (docs/metrics.md §2.2)."""
    trades = _by_close(ledger.trades)
    start = ledger.start_balance
    days = _days(ledger)
    profits = np.array([t.pnl for t in trades], dtype=np.float64)
    ratios = profits / start
    total = float(profits.sum()) if len(profits) else 0.0
    final = start + total
    winners, losers = profits[profits > 0], profits[profits < 0]
    n = len(trades)

    span_ok = n > 0 and ledger.end_ts_ns != ledger.start_ts_ns
    mean_daily = float(ratios.sum()) / days if n else 0.0
    sd = float(np.std(ratios)) if n else 0.0
    sharpe = (mean_daily / sd * math.sqrt(365) if sd != 0 else -100.0) if span_ok else 0.0
    down = ratios[ratios < 0]
    sd_down = float(np.std(down)) if len(down) else math.nan
    sortino = mean_daily / sd_down * math.sqrt(365) if sd_down != 0 and not math.isnan(sd_down) else -100.0
    sortino = sortino if span_ok else 0.0
    dd = closed_drawdown(trades, start)
    calmar_dd = dd.relative_at_abs if dd else 0.0
    calmar = (
        (total / start / days * 100 / calmar_dd * math.sqrt(365) if calmar_dd != 0 else -100.0)
        if span_ok
        else 0.0
    )
    avg_win = float(winners.mean()) if len(winners) else 0.0
    avg_loss = float(abs(losers.sum()) / len(losers)) if len(losers) else 0.0
    win_rate, loss_rate = (len(winners) / n, len(losers) / n) if n else (0.0, 0.0)
    expectancy = win_rate * avg_win - loss_rate * avg_loss
    expectancy_ratio = (1 + avg_win / avg_loss) * win_rate - 1 if avg_loss > 0 else 100.0
    daily: dict[int, float] = {}
    for t in trades:
        day = t.exit_ts_ns // NS_PER_DAY
        daily[day] = daily.get(day, 0.0) + t.pnl
    day_values = list(daily.values())
    cumulative = np.cumsum(profits) if n else np.zeros(1)
    win_s, loss_s = _streaks([t.pnl / t.stake for t in trades])
    winner_durations = [t.duration_s for t in trades if t.pnl > 0]
    loser_durations = [t.duration_s for t in trades if t.pnl < 0]
    cagr = (final / start) ** (365 / days) - 1 if final > 0 else 0.0
    market_change = (ledger.close[-1] - ledger.close[0]) / ledger.close[0] if len(ledger.close) else math.nan
    return {
        "Backtesting from": _iso(ledger.start_ts_ns),
        "Backtesting to": _iso(ledger.end_ts_ns),
        "Total/Daily Avg Trades": f"{n} / {n / days:.2f}",
        "Trades": n,
        "Starting balance": start,
        "Final balance": final,
        "Absolute profit": total,
        "Total profit %": total / start * 100,
        "CAGR %": cagr * 100,
        "Sortino": sortino,
        "Sharpe": sharpe,
        "Calmar": calmar,
        "Profit factor": float(winners.sum() / abs(losers.sum())) if len(losers) else 0.0,
        "Expectancy": expectancy,
        "Expectancy Ratio": expectancy_ratio,
        "Avg. daily profit %": total / start / days * 100,
        "Avg. stake amount": float(np.mean([t.stake for t in trades])) if n else 0.0,
        "Total trade volume": float(sum(t.stake + t.qty * t.exit_price for t in trades)),
        "Best trade %": max((t.pnl / t.stake * 100 for t in trades), default=0.0),
        "Worst trade %": min((t.pnl / t.stake * 100 for t in trades), default=0.0),
        "Best day": max(day_values, default=0.0),
        "Worst day": min(day_values, default=0.0),
        "Days win/draw/lose": f"{sum(v > 0 for v in day_values)} / {sum(v == 0 for v in day_values)} / "
        f"{sum(v < 0 for v in day_values)}",
        "Avg. Duration Winners s": float(np.mean(winner_durations)) if winner_durations else 0.0,
        "Avg. Duration Loser s": float(np.mean(loser_durations)) if loser_durations else 0.0,
        "Max Consecutive Wins / Loss": f"{win_s} / {loss_s}",
        "Rejected Entry signals": ledger.rejected_entries,
        "Min balance": start + float(cumulative.min()) if n else start,
        "Max balance": start + float(cumulative.max()) if n else start,
        "Max % of account underwater": (dd.max_relative * 100) if dd else 0.0,
        "Absolute Drawdown (Account) %": (dd.relative_at_abs * 100) if dd else 0.0,
        "Absolute Drawdown": dd.abs_drawdown if dd else 0.0,
        "Drawdown high": dd.high_value if dd else 0.0,
        "Drawdown low": dd.low_value if dd else 0.0,
        "Drawdown Start": _iso(dd.high_ts_ns) if dd else "",
        "Drawdown End": _iso(dd.low_ts_ns) if dd else "",
        "Market change %": market_change * 100,
    }


# -- backtesting.py ---------------------------------------------------------------------------------
def _period_ns(ts: np.ndarray) -> int:
    """backtesting.py's data period: the median spacing of the last 100 points."""
    tail = ts[-100:]
    return int(np.median(np.diff(tail))) if len(tail) > 1 else 0


def _ceil_to_resolution(seconds: float, period_ns: int) -> float:
    """Round a duration up to the resolution of the data period, as pandas' Timedelta.ceil does."""
    if math.isnan(seconds):
        return seconds
    resolution_ns = 1
    for unit in (NS_PER_DAY, 3_600 * NS_PER_S, 60 * NS_PER_S, NS_PER_S, 1_000_000, 1_000):
        if period_ns and period_ns % unit == 0:
            resolution_ns = unit
            break
    ns = round(seconds * NS_PER_S)
    return math.ceil(ns / resolution_ns) * resolution_ns / NS_PER_S


def _geometric_mean(returns: np.ndarray) -> float:
    growth = np.nan_to_num(returns, nan=0.0) + 1
    if np.any(growth <= 0):
        return 0.0
    return float(np.exp(np.log(growth).sum() / (len(growth) or np.nan)) - 1)


def _drawdown_episodes(dd: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Duration (s) and peak of each drawdown episode, as backtesting.py delimits them."""
    zeros = np.flatnonzero(dd == 0)
    ends = np.unique(np.r_[zeros, len(dd) - 1])
    durations, peaks = [], []
    for prev, cur in itertools.pairwise(ends):
        if cur > prev + 1:
            durations.append((ts[cur] - ts[prev]) / NS_PER_S)
            peaks.append(dd[prev : cur + 1].max())
    return np.array(durations, dtype=np.float64), np.array(peaks, dtype=np.float64)


def _daily_last(ts: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Equity at the last point of each UTC calendar day that has points (resample('D').last())."""
    days = ts // NS_PER_DAY
    last_of_day = np.r_[np.flatnonzero(days[1:] != days[:-1]), len(days) - 1]
    return equity[last_of_day]


def weekend_share_of(ts: np.ndarray) -> float:
    """Share of the times on a Saturday or Sunday, UTC, as `datetime.fromtimestamp(t / 1e9)` dates
    them, without a datetime per point (86,400 a day of equity points: ~0.07 s): by whole days,
    except times within a millisecond of midnight, where its rounding decides and it is asked."""
    seconds = np.asarray(ts / NS_PER_S, dtype=np.float64)
    weekday = (np.floor(seconds / 86_400).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    for i in np.flatnonzero(np.abs(seconds - np.round(seconds / 86_400) * 86_400) < 1e-3):
        weekday[i] = datetime.fromtimestamp(seconds[i], tz=UTC).weekday()
    return float(np.mean(weekday >= 5))


def backtesting_py_metrics(ledger: Ledger) -> dict[str, object]:
    """backtesting.py 0.6.6 `Backtest.run()` statistics (risk-free rate 0), by its formulas."""
    equity, ts, close = ledger.equity, ledger.equity_ts_ns, ledger.close
    period_ns = _period_ns(ts)
    dd = 1 - equity / np.maximum.accumulate(equity)
    dd_durations, dd_peaks = _drawdown_episodes(dd, ts)
    trades = list(ledger.trades)
    pnl = np.array([t.pnl for t in trades], dtype=np.float64)
    returns = np.array([t.return_ratio for t in trades], dtype=np.float64)
    durations = np.array([t.duration_s for t in trades], dtype=np.float64)
    have_position = np.zeros(len(ts), dtype=np.int64)
    for t in trades:
        entry_bar = int(np.searchsorted(ts, t.entry_ts_ns, side="left"))
        exit_bar = int(np.searchsorted(ts, t.exit_ts_ns, side="left"))
        have_position[entry_bar : exit_bar + 1] = 1
    first = ledger.warmup_points
    day_returns = np.diff(daily := _daily_last(ts, equity)) / daily[:-1]
    weekend_share = weekend_share_of(ts)
    periods = 365 if weekend_share > 2 / 7 * 0.6 else 252
    gmean = _geometric_mean(day_returns)
    annual = (1 + gmean) ** periods - 1
    variance = float(np.var(day_returns, ddof=1)) if len(day_returns) > 1 else math.nan
    volatility = math.sqrt((variance + (1 + gmean) ** 2) ** periods - (1 + gmean) ** (2 * periods))
    years = (ts[-1] - ts[0]) / NS_PER_S / 86_400 / 365.25
    max_dd = -float(np.nan_to_num(dd.max()))
    with np.errstate(divide="ignore", invalid="ignore"):
        downside = (
            math.sqrt(float(np.mean(np.clip(day_returns, -np.inf, 0) ** 2))) if len(day_returns) else math.nan
        )
        sortino = (
            annual / (downside * math.sqrt(periods)) if downside else (math.inf if annual > 0 else math.nan)
        )
        equity_log = np.log(equity[1:] / equity[:-1])
    market_log = np.log(close[1:] / close[:-1])
    beta = math.nan
    if len(equity_log) > 1:
        cov = np.cov(equity_log, market_log)
        beta = float(cov[0, 1] / cov[1, 1])
    total_return = (equity[-1] - equity[0]) / equity[0] * 100
    buy_hold = (close[-1] - close[first]) / close[first] * 100
    n = len(trades)
    win_rate = float((pnl > 0).mean()) if n else math.nan
    fees = sum(t.fees for t in trades)
    std_pnl = float(np.std(pnl, ddof=1)) if n > 1 else math.nan
    avg_win = float(pnl[pnl > 0].mean()) if (pnl > 0).any() else math.nan
    avg_loss = float(-pnl[pnl < 0].mean()) if (pnl < 0).any() else math.nan
    stats: dict[str, object] = {
        "Start": _iso(int(ts[0])),
        "End": _iso(int(ts[-1])),
        "Duration s": (ts[-1] - ts[0]) / NS_PER_S,
        "Exposure Time [%]": float(have_position.mean() * 100),
        "Equity Final [$]": float(equity[-1]),
        "Equity Peak [$]": float(equity.max()),
    }
    if fees:
        stats["Commissions [$]"] = fees
    stats |= {
        "Return [%]": float(total_return),
        "Buy & Hold Return [%]": float(buy_hold),
        "Return (Ann.) [%]": annual * 100,
        "Volatility (Ann.) [%]": volatility * 100,
        "CAGR [%]": ((equity[-1] / equity[0]) ** (1 / years) - 1) * 100 if years else math.nan,
        "Sharpe Ratio": annual * 100 / (volatility * 100 or math.nan),
        "Sortino Ratio": sortino,
        "Calmar Ratio": annual / (-max_dd or math.nan),
        "Alpha [%]": float(total_return - beta * buy_hold),
        "Beta": beta,
        "Max. Drawdown [%]": max_dd * 100,
        "Avg. Drawdown [%]": -float(dd_peaks.mean()) * 100 if len(dd_peaks) else math.nan,
        "Max. Drawdown Duration s": _ceil_to_resolution(float(dd_durations.max()), period_ns)
        if len(dd_durations)
        else math.nan,
        "Avg. Drawdown Duration s": _ceil_to_resolution(float(dd_durations.mean()), period_ns)
        if len(dd_durations)
        else math.nan,
        "# Trades": n,
        "Win Rate [%]": win_rate * 100,
        "Best Trade [%]": float(returns.max()) * 100 if n else math.nan,
        "Worst Trade [%]": float(returns.min()) * 100 if n else math.nan,
        "Avg. Trade [%]": _geometric_mean(returns) * 100,
        "Max. Trade Duration s": _ceil_to_resolution(float(durations.max()), period_ns) if n else math.nan,
        "Avg. Trade Duration s": _ceil_to_resolution(float(durations.mean()), period_ns) if n else math.nan,
        "Profit Factor": float(returns[returns > 0].sum() / (abs(returns[returns < 0].sum()) or math.nan)),
        "Expectancy [%]": float(returns.mean()) * 100 if n else math.nan,
        "SQN": math.sqrt(n) * float(pnl.mean()) / (std_pnl or math.nan) if n else math.nan,
        "Kelly Criterion": win_rate - (1 - win_rate) / (avg_win / avg_loss),
    }
    return stats


# -- fx ----------------------------------------------------------------------------------------------
CONVENTIONS: dict[str, str] = {
    "trade statistics": "closed trades, net of entry and exit fees; an open position is closed at the last "
    "event (end_of_data)",
    "Total profit %": "sum of net trade profit / starting balance (not compounded)",
    "Max. Drawdown [%]": "largest fall of mark-to-market equity from its running peak, sampled every "
    "equity interval and at every fill (includes open positions)",
    "Sharpe, Sortino, Calmar": "backtesting.py's: daily equity returns, compounded annualisation, rf = 0; "
    "undefined (NaN) for runs shorter than two calendar days",
    "Profit factor": "freqtrade's: gross winning profit / gross losing loss, in quote currency",
    "Expectancy": "freqtrade's: win rate x average win - loss rate x average loss, in quote currency",
    "Exposure Time [%]": "share of equity samples with an open position",
    "undefined values": "a value with no meaning for the run (a Sharpe of one trade, a profit factor without "
    "losses) is null, never a stand-in number such as freqtrade's -100; `undefined` says why",
    "fill quality": "Spread cost / Latency cost / Slippage bps: mean per round trip of entry + exit legs, "
    "each in bps of the mid at decision (qty-weighted over partial exits); Partial fills counts trades "
    "with a leg the book could not fill in full",
}


def _freqtrade_stand_ins(ledger: Ledger) -> list[str]:
    """freqtrade's keys whose value is a stand-in (0, -100, 100) where its formula has no value."""
    trades = ledger.trades
    if not trades:
        return [
            *("Sharpe", "Sortino", "Calmar", "Profit factor", "Expectancy", "Expectancy Ratio"),
            *("Avg. stake amount", "Best trade %", "Worst trade %", "Best day", "Worst day"),
            *("Avg. Duration Winners s", "Avg. Duration Loser s"),
        ]
    ratios = np.array([t.pnl for t in trades], dtype=np.float64) / ledger.start_balance
    losses = ratios[ratios < 0]
    stand_ins = []
    if ledger.end_ts_ns == ledger.start_ts_ns:
        stand_ins += ["Sharpe", "Sortino", "Calmar"]
    if np.std(ratios) == 0:
        stand_ins.append("Sharpe")
    if len(losses) == 0 or np.std(losses) == 0:
        stand_ins.append("Sortino")
    dd = closed_drawdown(trades, ledger.start_balance)
    if dd is None or dd.relative_at_abs == 0:
        stand_ins.append("Calmar")
    if len(losses) == 0:
        stand_ins += ["Profit factor", "Expectancy Ratio", "Avg. Duration Loser s"]
    if not (ratios > 0).any():
        stand_ins.append("Avg. Duration Winners s")
    return stand_ins


def fill_quality(trades: Sequence[ClosedTrade]) -> dict[str, object]:
    """Fees and what the fills cost against the mid at decision, per round trip."""
    n = len(trades)

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if n else math.nan

    return {
        "Fees paid": float(sum(t.fees for t in trades)),
        "Winning trades": sum(1 for t in trades if t.pnl > 0),
        "Losing trades": sum(1 for t in trades if t.pnl < 0),
        "Spread cost bps": mean([t.spread_bps for t in trades]),
        "Latency cost bps": mean([t.latency_bps for t in trades]),
        "Slippage bps": mean([t.slippage_bps for t in trades]),
        "Fill cost bps": mean([t.spread_bps + t.latency_bps + t.slippage_bps for t in trades]),
        "Partial fills": sum(1 for t in trades if t.partial),
    }


def fx_metrics(ledger: Ledger) -> dict[str, object]:
    """fx's summary: freqtrade's rows and backtesting.py's keys, each under the convention in CONVENTIONS,
    with freqtrade's stand-in numbers replaced by NaN (undefined), plus fees and fill quality."""
    merged = freqtrade_metrics(ledger)
    for key, value in backtesting_py_metrics(ledger).items():
        merged.setdefault(key, value)
    for key in _freqtrade_stand_ins(ledger):
        merged[key] = math.nan
    return merged | fill_quality(ledger.trades)
