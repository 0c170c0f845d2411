"""Monte Carlo on trades: exact fixtures F12 (permutation) and F13 (bootstrap), sampling, invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fxcli.errors import FxError
from fxcli.optimize.stats.montecarlo import bootstrap, permutation

TRADES = [3.0, -2.0, 1.0, -4.0, 5.0]


def test_permutation_f12_enumerates_all_120_orders() -> None:
    result = permutation(TRADES, 100.0, n=10, seed=1)

    dd = result.max_drawdown_quote
    values, counts = np.unique(dd.values.round(9), return_counts=True)
    assert result.exact
    assert result.scenarios == 120
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {4.0: 60, 5.0: 12, 6.0: 48}
    assert dd.original == 5.0
    assert result.max_drawdown.original == pytest.approx(5 / 103, abs=1e-9)
    assert dd.p_value == pytest.approx(0.5)
    assert float((dd.values > 5.0 + 1e-9).mean()) == pytest.approx(0.4)
    assert (dd.percentiles[5], dd.percentiles[50], dd.percentiles[95]) == pytest.approx((4.0, 4.5, 6.0))
    assert dd.p_value_se is None
    assert dd.mean_se is None


def test_permutation_leaves_total_return_invariant_so_no_p_value() -> None:
    result = permutation(TRADES, 100.0, n=10, seed=1)

    final = result.final_return
    np.testing.assert_allclose(final.values, 0.03, atol=1e-12)
    assert final.invariant
    assert final.p_value is None
    assert final.p_value_meaning is None


def test_bootstrap_f13_enumerates_all_3125_sequences() -> None:
    result = bootstrap(TRADES, 100.0, n=10, seed=1)

    final, dd = result.final_return, result.max_drawdown_quote
    assert result.exact
    assert result.scenarios == 5**5
    assert final.p_value == pytest.approx(1127 / 3125, abs=1e-12)
    assert final.mean * 100.0 == pytest.approx(3.0, abs=1e-9)
    assert float((dd.values >= 6.0 - 1e-9).mean()) == pytest.approx(0.38432, abs=1e-12)
    assert dd.mean == pytest.approx(5.00896, abs=1e-9)
    assert not final.invariant


def test_exact_only_up_to_the_limit_then_seeded_sampling() -> None:
    trades = [3.0, -2.0, 1.0, -4.0, 5.0, -1.0, 2.0, -3.0, 4.0]  # 9! = 362,880 orders

    exact = permutation(trades[:8], 100.0, n=500, seed=5)
    first = permutation(trades, 100.0, n=500, seed=5)
    again = permutation(trades, 100.0, n=500, seed=5)
    other = permutation(trades, 100.0, n=500, seed=6)

    assert exact.exact
    assert exact.scenarios == math.factorial(8)
    assert not first.exact
    assert first.scenarios == 500
    assert first.seed == 5
    np.testing.assert_array_equal(first.max_drawdown.values, again.max_drawdown.values)
    assert not np.array_equal(first.max_drawdown.values, other.max_drawdown.values)
    p = first.max_drawdown.p_value
    assert p is not None
    assert first.max_drawdown.p_value_se == pytest.approx(math.sqrt(p * (1 - p) / 500))
    assert first.max_drawdown.mean_se is not None
    assert first.max_drawdown.mean_se > 0


def test_exact_limit_is_a_parameter() -> None:
    assert not permutation(TRADES, 100.0, n=50, seed=1, exact_limit=119).exact
    assert permutation(TRADES, 100.0, n=50, seed=1, exact_limit=120).exact


def test_sampled_permutation_keeps_the_multiset_of_trades() -> None:
    trades = np.arange(-6.0, 7.0)

    result = permutation(trades, 1000.0, n=300, seed=2)

    np.testing.assert_allclose(result.final_return.values, trades.sum() / 1000.0, atol=1e-12)


def test_sampled_estimate_is_within_its_standard_error_of_the_exact_value() -> None:
    exact = bootstrap(TRADES, 100.0, n=1, seed=0)

    sampled = bootstrap(TRADES, 100.0, n=20_000, seed=9, exact_limit=10)

    p, se = sampled.final_return.p_value, sampled.final_return.p_value_se
    assert p is not None
    assert se is not None
    assert exact.final_return.p_value is not None
    assert abs(p - exact.final_return.p_value) < 4 * se


def test_block_bootstrap_draws_consecutive_runs_circularly() -> None:
    trades = [1.0, 10.0, 100.0, 1000.0]

    result = bootstrap(trades, 1e6, n=1, seed=0, block=2)

    totals = set((result.final_return.values * 1e6).round(6).tolist())
    runs = [11.0, 110.0, 1100.0, 1001.0]  # (1,10) (10,100) (100,1000) (1000,1) wrapped
    assert result.method == "block"
    assert result.exact
    assert result.scenarios == 16
    assert totals == {a + b for a in runs for b in runs}


def test_equity_percentiles_shape_and_start() -> None:
    result = bootstrap(TRADES, 100.0, n=1, seed=0)

    assert result.equity_percentiles.shape == (5, len(TRADES) + 1)
    np.testing.assert_allclose(result.equity_percentiles[:, 0], 100.0)


@pytest.mark.parametrize(
    ("pnls", "start", "n", "message"),
    [
        ([], 100.0, 10, "at least one closed trade"),
        ([1.0, math.nan], 100.0, 10, "NaN"),
        ([1.0], 0.0, 10, "> 0"),
    ],
)
def test_bad_trades_raise_one_message(pnls: list[float], start: float, n: int, message: str) -> None:
    with pytest.raises(FxError, match=message):
        permutation(pnls, start, n, seed=1)


def test_block_longer_than_trades_raises() -> None:
    with pytest.raises(FxError, match="block must be between 1 and the number of trades"):
        bootstrap(TRADES, 100.0, n=10, seed=1, block=6)
