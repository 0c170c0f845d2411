"""`--metrics-compat backtesting.py`: fx reproduces backtesting.py 0.6.6's statistics on its trades.

backtesting.py itself runs a strategy on a generated bar dataset; fx then recomputes every statistic
from the trades and the equity curve backtesting.py produced, with fx's own code, to 1e-6.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

from fxcli.backtest.metrics import ClosedTrade, Ledger, backtesting_py_metrics

# backtesting.py 0.6.6 calls a pandas API that pandas 3 deprecates; that is its warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def sma(values: Any, period: int) -> Any:
    return pd.Series(values).rolling(period).mean().to_numpy()


class Cross(Strategy):  # type: ignore[misc]
    fast = 10
    slow = 30

    def init(self) -> None:
        self.a = self.I(sma, self.data.Close, self.fast)
        self.b = self.I(sma, self.data.Close, self.slow)

    def next(self) -> None:
        if crossover(self.a, self.b):
            self.position.close()
            self.buy()
        elif crossover(self.b, self.a):
            self.position.close()
            self.sell()


def bars(seed: int, n: int, freq: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    index = pd.date_range("2022-01-03", periods=n, freq=freq)
    return pd.DataFrame(
        {
            "Open": close * (1 + rng.normal(0, 0.003, n)),
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": 1_000.0,
        },
        index=index,
    )


def ledger_from(stats: Any, data: pd.DataFrame) -> Ledger:
    trades = [
        ClosedTrade(
            entry_ts_ns=int(row.EntryTime.as_unit("ns").value),
            exit_ts_ns=int(row.ExitTime.as_unit("ns").value),
            side=1 if row.Size > 0 else -1,
            qty=float(abs(row.Size)),
            entry_price=float(row.EntryPrice),
            exit_price=float(row.ExitPrice),
            fees=float(row.Commission),
        )
        for row in stats._trades.itertuples()
    ]
    ts = data.index.as_unit("ns").asi8.astype(np.int64)
    return Ledger(
        trades=trades,
        start_balance=10_000.0,
        start_ts_ns=int(ts[0]),
        end_ts_ns=int(ts[-1]),
        equity_ts_ns=ts,
        equity=stats._equity_curve["Equity"].to_numpy(dtype=np.float64),
        close=data["Close"].to_numpy(dtype=np.float64),
        warmup_points=Cross.slow - 1,
    )


@pytest.mark.parametrize(("seed", "n", "freq"), [(5, 700, "D"), (11, 500, "B"), (3, 2_000, "h")])
def test_backtesting_py_compat_reproduces_every_statistic(seed: int, n: int, freq: str) -> None:
    data = bars(seed, n, freq)
    stats = Backtest(data, Cross, cash=10_000, commission=0.002, finalize_trades=True).run()

    ours = backtesting_py_metrics(ledger_from(stats, data))

    checked = 0
    for key, theirs in stats.items():
        if key.startswith("_") or key in ("Start", "End"):
            continue
        if isinstance(theirs, pd.Timedelta):
            assert ours[f"{key} s"] == pytest.approx(theirs.total_seconds(), rel=1e-9), key
        elif isinstance(theirs, float) and math.isnan(theirs):
            assert math.isnan(float(ours[key])), key  # type: ignore[arg-type]
        else:
            assert ours[key] == pytest.approx(float(theirs), rel=1e-6, abs=1e-9), key
        checked += 1
    assert checked >= 30
    assert ours["Start"] == str(stats["Start"])
