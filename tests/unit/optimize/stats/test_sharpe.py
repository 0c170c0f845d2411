"""PSR, DSR, MinTRL, MinBTL and E[max] reproduce fixtures F1-F7 of optimize.md §3.6."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fxcli.errors import FxError
from fxcli.optimize.stats.sharpe import (
    dsr,
    exact_expected_max_z,
    expected_max_sr,
    expected_max_z,
    min_btl,
    min_trl,
    moments,
    psr,
    sr_variance,
)

TOL = 1e-6


def test_psr_f1_paper_example_matches() -> None:
    value = psr(1.585 / math.sqrt(12), 24, -2.448, 10.164)

    assert value == pytest.approx(0.9132343068848602, abs=TOL)


def test_psr_f1_assuming_normal_is_higher() -> None:
    assert psr(1.585 / math.sqrt(12), 24, 0.0, 3.0) == pytest.approx(0.981591, abs=TOL)


def test_dsr_f2_paper_example_matches() -> None:
    sr, variance = 2.5 / math.sqrt(250), 0.5 / 250

    benchmark = expected_max_sr(100, variance)
    deflated = dsr(sr, 1250, -3.0, 10.0, 100, variance)

    assert expected_max_z(100) == pytest.approx(2.5306028932016846, abs=TOL)
    assert benchmark == pytest.approx(0.113172, abs=TOL)
    assert benchmark * math.sqrt(250) == pytest.approx(1.7894, abs=1e-4)
    assert deflated == pytest.approx(0.90039683444939034, abs=TOL)
    assert psr(sr, 1250, -3.0, 10.0) == pytest.approx(0.999997, abs=TOL)
    assert min_trl(sr, -3.0, 10.0, benchmark) == pytest.approx(2051.3, abs=0.05)


def test_psr_f3_against_benchmark_matches() -> None:
    assert psr(1.14, 250, 0.0, 3.0, 1.0) == pytest.approx(0.957278, abs=TOL)


def test_min_trl_f4_matches() -> None:
    assert min_trl(1.14, 0.0, 3.0, 1.0, 0.95) == pytest.approx(228.73498, abs=1e-5)


@pytest.mark.parametrize(
    ("ddof", "benchmark", "expected"),
    [(0, 0.999016, 0.958366), (1, 1.223539, 0.152375)],
)
def test_dsr_f5_both_ddof_conventions(ddof: int, benchmark: float, expected: float) -> None:
    variance = sr_variance(np.array([3.5, 1.01, 1.02]), ddof=ddof)

    assert expected_max_sr(3, variance) == pytest.approx(benchmark, abs=TOL)
    assert dsr(1.14, 250, 0.0, 3.0, 3, variance) == pytest.approx(expected, abs=TOL)


def test_sr_variance_default_is_ddof_1() -> None:
    srs = np.array([3.5, 1.01, 1.02])

    assert sr_variance(srs) == sr_variance(srs, ddof=1) == pytest.approx(np.var(srs, ddof=1))


def test_min_btl_f6_matches() -> None:
    assert min_btl(45, 1.0) == pytest.approx(4.998087, abs=TOL)


@pytest.mark.parametrize(
    ("n", "exact", "approx"),
    [(10, 1.538753, 1.574598), (100, 2.507594, 2.530603), (1000, 3.241436, 3.255122)],
)
def test_expected_max_f7_exact_and_approximation(n: int, exact: float, approx: float) -> None:
    assert exact_expected_max_z(n) == pytest.approx(exact, abs=TOL)
    assert expected_max_z(n) == pytest.approx(approx, abs=TOL)


def test_expected_max_z_one_trial_is_zero_and_grows() -> None:
    values = [expected_max_z(n) for n in (1, 2, 5, 50, 500)]

    assert values[0] == 0.0
    assert values == sorted(values)


def test_moments_kurtosis_is_not_excess() -> None:
    rng = np.random.default_rng(3)

    m = moments(rng.standard_normal(200_000))

    assert m.kurtosis == pytest.approx(3.0, abs=0.05)
    assert m.skew == pytest.approx(0.0, abs=0.02)
    assert m.t == 200_000


def test_moments_hand_computed_series() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.05])
    c = r - r.mean()

    m = moments(r)

    assert m.sr == pytest.approx(r.mean() / r.std(ddof=1))
    assert m.skew == pytest.approx(np.mean(c**3) / np.mean(c**2) ** 1.5)
    assert m.kurtosis == pytest.approx(np.mean(c**4) / np.mean(c**2) ** 2)


def test_moments_zero_variance_is_undefined_and_psr_propagates() -> None:
    m = moments(np.zeros(10))

    assert math.isnan(m.sr)
    assert math.isnan(m.kurtosis)
    assert math.isnan(psr(m.sr, m.t, m.skew, m.kurtosis))


@pytest.mark.parametrize("bad", [np.array([0.1]), np.array([0.1, np.nan]), np.zeros((3, 2))])
def test_moments_bad_input_names_returns(bad: np.ndarray) -> None:
    with pytest.raises(FxError, match="returns"):
        moments(bad)


def test_psr_inconsistent_moments_raise() -> None:
    with pytest.raises(FxError, match="not excess"):
        psr(1.0, 100, 3.0, 0.0)


def test_min_trl_not_above_benchmark_is_infinite() -> None:
    assert min_trl(0.5, 0.0, 3.0, 0.5) == math.inf
