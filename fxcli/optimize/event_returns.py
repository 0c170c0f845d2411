"""Per-event returns: each trial's return over a window around every event (a pump's onset).

A study run with `--events FILE` (the `symbol,time` CSV `fx backtest --events` and walk-forward read)
stores, beside its returns per time bucket, one return per event: over [event - before, event +
after] (`--event-before`, `--event-after`), the change of that symbol's marked-to-market equity
(the last equity point before each end, as for buckets) over the symbols' combined start balance.
Only events of the study's symbols whose whole window lies inside the study's data (from the
symbol's first to its last event) count, so every trial has the same events, in time order (then
symbol). Windows may overlap; a window with no trade returns 0.

`fx optimize report --by events` computes PSR, DSR and PBO over this matrix (event x trial)
instead of the buckets': one observation per pump, which is what a pump strategy is judged on.
Stored as the trial attr `event_returns` and written as event_returns.parquet (EVENT_COLUMNS).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fxcli.errors import FxError
from fxcli.optimize.returns import Returns, equity_before
from fxcli.outfile import write_output

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from fxcli.backtest.runner import RunResult

# The default window: the run-up a pump's onset time may lag, and the pump and its dump after it.
DEFAULT_EVENT_BEFORE_NS = 5 * 60 * 1_000_000_000
DEFAULT_EVENT_AFTER_NS = 30 * 60 * 1_000_000_000
EVENT_RETURNS_ATTR = "event_returns"  # trial user attr: {"before_ns", "after_ns", "events", "values"}
EVENT_COLUMNS = ("trial", "symbol", "event_ns", "event", "window_start_ns", "window_end_ns", "return")


def event_returns(
    results: Mapping[str, RunResult], events: Iterable[tuple[str, int]], before_ns: int, after_ns: int
) -> dict[str, Any] | None:
    """A trial's return per event (module docstring), as its user attr; None without any event."""
    balance = sum(r.start_balance for r in results.values())
    kept: list[tuple[str, int]] = []
    values: list[float] = []
    for symbol, onset in sorted(set(events), key=lambda e: (e[1], e[0])):
        run = results.get(symbol)
        if run is None or not (run.equity or run.events):
            continue
        lo, hi = onset - before_ns, onset + after_ns
        if lo < run.first_ts_ns or hi > run.last_ts_ns:
            continue
        start, end = equity_before(run, np.array([lo, hi], dtype=np.int64))
        kept.append((symbol, onset))
        values.append(float(end - start) / balance)
    if not kept:
        return None
    return {
        "before_ns": int(before_ns),
        "after_ns": int(after_ns),
        "events": [[symbol, int(onset)] for symbol, onset in kept],
        "values": values,
    }


def event_matrix(trials: Iterable[FrozenTrial]) -> tuple[Returns, list[tuple[str, int]]]:
    """The complete trials' event returns (rows: events in time order; columns: trials in number
    order) as a `Returns` whose row starts are the windows' starts, and the events; FxError when no
    trial has them (the study was run without --events) or two trials saw other events."""
    numbers: list[int] = []
    columns: list[list[float]] = []
    events: list[list[Any]] | None = None
    window = 0
    before = 0
    for t in sorted(trials, key=lambda t: t.number):
        if t.state.name != "COMPLETE":
            continue
        stored = t.user_attrs.get(EVENT_RETURNS_ATTR)
        if not isinstance(stored, dict):
            continue
        if events is None:
            events, before = stored["events"], int(stored["before_ns"])
            window = before + int(stored["after_ns"])
        elif stored["events"] != events:
            raise FxError(f"trial {t.number}: its events differ from the other trials' (another window?)")
        numbers.append(t.number)
        columns.append(list(stored["values"]))
    if events is None:
        raise FxError("the study has no per-event returns: run it with --events FILE")
    onsets = [(str(symbol), int(onset)) for symbol, onset in events]
    starts = np.array([onset - before for _, onset in onsets], dtype=np.int64)
    values = np.array(columns, dtype=np.float64).T.reshape(len(onsets), len(numbers))
    return Returns(numbers, starts, values, window), onsets


def write_event_returns(matrix: Returns, events: list[tuple[str, int]], path: Path) -> None:
    """event_returns.parquet, long form: one row per (trial, event) with EVENT_COLUMNS (event: the
    onset as ISO-8601 UTC text), rows by trial then event; written atomically."""
    import polars as pl

    n_events, n_trials = matrix.values.shape
    onsets = np.array([onset for _, onset in events], dtype=np.int64)
    frame = pl.DataFrame(
        {
            "trial": np.repeat(np.asarray(matrix.trials, dtype=np.int64), n_events),
            "symbol": [symbol for _ in range(n_trials) for symbol, _ in events],
            "event_ns": np.tile(onsets, n_trials),
            "window_start_ns": np.tile(matrix.starts_ns, n_trials),
            "window_end_ns": np.tile(matrix.starts_ns + matrix.bucket_ns, n_trials),
            "return": matrix.values.T.ravel(),
        },
        schema_overrides={"symbol": pl.String},
    ).with_columns(
        pl.col("event_ns").cast(pl.Datetime("ns", "UTC")).dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ").alias("event")
    )
    buffer = io.BytesIO()
    frame.select(EVENT_COLUMNS).write_parquet(buffer)
    write_output(path, buffer.getvalue())
