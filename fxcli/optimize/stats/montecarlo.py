"""Monte Carlo on a trial's closed trades: permutation (reorder) and bootstrap (resample).

Each trade is its PnL in quote currency; equity starts at `start` and adds the PnLs in order. Per
scenario: final return (sum of PnLs / start) and maximum drawdown, as a fraction of the running peak
equity (`max_drawdown`) and in quote currency (`max_drawdown_quote`).

* permutation: every order of the same trades is equally likely. The total is the same in every
  order, so final return is invariant: it gets no p-value (`invariant` is set). Only the path
  (drawdown) changes.
* bootstrap: trades drawn with replacement; `block` > 1 draws runs of `block` consecutive trades
  from a random start, wrapping around the end (circular block bootstrap, Politis & Romano 1992),
  which keeps short-range dependence between trades.

When the number of equally likely scenarios (n! orders; n^k block-start sequences, k = ceil(n/block))
is at most `exact_limit`, every one is enumerated and the distribution is exact (`exact`, no standard
error); otherwise `n` scenarios are drawn with numpy's default_rng(seed), and the mean and p-values
carry Monte Carlo standard errors.

p-values (H0: the method's scenarios are as good as the observed trades):
* max drawdown: share of scenarios whose drawdown is at least as deep as the observed one (near 0:
  the observed order was unusually bad, losses cluster; near 1: it was lucky, expect deeper);
* final return (bootstrap only): share of scenarios with final return <= 0, the chance that the same
  trades lose money.
Percentiles are numpy's linear interpolation; the 90 % interval is 5-95, the 95 % interval 2.5-97.5.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fxcli.errors import FxError

PERCENTILES = (5, 25, 50, 75, 95)
# Scenario x trade cells per vectorised step when sampling.
_CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class MetricDistribution:
    """One metric over the scenarios: its observed value, percentiles, intervals, p-value."""

    name: str
    original: float
    values: np.ndarray
    percentiles: dict[int, float]
    interval_90: tuple[float, float]
    interval_95: tuple[float, float]
    mean: float
    mean_se: float | None
    invariant: bool
    p_value: float | None
    p_value_se: float | None
    p_value_meaning: str | None


@dataclass(frozen=True)
class Distribution:
    """A Monte Carlo run: the method, exact or sampled, and each metric's distribution.

    `equity_percentiles` is 5 x (trades + 1): the PERCENTILES of equity after each trade (fan chart).
    """

    method: str
    exact: bool
    scenarios: int
    seed: int | None
    final_return: MetricDistribution
    max_drawdown: MetricDistribution
    max_drawdown_quote: MetricDistribution
    equity_percentiles: np.ndarray


def permutation(
    pnls: Sequence[float] | np.ndarray, start: float, n: int, seed: int, exact_limit: int = 100_000
) -> Distribution:
    """Every order (or `n` seeded random orders) of the trades; final return is invariant."""
    trades = _checked(pnls, start, n)
    count = _count_up_to(range(len(trades), 0, -1), exact_limit)
    if count <= exact_limit:
        orders = np.array(list(itertools.permutations(range(len(trades)))), dtype=np.intp)
        return _summarise("permute", trades[orders], trades, start, exact=True, seed=None)
    rng = np.random.default_rng(seed)

    def draw(k: int) -> np.ndarray:
        return rng.permuted(np.broadcast_to(trades, (k, len(trades))), axis=1)

    return _summarise("permute", _sampled(draw, n, len(trades)), trades, start, exact=False, seed=seed)


def bootstrap(
    pnls: Sequence[float] | np.ndarray,
    start: float,
    n: int,
    seed: int,
    block: int = 1,
    exact_limit: int = 100_000,
) -> Distribution:
    """Trades resampled with replacement (iid for block = 1, circular blocks otherwise)."""
    trades = _checked(pnls, start, n)
    size = len(trades)
    if not 1 <= block <= size:
        raise FxError(f"bootstrap: block must be between 1 and the number of trades ({size}), got {block}")
    draws_per_path = -(-size // block)
    offsets = np.arange(block)
    method = "bootstrap" if block == 1 else "block"

    def paths(starts: np.ndarray) -> np.ndarray:
        # starts: scenarios x draws_per_path block starts -> scenarios x size trade indices
        index = (starts[:, :, None] + offsets).reshape(len(starts), -1)[:, :size] % size
        return trades[index]

    count = _count_up_to(itertools.repeat(size, draws_per_path), exact_limit)
    if count <= exact_limit:
        starts = np.array(list(itertools.product(range(size), repeat=draws_per_path)), dtype=np.intp)
        return _summarise(method, paths(starts), trades, start, exact=True, seed=None)
    rng = np.random.default_rng(seed)

    def draw(k: int) -> np.ndarray:
        return paths(rng.integers(0, size, size=(k, draws_per_path)))

    return _summarise(method, _sampled(draw, n, size), trades, start, exact=False, seed=seed)


def drawdowns(equity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum drawdown per row of a scenarios x points equity array: (fraction of peak, quote)."""
    peak = np.maximum.accumulate(equity, axis=1)
    return ((peak - equity) / peak).max(axis=1), (peak - equity).max(axis=1)


