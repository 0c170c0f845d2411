"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting" (J. Computational
Finance 20(4), 2017). The matrix is T x N: rows are time buckets in order, columns are trials.

1. The oldest T mod S rows are dropped; the rest is cut into S contiguous equal blocks (S even).
2. Every choice c of S/2 blocks is a split: in-sample (IS) = those blocks, out-of-sample (OOS) = the
   others, rows kept in time order; there are C(S, S/2) splits (12,870 for S = 16).
3. Per split: the metric per trial on IS and on OOS; n* = the best IS trial (ties: the lowest index);
   w = rank of n*'s OOS metric among all N (1 = worst, ties averaged) / (N + 1); metrics are
   compared rounded to 36 significant bits, so both computing paths below see the same ties;
   logit = ln(w / (1 - w)), > 0 when the IS winner beats the OOS median.
4. PBO = share of splits with logit <= 0. P(OOS loss) = share of splits where n*'s OOS metric < 0.
   Degradation = OLS line of n*'s OOS metric on its IS metric over the splits (slope, intercept).

The default metric is the Sharpe ratio per column, mean / std with ddof = 1, not annualised (PBO
depends only on ranks and signs, so annualising would change nothing but the degradation line's
scale). A column with zero variance in a half has SR 0 if its mean is 0, else +/- infinity.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fxcli.errors import FxError

Metric = Callable[[np.ndarray], np.ndarray]
# Splits evaluated per vectorised step: bounds the working arrays to ~chunk x N floats each.
_CHUNK_CELLS = 4_000_000
# Metrics are ranked at 36 significant bits (~1e-11 relative): far coarser than the two paths'
# rounding differences, far finer than any difference between two real trials' Sharpe ratios.
_RANK_BITS = 36
# A half whose variance is below 1e-20 of its column's whole variance counts as flat (std 0).
_FLAT_SHARE = 1e-20


def sharpe_metric(rows: np.ndarray) -> np.ndarray:
    """Per-column Sharpe ratio of a rows x trials matrix: mean / std (ddof = 1), not annualised."""
    mean = rows.mean(axis=0)
    sd = rows.std(axis=0, ddof=1)
    return _ratio(mean, sd)


def mean_metric(rows: np.ndarray) -> np.ndarray:
    """Per-column mean of a rows x trials matrix (the metric of fixture F8)."""
    return np.asarray(rows.mean(axis=0), dtype=np.float64)


@dataclass(frozen=True)
class PBOResult:
    """CSCV's outcome. `logits`, `is_oos` and `oos_rank` have one entry per split, in the order of
    itertools.combinations(range(blocks), blocks // 2); `is_oos[:, 0]` is the IS winner's IS metric,
    `is_oos[:, 1]` its OOS metric; `oos_rank` is its relative OOS rank w in (0, 1)."""

    value: float
    splits: int
    blocks: int
    logits: np.ndarray
    p_oos_loss: float
    slope: float
    intercept: float
    is_oos: np.ndarray
    oos_rank: np.ndarray
    winners: np.ndarray
    rows_dropped: int


