"""The chart plots a day of equity points through `plotted_rows`: few rows, the same picture."""

from __future__ import annotations

import numpy as np

from fxcli.ui.charts import plotted_rows


def test_short_series_are_plotted_whole() -> None:
    ts = np.arange(1_000, dtype=np.int64)

    assert plotted_rows(ts, (np.sin(ts),), buckets=500).tolist() == list(range(1_000))


def test_each_bucket_keeps_its_ends_and_every_series_extremes() -> None:
    rng = np.random.default_rng(4)
    n, buckets = 86_400, 300
    ts = np.cumsum(rng.integers(1, 3, n)).astype(np.int64) * 1_000_000_000
    a, b = np.cumsum(rng.normal(0, 1, n)), rng.normal(0, 1, n)
    b[777] = np.nan

    keep = plotted_rows(ts, (a, b), buckets=buckets)

    assert len(keep) <= 6 * buckets + 2
    assert np.all(np.diff(keep) > 0)  # in time order, no row twice
    assert keep[0] == 0
    assert keep[-1] == n - 1
    bucket = ((ts - ts[0]).astype(np.float64) * (buckets / (ts[-1] - ts[0]))).astype(np.int64)
    for k in np.unique(bucket)[::17]:
        rows = np.flatnonzero(bucket == k)
        kept = np.intersect1d(rows, keep)
        assert rows[0] in kept
        assert rows[-1] in kept
        for values in (a, b):
            assert np.nanmax(values[kept]) == np.nanmax(values[rows])
            assert np.nanmin(values[kept]) == np.nanmin(values[rows])
