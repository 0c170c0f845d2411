"""`fx optimize walk-forward` on the shipped sample: folds, the stitched curve, results, bad input."""

from __future__ import annotations

import itertools
import json
import pickle
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from fxcli.model.units import parse_time_ns
from tests.cli.optimize_helpers import optimize_args, strategy_file
from tests.conftest import REPO, error_line, run_fx

# The sample is 2 min 15 s; momentum_scalper's velocity cascade needs 60 s of data before it can
# signal, more than a test window here: this copy uses a second momentum condition instead, so test
# runs can trade.
SEARCH = """
[search]
"s1[0].value" = { choices = [0.00002, 0.0005] }
"exits.tp_pct" = { low = 0.02, high = 0.1, step = 0.04 }
"cooldown_s" = { choices = [5, 20] }
"""
CASCADE = 'indicator = "velocity_cascade_10_60"\nop = "gt"\nvalue = 0.0'


def _strategy(folder: Path) -> Path:
    path = strategy_file(folder, SEARCH)
    text = path.read_text()
    assert CASCADE in text
    path.write_text(text.replace(CASCADE, 'indicator = "momentum_10s"\nop = "gt"\nvalue = -1.0'))
    return path


def _args(strategy: Path, store: Path, out: Path, options: str) -> list[str]:
    """`fx optimize walk-forward` on the sample store: `fx optimize run`'s arguments, another command."""
    args = optimize_args(strategy, store, out, "--trials", "3", "--seed", "1", "--sampler", "random")
    args[1] = "walk-forward"
    return [*args, "--min-trades", "0", *shlex.split(options)]


