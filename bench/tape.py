"""The synthetic tape shared by the benchmarks: Binance-like taker bursts and book-ticker arrivals.

Shape of the Binance spot BTCUSDT capture (hftbacktest, 2024-08-08, 5m46s), measured from the file:
28.2 trades/s in 3,223 same-ms bursts (70% single fills, mean 3.0, up to 735 fills, 107 ms apart on
average, median 26 ms), and 81 book tickers/s on 16,110 distinct ms (73% alone, mean 1.74 per ms,
gaps median 4 ms, mean 21 ms); book tickers are ~74% of trades + tickers.
"""

from __future__ import annotations

import numpy as np

BURST_SINGLE_SHARE = 0.70
BURST_ZIPF_A = 1.9
BURST_MAX_FILLS = 700
BURST_GAP_MEDIAN_MS = 30.0
BURST_GAP_SIGMA = 1.6
TICKER_SINGLE_SHARE = 0.73
TICKER_EXTRA_P = 0.36
TICKER_GAP_MEDIAN_MS = 4.0
TICKER_GAP_SIGMA = 1.84
MAX_GAP_MS = 5_000


def burst_sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Fills per same-ms taker burst: mostly one, a heavy tail of sweeps (mean ~3, as in the capture)."""
    sweeps = 1 + np.minimum(rng.zipf(BURST_ZIPF_A, count), BURST_MAX_FILLS)
    return np.where(rng.random(count) < BURST_SINGLE_SHARE, 1, sweeps).astype(np.int64)


def gaps_ms(rng: np.random.Generator, count: int, median_ms: float, sigma: float) -> np.ndarray:
    """Whole-millisecond gaps between bursts: log-normal, at least 1 ms, at most MAX_GAP_MS."""
    gaps = np.rint(rng.lognormal(np.log(median_ms), sigma, count))
    return np.clip(gaps, 1, MAX_GAP_MS).astype(np.int64)
