"""`fx optimize walk-forward` on screen: the stitched out-of-sample metrics first, then the folds,
the walk-forward checks, and the PNG of the stitched curve with the fold boundaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from fxcli.outfile import output_file

OOS_KEYS = (
    "Total profit %",
    "Absolute profit",
    "Trades",
    "Win Rate [%]",
    "Max % of account underwater",
    "Profit factor",
    "Sharpe Ratio",
    "Expectancy",
)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def walk_forward_summary(document: Mapping[str, Any], objective: str) -> list[Any]:
    """Tables in reading order: stitched OOS metrics, per-fold table, checks, stability, files."""
    oos = document["oos"]
    head = Table(title=f"Out-of-sample (stitched, {len(document['folds'])} folds, {document['scheme']})")
    head.add_column("metric")
    head.add_column("value", justify="right")
    for key in dict.fromkeys((objective.split(",")[0].strip(), *OOS_KEYS)):
        if key in oos:
            head.add_row(key, _num(oos[key]))
    folds = Table(title="Folds (train [from, to) searched; the pick run on test [from, to))")
    for column in (
        "fold",
        "train",
        "test",
        "params",
        f"train {objective}",
        f"test {objective}",
        "test profit",
    ):
        folds.add_column(column)
    for row in document["folds"]:
        folds.add_row(
            str(row["fold"]),
            " .. ".join(row["train"]),
            " .. ".join(row["test"]),
            ", ".join(f"{k}={_num(v)}" for k, v in row["params"].items()),
            _num(row["train_metrics"].get(objective)),
            _num(row["test_metrics"].get(objective)),
            _num(row.get("test_profit")),
        )
    checks = Table.grid(padding=(0, 2))
    checks.add_row("profitable folds", f"{document['profitable_folds']:.0%}")
    share = document["largest_fold_profit_share"]
    checks.add_row("largest fold's share of profit", "-" if share is None else f"{share:.0%}")
    wfe = document.get("wfe")
    if wfe:
        checks.add_row("WFE, stitched (secondary)", _num(wfe.get("stitched")))
        checks.add_row("WFE, mean of folds (secondary)", _num(wfe.get("mean")))
    for key, s in document["stability"].items():
        text = f"cv {_num(s['cv'])} (mean {_num(s['mean'])})" if "cv" in s else f"{s['distinct']} distinct"
        checks.add_row(f"stability {key}", text)
    for line in document["dropped"]:
        checks.add_row("note", line)
    checks.add_row("results", str(document["results_dir"]))
    return [head, folds, checks]


def stitched_chart(
    curves: Mapping[str, tuple[Any, Any]], boundaries_ns: Sequence[int], path: Path, title: str
) -> Path:
    """The stitched out-of-sample equity per symbol, a dashed line where each fold's test starts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from fxcli.ui.charts import plotted_rows

    fig, ax = plt.subplots(figsize=(11, 5))
    for symbol, (ts, equity) in curves.items():
        keep = plotted_rows(ts, (equity,))
        ax.plot(ts[keep].astype("datetime64[ns]"), equity[keep], lw=0.9, label=symbol)
    for k, start in enumerate(boundaries_ns):
        at = np.datetime64(int(start), "ns")
        ax.axvline(
            at,  # type: ignore[arg-type]  # matplotlib takes datetimes on a date axis
            color="#888888",
            lw=0.7,
            ls="--",
        )
        ax.annotate(f"fold {k}", (at, 1.0), xycoords=("data", "axes fraction"), fontsize=7, va="top")
    ax.set_title(title)
    ax.set_ylabel("equity (quote)")
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    with output_file(path) as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path
