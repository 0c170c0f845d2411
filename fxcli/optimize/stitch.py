"""The walk-forward's out-of-sample account: the folds' test runs stitched into one curve (pure).

Every fold's test run is a plain backtest that starts from the same `--balance`, so each fold's
test metrics stand on their own. The stitched curve chains their returns: fold k's equity (and its
trades' quantities and fees) is multiplied by the stitched equity at the end of fold k-1 over the
starting balance, so fold k goes on from where fold k-1 ended. That equals running fold k with the
previous fold's ending balance whenever positions are sized as a share of the account and fills do
not run out of depth.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fxcli.backtest.metrics import Ledger


@dataclass(frozen=True)
class Stitched:
    """One symbol's stitched out-of-sample ledger and where each fold sits in it."""

    ledger: Ledger
    fold_of_point: np.ndarray  # int64, the fold of each equity point
    fold_profit: list[float]  # change of the stitched equity over each fold's test window (quote)


def from_test_start(ledger: Ledger, test_start_ns: int) -> Ledger:
    """A test run's ledger without its warm-up lead: the equity points before `test_start_ns` go (the
    strategy could not trade there, so they all equal the starting balance) and the run's time
    starts at the test window, so the lead moves neither the curve nor time-based metrics."""
    keep = ledger.equity_ts_ns >= test_start_ns
    return replace(
        ledger,
        start_ts_ns=max(ledger.start_ts_ns, test_start_ns),
        equity_ts_ns=ledger.equity_ts_ns[keep],
        equity=ledger.equity[keep],
        close=ledger.close[keep],
        warmup_points=0,
    )


def stitch(ledgers: Sequence[Ledger]) -> Stitched:
    """Chain the folds' test ledgers (in fold order, all with the same starting balance)."""
    balance = ledgers[0].start_balance
    factor, level = 1.0, balance
    trades, ts, equity, close, folds, profit = [], [], [], [], [], []
    for k, ledger in enumerate(ledgers):
        trades += [replace(t, qty=t.qty * factor, fees=t.fees * factor) for t in ledger.trades]
        ts.append(ledger.equity_ts_ns)
        equity.append(ledger.equity * factor)
        close.append(ledger.close)
        folds.append(np.full(len(ledger.equity), k, dtype=np.int64))
        end = float(ledger.equity[-1]) * factor if len(ledger.equity) else level
        profit.append(end - level)
        level, factor = end, end / balance
    stitched = Ledger(
        trades=trades,
        start_balance=balance,
        start_ts_ns=ledgers[0].start_ts_ns,
        end_ts_ns=ledgers[-1].end_ts_ns,
        equity_ts_ns=np.concatenate(ts),
        equity=np.concatenate(equity),
        close=np.concatenate(close),
        rejected_entries=sum(ledger.rejected_entries for ledger in ledgers),
        warmup_points=ledgers[0].warmup_points,
    )
    return Stitched(stitched, np.concatenate(folds), profit)


def stability(params: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per parameter across folds: numbers get mean, sample standard deviation (n-1) and its
    coefficient of variation std/|mean| (None with one fold or a mean of 0); other values the
    number of distinct winners."""
    out: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(k for p in params for k in p):
        values = [p.get(key) for p in params]
        numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(values):
            mean = statistics.fmean(numbers)
            std = statistics.stdev(numbers) if len(numbers) > 1 else None
            cv = std / abs(mean) if std is not None and mean != 0 else None
            out[key] = {"mean": mean, "std": std, "cv": cv}
        else:
            out[key] = {"distinct": len({str(v) for v in values})}
    return out


def profit_shares(fold_profit: Sequence[float]) -> dict[str, Any]:
    """Share of folds that made money, and the largest fold's share of the total (None when the
    total is not a profit: a share of a loss says nothing)."""
    total = math.fsum(fold_profit)
    return {
        "profitable_folds": sum(p > 0 for p in fold_profit) / len(fold_profit),
        "largest_fold_profit_share": max(fold_profit) / total if total > 0 else None,
        "total_profit": total,
    }