def _walk_forward(strategy: Path, store: Path, out: Path, options: str) -> dict[str, Any]:
    result = run_fx(*_args(strategy, store, out, options), "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def rolling(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("wf")
    options = "--train 30s --test 20s --gap 2s --bucket 5s"
    return _walk_forward(_strategy(folder), sample_store, folder / "out", options)


def _ns(iso: str) -> int:
    return parse_time_ns(iso.removesuffix("Z"))


def _span_of_run(summary_file: Path) -> tuple[int, int]:
    """First and last event time a backtest replayed (its summary.json)."""
    symbol = json.loads(summary_file.read_text())["symbols"]["BTCUSDT"]
    return _ns(symbol["from"]), _ns(symbol["to"])


def test_each_fold_searches_its_train_window_and_tests_after_the_gap(rolling: dict[str, Any]) -> None:
    folds = rolling["folds"]
    assert len(folds) == 5  # 30 s + 2 s + 20 s, then 20 s more each, in 135 s: the 6th is dropped
    assert len(rolling["dropped"]) == 1
    for fold in folds:
        (train_from, train_to), (test_from, test_to) = [[_ns(t) for t in fold[k]] for k in ("train", "test")]
        assert train_to - train_from == 30_000_000_000
        assert test_to - test_from == 20_000_000_000
        assert test_from - train_to == 2_000_000_000
        # What the runs really replayed: the pick's re-run on the train window, the test backtest.
        study = json.loads((Path(rolling["results_dir"]).parent / fold["study"] / "summary.json").read_text())
        train_first, train_last = _span_of_run(Path(study["rerun"]["backtest_dir"]) / "summary.json")
        test_first, test_last = _span_of_run(Path(fold["test_dir"]) / "summary.json")
        assert train_from <= train_first <= train_last < train_to
        # The test run replays its warm-up lead (test_no_trade_opens_in_the_warm_up_lead) first.
        assert _ns(fold["lead"][0]) <= test_first <= test_last < test_to
        assert test_from - train_last >= 2_000_000_000  # no test row in the train window, nor the gap
        assert set(fold["params"]) == {"s1[0].value", "exits.tp_pct", "cooldown_s"}
        assert "Total profit %" in fold["train_metrics"]
        assert "Total profit %" in fold["test_metrics"]
    for a, b in itertools.pairwise(folds):
        assert _ns(a["test"][1]) <= _ns(b["test"][0])


def test_bucket_reaches_every_fold_study(rolling: dict[str, Any]) -> None:
    assert rolling["bucket"] == "5s"
    for fold in rolling["folds"]:
        study = Path(rolling["results_dir"]).parent / fold["study"]
        starts = pl.read_parquet(study / "returns.parquet")["bucket_start_ns"].unique().sort().to_numpy()
        # 30 s of train window on a 5 s grid: 6 or 7 buckets (hourly buckets would give 1)
        assert len(starts) >= 6
        assert set(np.diff(starts).tolist()) == {5_000_000_000}


def test_no_trade_opens_in_the_warm_up_lead(rolling: dict[str, Any]) -> None:
    assert rolling["warmup"] == "auto"
    for fold in rolling["folds"]:
        lead_from, lead_to = (_ns(t) for t in fold["lead"])
        test_from = _ns(fold["test"][0])
        # auto: the pick's longest indicator warm-up (momentum_10s, rush_orders_10s: 10 s; the
        # 60 s velocity cascade is replaced in this copy)
        assert lead_to == test_from
        assert lead_from == test_from - 10_000_000_000
        first, _ = _span_of_run(Path(fold["test_dir"]) / "summary.json")
        assert first < test_from  # the lead was replayed
        trades = pl.read_parquet(Path(fold["test_dir"]) / "trades.parquet")
        assert fold["test_metrics"]["Trades"] == trades.height
        if trades.height:  # a run without trades writes a file without columns
            assert (trades["entry_ts_ns"] >= test_from).all()


def test_trade_from_keeps_the_strategy_out_of_the_lead(sample_store: Path, tmp_path: Path) -> None:
    from fxcli.tasks.backtest import Options, backtest

    def entries(trade_from: str | None) -> list[int]:
        report = backtest(
            str(_strategy(tmp_path)),
            ["BTCUSDT"],
            exchange=None,
            data_dir=sample_store,
            variants_dir=REPO / "variants",
            strategies_dir=tmp_path,
            out_dir=tmp_path / "bt",
            options=Options(trade_from=trade_from),
        )
        return [t.entry_ts_ns for t in report.runs[0].result.trades]

    free = entries(None)
    start = _ns("2024-08-08T23:55:30Z")
    held = entries(str(start))

    assert min(free) < start  # the strategy does trade before that time when allowed to
    assert held
    assert min(held) >= start


def test_the_stitched_curve_is_the_folds_test_runs_chained(rolling: dict[str, Any]) -> None:
    folder = Path(rolling["results_dir"])
    stitched = pl.read_parquet(folder / "oos_equity.parquet")
    balance, level, parts = 10_000.0, 10_000.0, []
    for fold in rolling["folds"]:
        equity = pl.read_parquet(Path(fold["test_dir"]) / "equity.parquet")
        equity = equity.filter(pl.col("ts_ns") >= _ns(fold["test"][0]))  # the lead is not stitched
        parts.append(equity.with_columns(pl.col("equity") * (level / balance)))
        level = float(parts[-1]["equity"][-1])
    expected = pl.concat(parts)
    assert len(expected) < sum(  # the runs replayed their warm-up leads; those points are not stitched
        len(pl.read_parquet(Path(f["test_dir"]) / "equity.parquet")) for f in rolling["folds"]
    )
    assert stitched["ts_ns"].to_list() == expected["ts_ns"].to_list()
    assert np.allclose(stitched["equity"].to_numpy(), expected["equity"].to_numpy(), rtol=1e-12)
    traded = [f for f in rolling["folds"] if f["test_metrics"]["Trades"]]
    assert traded  # the check is not vacuous: some test runs trade
    assert rolling["oos"]["Trades"] == sum(f["test_metrics"]["Trades"] for f in rolling["folds"])
    final = float(stitched["equity"][-1])
    assert rolling["total_profit"] == pytest.approx(final - balance)
    assert (folder / "stitched.png").stat().st_size > 10_000
    frame = pl.read_parquet(folder / "folds.parquet")
    assert frame["fold"].to_list() == list(range(5))
    assert {"params.cooldown_s", "train.Total profit %", "test.Total profit %"} <= set(frame.columns)


def test_anchored_trains_from_the_start_and_rolling_slides(
    rolling: dict[str, Any], sample_store: Path, tmp_path: Path
) -> None:
    anchored = _walk_forward(
        _strategy(tmp_path), sample_store, tmp_path / "out", "--train 30s --test 20s --gap 2s --anchored"
    )

    assert [f["test"] for f in anchored["folds"]] == [f["test"] for f in rolling["folds"]]
    assert {f["train"][0] for f in anchored["folds"]} == {rolling["folds"][0]["train"][0]}
    assert len({f["train"][0] for f in rolling["folds"]}) == len(rolling["folds"])
    assert anchored["scheme"] == "anchored"
    assert rolling["scheme"] == "rolling"


def _events_file(folder: Path) -> Path:
    events = folder / "events.csv"
    events.write_text(
        "symbol,time\nBTCUSDT,2024-08-08T23:55:20Z\nBTCUSDT,2024-08-08T23:56:00Z\nETHUSDT,2024-08-08T23:55:40Z\n"
    )
    return events


def _event_walk_forward(store: Path, folder: Path, options: str) -> dict[str, Any]:
    """A walk-forward over the two BTCUSDT events of `_events_file`, 20 s test windows centred on them."""
    given = f"--train 30s --test 20s --events {_events_file(folder)} {options}"
    doc = _walk_forward(_strategy(folder), store, folder / "out", given)
    assert [f["test"] for f in doc["folds"]] == [
        ["2024-08-08T23:55:10.000Z", "2024-08-08T23:55:30.000Z"],
        ["2024-08-08T23:55:50.000Z", "2024-08-08T23:56:10.000Z"],
    ]
    return doc


def test_anchored_event_folds_centre_the_test_window_on_each_event(
    sample_store: Path, tmp_path: Path
) -> None:
    doc = _event_walk_forward(sample_store, tmp_path, "--event-folds anchored")

    assert doc["scheme"] == "events"
    assert all(f["train"] == [doc["folds"][0]["train"][0], f["test"][0]] for f in doc["folds"])


def _rows_a_study_read(study_dir: Path) -> np.ndarray:
    """The times of every row the study's trials replayed (its prepared data folder)."""
    folder = study_dir / "data" / "BTCUSDT"
    if (folder / "ts_ns.npy").is_file():
        return np.asarray(np.load(folder / "ts_ns.npy"))
    with (folder / "events.pkl").open("rb") as handle:
        return np.array([e.exchange_ts_ns for e in pickle.load(handle)], dtype=np.int64)


def test_leave_one_out_folds_never_train_on_their_test_window(sample_store: Path, tmp_path: Path) -> None:
    doc = _event_walk_forward(sample_store, tmp_path, "--gap 2s")

    assert doc["scheme"] == "leave-one-out"
    for fold in doc["folds"]:
        test_from, test_to = (_ns(t) for t in fold["test"])
        gap = 2_000_000_000
        assert [_ns(t) for t in fold["train_excluded"]] == [test_from - gap, test_to + gap]
        study_dir = Path(doc["results_dir"]).parent / fold["study"]
        rows = _rows_a_study_read(study_dir)
        # No row of the test window, nor of the gaps around it, reached a trial; the rows on both
        # sides did (the other event's window among them).
        assert not ((rows >= test_from - gap) & (rows < test_to + gap)).any()
        assert (rows < test_from - gap).any()
        assert (rows >= test_to + gap).any()
        other = next(f for f in doc["folds"] if f is not fold)
        assert ((rows >= _ns(other["test"][0])) & (rows < _ns(other["test"][1]))).any()
        summary = json.loads((study_dir / "summary.json").read_text())
        assert "hole" in summary["rerun"]["skipped"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "--train 30s --test 20s --step 10s",
            "--step 10s is shorter than --test 20s: test windows would overlap",
        ),
        ("--train 2m --test 1m", "--train 2m + --gap 0s + --test 1m = 3m does not fit in the data"),
        ("--train 30x --test 20s", "--train not a duration: '30x'"),
        ("--train 30s --test 0s", "--test 0s: must be longer than 0"),
        (
            "--train 30s --test 20s --anchored --events e.csv",
            "--anchored and --events: for anchored event folds give --event-folds anchored",
        ),
        (
            "--train 30s --test 20s --event-folds rolling",
            "--event-folds 'rolling': not one of leave-one-out, anchored",
        ),
    ],
)
def test_bad_walk_forward_input_is_one_line(
    sample_store: Path, tmp_path: Path, options: str, message: str
) -> None:
    result = run_fx(*_args(_strategy(tmp_path), sample_store, tmp_path / "out", options))

    assert message in error_line(result)


def test_walk_forward_efficiency_both_ways_from_the_folds(rolling: dict[str, Any]) -> None:
    folds = rolling["folds"]
    train = [f["train_metrics"]["Total profit %"] / 100 / 30 for f in folds]  # return per second
    test = [f["test_metrics"]["Total profit %"] / 100 / 20 for f in folds]
    per_fold = [o / i if i > 0 else None for i, o in zip(train, test, strict=True)]
    defined = [x for x in per_fold if x is not None]
    mean_train = sum(train) / len(train)

    assert rolling["wfe"]["per_fold"] == pytest.approx(per_fold)
    assert rolling["wfe"]["mean"] == (pytest.approx(sum(defined) / len(defined)) if defined else None)
    stitched = sum(test) * 20 / (20 * len(test)) / mean_train if mean_train > 0 else None
    assert rolling["wfe"]["stitched"] == (pytest.approx(stitched) if stitched is not None else None)
