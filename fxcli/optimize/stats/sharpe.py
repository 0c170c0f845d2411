"""Sharpe-ratio statistics: PSR, the Deflated Sharpe Ratio, MinTRL, MinBTL, E[max] of N trials.

Conventions (every function here follows them; none annualises — that is the caller's):

* SR is the plain, non-annualised Sharpe ratio at the sampling frequency of the returns:
  mean / standard deviation with ddof = 1, no risk-free rate.
* skew and kurtosis are the population (biased, moment) estimates m3 / m2^1.5 and m4 / m2^2;
  kurtosis is NOT excess kurtosis: a Normal distribution has kurtosis 3.
* T is the number of returns the SR was measured on.
* The variance of the trials' SRs (`sr_variance`) uses ddof = 1 by default (pypbo's convention);
  mlfinlab uses ddof = 0. With few trials the choice matters a lot (fixture F5: DSR 0.152 vs 0.958),
  so the ddof used is an explicit argument and callers print it.

Sources: Bailey & López de Prado 2012 (PSR, MinTRL) and 2014 (DSR); Bailey, Borwein, López de Prado
& Zhu 2014 (MinBTL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from fxcli.errors import FxError

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Moments:
    """What PSR/DSR need of one return series: SR per period, T, skew, kurtosis (not excess)."""

    sr: float
    t: int
    skew: float
    kurtosis: float


def moments(returns: np.ndarray) -> Moments:
    """SR (mean / std ddof=1), T, population skew and kurtosis (Normal = 3) of one return series.

    A series with zero variance has no Sharpe ratio, skew or kurtosis: those come back NaN and the
    caller reports them as undefined.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise FxError(f"returns: expected one series, got an array of shape {r.shape}")
    if r.size < 2:
        raise FxError(f"returns: a Sharpe ratio needs at least 2 returns, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise FxError("returns: contain NaN or infinite values")
    centred = r - r.mean()
    m2 = float(np.mean(centred**2))
    if m2 == 0.0:
        return Moments(sr=math.nan, t=int(r.size), skew=math.nan, kurtosis=math.nan)
    sd = float(np.std(r, ddof=1))
    return Moments(
        sr=float(r.mean()) / sd,
        t=int(r.size),
        skew=float(np.mean(centred**3)) / m2**1.5,
        kurtosis=float(np.mean(centred**4)) / m2**2,
    )


def _sr_spread(sr: float, skew: float, kurtosis: float) -> float:
    """1 - skew*SR + (kurtosis-1)/4 * SR^2: the SR estimator's variance times (T - 1).

    Non-negative whenever kurtosis >= 1 + skew^2, which every real sample satisfies.
    """
    spread = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not spread > 0.0:
        raise FxError(
            f"skew {skew:g} and kurtosis {kurtosis:g} are not the moments of any sample "
            f"(kurtosis is not excess: a Normal has 3)"
        )
    return spread


def psr(sr: float, t: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0) -> float:
    """Probabilistic Sharpe Ratio: the probability that the true SR exceeds `sr_benchmark`.

    PSR = Phi((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew*SR + (kurtosis - 1)/4 * SR^2)), SR and SR* per
    period (not annualised), kurtosis not excess. NaN in, NaN out (an undefined SR).
    """
    if t < 2:
        raise FxError(f"PSR needs T >= 2 returns, got {t}")
    if math.isnan(sr) or math.isnan(skew) or math.isnan(kurtosis):
        return math.nan
    z = (sr - sr_benchmark) * math.sqrt(t - 1) / math.sqrt(_sr_spread(sr, skew, kurtosis))
    return _NORMAL.cdf(z)


def expected_max_z(n_trials: int) -> float:
    """E[max of N iid standard Normals], the approximation of the DSR paper.

    (1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)), gamma = Euler-Mascheroni; exactly 0
    for N = 1. It is ~2 % above the exact value at N = 10 and ~0.4 % at N = 1000 (`exact_expected_max_z`).
    """
    if n_trials < 1:
        raise FxError(f"the number of trials must be at least 1, got {n_trials}")
    if n_trials == 1:
        return 0.0
    return (1.0 - EULER_GAMMA) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials) + EULER_GAMMA * _NORMAL.inv_cdf(
        1.0 - 1.0 / (n_trials * math.e)
    )


