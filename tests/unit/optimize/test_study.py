"""The study loop on a real journal file: reseeding makes resume deterministic, dead trials come back."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from fxcli.optimize.owner import owner
from fxcli.optimize.sampler import ABANDONED, reseeding
from fxcli.optimize.storage import StorageSpec, open_storage
from fxcli.optimize.study import (
    GRID_ATTR,
    Budget,
    Outcome,
    Tally,
    enqueue_grid,
    point_of,
    recover,
    work,
)

SPACE = {"x": FloatDistribution(-5.0, 5.0), "n": IntDistribution(1, 20)}


def _evaluate(params: Mapping[str, Any], report: Any) -> Outcome:
    value = -((params["x"] - 1.3) ** 2) - abs(params["n"] - 7) / 3
    return Outcome([value], {}, trades=5)


def _study(path: Path, sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    storage = open_storage(StorageSpec(None, path))
    return optuna.create_study(storage=storage, study_name="s", sampler=sampler, load_if_exists=True)


def _work(study: optuna.Study, trials: int | None, **changes: Any) -> Tally:
    """`work` on SPACE with `_evaluate`, every feasible point, `trials` trials; `changes` override."""
    arguments: dict[str, Any] = {
        "distributions": SPACE,
        "feasible": lambda p: True,
        "evaluate": _evaluate,
        "min_trades": 1,
        "budget": Budget(trials=trials),
        "grid": False,
        "should_stop": lambda: False,
        "on_trial": lambda e: None,
    }
    return work(study, **{**arguments, **changes})


def _dead_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    return int(process.stdout)


def _crash_one(study: optuna.Study) -> None:
    """A trial asked and owned by a process that then died (kill -9 inside the replay)."""
    trial = study.ask(fixed_distributions=SPACE)
    for key, value in {**owner(), "pid": _dead_pid()}.items():
        trial.set_user_attr(key, value)


def _complete(study: optuna.Study) -> list[dict[str, Any]]:
    return [t.params for t in study.get_trials(states=(TrialState.COMPLETE,))]


@pytest.mark.parametrize("crash_after", [3, 12])
def test_reseeding_resumed_study_proposes_what_an_uninterrupted_one_does(
    tmp_path: Path, crash_after: int
) -> None:
    whole = _study(tmp_path / "whole.journal", reseeding("tpe", 7))
    _work(whole, 16)
    first = _study(tmp_path / "cut.journal", reseeding("tpe", 7))
    _work(first, crash_after)
    _crash_one(first)

    resumed = _study(tmp_path / "cut.journal", reseeding("tpe", 7))  # a new process: fresh samplers
    recover(resumed, list(SPACE))
    _work(resumed, 16)

    assert _complete(resumed) == _complete(whole)


def test_plain_seeded_sampler_resumed_differs(tmp_path: Path) -> None:
    whole = _study(tmp_path / "whole.journal", optuna.samplers.TPESampler(seed=7))
    _work(whole, 16)
    first = _study(tmp_path / "cut.journal", optuna.samplers.TPESampler(seed=7))
    _work(first, 12)

    resumed = _study(tmp_path / "cut.journal", optuna.samplers.TPESampler(seed=7))
    _work(resumed, 16)

    assert _complete(resumed) != _complete(whole)  # why the wrapper exists (optimize.md §2.10)


def test_recover_fails_dead_owners_trials_once_and_leaves_live_ones(tmp_path: Path) -> None:
    study = _study(tmp_path / "s.journal", reseeding("random", 1))
    _crash_one(study)
    live = study.ask(fixed_distributions=SPACE)
    for key, value in owner().items():
        live.set_user_attr(key, value)

    recovered = recover(study, list(SPACE))
    again = recover(study, list(SPACE))

    trials = study.get_trials()
    assert recovered == [0]
    assert again == []
    assert trials[0].state == TrialState.FAIL
    assert trials[0].user_attrs[ABANDONED] is True
    assert trials[1].state == TrialState.RUNNING  # this process is alive
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert [point_of(t) for t in waiting] == [trials[0].params]  # re-enqueued exactly once


def test_infeasible_points_are_pruned_without_evaluation_and_not_counted(tmp_path: Path) -> None:
    study = _study(tmp_path / "s.journal", reseeding("random", 3))
    seen: list[float] = []

    def evaluate(params: Mapping[str, Any], report: Any) -> Outcome:
        seen.append(params["x"])
        return _evaluate(params, report)

    tally = _work(study, 6, feasible=lambda p: p["x"] > 0, evaluate=evaluate)

    assert tally.complete == 6
    assert tally.infeasible > 0
    assert all(x > 0 for x in seen)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert all(t.params["x"] <= 0 and t.user_attrs["infeasible"] for t in pruned)


def test_grid_queue_is_filled_once_and_each_point_evaluated_once(tmp_path: Path) -> None:
    study = _study(tmp_path / "s.journal", reseeding("grid", 1))
    grid = [{"x": float(x), "n": n} for x in range(3) for n in (1, 2)]

    enqueue_grid(study, grid)
    enqueue_grid(study, grid)  # a second process taking over after a crash adds nothing
    tally = _work(study, None, grid=True)

    assert tally.complete == len(grid)
    assert sorted((p["x"], p["n"]) for p in _complete(study)) == sorted((p["x"], p["n"]) for p in grid)
    assert study.user_attrs[GRID_ATTR] == len(grid)


def test_median_pruner_stops_trials_worse_than_the_median_at_a_stage(tmp_path: Path) -> None:
    storage = open_storage(StorageSpec(None, tmp_path / "s.journal"))
    study = optuna.create_study(
        storage=storage,
        study_name="p",
        sampler=reseeding("random", 4),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
    )
    stages_run: list[int] = []

    def evaluate(params: Mapping[str, Any], report: Any) -> Outcome:
        for step in range(3):  # the objective after each quarter of the window
            stages_run.append(step)
            if report(step, params["x"] * (step + 1)):
                return Outcome(None, {}, 0, pruned=True)
        return Outcome([params["x"] * 4], {}, trades=2)

    tally = _work(study, 12, evaluate=evaluate)

    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert tally.pruned == len(pruned) > 0
    assert len(stages_run) < 12 * 3  # pruned trials skipped the rest of their window
    assert not any(t.user_attrs.get("infeasible") for t in pruned)
