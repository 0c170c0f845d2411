"""backtesting.py's annualisation asks which share of the equity times fall on a weekend: the
vectorised count dates every time as `datetime.fromtimestamp` does, midnight edges included."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from fxcli.backtest.metrics import weekend_share_of

DAY_NS = 86_400 * 1_000_000_000


def by_datetime(ts: np.ndarray) -> float:
    return float(np.mean([datetime.fromtimestamp(t / 1e9, tz=UTC).weekday() >= 5 for t in ts]))


def test_weekend_share_equals_dating_each_time() -> None:
    rng = np.random.default_rng(8)
    start = 1_723_161_600_000_000_000  # a Friday, 00:00 UTC
    ts = np.sort(start + rng.integers(0, 9 * DAY_NS, 20_000))
    midnights = start + np.arange(1, 9) * DAY_NS
    around = np.array([-1_000_000, -1_000, -600, -400, -1, 0, 1, 400, 600, 999_999])  # ns from midnight
    edges = (midnights[:, None] + around).ravel()
    ts = np.sort(np.concatenate([ts, edges, [-DAY_NS - 1, -1, 0]])).astype(np.int64)

    assert weekend_share_of(ts) == by_datetime(ts)
    for k in range(len(edges)):  # each edge alone, so one misdated time shows
        one = edges[k : k + 1].astype(np.int64)
        assert weekend_share_of(one) == by_datetime(one), edges[k]
