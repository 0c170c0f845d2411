"""`fx optimize report` on screen (the figures, then the verdict) and its two PNGs: the histogram of
CSCV's logits and the in-sample winner's IS Sharpe ratio against its out-of-sample rank and SR."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from fxcli.outfile import output_file
from fxcli.ui.optimize import ledger_lines

if TYPE_CHECKING:
    from fxcli.optimize.stats.pbo import PBOResult


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def report_summary(document: Mapping[str, Any]) -> list[Any]:
    """The figures table and the verdict lines."""
    table = Table(title=f"{document['study']}: is the winner real?")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_column("what it is")
    t = document["trials"]
    table.add_row(
        "trials",
        str(document["trials_counted"]),
        f"tried ({document['trials_counted_by']}); complete {t['complete']}",
    )
    by_events = document.get("by") == "events"
    row = "event" if by_events else "bucket"
    table.add_row(
        f"{row}s",
        str(document["buckets"]),
        f"{'windows ' if by_events else ''}of {_num(document['bucket_s'])} s; "
        f"trials in the matrix {document['trials_in_matrix']}",
    )
    table.add_row("best trial", _num(document["best_trial"]), "the study's pick")
    sr = document["sharpe"] or {}
    table.add_row(f"Sharpe per {row}", _num(sr.get("value")), "mean / std (ddof 1), not annualised")
    table.add_row("PSR(0)", _num(document["psr"]), "P(true SR > 0), this trial alone")
    dsr = document["dsr"] or {}
    table.add_row(
        "DSR", _num(dsr.get("value")), f"PSR against E\\[max SR] of N = {_num(dsr.get('n_trials'))} trials"
    )
    table.add_row(
        "V[SR] of trials",
        _num(dsr.get("sr_variance")),
        f"ddof {_num(dsr.get('sr_variance_ddof'))}, over {_num(dsr.get('sr_variance_trials'))} trials",
    )
    table.add_row(
        "skew / kurtosis / T",
        f"{_num(sr.get('skew'))} / {_num(sr.get('kurtosis'))} / {_num(sr.get('t'))}",
        "kurtosis not excess (Normal 3)",
    )
    trl = document["min_trl"] or {}
    hours = "" if by_events else f" ({_num(trl.get('hours'))} h)"
    table.add_row("MinTRL", _num(trl.get("buckets")), f"{row}s for PSR >= 0.95{hours}")
    btl = document["min_btl"] or {}
    table.add_row(
        "MinBTL",
        _num(btl.get("years")),
        f"years for N trials not to reach annual SR {_num(btl.get('target_annual_sr'))}",
    )
    p = document["pbo"] or {}
    table.add_row(
        "PBO", _num(p.get("value")), f"CSCV, {_num(p.get('splits'))} splits of {_num(p.get('blocks'))} blocks"
    )
    table.add_row("P(OOS loss)", _num(p.get("p_oos_loss")), "share of splits where the IS winner loses OOS")
    slope = (p.get("degradation") or {}).get("slope")
    table.add_row("degradation slope", _num(slope), "OOS SR on IS SR of the winners")
    verdict = Table.grid(padding=(0, 1))
    for line in document["verdict"]:
        verdict.add_row("-", line)
    files = Table.grid(padding=(0, 1))
    files.add_row("returns", _num(document["returns_file"]))
    for plot in document.get("plots", []):
        files.add_row("plot", plot)
    ledger = [ledger_lines(document["ledger"])] if document.get("ledger") else []
    return [table, verdict, *ledger, files]


def report_plots(result: PBOResult, folder: Path, title: str) -> list[str]:
    """pbo_logits.png and pbo_is_oos.png in `folder`; their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    logits = result.logits[np.isfinite(result.logits)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(logits, bins=40, color="#4575b4")
    ax.axvline(
        0.0, color="#d73027", lw=1.2, label=f"logit 0: PBO {result.value:.3f} is the mass at or left of it"
    )
    ax.set_xlabel("logit of the IS winner's relative OOS rank")
    ax.set_ylabel("splits")
    ax.set_title(f"{title}: CSCV logits ({result.splits} splits)")
    ax.legend(loc="upper left", fontsize=8)
    written.append(_save(fig, folder / "pbo_logits.png"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    is_sr, oos_sr = result.is_oos[:, 0], result.is_oos[:, 1]
    left.scatter(is_sr, result.oos_rank, s=4, alpha=0.3, color="#4575b4")
    left.axhline(0.5, color="#d73027", lw=1.0)
    left.set_xlabel("IS Sharpe ratio of the IS winner")
    left.set_ylabel("its OOS relative rank (1 = best)")
    left.set_title("in-sample vs out-of-sample rank")
    right.scatter(is_sr, oos_sr, s=4, alpha=0.3, color="#4575b4")
    if np.isfinite(result.slope):
        xs = np.array([np.min(is_sr), np.max(is_sr)])
        right.plot(
            xs,
            result.slope * xs + result.intercept,
            color="#d73027",
            lw=1.2,
            label=f"slope {result.slope:.3f}",
        )
        right.legend(loc="upper left", fontsize=8)
    right.set_xlabel("IS Sharpe ratio")
    right.set_ylabel("OOS Sharpe ratio")
    right.set_title("performance degradation")
    fig.suptitle(title)
    written.append(_save(fig, folder / "pbo_is_oos.png"))
    return written


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    with output_file(path) as handle:
        fig.savefig(handle, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return str(path)
