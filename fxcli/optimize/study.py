"""One worker's loop on a shared Optuna study: recover the dead's trials, ask, check, evaluate, tell.

Every worker (a process of `--jobs N`, or the same command on another machine) runs `work` on the
same storage; trials are pulled one at a time, so no worker waits for another (no batch barrier).

* Ownership: each trial records `host`, `pid` and the process's start time in its user attributes.
  A journal file has no heartbeat (optimize.md §2.2), so at start `recover` fails the RUNNING trials
  whose owner is dead on this host (or that never got an owner within a minute), marks them
  `abandoned`, and re-enqueues their parameters: they are evaluated again, once.
* Hard constraints: an infeasible point is told PRUNED with `infeasible=True` without a replay and
  does not count towards `--trials`; after `MAX_INFEASIBLE` in a row the worker gives up.
* Grid: the process that creates the study enqueues every admissible point once (then sets the
  study attribute `grid_points`); every worker pops queued trials until none is left, so each point
  is evaluated once whatever the number of workers or machines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from fxcli.errors import FxError
from fxcli.optimize.event_returns import EVENT_RETURNS_ATTR
from fxcli.optimize.objective import MAXIMIZE, dominates
from fxcli.optimize.owner import owner_is_alive
from fxcli.optimize.returns import RETURNS_ATTR
from fxcli.optimize.sampler import ABANDONED

if TYPE_CHECKING:
    from optuna import Study, Trial
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

INFEASIBLE = "infeasible"
QUEUED = "queued"  # user attr of an enqueued trial: "grid" or "retry"
POINT = "point"  # user attr: the params as the trial ran them (stepped floats on their decimal grid)


def shown_params(trial: FrozenTrial) -> dict[str, Any]:
    """A trial's params as results show them: as it ran them when it ran, else as Optuna holds them."""
    point = trial.user_attrs.get(POINT)
    return dict(point) if isinstance(point, dict) else dict(trial.params)


RETRY_OF = "retry_of"
GRID_ATTR = "grid_points"
MAX_INFEASIBLE = 1000  # infeasible samples in a row before a worker gives up (a space almost empty)
OWNERLESS_GRACE_S = 60.0  # a RUNNING trial without an owner this long after its start is dead


@dataclass(frozen=True)
class Outcome:
    """What evaluating one trial gave."""

    values: list[float] | None  # None: failed or pruned
    metrics: dict[str, Any]
    trades: int
    pruned: bool = False
    reason: str = ""
    point: dict[str, Any] | None = None  # the params as the trial ran them (decimal steps), for results
    returns: dict[str, Any] | None = None  # per time bucket (fxcli.optimize.returns), for the report
    event_returns: dict[str, Any] | None = None  # per event (fxcli.optimize.event_returns), with --events


class Evaluate(Protocol):
    """Replays one parameter point; `report(step, value)` answers whether to prune now."""

    def __call__(self, params: Mapping[str, Any], report: Callable[[int, float], bool]) -> Outcome: ...


@dataclass(frozen=True)
class Budget:
    """When the study (all workers together) stops asking for new trials."""

    trials: int | None = None
    deadline: float | None = None  # time.monotonic() of --timeout
    early_stop: int | None = None


@dataclass
class Tally:
    """One worker's count of finished trials by state."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    infeasible: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0  # the worker's loop, from the first ask to the last tell
    replay_s: float = 0.0  # of which evaluating points (the rest is the optimiser and the storage)

    def add(self, other: Tally) -> None:
        """Add another worker's counts and times."""
        for name in ("complete", "pruned", "failed", "infeasible", "wall_s", "replay_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class TrialEvent:
    """A finished trial, as a worker tells the progress display."""

    number: int
    state: str
    values: list[float] | None
    feasible: bool = False  # complete and within the min-trades constraint


def counted(trial: FrozenTrial) -> bool:
    """Whether a finished trial counts towards `--trials` (infeasible and abandoned ones do not)."""
    from optuna.trial import TrialState

    if trial.state == TrialState.COMPLETE:
        return True
    if trial.state == TrialState.PRUNED:
        return not trial.user_attrs.get(INFEASIBLE)
    return trial.state == TrialState.FAIL and not trial.user_attrs.get(ABANDONED)


def feasible_complete(trial: FrozenTrial) -> bool:
    """A complete trial that meets the soft constraints (min trades)."""
    from optuna.trial import TrialState

    return trial.state == TrialState.COMPLETE and all(c <= 0 for c in (trial.constraints or {}).values())


def recover(study: Study, params: Sequence[str]) -> list[int]:
    """Fail the RUNNING trials whose owner is dead and re-enqueue their points; their numbers."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(RETRY_OF) for t in trials}
    now = datetime.now(UTC).replace(tzinfo=None)
    recovered = []
    for t in trials:
        if t.state != TrialState.RUNNING:
            continue
        if "pid" in t.user_attrs:
            if owner_is_alive(t.user_attrs):
                continue
        elif t.datetime_start and (now - t.datetime_start).total_seconds() < OWNERLESS_GRACE_S:
            continue  # just asked by a live worker, owner not written yet
        study._storage.set_trial_user_attr(t._trial_id, ABANDONED, True)
        if t.number not in retried and set(params) <= set(t.params):
            study.enqueue_trial(dict(t.params), user_attrs={QUEUED: "retry", RETRY_OF: t.number})
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        recovered.append(t.number)
    return recovered


def enqueue_grid(study: Study, points: Sequence[Mapping[str, Any]]) -> None:
    """Queue every grid point not yet in the study (once), then mark the grid as queued."""
    from optuna.trial import TrialState

    present = {
        _point_key(point_of(t))
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.WAITING or not t.user_attrs.get(ABANDONED)
    }
    for point in points:
        if _point_key(point) not in present:
            study.enqueue_trial(dict(point), user_attrs={QUEUED: "grid"})
    study.set_user_attr(GRID_ATTR, len(points))


def point_of(trial: FrozenTrial) -> dict[str, Any]:
    """A trial's parameters; a queued (WAITING) trial has them only as its fixed params."""
    return dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {}))


