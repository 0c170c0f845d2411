"""The progress line of `fx optimize run`: trials done, trials per second, the best so far."""

from __future__ import annotations

import io

from rich.console import Console

from fxcli.optimize.study import TrialEvent
from fxcli.ui.optimize import StudyProgress


def test_progress_shows_rate_and_best_feasible_value() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    progress = StudyProgress(console, 10, ["maximize"], show=True)

    with progress.shown():
        progress(TrialEvent(0, "COMPLETE", [1.5], feasible=True))
        progress(TrialEvent(1, "COMPLETE", [9.0], feasible=False))  # below --min-trades: never the best
        progress(TrialEvent(2, "FAIL", None))
        task = progress._progress.tasks[0]

    assert progress.count == 3
    assert task.completed == 3
    assert task.fields["best"] == "1.5"
    assert task.fields["rate"].endswith("/s")
