"""Per-event returns: equity change over each event's window, the event x trial matrix, the file."""

from __future__ import annotations

from pathlib import Path

import optuna
import polars as pl
import pytest

from fxcli.errors import FxError
from fxcli.optimize.event_returns import EVENT_RETURNS_ATTR, event_matrix, event_returns, write_event_returns
from tests.unit.optimize.test_returns import BASE, S, _result


def test_event_return_is_its_symbols_equity_change_over_the_window() -> None:
    a = _result("A", 1000.0, [(0, 1000.0), (10 * S, 1010.0), (20 * S, 1005.0), (40 * S, 1030.0)])
    b = _result("B", 3000.0, [(0, 3000.0), (15 * S, 2970.0), (40 * S, 2960.0)])
    events = [
        ("B", BASE + 16 * S),
        ("A", BASE + 12 * S),
        ("A", BASE + 35 * S),
        ("A", BASE + 2 * S),
        ("C", BASE),
    ]

    stored = event_returns({"A": a, "B": b}, events, 5 * S, 6 * S)

    assert stored is not None
    # A's event at 2 s starts before A's first point (0 s + 5 s before): dropped; C is not studied;
    # A at 35 s ends at 41 s, after A's last point at 40 s: dropped.
    assert stored["events"] == [["A", BASE + 12 * S], ["B", BASE + 16 * S]]
    # A over [7 s, 18 s): equity before 7 s = 1000, before 18 s = 1010. B over [11 s, 22 s): 3000 ->
    # 2970. Both over the combined balance of 4000.
    assert stored["values"] == pytest.approx([10 / 4000, -30 / 4000])
    assert (stored["before_ns"], stored["after_ns"]) == (5 * S, 6 * S)
    assert event_returns({"A": a}, [("A", BASE + 39 * S)], 5 * S, 6 * S) is None


def _study(rows: dict[int, dict[str, object] | None]) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for stored in rows.values():
        trial = study.ask()
        if stored is not None:
            trial.set_user_attr(EVENT_RETURNS_ATTR, stored)
        study.tell(trial, 0.0)
    return study


def _stored(values: list[float], events: list[list[object]] | None = None) -> dict[str, object]:
    events = events or [["A", BASE + 10 * S], ["B", BASE + 30 * S], ["A", BASE + 50 * S]]
    return {"before_ns": 2 * S, "after_ns": 3 * S, "events": events, "values": values}


def test_event_matrix_rows_are_events_columns_trials_and_the_file_is_long_form(tmp_path: Path) -> None:
    study = _study({0: _stored([0.1, 0.2, 0.3]), 1: _stored([-0.1, 0.0, 0.4])})

    matrix, events = event_matrix(study.get_trials())
    write_event_returns(matrix, events, tmp_path / "event_returns.parquet")

    assert matrix.trials == [0, 1]
    assert matrix.values.tolist() == [[0.1, -0.1], [0.2, 0.0], [0.3, 0.4]]
    assert matrix.starts_ns.tolist() == [BASE + 8 * S, BASE + 28 * S, BASE + 48 * S]
    assert matrix.bucket_ns == 5 * S
    frame = pl.read_parquet(tmp_path / "event_returns.parquet")
    assert frame.columns == [
        "trial",
        "symbol",
        "event_ns",
        "event",
        "window_start_ns",
        "window_end_ns",
        "return",
    ]
    assert frame.filter(pl.col("trial") == 1)["return"].to_list() == [-0.1, 0.0, 0.4]
    assert frame["symbol"].to_list()[:3] == ["A", "B", "A"]
    assert frame["event"][0] == "2023-11-14T22:13:30Z"  # BASE + 10 s, as returns.parquet writes times
    assert (frame["window_end_ns"] - frame["window_start_ns"]).unique().to_list() == [5 * S]


def test_event_matrix_without_event_returns_or_with_other_events_is_refused() -> None:
    with pytest.raises(FxError, match="no per-event returns: run it with --events FILE"):
        event_matrix(_study({0: None}).get_trials())
    other = _study({0: _stored([0.1, 0.2, 0.3]), 1: _stored([0.0], [["A", BASE]])})
    with pytest.raises(FxError, match="trial 1: its events differ"):
        event_matrix(other.get_trials())
