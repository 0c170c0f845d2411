"""Walk-forward folds: no test row in its train window, the gap holds, rolling vs anchored, events;
the stitched curve chains the folds' test runs; parameter stability and profit shares."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fxcli.backtest.metrics import ClosedTrade, Ledger
from fxcli.errors import FxError
from fxcli.model.units import NS_PER_S, duration_str, parse_duration_ns
from fxcli.optimize.folds import Fold, Lengths, event_folds, walk
from fxcli.optimize.stitch import profit_shares, stability, stitch

M = 60 * NS_PER_S
H = 60 * M
T0 = 1_723_161_600 * NS_PER_S  # 2024-08-09T00:00:00Z


def _rows_inside(start: int, end: int, rows: np.ndarray) -> np.ndarray:
    return rows[(rows >= start) & (rows < end)]


def _check_walk_forward_invariants(folds: list[Fold], gap: int, span_end: int) -> None:
    """The guarantees every scheme keeps, checked on a row every second of the span."""
    rows = np.arange(T0, span_end, NS_PER_S, dtype=np.int64)
    for fold in folds:
        test_rows = _rows_inside(fold.test_start, fold.test_end, rows)
        train_rows = _rows_inside(fold.train_start, fold.train_end, rows)
        assert len(test_rows)
        assert len(train_rows)
        assert not np.intersect1d(test_rows, train_rows).size  # no test row in its train window
        assert test_rows.min() - train_rows.max() >= gap  # the gap holds (rows are 1 s apart)
        assert fold.test_start - fold.train_end == gap
        assert fold.test_end <= span_end
    for a, b in itertools.pairwise(folds):
        assert a.test_end <= b.test_start  # test windows never overlap


@pytest.mark.parametrize("anchored", [False, True])
@pytest.mark.parametrize(
    ("train", "test", "step", "gap"), [(6 * H, 2 * H, None, 5 * M), (3 * H, H, 90 * M, 0)]
)
def test_no_test_row_is_in_its_train_window_and_the_gap_holds(
    anchored: bool, train: int, test: int, step: int | None, gap: int
) -> None:
    span_end = T0 + 24 * H
    plan = walk(T0, span_end, Lengths(train, test, step, gap), anchored=anchored)

    assert len(plan.folds) >= 5
    _check_walk_forward_invariants(plan.folds, gap, span_end)


def test_rolling_slides_a_fixed_train_window_and_anchored_grows_from_the_start() -> None:
    lengths = Lengths(train=6 * H, test=2 * H, gap=5 * M)
    rolling = walk(T0, T0 + 24 * H, lengths, anchored=False).folds
    anchored = walk(T0, T0 + 24 * H, lengths, anchored=True).folds

    # The same test windows (step = test by default: they tile the span end to end) ...
    assert [(f.test_start, f.test_end) for f in rolling] == [(f.test_start, f.test_end) for f in anchored]
    assert all(b.test_start == a.test_end for a, b in itertools.pairwise(rolling))
    # ... but rolling trains on the last 6 h, anchored on everything since the start.
    assert all(f.train_end - f.train_start == 6 * H for f in rolling)
    assert [f.train_start for f in rolling] == [T0 + k * 2 * H for k in range(len(rolling))]
    assert all(f.train_start == T0 for f in anchored)
    assert [f.train_end - f.train_start for f in anchored] == [
        6 * H + k * 2 * H for k in range(len(anchored))
    ]
    # 6 h + 5 m + 2 h per fold, then 2 h more each: folds end at 8:05, 10:05, ... 22:05; 24:05 is past.
    assert len(rolling) == 8


def test_the_last_partial_test_window_is_dropped_and_said() -> None:
    plan = walk(T0, T0 + 11 * H, Lengths(train=6 * H, test=2 * H), anchored=False)

    assert [f.test_end - T0 for f in plan.folds] == [8 * H, 10 * H]  # 10 h to 12 h would be cut short
    assert len(plan.dropped) == 1
    assert "runs past the data's end" in plan.dropped[0]


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        (
            Lengths(train=6 * H, test=2 * H, step=H),
            "--step 1h is shorter than --test 2h: test windows would overlap",
        ),
        (Lengths(train=0, test=2 * H), "--train 0s: must be longer than 0"),
        (Lengths(train=H, test=0), "--test 0s: must be longer than 0"),
        (Lengths(train=20 * H, test=4 * H, gap=M), "--train 20h + --gap 1m + --test 4h = 1d1m does not fit"),
    ],
)
def test_windows_that_cannot_work_are_refused(lengths: Lengths, message: str) -> None:
    with pytest.raises(FxError, match=message.replace("+", r"\+")):
        walk(T0, T0 + 24 * H, lengths, anchored=False)


def test_anchored_event_folds_test_around_each_event_and_train_only_on_data_before_it() -> None:
    events = [T0 + 10 * H, T0 + 3 * H, T0 + 16 * H, T0 + 30 * M]  # the last one has no train data
    plan = event_folds(T0, T0 + 24 * H, events, Lengths(train=2 * H, test=H, gap=5 * M), "anchored")

    assert [f.event for f in plan.folds] == [T0 + 3 * H, T0 + 10 * H, T0 + 16 * H]
    assert [(f.test_start, f.test_end) for f in plan.folds] == [
        (t - 30 * M, t + 30 * M) for t in events[1::-1] + events[2:3]
    ]
    assert all(f.train_start == T0 for f in plan.folds)
    _check_walk_forward_invariants(plan.folds, 5 * M, T0 + 24 * H)
    assert len(plan.dropped) == 1
    assert "of data before it" in plan.dropped[0]


def test_leave_one_out_folds_train_on_everything_but_the_test_window_and_its_gaps() -> None:
    events = [T0 + 10 * H, T0 + 3 * H, T0 + 16 * H, T0 + 20 * M]  # the last one's window starts before T0
    span = (T0, T0 + 24 * H)
    plan = event_folds(*span, events, Lengths(train=20 * H, test=H, gap=5 * M))

    assert plan.scheme == "leave-one-out"
    assert [f.event for f in plan.folds] == [T0 + 3 * H, T0 + 10 * H, T0 + 16 * H]
    for fold in plan.folds:
        assert (fold.train_start, fold.train_end) == span  # the other events, before and after
        assert fold.hole == (fold.test_start - 5 * M, fold.test_end + 5 * M)
        assert fold.train_ns == 24 * H - H - 10 * M
        # No test row is a train row, and the gap holds on both sides: every train time is outside
        # [test start - gap, test end + gap).
        train_rows = [t for t in range(*span, M) if not fold.hole[0] <= t < fold.hole[1]]
        assert all(t < fold.test_start - 5 * M or t >= fold.test_end + 5 * M for t in train_rows)
        assert min(train_rows) < fold.test_start < fold.test_end < max(train_rows)
    for a, b in itertools.pairwise(plan.folds):
        assert a.test_end <= b.test_start
    assert len(plan.dropped) == 1
    assert "not inside the data" in plan.dropped[0]


def test_leave_one_out_needs_train_of_data_outside_the_hole() -> None:
    with pytest.raises(FxError, match=r"only 22h50m of data outside its test window and gaps"):
        event_folds(T0, T0 + 24 * H, [T0 + 12 * H], Lengths(train=23 * H, test=H, gap=5 * M))


def test_event_folds_scheme_is_checked() -> None:
    with pytest.raises(FxError, match="--event-folds 'rolling': not one of leave-one-out, anchored"):
        event_folds(T0, T0 + 24 * H, [T0 + 12 * H], Lengths(train=H, test=H), "rolling")


def test_event_folds_whose_test_windows_overlap_are_refused() -> None:
    with pytest.raises(FxError, match="their test windows would overlap"):
        event_folds(T0, T0 + 24 * H, [T0 + 5 * H, T0 + 5 * H + 20 * M], Lengths(train=H, test=H))


@pytest.mark.parametrize(
    ("text", "ns"), [("6h", 6 * H), ("90m", 90 * M), ("2d", 48 * H), ("1h30m", 90 * M), ("45", 45 * NS_PER_S)]
)
def test_durations_in_any_unit(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns
    assert parse_duration_ns(duration_str(ns)) == ns


@pytest.mark.parametrize("text", ["", "h", "6x", "-5m", "5m3", "1e3s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ns(text)


def _ledger(start: int, equity: list[float], trades: list[ClosedTrade]) -> Ledger:
    ts = np.arange(start, start + len(equity) * NS_PER_S, NS_PER_S, dtype=np.int64)
    return Ledger(trades, 100.0, start, int(ts[-1]), ts, np.array(equity), np.full(len(equity), 50.0))


def test_stitched_curve_chains_the_folds_returns() -> None:
    win = ClosedTrade(T0, T0 + NS_PER_S, 1, 2.0, 50.0, 55.0, 0.5)  # +9.5
    first = _ledger(T0, [100.0, 105.0, 110.0], [win])
    second = _ledger(T0 + H, [100.0, 90.0, 95.0], [])
    third = _ledger(T0 + 2 * H, [100.0, 100.0, 120.0], [win])

    stitched = stitch([first, second, third])

    # Fold 2 goes on from 110 (x1.1), fold 3 from 110 * 0.95 = 104.5 (x1.045).
    expected = np.concatenate([first.equity, second.equity * 1.1, third.equity * 1.045])
    assert np.allclose(stitched.ledger.equity, expected)
    assert stitched.ledger.equity_ts_ns.tolist() == [
        *first.equity_ts_ns,
        *second.equity_ts_ns,
        *third.equity_ts_ns,
    ]
    assert stitched.fold_of_point.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.allclose(stitched.fold_profit, [10.0, -5.5, 104.5 * 0.2])
    assert [t.pnl for t in stitched.ledger.trades] == pytest.approx([9.5, 9.5 * 1.045])


def test_parameter_stability_and_profit_shares() -> None:
    folds = [{"a": 1.0, "b": "x", "c": 0}, {"a": 3.0, "b": "y", "c": 0}, {"a": 2.0, "b": "x", "c": 0}]

    out = stability(folds)

    assert out["a"] == pytest.approx({"mean": 2.0, "std": 1.0, "cv": 0.5})
    assert out["b"] == {"distinct": 2}
    assert out["c"]["cv"] is None  # a mean of 0 has no coefficient of variation
    shares = profit_shares([30.0, -10.0, 20.0, 0.0])
    assert shares["profitable_folds"] == 0.5
    assert shares["largest_fold_profit_share"] == pytest.approx(0.75)
    assert profit_shares([-1.0, 0.5])["largest_fold_profit_share"] is None