def wait_for_grid(study: Study, timeout_s: float = 120.0) -> bool:
    """Wait until the creating process has queued the grid; False if it never did."""
    deadline = time.monotonic() + timeout_s
    while GRID_ATTR not in study.user_attrs:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _point_key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def budget_left(study: Study, budget: Budget) -> bool:
    """Whether the study may start another trial (trials, time and stagnation budgets)."""
    from optuna.trial import TrialState

    if budget.deadline is not None and time.monotonic() >= budget.deadline:
        return False
    if budget.trials is None and budget.early_stop is None:
        return True
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.is_finished() and counted(t)]
    running = [t for t in trials if t.state == TrialState.RUNNING]
    if budget.trials is not None and len(finished) + len(running) >= budget.trials:
        return False
    return budget.early_stop is None or stagnant_for(study, finished) < budget.early_stop


def stagnant_for(study: Study, finished: list[FrozenTrial]) -> int:
    """Counted trials finished since the last one that improved on every earlier trial."""
    directions = ["maximize" if d.name == "MAXIMIZE" else "minimize" for d in study.directions]
    front: list[list[float]] = []
    since = 0
    for t in sorted(finished, key=lambda t: t.number):
        since += 1
        if feasible_complete(t) and not any(
            dominates(f, t.values, directions) or f == t.values for f in front
        ):
            front = [f for f in front if not dominates(t.values, f, directions)] + [list(t.values)]
            since = 0
    return since


def work(
    study: Study,
    *,
    distributions: dict[str, BaseDistribution],
    feasible: Callable[[Mapping[str, Any]], bool],
    evaluate: Evaluate,
    min_trades: int,
    budget: Budget,
    grid: bool,
    should_stop: Callable[[], bool],
    on_trial: Callable[[TrialEvent], None],
) -> Tally:
    """Ask, check, evaluate and tell trials until a budget, the grid or a stop request ends it."""
    from optuna.trial import TrialState

    tally = Tally()
    started = time.perf_counter()
    infeasible_run = 0
    while not should_stop() and budget_left(study, budget):
        tally.wall_s = time.perf_counter() - started
        if grid and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            break
        trial = study.ask(fixed_distributions=distributions)  # the sampler claims it first thing
        if grid and QUEUED not in trial.user_attrs:  # another worker took the last point first
            trial.set_user_attr(ABANDONED, True)
            study.tell(trial, state=TrialState.FAIL)
            break
        params = dict(trial.params)
        if not feasible(params):
            trial.set_user_attr(INFEASIBLE, True)
            study.tell(trial, state=TrialState.PRUNED)
            tally.infeasible += 1
            infeasible_run += 1
            if infeasible_run >= MAX_INFEASIBLE:
                raise FxError(
                    f"{MAX_INFEASIBLE} sampled points in a row break the [search] constraints: "
                    "the feasible part of the space is too small for this sampler (try --sampler grid)"
                )
            continue
        infeasible_run = 0
        event = _run_one(study, trial, params, evaluate, min_trades, tally)
        on_trial(event)
    tally.wall_s = time.perf_counter() - started
    return tally


def _run_one(
    study: Study,
    trial: Trial,
    params: dict[str, Any],
    evaluate: Evaluate,
    min_trades: int,
    tally: Tally,
) -> TrialEvent:
    """Evaluate one feasible trial and tell the study how it ended."""
    from optuna.trial import TrialState

    started = time.perf_counter()
    multi = len(study.directions) > 1

    def report(step: int, value: float) -> bool:
        if multi:
            return False  # Optuna prunes single-objective studies only
        trial.report(value, step)
        return trial.should_prune()

    try:
        outcome = evaluate(params, report)
    except FxError as exc:  # the point does not make a valid strategy
        outcome = Outcome(None, {}, 0, reason=str(exc))
    tally.replay_s += time.perf_counter() - started
    trial.set_user_attr("metrics", outcome.metrics)
    if outcome.point is not None:
        trial.set_user_attr(POINT, outcome.point)
    trial.set_user_attr("trades", outcome.trades)
    if outcome.returns is not None and not outcome.pruned:
        trial.set_user_attr(RETURNS_ATTR, outcome.returns)
    if outcome.event_returns is not None and not outcome.pruned:
        trial.set_user_attr(EVENT_RETURNS_ATTR, outcome.event_returns)
    trial.set_user_attr("duration_s", round(time.perf_counter() - started, 6))
    if outcome.pruned:
        study.tell(trial, state=TrialState.PRUNED)
        tally.pruned += 1
        return TrialEvent(trial.number, "PRUNED", None)
    if outcome.values is None:
        trial.set_user_attr("reason", outcome.reason or "an objective is undefined (NaN) for this point")
        study.tell(trial, state=TrialState.FAIL)
        tally.failed += 1
        return TrialEvent(trial.number, "FAIL", None)
    trial.set_constraint("min_trades", float(min_trades - outcome.trades))
    study.tell(trial, outcome.values)
    tally.complete += 1
    return TrialEvent(trial.number, "COMPLETE", outcome.values, outcome.trades >= min_trades)


def direction_names(study: Study) -> list[str]:
    """The study's directions as "maximize"/"minimize"."""
    return [MAXIMIZE if d.name == "MAXIMIZE" else "minimize" for d in study.directions]
