"""`fx optimize report` on a study of the shipped sample: returns.parquet reloaded, PBO and DSR
recomputed by a plain reference here (loops over the splits, moments by hand), bad input."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.cli.optimize_helpers import optimize_args, strategy_file, trials
from tests.cli.test_walkforward import SEARCH, _strategy
from tests.conftest import error_line, run_fx

EULER = 0.5772156649015329


def _study(strategy: Path, store: Path, out: Path, *options: str) -> dict[str, Any]:
    args = optimize_args(strategy, store, out, "--sampler", "random", "--seed", "1", "--min-trades", "0")
    result = run_fx(*args, *options, "--no-plots", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _report(out: Path, study: str, *options: str) -> dict[str, Any]:
    result = run_fx("optimize", "report", study, "--out", str(out), "--json", *options)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def study(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """12 trials on the 2-minute sample with 4-second buckets: 35 buckets, enough for 16 blocks."""
    folder = tmp_path_factory.mktemp("report")
    out = folder / "out"
    return out, _study(
        _strategy(folder), sample_store, out, "--trials", "12", "--bucket", "4s", "--study", "s4"
    )


def _matrix(path: Path) -> tuple[list[int], np.ndarray]:
    frame = pl.read_parquet(path)
    numbers = sorted(set(frame["trial"].to_list()))
    columns = [
        frame.filter(pl.col("trial") == n).sort("bucket_start_ns")["return"].to_numpy() for n in numbers
    ]
    return numbers, np.column_stack(columns)


def _sr(values: list[float]) -> float:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    if var == 0.0:
        return 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return mean / math.sqrt(var)


def _key(v: float) -> float:
    """A Sharpe ratio as CSCV compares it (pbo.py's documented convention): rounded to 36 significant
    bits, so values equal but for float rounding tie (a trial with one non-zero return in a half has
    SR -1/sqrt(n) whatever that return is, and two such can differ in the last bit)."""
    if not math.isfinite(v):
        return v
    mantissa, exponent = math.frexp(v)
    return math.ldexp(round(mantissa * 2**36), exponent - 36)


def _reference_pbo(m: np.ndarray, blocks: int) -> tuple[float, float, int]:
    """Bailey et al.'s CSCV, split by split: PBO, P(OOS loss), number of splits; ties (`_key`) go to
    the lowest trial in sample and share their average rank out of sample."""
    rows = m[m.shape[0] % blocks :]
    size = rows.shape[0] // blocks
    parts = [rows[k * size : (k + 1) * size] for k in range(blocks)]
    trials = m.shape[1]
    overfit = losses = splits = 0
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        inside = np.vstack([parts[k] for k in chosen])
        outside = np.vstack([parts[k] for k in range(blocks) if k not in chosen])
        is_sr = [_sr(inside[:, j].tolist()) for j in range(trials)]
        oos_sr = [_sr(outside[:, j].tolist()) for j in range(trials)]
        is_key, oos_key = [_key(v) for v in is_sr], [_key(v) for v in oos_sr]
        best = is_key.index(max(is_key))
        below = sum(1 for v in oos_key if v < oos_key[best])
        equal = sum(1 for v in oos_key if v == oos_key[best])
        w = (below + (equal + 1) / 2) / (trials + 1)
        overfit += w <= 0.5
        losses += oos_sr[best] < 0
        splits += 1
    return overfit / splits, losses / splits, splits


def _reference_dsr(best: list[float], srs: list[float], n_trials: int) -> dict[str, float]:
    t = len(best)
    mean = sum(best) / t
    m2 = sum((v - mean) ** 2 for v in best) / t
    skew = sum((v - mean) ** 3 for v in best) / t / m2**1.5
    kurt = sum((v - mean) ** 4 for v in best) / t / m2**2
    sr = mean / math.sqrt(m2 * t / (t - 1))
    defined = [s for s in srs if not math.isnan(s)]
    mean_sr = sum(defined) / len(defined)
    variance = sum((s - mean_sr) ** 2 for s in defined) / (len(defined) - 1)
    z = NormalDist().inv_cdf
    e_max = (1 - EULER) * z(1 - 1 / n_trials) + EULER * z(1 - 1 / (n_trials * math.e))
    sr0 = math.sqrt(variance) * e_max
    spread = math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr)
    return {
        "sr": sr,
        "skew": skew,
        "kurtosis": kurt,
        "t": t,
        "sr_variance": variance,
        "psr": NormalDist().cdf(sr * math.sqrt(t - 1) / spread),
        "dsr": NormalDist().cdf((sr - sr0) * math.sqrt(t - 1) / spread),
    }


def _moments_sr(values: np.ndarray) -> float:
    return math.nan if float(np.var(values)) == 0.0 else _sr(values.tolist())


def test_report_matches_a_reference_on_the_stored_returns(study: tuple[Path, dict[str, Any]]) -> None:
    out, run = study
    document = _report(out, "s4")
    path = Path(document["returns_file"])
    assert path == Path(run["results_dir"]) / "returns.parquet"
    assert path.is_file()
    numbers, m = _matrix(path)
    table = trials(run["results_dir"])
    done = table.filter(pl.col("state") == "COMPLETE")
    assert numbers == done["number"].to_list()
    assert m.shape == (35, 12)
    assert document["buckets"] == 35
    # Each trial's bucket returns add up to its profit (Total profit % is of the start balance).
    assert np.allclose(m.sum(axis=0) * 100, done["metrics.Total profit %"].to_numpy(), rtol=1e-9, atol=1e-12)

    value, loss, splits = _reference_pbo(m, 16)
    assert document["pbo"]["splits"] == splits == 12_870
    assert document["pbo"]["blocks"] == 16
    assert document["pbo"]["value"] == pytest.approx(value, abs=1e-12)
    assert document["pbo"]["p_oos_loss"] == pytest.approx(loss, abs=1e-12)

    best = run["best"]["number"]
    assert document["best_trial"] == best
    ref = _reference_dsr(
        m[:, numbers.index(best)].tolist(), [_moments_sr(m[:, j]) for j in range(m.shape[1])], 12
    )
    assert document["trials_counted"] == 12
    assert document["sharpe"]["value"] == pytest.approx(ref["sr"], rel=1e-9)
    assert document["psr"] == pytest.approx(ref["psr"], rel=1e-9, abs=1e-12)
    dsr = document["dsr"]
    assert dsr["value"] == pytest.approx(ref["dsr"], rel=1e-9, abs=1e-12)
    assert dsr["n_trials"] == 12
    assert dsr["t"] == ref["t"] == 35
    assert dsr["sr_variance"] == pytest.approx(ref["sr_variance"], rel=1e-9)
    assert dsr["skew"] == pytest.approx(ref["skew"], rel=1e-9)
    assert dsr["kurtosis"] == pytest.approx(ref["kurtosis"], rel=1e-9)
    assert dsr["sr_variance_ddof"] == 1


def test_report_json_keys_verdict_and_plots(study: tuple[Path, dict[str, Any]]) -> None:
    out, _run = study
    document = _report(out, "s4")
    for key in ("trials_counted", "psr", "dsr", "pbo", "returns_file", "min_trl", "min_btl", "verdict"):
        assert key in document
    assert set(document["dsr"]) >= {"value", "n_trials", "sr_variance", "skew", "kurtosis", "t"}
    assert set(document["pbo"]) >= {"value", "splits", "blocks", "p_oos_loss", "degradation"}
    verdict = "\n".join(document["verdict"])
    assert "after 12 trials" in verdict
    assert "0.95" in verdict
    assert "PBO" in verdict
    assert "0.5" in verdict
    for plot in document["plots"]:
        assert Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {Path(p).name for p in document["plots"]} == {"pbo_logits.png", "pbo_is_oos.png"}
    text = run_fx("optimize", "report", "s4", "--out", str(out), "--no-plots")
    assert text.returncode == 0, text.stderr
    assert "DSR" in text.stdout
    assert "after 12 trials" in text.stdout
    assert "PBO" in text.stdout
    eight = _report(out, "s4", "--blocks", "8", "--no-plots")
    assert eight["pbo"]["splits"] == 70
    assert "plots" not in eight


def test_too_few_buckets_give_null_with_a_reason(sample_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _study(_strategy(tmp_path), sample_store, out, "--trials", "3", "--study", "hourly")
    document = _report(out, "hourly")
    assert document["buckets"] == 1
    assert document["bucket_s"] == 3600
    assert document["pbo"] is None
    assert document["dsr"] is None
    assert document["psr"] is None
    assert "1 time buckets cannot make 16 blocks" in document["reasons"]["pbo"]
    assert any(line.startswith("PBO: undefined (") for line in document["verdict"])
    assert any(line.startswith("DSR: undefined (") for line in document["verdict"])


def test_bad_input_is_one_line_exit_2(study: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = study
    message = error_line(run_fx("optimize", "report", "nope", "--out", str(out)))
    assert "study 'nope'" in message
    assert "s4" in message
    assert "--blocks" in error_line(run_fx("optimize", "report", "s4", "--out", str(out), "--blocks", "7"))
    assert "--bucket" in error_line(
        run_fx(*optimize_args(strategy_file(tmp_path, SEARCH), tmp_path, tmp_path / "o", "--bucket", "soon"))
    )


def test_n_is_every_trial_of_every_study_of_the_strategy(sample_store: Path, tmp_path: Path) -> None:
    # Re-running a search under another study name cannot hide trials: the DSR deflates for both.
    out, strategy = tmp_path / "out", _strategy(tmp_path)
    _study(strategy, sample_store, out, "--trials", "3", "--bucket", "4s", "--study", "first")
    _study(strategy, sample_store, out, "--trials", "4", "--bucket", "4s", "--study", "second")

    document = _report(out, "second")

    assert document["trials_in_study"] == 4
    assert document["trials_counted_by"] == "ledger"
    assert document["trials_counted"] == 7 == document["ledger"]["total_trials"]
    assert document["min_btl"]["n_trials"] == 7


def _equity_before(equity: pl.DataFrame, t: int, balance: float) -> float:
    """The last equity point strictly before t (the balance before the first)."""
    before = equity.filter(pl.col("ts_ns") < t)
    return float(before["equity"][-1]) if before.height else balance


def test_per_event_returns_and_a_report_over_them(sample_store: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    onsets = [f"2024-08-08T23:{54 + (20 + 5 * k) // 60}:{(20 + 5 * k) % 60:02d}Z" for k in range(26)]
    events.write_text(
        "symbol,time\n" + "".join(f"BTCUSDT,{t}\n" for t in onsets) + "ETHUSDT,2024-08-08T23:55:00Z\n"
    )
    out = tmp_path / "out"
    window = ("--events", str(events), "--event-before", "2s", "--event-after", "3s")
    run = _study(
        _strategy(tmp_path), sample_store, out, "--trials", "6", "--bucket", "4s", "--study", "ev", *window
    )

    frame = pl.read_parquet(run["event_returns_file"])
    numbers = sorted(set(frame["trial"].to_list()))
    m = np.column_stack(
        [frame.filter(pl.col("trial") == n).sort("event_ns")["return"].to_numpy() for n in numbers]
    )
    kept = frame.filter(pl.col("trial") == numbers[0])["event_ns"].to_list()
    assert 20 <= len(kept) <= 26  # the events whose [t - 2 s, t + 3 s] is inside the data
    # The pick's return per event, recomputed from its re-run's equity curve.
    best = run["best"]["number"]
    equity = pl.read_parquet(Path(run["rerun"]["backtest_dir"]) / "equity.parquet").sort("ts_ns")
    expected = [
        (_equity_before(equity, t + 3 * 10**9, 10_000.0) - _equity_before(equity, t - 2 * 10**9, 10_000.0))
        / 10_000
        for t in kept
    ]
    assert m[:, numbers.index(best)] == pytest.approx(expected, abs=1e-12)
    assert np.any(m != 0.0)  # some windows saw trades

    document = _report(out, "ev", "--by", "events", "--blocks", "4", "--no-plots")

    assert document["by"] == "events"
    assert document["returns_file"] == run["event_returns_file"]
    assert document["buckets"] == len(kept)
    value, loss, splits = _reference_pbo(m, 4)
    assert document["pbo"]["splits"] == splits == 6
    assert document["pbo"]["value"] == pytest.approx(value, abs=1e-12)
    assert document["pbo"]["p_oos_loss"] == pytest.approx(loss, abs=1e-12)
    ref = _reference_dsr(
        m[:, numbers.index(best)].tolist(), [_moments_sr(m[:, j]) for j in range(m.shape[1])], 6
    )
    assert document["dsr"]["t"] == len(kept)
    assert document["psr"] == pytest.approx(ref["psr"], rel=1e-9, abs=1e-12)
    assert document["dsr"]["value"] == pytest.approx(ref["dsr"], rel=1e-9, abs=1e-12)
    assert _report(out, "ev", "--no-plots")["by"] == "buckets"  # the default is unchanged
    refused = run_fx("optimize", "report", "ev", "--out", str(out), "--by", "pumps")
    assert "--by 'pumps': not one of buckets, events" in error_line(refused)


def test_report_by_events_of_a_study_without_events_is_one_line(study: tuple[Path, dict[str, Any]]) -> None:
    out, _ = study
    result = run_fx("optimize", "report", "s4", "--out", str(out), "--by", "events")
    assert "the study has no per-event returns: run it with --events FILE" in error_line(result)
