"""`fx optimize robustness` on a study of the shipped sample: Monte Carlo, the baseline, bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.cli.optimize_helpers import optimize_args, strategy_file, trials
from tests.conftest import error_line, run_fx

# Random points (seeded): a signal threshold that trades and one that never does; a cooldown of 1 s is
# infeasible by the constraint (a PRUNED trial). momentum_scalper's velocity cascade needs 60 s of
# data (the sample is 2 min 15 s): this copy uses a momentum condition instead, so it trades.
SEARCH = """
[search]
"s1[0].value" = { choices = [0.00002, 1000.0] }
"cooldown_s" = { choices = [1, 5] }
constraint = ["cooldown_s > 1"]
"""
CASCADE = 'indicator = "velocity_cascade_10_60"\nop = "gt"\nvalue = 0.0'
STUDY = "rb"


@pytest.fixture(scope="module")
def study(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The study's results folder, its out folder, and its trials (numbers by what they did)."""
    folder = tmp_path_factory.mktemp("robustness")
    path = strategy_file(folder, SEARCH)
    path.write_text(path.read_text().replace(CASCADE, 'indicator = "momentum_10s"\nop = "gt"\nvalue = -1.0'))
    out = folder / "out"
    args = optimize_args(
        path, sample_store, out, "--trials", "4", "--sampler", "random", "--seed", "1", "--study", STUDY
    )
    result = run_fx(*args, "--no-plots", "--json")
    assert result.returncode == 0, result.stderr
    frame = trials(json.loads(result.stdout)["results_dir"])
    return {
        "out": out,
        "store": sample_store,
        "pruned": frame.filter(pl.col("state") != "COMPLETE")["number"][0],
        "idle": frame.filter((pl.col("state") == "COMPLETE") & (pl.col("trades") == 0))["number"][0],
    }


def _robustness(study: dict[str, Any], *options: str) -> Any:
    return run_fx(
        "optimize",
        "robustness",
        STUDY,
        "--out",
        str(study["out"]),
        "--data-dir",
        str(study["store"]),
        *options,
    )


def _document(study: dict[str, Any], *options: str) -> dict[str, Any]:
    result = _robustness(study, *options, "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def permuted(study: dict[str, Any]) -> dict[str, Any]:
    return _document(study, "--mc", "permute", "-n", "300", "--seed", "5")


def _pnls(document: dict[str, Any]) -> np.ndarray:
    """The re-run's trades (the backtest's trades.parquet), in exit order."""
    frame = pl.read_parquet(Path(document["backtest_dir"]) / "trades.parquet").sort(
        "exit_ts_ns", "entry_ts_ns"
    )
    return frame["pnl"].to_numpy()


def test_robustness_json_has_each_metric_the_baseline_and_the_pngs(permuted: dict[str, Any]) -> None:
    for key in ("final_return", "max_drawdown"):
        metric = permuted[key]
        assert set(metric["percentiles"]) == {"5", "25", "50", "75", "95"}
        assert len(metric["interval_90"]) == len(metric["interval_95"]) == 2
        assert "p_value" in metric
    assert (permuted["method"], permuted["n"], permuted["seed"]) == ("permute", 300, 5)
    assert isinstance(permuted["exact"], bool)
    base = permuted["baseline"]
    assert base["n"] == 300
    assert 0.0 <= base["beaten_share"] <= 1.0
    assert set(base["percentiles"]) == {"5", "25", "50", "75", "95"}
    for png in permuted["plots"].values():
        assert Path(png).read_bytes().startswith(b"\x89PNG")


def test_robustness_permutation_has_no_final_return_p_value_and_a_constant_distribution(
    permuted: dict[str, Any],
) -> None:
    final = permuted["final_return"]
    total = _pnls(permuted).sum() / permuted["start_equity"]

    assert final["p_value"] is None
    assert "cannot change" in final["note"]
    assert final["original"] == pytest.approx(total, abs=1e-12)
    for value in [*final["percentiles"].values(), *final["interval_90"], *final["interval_95"]]:
        assert value == pytest.approx(total, abs=1e-12)
    assert permuted["max_drawdown"]["p_value"] is not None


def test_robustness_exact_permutation_equals_a_hand_enumeration(permuted: dict[str, Any]) -> None:
    pnls = _pnls(permuted)
    start = permuted["start_equity"]
    assert 2 <= len(pnls) <= 8
    assert permuted["exact"]

    depths = []
    for order in itertools.permutations(pnls.tolist()):
        equity, peak, deepest = start, start, 0.0
        for pnl in order:
            equity += pnl
            peak = max(peak, equity)
            deepest = max(deepest, (peak - equity) / peak)
        depths.append(deepest)
    observed = permuted["max_drawdown"]["original"]

    assert permuted["scenarios"] == len(depths)
    for q, value in permuted["max_drawdown"]["percentiles"].items():
        assert value == pytest.approx(np.percentile(depths, int(q)), abs=1e-12)
    share = np.mean(np.array(depths) >= observed - 1e-12)
    assert permuted["max_drawdown"]["p_value"] == pytest.approx(share)


def test_robustness_bootstrap_tests_the_final_return_and_is_seeded(study: dict[str, Any]) -> None:
    first = _document(study, "--mc", "bootstrap", "-n", "400", "--seed", "9", "--no-plots")
    again = _document(study, "--mc", "bootstrap", "-n", "400", "--seed", "9", "--no-plots")
    other = _document(study, "--mc", "bootstrap", "-n", "400", "--seed", "10", "--no-plots")

    trades = first["trades"]
    assert first["exact"] == (trades**trades <= 100_000)  # n^n resamples, enumerated when few
    assert first["final_return"]["p_value"] is not None  # a resample can change the total
    assert "<= 0" in first["final_return"]["p_value_meaning"]
    assert first == again
    assert other["baseline"]["percentiles"] != first["baseline"]["percentiles"]


def test_robustness_block_bootstrap_uses_the_block_size(study: dict[str, Any]) -> None:
    document = _document(study, "--mc", "block", "--block-size", "2", "-n", "50", "--no-plots")

    assert (document["method"], document["block_size"]) == ("block", 2)


def test_robustness_trial_without_trades_is_exit_1(study: dict[str, Any]) -> None:
    result = _robustness(study, "--mc", "permute", "--trial", str(study["idle"]))

    assert "nothing to resample" in error_line(result, 1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--mc", "permute", "-n", "0"), "-n must be in [1, 100000], got 0"),
        (("--mc", "shuffle"), "--mc 'shuffle'"),
        (("--mc", "permute", "--block-size", "3"), "--block-size"),
        (("--mc", "permute", "--trial", "99"), "--trial 99"),
    ],
)
def test_robustness_bad_input_is_one_line_exit_2(
    study: dict[str, Any], options: tuple[str, ...], message: str
) -> None:
    assert message in error_line(_robustness(study, *options))


def test_robustness_unknown_study_or_incomplete_trial_is_exit_2(study: dict[str, Any]) -> None:
    unknown = run_fx("optimize", "robustness", "nope", "--mc", "permute", "--out", str(study["out"]))
    pruned = _robustness(study, "--mc", "permute", "--trial", str(study["pruned"]))

    assert "'nope'" in error_line(unknown)
    assert "did not complete" in error_line(pruned)
