"""`fx optimize robustness` on screen, and its two PNGs: the equity fan chart and the histogram of
final returns with the trial's own marked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from fxcli.optimize.stats.montecarlo import PERCENTILES, Distribution
from fxcli.outfile import output_file


def _pct(value: Any) -> str:
    # Returns of small stakes on a large balance are tiny: significant digits, not fixed decimals.
    return "-" if value is None else f"{value * 100:+.3g}%"


def _p(metric: Mapping[str, Any]) -> str:
    if metric.get("p_value") is None:
        return "n/a (the method cannot change it)"
    se = metric.get("p_value_se")
    return f"{metric['p_value']:.4f}" + ("" if se is None else f" ± {se:.4f}")


def robustness_summary(document: Mapping[str, Any]) -> list[Any]:
    """The Monte Carlo table (one row per metric), then the baseline and the files."""
    how = "exact enumeration" if document["exact"] else f"{document['scenarios']} seeded draws"
    block = f", block {document['block_size']}" if "block_size" in document else ""
    table = Table(
        title=f"{document['study']} trial {document['trial']}: {document['trades']} trades, "
        f"{document['method']}{block} ({how})"
    )
    table.add_column("metric")
    table.add_column("original", justify="right")
    for q in PERCENTILES:
        table.add_column(f"p{q}", justify="right")
    table.add_column("90 %", justify="right")
    table.add_column("95 %", justify="right")
    table.add_column("p-value")
    for key in ("final_return", "max_drawdown"):
        m = document[key]
        table.add_row(
            key,
            _pct(m["original"]),
            *(_pct(m["percentiles"][str(q)]) for q in PERCENTILES),
            " .. ".join(_pct(v) for v in m["interval_90"]),
            " .. ".join(_pct(v) for v in m["interval_95"]),
            _p(m),
        )
    grid = Table.grid(padding=(0, 2))
    base = document["baseline"]
    grid.add_row(
        "random-entry baseline",
        f"{base['n']} runs; median return {_pct(base['percentiles']['50'])}, "
        f"5..95 % {_pct(base['percentiles']['5'])} .. {_pct(base['percentiles']['95'])}",
    )
    grid.add_row("better than chance?", f"the trial beats {base['beaten_share']:.1%} of them")
    for name, path in document["plots"].items():
        grid.add_row(name, path)
    return [table, grid]


def fan_chart(distribution: Distribution, start: float, path: Path, title: str) -> Path:
    """Equity percentiles (5-95, 25-75 bands and the median) after each trade."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = distribution.equity_percentiles / start - 1.0
    x = np.arange(bands.shape[1])
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.fill_between(x, bands[0], bands[4], color="#9ecae1", label="5-95 %")
    ax.fill_between(x, bands[1], bands[3], color="#4292c6", label="25-75 %")
    ax.plot(x, bands[2], color="#08306b", lw=1.2, label="median")
    ax.set_xlabel("trade")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, plt, path)


def histogram(distribution: Distribution, baseline: np.ndarray | None, path: Path, title: str) -> Path:
    """Final returns of the scenarios (and of the random-entry baselines), the trial's own marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    ax.hist(distribution.final_return.values, bins=50, alpha=0.7, label=distribution.method)
    if baseline is not None:
        ax.hist(baseline, bins=50, alpha=0.5, label="random entries")
    ax.axvline(distribution.final_return.original, color="#d62728", lw=1.5, label="trial")
    ax.set_xlabel("final return")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    with output_file(path) as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path