def _checked(pnls: Sequence[float] | np.ndarray, start: float, n: int) -> np.ndarray:
    trades = np.asarray(pnls, dtype=np.float64)
    if trades.ndim != 1 or trades.size == 0:
        raise FxError("Monte Carlo: needs at least one closed trade")
    if not np.all(np.isfinite(trades)):
        raise FxError("Monte Carlo: trade PnLs contain NaN or infinite values")
    if not (math.isfinite(start) and start > 0):
        raise FxError(f"Monte Carlo: the starting equity must be > 0, got {start}")
    if n < 1:
        raise FxError(f"Monte Carlo: the number of scenarios must be at least 1, got {n}")
    return trades


def _count_up_to(factors: itertools.repeat[int] | range, limit: int) -> int:
    """Product of `factors`, stopping as soon as it exceeds `limit` (n! and n^n grow fast)."""
    product = 1
    for factor in factors:
        product *= factor
        if product > limit:
            break
    return product


def _sampled(draw: Callable[[int], np.ndarray], n: int, size: int) -> np.ndarray:
    chunk = max(1, _CHUNK_CELLS // size)
    return np.concatenate([draw(min(chunk, n - first)) for first in range(0, n, chunk)])


def _summarise(
    method: str, paths: np.ndarray, trades: np.ndarray, start: float, *, exact: bool, seed: int | None
) -> Distribution:
    equity = start + np.concatenate([np.zeros((len(paths), 1)), np.cumsum(paths, axis=1)], axis=1)
    dd_frac, dd_quote = drawdowns(equity)
    final = equity[:, -1] / start - 1.0
    observed = start + np.concatenate([[0.0], np.cumsum(trades)])
    obs_frac, obs_quote = drawdowns(observed[None, :])
    deeper = "share of scenarios with a drawdown at least as deep as the observed one"
    # Equal totals in float can differ in the last bit by summation order; compare with a tolerance.
    tol = 1e-9 * max(1.0, float(np.abs(trades).sum()))
    return Distribution(
        method=method,
        exact=exact,
        scenarios=len(paths),
        seed=None if exact else seed,
        final_return=_metric(
            "final_return",
            float(trades.sum() / start),
            final,
            exact=exact,
            invariant=method == "permute",
            hits=final * start <= tol,
            meaning="share of scenarios with a final return <= 0",
        ),
        max_drawdown=_metric(
            "max_drawdown",
            float(obs_frac[0]),
            dd_frac,
            exact=exact,
            hits=dd_frac >= obs_frac[0] - 1e-12,
            meaning=deeper,
        ),
        max_drawdown_quote=_metric(
            "max_drawdown_quote",
            float(obs_quote[0]),
            dd_quote,
            exact=exact,
            hits=dd_quote >= obs_quote[0] - tol,
            meaning=deeper,
        ),
        equity_percentiles=np.percentile(equity, PERCENTILES, axis=0),
    )


def _metric(
    name: str,
    original: float,
    values: np.ndarray,
    *,
    exact: bool,
    hits: np.ndarray,
    meaning: str,
    invariant: bool = False,
) -> MetricDistribution:
    pct = np.percentile(values, [*PERCENTILES, 2.5, 97.5])
    sampled = not exact and len(values) > 1
    p = None if invariant else float(hits.mean())
    return MetricDistribution(
        name=name,
        original=original,
        values=values,
        percentiles={q: float(v) for q, v in zip(PERCENTILES, pct, strict=False)},
        interval_90=(float(pct[0]), float(pct[4])),
        interval_95=(float(pct[5]), float(pct[6])),
        mean=float(values.mean()),
        mean_se=float(values.std(ddof=1) / math.sqrt(len(values))) if sampled else None,
        invariant=invariant,
        p_value=p,
        p_value_se=math.sqrt(p * (1.0 - p) / len(values)) if sampled and p is not None else None,
        p_value_meaning=None if invariant else meaning,
    )
