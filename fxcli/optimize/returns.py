"""A study's return matrix: each evaluated trial's returns per time bucket (trial x bucket).

Every statistic of `fx optimize report` (PSR, DSR, PBO) is computed from this matrix alone, and it
is stored with the trial (user attr `returns`, so every storage holds it: journal, SQLite,
PostgreSQL) and written as returns.parquet, so anyone can recompute them without re-running a trial.

Buckets: [start + k*bucket, start + (k+1)*bucket) on a grid aligned to the Unix epoch (hourly
buckets start on UTC hours), from the bucket holding the window's first event to the one holding its
last. The default bucket is one hour: a day-long window gives 24 buckets, enough for CSCV's 16
blocks; a shorter window needs `--bucket` (e.g. 5s on the 2-minute shipped sample).

Return of bucket k: the change of the marked-to-market equity (RunResult.equity: cash plus the open
position at the last price) from the end of bucket k-1 to the end of bucket k, summed over the
symbols, divided by the symbols' combined start balance. The equity at a bucket's end is the last
equity point before it (the start balance before the first). These are simple, not compounded,
returns: they add up to the trial's marked-to-market profit over the combined start balance.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fxcli.errors import FxError
from fxcli.outfile import write_output

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from fxcli.backtest.runner import RunResult

RETURNS_ATTR = "returns"  # trial user attr: {"start_ns", "bucket_ns", "values"}
DEFAULT_BUCKET_NS = 3_600_000_000_000  # one hour
COLUMNS = ("trial", "bucket_start_ns", "bucket_start", "return")


def bucket_returns(results: Mapping[str, RunResult], bucket_ns: int) -> dict[str, Any] | None:
    """A trial's returns per bucket (module docstring), as its user attr; None without any event."""
    if bucket_ns <= 0:
        raise FxError(f"--bucket must be positive, got {bucket_ns} ns")
    spans = [(r.first_ts_ns, r.last_ts_ns) for r in results.values() if r.equity or r.events]
    if not spans:
        return None
    start = min(lo for lo, _ in spans) // bucket_ns * bucket_ns
    n = (max(hi for _, hi in spans) - start) // bucket_ns + 1
    edges = start + bucket_ns * np.arange(1, n + 1, dtype=np.int64)
    pnl = np.zeros(n)
    balance = 0.0
    for r in results.values():
        balance += r.start_balance
        pnl += np.diff(equity_before(r, edges), prepend=r.start_balance)
    values = pnl / balance
    return {
        "start_ns": int(start),
        "bucket_ns": int(bucket_ns),
        "values": [float(v) if np.isfinite(v) else None for v in values],
    }


def equity_before(result: RunResult, times: np.ndarray) -> np.ndarray:
    """The run's equity at each of `times`: its last equity point strictly before it (the start
    balance before the first)."""
    points = result.equity
    ts = np.fromiter((p.ts_ns for p in points), dtype=np.int64, count=len(points))
    equity = np.fromiter((p.equity for p in points), dtype=np.float64, count=len(points))
    last = np.searchsorted(ts, times, side="left") - 1
    return np.where(last >= 0, equity[np.maximum(last, 0)], result.start_balance)


@dataclass(frozen=True)
class Returns:
    """The matrix: `values[k, j]` is trial `trials[j]`'s return in the bucket starting `starts_ns[k]`."""

    trials: list[int]
    starts_ns: np.ndarray
    values: np.ndarray
    bucket_ns: int

    def column(self, trial: int) -> np.ndarray:
        """One trial's returns over every bucket."""
        return np.asarray(self.values[:, self.trials.index(trial)])


def returns_matrix(trials: Iterable[FrozenTrial]) -> Returns:
    """The complete trials' stored returns on one grid (trial number order).

    A trial whose window started or ended in another bucket (another clock) has return 0 in the
    buckets it did not cover: its equity did not move there. Pruned trials stop early and are left
    out, like failed ones; a complete trial without stored returns (a study run by an fx before
    returns were stored) is an error naming it.
    """
    rows: list[tuple[int, int, list[float | None]]] = []
    bucket: int | None = None
    for t in sorted(trials, key=lambda t: t.number):
        if t.state.name != "COMPLETE":
            continue
        stored = t.user_attrs.get(RETURNS_ATTR)
        if not isinstance(stored, dict):
            raise FxError(
                f"trial {t.number} has no stored returns (the study predates them): run a new study"
            )
        if bucket is None:
            bucket = int(stored["bucket_ns"])
        elif int(stored["bucket_ns"]) != bucket:
            raise FxError(f"trial {t.number}: bucket {stored['bucket_ns']} ns, other trials {bucket} ns")
        rows.append((t.number, int(stored["start_ns"]), list(stored["values"])))
    if bucket is None:
        return Returns([], np.zeros(0, dtype=np.int64), np.zeros((0, 0)), DEFAULT_BUCKET_NS)
    first = min(start for _, start, _ in rows)
    n = max((start - first) // bucket + len(values) for _, start, values in rows)
    matrix = np.zeros((n, len(rows)))
    for j, (number, start, values) in enumerate(rows):
        if any(v is None for v in values):
            raise FxError(f"trial {number}: its returns contain a non-finite value")
        offset = (start - first) // bucket
        matrix[offset : offset + len(values), j] = values
    starts = first + bucket * np.arange(n, dtype=np.int64)
    return Returns([number for number, _, _ in rows], starts, matrix, bucket)


def write_returns(returns: Returns, path: Path) -> None:
    """returns.parquet, long form: one row per (trial, bucket) with COLUMNS (bucket_start: ISO-8601
    UTC text of bucket_start_ns), rows by trial then time; written atomically."""
    import polars as pl

    n_buckets, n_trials = returns.values.shape
    frame = pl.DataFrame(
        {
            "trial": np.repeat(np.asarray(returns.trials, dtype=np.int64), n_buckets),
            "bucket_start_ns": np.tile(returns.starts_ns, n_trials),
            "return": returns.values.T.ravel(),
        }
    ).with_columns(
        pl.col("bucket_start_ns")
        .cast(pl.Datetime("ns", "UTC"))
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")
        .alias("bucket_start")
    )
    buffer = io.BytesIO()
    frame.select(COLUMNS).write_parquet(buffer)
    write_output(path, buffer.getvalue())
