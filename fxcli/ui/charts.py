"""Charts written as PNG (matplotlib, imported only when a chart is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fxcli.outfile import output_file

if TYPE_CHECKING:
    from fxcli.backtest.runner import RunResult


PIXEL_COLUMNS = 1500  # time buckets: more than the ~1,200 pixels across the saved figure


def plotted_rows(ts: np.ndarray, series: tuple[np.ndarray, ...], buckets: int = PIXEL_COLUMNS) -> np.ndarray:
    """The rows a line plot of `series` over times `ts` (never decreasing) needs to look the same:
    in each of `buckets` equal spans of time, the first and last row and each series' lowest and
    highest. A day of one-second equity points is ~86,000 rows, drawn as ~1,200 pixels: plotting
    every row costs a third of a second and shows nothing more."""
    import numpy as np

    n = len(ts)
    if n <= 4 * buckets * max(1, len(series)):
        return np.arange(n)
    span = max(int(ts[-1]) - int(ts[0]), 1)
    bucket = ((ts - ts[0]).astype(np.float64) * (buckets / span)).astype(np.int64)
    edge = np.flatnonzero(np.diff(bucket)) + 1
    keep = [np.zeros(1, dtype=np.int64), edge - 1, edge, np.array([n - 1])]
    for values in series:
        order = np.lexsort((np.nan_to_num(values, nan=np.inf), bucket))  # per bucket, lowest first
        ends = np.flatnonzero(np.diff(bucket[order])) + 1
        keep += [order[np.concatenate(([0], ends))], order[np.concatenate((ends - 1, [n - 1]))]]
    return np.unique(np.concatenate(keep))


def backtest_chart(result: RunResult, path: Path, title: str) -> Path:
    """Price with entries and exits, mark-to-market equity, and drawdown, stacked on one time axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = np.array([p.ts_ns for p in result.equity], dtype=np.int64)
    equity = np.array([p.equity for p in result.equity])
    price = np.array([p.price for p in result.equity])
    drawdown = (equity / np.maximum.accumulate(equity) - 1.0) * 100 if len(equity) else equity
    keep = plotted_rows(ts, (price, equity, drawdown))
    times = ts[keep].astype("datetime64[ns]")
    price, equity, drawdown = price[keep], equity[keep], drawdown[keep]
    fig, (ax_price, ax_equity, ax_dd) = plt.subplots(
        3, 1, sharex=True, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    ax_price.plot(times, price, lw=0.8, color="#444444", label="last trade")
    for t in result.trades:
        colour = "#1a9850" if t.pnl > 0 else "#d73027"
        entry_marker = "^" if t.side > 0 else "v"
        ax_price.scatter(
            [np.datetime64(t.entry_ts_ns, "ns")],
            [t.entry_price],
            marker=entry_marker,
            color="#2166ac",
            zorder=3,
        )
        ax_price.scatter(
            [np.datetime64(t.exit_ts_ns, "ns")], [t.exit_price], marker="x", color=colour, zorder=3
        )
    ax_price.set_title(title)
    ax_price.set_ylabel("price")
    ax_equity.plot(times, equity, lw=0.9, color="#2166ac")
    ax_equity.set_ylabel("equity")
    ax_dd.fill_between(times, drawdown, 0, color="#d73027", alpha=0.4, lw=0)
    ax_dd.set_ylabel("drawdown %")
    for ax in (ax_price, ax_equity, ax_dd):
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    try:
        with output_file(path) as handle:
            fig.savefig(handle, format="png", dpi=110)
    finally:
        plt.close(fig)
    return path