def exact_expected_max_z(n_trials: int) -> float:
    """E[max of N iid standard Normals] by quadrature of x * N * phi(x) * Phi(x)^(N-1) (to ~1e-9)."""
    if n_trials < 1:
        raise FxError(f"the number of trials must be at least 1, got {n_trials}")
    x = np.linspace(-12.0, 12.0, 48_001)
    phi = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    density = n_trials * phi * cdf ** (n_trials - 1)
    return float(np.trapezoid(x * density, x))


def expected_max_sr(n_trials: int, sr_variance: float) -> float:
    """SR0: the expected maximum SR of N unskilled trials whose SRs have variance `sr_variance`.

    sqrt(V[SR_n]) * E[max Z_N] (`expected_max_z`); the benchmark DSR deflates against. Per period,
    in the same frequency as the trials' SRs.
    """
    if not sr_variance >= 0.0:
        raise FxError(f"the variance of the trials' Sharpe ratios must be >= 0, got {sr_variance}")
    return math.sqrt(sr_variance) * expected_max_z(n_trials)


def dsr(sr: float, t: int, skew: float, kurtosis: float, n_trials: int, sr_variance: float) -> float:
    """Deflated Sharpe Ratio: PSR of the selected trial against SR0 = `expected_max_sr`.

    The probability that the best of `n_trials` has a true SR above zero after allowing for the
    selection among N trials and for non-Normal returns; sr, skew, kurtosis (not excess) and T are the
    selected trial's, `sr_variance` is across all trials (state its ddof, see `sr_variance`).
    """
    return psr(sr, t, skew, kurtosis, expected_max_sr(n_trials, sr_variance))


def min_trl(
    sr: float,
    skew: float,
    kurtosis: float,
    sr_benchmark: float = 0.0,
    confidence: float = 0.95,
) -> float:
    """Minimum Track Record Length: how many returns make PSR(SR*) reach `confidence`.

    MinTRL = 1 + (1 - skew*SR + (kurtosis-1)/4 * SR^2) * (Phi^-1(confidence) / (SR - SR*))^2, in
    returns (periods of the SR's frequency). Infinite when SR <= SR*: no length suffices.
    """
    if not 0.0 < confidence < 1.0:
        raise FxError(f"confidence must be between 0 and 1, got {confidence}")
    if math.isnan(sr) or math.isnan(skew) or math.isnan(kurtosis):
        return math.nan
    if sr <= sr_benchmark:
        return math.inf
    spread = _sr_spread(sr, skew, kurtosis)
    return 1.0 + spread * (_NORMAL.inv_cdf(confidence) / (sr - sr_benchmark)) ** 2


def min_btl(n_trials: int, target_sr: float = 1.0) -> float:
    """Minimum Backtest Length in years: (E[max Z_N] / annual SR)^2.

    Below this length, N trials of a strategy with no skill are expected to produce one whose
    in-sample annualised SR reaches `target_sr`; `target_sr` IS annualised (unlike everywhere else).
    """
    if not target_sr > 0.0:
        raise FxError(f"the target Sharpe ratio must be > 0, got {target_sr}")
    return (expected_max_z(n_trials) / target_sr) ** 2


def sr_variance(srs: np.ndarray, ddof: int = 1) -> float:
    """Variance of the trials' Sharpe ratios, ddof = 1 (pypbo) by default; mlfinlab's is ddof = 0.

    Trials with an undefined SR (NaN) are left out; fewer than ddof + 1 defined SRs is an error.
    """
    values = np.asarray(srs, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    if ddof not in (0, 1):
        raise FxError(f"ddof must be 0 or 1, got {ddof}")
    if values.size <= ddof:
        raise FxError(f"the variance of trial Sharpe ratios needs more than {ddof} trials, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise FxError("trial Sharpe ratios contain infinite values")
    return float(np.var(values, ddof=ddof))
