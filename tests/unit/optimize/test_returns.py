"""The return matrix: bucket returns from equity curves (several symbols), the grid, returns.parquet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import optuna
import polars as pl
import pytest

from fxcli.backtest.runner import EquityPoint, RunResult
from fxcli.errors import FxError
from fxcli.optimize.returns import RETURNS_ATTR, bucket_returns, returns_matrix, write_returns

S = 1_000_000_000
BASE = 1_700_000_000 * S  # a multiple of 10 s: bucket edges at BASE + 10 s * k


def _result(symbol: str, balance: float, points: list[tuple[int, float]]) -> RunResult:
    result = RunResult(symbol=symbol, start_balance=balance, events=len(points))
    result.equity = [EquityPoint(BASE + ts, balance, equity, 1.0) for ts, equity in points]
    result.first_ts_ns, result.last_ts_ns = BASE + points[0][0], BASE + points[-1][0]
    return result


def test_bucket_returns_sum_symbol_pnl_over_the_combined_balance() -> None:
    a = _result("A", 1000.0, [(3 * S, 1000.0), (12 * S, 1010.0), (19 * S, 1005.0), (31 * S, 1020.0)])
    b = _result("B", 3000.0, [(5 * S, 3000.0), (25 * S, 2990.0)])
    stored = bucket_returns({"A": a, "B": b}, 10 * S)
    assert stored is not None
    assert stored["start_ns"] == BASE
    assert stored["bucket_ns"] == 10 * S
    # Buckets [0,10) [10,20) [20,30) [30,40) s; equity at each end: A 1000 1005 1005 1020, B 3000
    # 3000 2990 2990. P&L per bucket: 0, +5, -10, +15 over 4000.
    assert stored["values"] == pytest.approx([0.0, 5 / 4000, -10 / 4000, 15 / 4000], abs=1e-15)
    assert sum(stored["values"]) == pytest.approx((1020 - 1000 + 2990 - 3000) / 4000)


def test_a_point_on_a_bucket_edge_belongs_to_the_next_bucket() -> None:
    a = _result("A", 100.0, [(0, 100.0), (10 * S, 110.0), (15 * S, 120.0)])
    stored = bucket_returns({"A": a}, 10 * S)
    assert stored is not None
    assert stored["values"] == pytest.approx([0.0, 0.2])


def test_the_grid_is_aligned_to_the_epoch() -> None:
    a = _result("A", 100.0, [(7 * S, 100.0), (13 * S, 101.0)])
    stored = bucket_returns({"A": a}, 10 * S)
    assert stored is not None
    assert stored["start_ns"] == BASE
    assert len(stored["values"]) == 2
    assert bucket_returns({}, 10 * S) is None
    with pytest.raises(FxError, match="--bucket"):
        bucket_returns({"A": a}, 0)


def _study(
    rows: Mapping[int, Mapping[str, object] | None], states: dict[int, str] | None = None
) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for number, stored in rows.items():
        trial = study.ask()
        assert trial.number == number
        if stored is not None:
            trial.set_user_attr(RETURNS_ATTR, stored)
        state = (states or {}).get(number, "COMPLETE")
        if state == "COMPLETE":
            study.tell(trial, 0.0)
        else:
            study.tell(trial, state=optuna.trial.TrialState[state])
    return study


def test_matrix_aligns_trials_on_one_grid_and_fills_uncovered_buckets_with_zero() -> None:
    b = 10 * S
    study = _study(
        {
            0: {"start_ns": BASE, "bucket_ns": b, "values": [0.1, 0.2, 0.3]},
            1: {"start_ns": BASE + b, "bucket_ns": b, "values": [0.5, 0.6, 0.7]},
            2: {"start_ns": BASE, "bucket_ns": b, "values": [9.0]},
        },
        {2: "PRUNED"},
    )
    matrix = returns_matrix(study.get_trials())
    assert matrix.trials == [0, 1]  # the pruned trial stopped early: not in the matrix
    assert matrix.starts_ns.tolist() == [BASE + k * b for k in range(4)]
    assert matrix.values.tolist() == [[0.1, 0.0], [0.2, 0.5], [0.3, 0.6], [0.0, 0.7]]


def test_matrix_refuses_trials_without_returns_or_with_other_buckets() -> None:
    with pytest.raises(FxError, match="trial 1 has no stored returns"):
        returns_matrix(_study({0: {"start_ns": BASE, "bucket_ns": S, "values": [0.0]}, 1: None}).get_trials())
    other = {
        0: {"start_ns": BASE, "bucket_ns": S, "values": [0.0]},
        1: {"start_ns": BASE, "bucket_ns": 2 * S, "values": [0.0]},
    }
    with pytest.raises(FxError, match="trial 1: bucket"):
        returns_matrix(_study(other).get_trials())


def test_returns_parquet_is_long_form_with_iso_bucket_starts(tmp_path: Path) -> None:
    b = 3600 * S
    start = 1_723_161_600 * S  # 2024-08-09T00:00:00Z
    study = _study(
        {
            0: {"start_ns": start, "bucket_ns": b, "values": [0.01, -0.02]},
            1: {"start_ns": start, "bucket_ns": b, "values": [0.03, 0.04]},
        }
    )
    write_returns(returns_matrix(study.get_trials()), tmp_path / "returns.parquet")
    frame = pl.read_parquet(tmp_path / "returns.parquet")
    assert frame.columns == ["trial", "bucket_start_ns", "bucket_start", "return"]
    assert frame.rows() == [
        (0, start, "2024-08-09T00:00:00Z", 0.01),
        (0, start + b, "2024-08-09T01:00:00Z", -0.02),
        (1, start, "2024-08-09T00:00:00Z", 0.03),
        (1, start + b, "2024-08-09T01:00:00Z", 0.04),
    ]
    wide = frame.pivot(on="trial", index="bucket_start_ns", values="return").drop("bucket_start_ns")
    assert np.allclose(wide.to_numpy(), [[0.01, 0.03], [-0.02, 0.04]])