def pbo(matrix: np.ndarray, blocks: int = 16, metric: Metric | None = None) -> PBOResult:
    """PBO of a T x N matrix (time buckets x trials) over all C(blocks, blocks/2) splits.

    `metric` maps a rows x trials array to one value per trial, higher = better; None (and
    `sharpe_metric`, `mean_metric`) take a vectorised path from per-block sums that gives the
    same numbers, fast enough for thousands of trials.
    """
    m = _checked(matrix, blocks)
    dropped = m.shape[0] % blocks
    m = m[dropped:]
    combos = np.array(list(itertools.combinations(range(blocks), blocks // 2)), dtype=np.intp)
    if metric is None or metric is sharpe_metric or metric is mean_metric:
        winners, is_best, oos_best, w = _by_block_sums(m, blocks, combos, sharpe=metric is not mean_metric)
    else:
        winners, is_best, oos_best, w = _by_calls(m, blocks, combos, metric)
    logits = np.log(w / (1.0 - w))
    slope, intercept = _ols(is_best, oos_best)
    return PBOResult(
        value=float(np.mean(logits <= 0.0)),
        splits=len(combos),
        blocks=blocks,
        logits=logits,
        p_oos_loss=float(np.mean(oos_best < 0.0)),
        slope=slope,
        intercept=intercept,
        is_oos=np.column_stack([is_best, oos_best]),
        oos_rank=w,
        winners=winners,
        rows_dropped=dropped,
    )


def _checked(matrix: np.ndarray, blocks: int) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise FxError(f"PBO: the return matrix must be time x trials, got shape {m.shape}")
    if blocks < 2 or blocks % 2:
        raise FxError(f"PBO: blocks must be an even number >= 2, got {blocks}")
    rows, trials = m.shape
    if trials < 2:
        raise FxError(f"PBO: needs at least 2 trials, got {trials}")
    if rows < blocks:
        raise FxError(
            f"PBO: {rows} time buckets cannot make {blocks} blocks; use fewer blocks or a finer bucket"
        )
    if not np.all(np.isfinite(m)):
        raise FxError("PBO: the return matrix contains NaN or infinite values")
    return m


def _ratio(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """mean / sd with the zero-variance convention of the module docstring."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(mean / sd, dtype=np.float64)
    flat = sd == 0.0
    out[flat] = np.where(mean[flat] > 0.0, np.inf, np.where(mean[flat] < 0.0, -np.inf, 0.0))
    return out


def _by_block_sums(
    m: np.ndarray, blocks: int, combos: np.ndarray, *, sharpe: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Winner, its IS and OOS metric and its rank per split, from per-block sums and squares.

    Splits go in chunks so the working arrays stay ~_CHUNK_CELLS floats whatever N is. Columns are
    centred on their overall mean first so the sum-of-squares variance keeps its digits when a mean
    is large against its spread.
    """
    per_block = m.shape[0] // blocks
    n_half = per_block * blocks // 2
    if sharpe and n_half < 2:
        raise FxError("PBO: the Sharpe metric needs at least 2 time buckets per half; use more buckets")
    raw_sums = m.reshape(blocks, per_block, m.shape[1]).sum(axis=1)
    offset = m.mean(axis=0)
    centred = (m - offset).reshape(blocks, per_block, m.shape[1])
    sums = centred.sum(axis=1)
    squares = (centred * centred).sum(axis=1)
    total_raw, total_sum, total_sq = raw_sums.sum(axis=0), sums.sum(axis=0), squares.sum(axis=0)
    # A half's variance below this share of its column's whole variance is rounding, not spread:
    # the half is flat (the per-split path's std is exactly 0 there).
    flat_var = _FLAT_SHARE * squares.sum(axis=0) / max(m.shape[0] - 1, 1)

    def metric(r: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
        # The mean from raw sums: a half of zero buckets sums to exactly 0, as per split (from the
        # centred sums it would be offset - offset, a rounding residue the ratio would blow up).
        mean = r / n_half
        if not sharpe:
            return np.asarray(mean, dtype=np.float64)
        var = np.maximum(q - s * (s / n_half), 0.0) / (n_half - 1)
        var[var <= flat_var] = 0.0
        return _ratio(mean, np.sqrt(var))

    chunk = max(1, _CHUNK_CELLS // m.shape[1])
    parts = []
    for first in range(0, len(combos), chunk):
        part = combos[first : first + chunk]
        chosen = np.zeros((len(part), blocks))
        np.put_along_axis(chosen, part, 1.0, axis=1)
        is_raw, is_sum, is_sq = chosen @ raw_sums, chosen @ sums, chosen @ squares
        is_metric = metric(is_raw, is_sum, is_sq)
        oos_metric = metric(total_raw - is_raw, total_sum - is_sum, total_sq - is_sq)
        parts.append(_pick_and_rank(is_metric, oos_metric))
    winners, is_best, oos_best, w = (np.concatenate(p) for p in zip(*parts, strict=True))
    return winners, is_best, oos_best, w


def _pick_and_rank(
    is_metric: np.ndarray, oos_metric: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per split (row): the IS winner, its IS and OOS metric, its relative OOS rank w."""
    trials = is_metric.shape[1]
    # Both paths compare metrics at _RANK_BITS: the block sums and the per-split sums differ in the
    # last bits (and a BLAS product can differ between equal columns), which must not decide a tie.
    is_key, oos_key = _snapped(is_metric), _snapped(oos_metric)
    winners = np.argmax(is_key, axis=1)
    rows = np.arange(len(winners))
    is_best = is_metric[rows, winners]
    oos_best = oos_metric[rows, winners]
    key = oos_key[rows, winners]
    below = (oos_key < key[:, None]).sum(axis=1)
    equal = (oos_key == key[:, None]).sum(axis=1)
    rank = below + (equal + 1) / 2.0  # average rank of a tie group, 1-based
    return winners, is_best, oos_best, rank / (trials + 1)


def _snapped(values: np.ndarray) -> np.ndarray:
    """`values` rounded to _RANK_BITS significant bits (infinities and zeros kept)."""
    mantissa, exponent = np.frexp(values)
    rounded = np.ldexp(np.round(np.ldexp(mantissa, _RANK_BITS)), exponent - _RANK_BITS)
    return np.where(np.isfinite(values), rounded, values)


def _by_calls(
    m: np.ndarray, blocks: int, combos: np.ndarray, metric: Metric
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same as the vectorised path for any metric: one metric call per half per split."""
    rows = np.arange(m.shape[0]).reshape(blocks, -1)
    results = []
    for combo in combos:
        inside = np.zeros(blocks, dtype=bool)
        inside[combo] = True
        is_metric = np.asarray(metric(m[rows[inside].ravel()]), dtype=np.float64)
        oos_metric = np.asarray(metric(m[rows[~inside].ravel()]), dtype=np.float64)
        if is_metric.shape != (m.shape[1],) or oos_metric.shape != (m.shape[1],):
            raise FxError(
                f"PBO: the metric must give one value per trial ({m.shape[1]}), got {is_metric.shape}"
            )
        results.append(_pick_and_rank(is_metric[None, :], oos_metric[None, :]))
    winners, is_best, oos_best, w = (np.concatenate(part) for part in zip(*results, strict=True))
    return winners, is_best, oos_best, w


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line y = slope * x + intercept; NaN when x does not vary or is not finite."""
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return math.nan, math.nan
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        return math.nan, math.nan
    slope = float(dx @ (y - y.mean())) / sxx
    return slope, float(y.mean()) - slope * float(x.mean())
