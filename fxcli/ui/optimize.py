"""What `fx optimize` shows: a live progress bar (trials/s, best so far) and tables of trials."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from fxcli.optimize.study import TrialEvent


class StudyProgress:
    """A transient rich progress line fed with finished trials."""

    def __init__(self, console: Console, total: int | None, directions: Sequence[str], *, show: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not show,
        )
        self._task = self._progress.add_task("trials", total=total, rate="", best="—")
        self._maximize = directions[0] == "maximize" if directions else True
        self._best: float | None = None
        self._started = time.monotonic()
        self.count = 0

    def __call__(self, event: TrialEvent) -> None:
        """Count a finished trial (infeasible points are not sent here)."""
        self.count += 1
        if event.values is not None and event.feasible:
            value = event.values[0]
            if self._best is None or (value > self._best if self._maximize else value < self._best):
                self._best = value
        rate = self.count / max(time.monotonic() - self._started, 1e-9)
        best = "—" if self._best is None else f"{self._best:.6g}"
        self._progress.update(self._task, advance=1, rate=f"{rate:.2f}/s", best=best)

    @contextmanager
    def shown(self) -> Iterator[StudyProgress]:
        """Display the bar while the block runs."""
        with self._progress:
            yield self


def _value(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def trials_table(title: str, objectives: Sequence[str], trials: Sequence[Mapping[str, Any]]) -> Table:
    """Trials as rows: number, objective values, trades, parameters."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    for name in objectives:
        table.add_column(name, justify="right")
    table.add_column("Trades", justify="right")
    params = sorted({k for t in trials for k in (t.get("params") or {})})
    for key in params:
        table.add_column(key, justify="right")
    for t in trials:
        values = t.get("values") or [None] * len(objectives)
        row = [str(t["number"]), *(_value(v) for v in values), _value(t.get("trades"))]
        row += [_value((t.get("params") or {}).get(k)) for k in params]
        table.add_row(*row)
    return table


def run_summary(document: Mapping[str, Any]) -> list[Any]:
    """The end of `fx optimize run`: counts, the pick, the Pareto front, the re-run check, files."""
    counts = document["trials"]
    head = Table.grid(padding=(0, 2))
    head.add_row("study", str(document["study"]))
    head.add_row("storage", str(document["storage"]))
    head.add_row(
        "trials",
        ", ".join(f"{k} {v}" for k, v in counts.items() if v or k in ("complete", "pruned", "failed")),
    )
    objectives = list(document["objectives"])
    out: list[Any] = [head]
    if document.get("pareto_front"):
        out.append(trials_table("Pareto front (pick first)", objectives, document["pareto_front"]))
    if document.get("best"):
        out.append(trials_table("Best trial", objectives, [document["best"]]))
    checks = Table.grid(padding=(0, 2))
    if document.get("rerun_matches") is not None:
        verdict = "matches" if document["rerun_matches"] else "DIFFERS"
        checks.add_row("fx backtest re-run", f"{verdict} ({document['rerun']['backtest_dir']})")
    for key in ("best_file", "results_dir"):
        if document.get(key):
            checks.add_row(key.replace("_", " "), str(document[key]))
    out.append(checks)
    if document.get("ledger"):
        out.append(ledger_lines(document["ledger"]))
    return out


def ledger_lines(ledger: Mapping[str, Any]) -> Table:
    """The strategy's trial ledger: all trials ever tried, the holdout and every unlock of it."""
    grid = Table.grid(padding=(0, 2))
    studies = ledger["studies"]
    grid.add_row("trials ever", f"{ledger['total_trials']} in {len(studies)} studies ({ledger['file']})")
    if ledger.get("holdout"):
        state = "locked" if ledger["locked"] else "UNLOCKED"
        grid.add_row("holdout", f"{ledger['holdout']} {state}")
    for entry in ledger.get("unlocked") or []:
        grid.add_row("unlocked", f"{entry['range']} at {entry['time']} by {entry['by']}@{entry['host']}")
    return grid


def studies_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """`fx optimize list`."""
    table = Table(title="Studies", title_justify="left")
    for column in ("study", "objectives", "complete", "pruned", "failed", "best", "started"):
        table.add_column(column)
    for r in rows:
        best = r.get("best") or {}
        table.add_row(
            str(r["study"]),
            ", ".join(r.get("objectives") or []),
            str(r["trials"]["complete"]),
            str(r["trials"]["pruned"]),
            str(r["trials"]["failed"]),
            ", ".join(_value(v) for v in best.get("values") or []) or "—",
            str(r.get("started") or ""),
        )
    return table
