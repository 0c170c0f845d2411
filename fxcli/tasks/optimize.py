"""`fx optimize run`: a resumable Optuna study over a strategy file's [search] space.

The parent resolves the strategy, the space and the data (read once into a folder every worker
memory-maps), creates or loads the study (its name hashes everything that changes results, so the
same command resumes it), fails the trials a killed process left RUNNING, then runs the workers:
in-process for `--jobs 1`, else N spawned processes pulling trials from the shared storage. At the
end it writes the results folder and re-runs the pick as a plain `fx backtest`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli import __version__
from fxcli.errors import FxError
from fxcli.optimize.event_returns import DEFAULT_EVENT_AFTER_NS, DEFAULT_EVENT_BEFORE_NS, event_returns
from fxcli.optimize.objective import Objectives, flat_metrics, parse_objectives, trades_of
from fxcli.optimize.results import CONFIG_ATTR, config_of
from fxcli.optimize.returns import DEFAULT_BUCKET_NS, bucket_returns
from fxcli.optimize.sampler import check_sampler, reseeding
from fxcli.optimize.space import load_space
from fxcli.optimize.storage import StorageSpec, check_workers, open_storage, storage_spec
from fxcli.optimize.study import (
    Budget,
    Outcome,
    Tally,
    TrialEvent,
    enqueue_grid,
    recover,
    wait_for_grid,
    work,
)
from fxcli.optimize.trials import TrialData
from fxcli.outfile import make_folder
from fxcli.tasks.backtest import Options, compute_metrics, read_events, resolve_strategy
from fxcli.tasks.holdout import INSTANCE_ATTR, LEDGER_DIR, guard, new_instance, record_study

if TYPE_CHECKING:
    from optuna import Study

    from fxcli.optimize.space import Space

PRUNERS = ("median", "none")
RSS_LOG_ENV = "FX_OPTIMIZE_RSS_LOG"  # a bench hook: see _logging_rss
PRUNING_STAGES = 4  # intermediate objective values per trial for --pruner median (window quarters)


@dataclass(frozen=True)
class RunRequest:
    """Everything `fx optimize run` was asked."""

    strategy: str
    symbols: list[str]
    exchange: str | None
    data_dir: Path
    variants_dir: Path
    strategies_dir: Path
    out_dir: Path
    options: Options
    trials: int | None = None
    timeout_s: float | None = None
    early_stop: int | None = None
    sampler: str = "tpe"
    objective: str = "Total profit %"
    min_trades: int = 1
    seed: int | None = None
    jobs: int = 1
    study: str | None = None
    storage: str | None = None
    pruner: str = "none"
    params: tuple[str, ...] = ()
    holdout: str | None = None  # FROM..TO: locked in the strategy's ledger (tasks/holdout.py)
    bucket_ns: int = DEFAULT_BUCKET_NS  # the returns' time bucket (fxcli.optimize.returns)
    # [lo, hi) ns left out of the window (a leave-one-out walk-forward fold's test window and gaps):
    # no trial reads a row of it (TrialData.prepare); fx backtest has no hole, so no re-run check
    hole: tuple[int, int] | None = None
    events_file: Path | None = None  # symbol,time CSV: each trial also stores its return per event
    event_before_ns: int = DEFAULT_EVENT_BEFORE_NS  # an event's window: [event - before, event + after]
    event_after_ns: int = DEFAULT_EVENT_AFTER_NS


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs to open the study and evaluate trials (picklable)."""

    strategy_path: Path
    variants_dir: Path
    overrides: tuple[str, ...]
    data_folder: Path
    options: Options
    objectives: tuple[str, ...]
    min_trades: int
    storage: StorageSpec
    study_name: str
    sampler: str
    seed: int
    pruner: str
    budget: Budget
    bucket_ns: int = DEFAULT_BUCKET_NS
    events: tuple[tuple[str, int], ...] = ()  # (symbol, onset ns) of --events, the study's symbols only
    event_before_ns: int = DEFAULT_EVENT_BEFORE_NS
    event_after_ns: int = DEFAULT_EVENT_AFTER_NS


@dataclass
class RunOutcome:
    """What the workers did, for the results step and the command line."""

    study: Study
    setup: WorkerSetup
    space: Space
    tally: Tally
    stopped_by: int | None = None  # the signal that stopped the run
    recovered: list[int] = field(default_factory=list)


class TrialEvaluator:
    """Replays one parameter point over the prepared data and scores it."""

    def __init__(self, space: Space, data: TrialData, setup: WorkerSetup) -> None:
        self.space, self.data, self.setup = space, data, setup
        self.objectives = Objectives(setup.objectives)
        self.n_stages = PRUNING_STAGES if setup.pruner == "median" and len(setup.objectives) == 1 else 1

    def __call__(self, params: Mapping[str, Any], report: Callable[[int, float], bool]) -> Outcome:
        candidate = self.space.realise(params)
        options = self.setup.options
        clock_ms = candidate.spec.clock_ms if options.clock_ms is None else options.clock_ms
        stages = self.data.stages(
            candidate.spec, candidate.indicators, options.costs, options.balance, clock_ms, self.n_stages
        )
        per_symbol: dict[str, dict[str, Any]] = {}
        results: dict[str, Any] = {}  # the last stage's: the whole window's
        for step, results in enumerate(stages):
            per_symbol = {s: compute_metrics(r, "fx") for s, r in results.items()}
            if step < self.n_stages - 1:
                partial = self.objectives.score(per_symbol)
                if partial is not None and report(step, partial[0]):
                    return Outcome(
                        None,
                        _json_safe(flat_metrics(per_symbol)),
                        trades_of(per_symbol),
                        pruned=True,
                        point=self.space.tidy(params),
                    )
        values = self.objectives.score(per_symbol)
        setup = self.setup
        by_event = (
            event_returns(results, setup.events, setup.event_before_ns, setup.event_after_ns)
            if setup.events
            else None
        )
        return Outcome(
            values,
            _json_safe(flat_metrics(per_symbol)),
            trades_of(per_symbol),
            point=self.space.tidy(params),
            returns=bucket_returns(results, setup.bucket_ns),
            event_returns=by_event,
        )


def _json_safe(metrics: dict[str, float | None]) -> dict[str, float | None]:
    import math

    return {k: (v if v is None or math.isfinite(v) else None) for k, v in metrics.items()}


def objective_directions(objective: str) -> list[str]:
    """ "maximize"/"minimize" per metric of `--objective` (FxError for an unknown metric)."""
    return parse_objectives(objective).directions


def study_name(request: RunRequest, strategy_path: Path, objectives: Objectives) -> str:
    """`<strategy>-<hash>`: the hash of what changes results, so the same command resumes the study."""
    inputs: dict[str, Any] = {
        "strategy": hashlib.sha256(strategy_path.read_bytes()).hexdigest(),
        "symbols": list(dict.fromkeys(request.symbols)),
        "exchange": request.exchange,
        "options": {k: v for k, v in request.options.key_fields().items() if k != "metrics_compat"},
        "objectives": list(objectives.metrics),
        "min_trades": request.min_trades,
        "sampler": request.sampler,
        "seed": request.seed,
        "pruner": request.pruner,
        "params": list(request.params),
        "fx_version": __version__,
    }
    if request.bucket_ns != DEFAULT_BUCKET_NS:  # kept out at the default: earlier study names stay
        inputs["bucket_ns"] = request.bucket_ns
    if request.hole is not None:
        inputs["hole"] = list(request.hole)
    if request.events_file is not None:
        inputs["events"] = [
            hashlib.sha256(events_bytes(request.events_file)).hexdigest(),
            request.event_before_ns,
            request.event_after_ns,
        ]
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{strategy_path.stem}-{digest[:12]}"


def _sampler_and_pruner(setup: WorkerSetup) -> tuple[Any, Any]:
    import optuna

    pruner = optuna.pruners.MedianPruner(n_startup_trials=5) if setup.pruner == "median" else None
    return reseeding(setup.sampler, setup.seed), pruner or optuna.pruners.NopPruner()


def load_study(setup: WorkerSetup) -> Study:
    """The study as a worker opens it (its own sampler and pruner objects)."""
    import optuna

    sampler, pruner = _sampler_and_pruner(setup)
    return optuna.load_study(
        study_name=setup.study_name, storage=open_storage(setup.storage), sampler=sampler, pruner=pruner
    )


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def create_or_load(setup: WorkerSetup, space: Space, config: dict[str, Any]) -> tuple[Study, bool]:
    """Create the study (and queue the grid) or load it, refusing one made with other settings."""
    import optuna
    from optuna.exceptions import DuplicatedStudyError

    storage = open_storage(setup.storage)
    sampler, pruner = _sampler_and_pruner(setup)
    directions: list[Any] = Objectives(setup.objectives).directions
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=setup.study_name,
            directions=directions,
            sampler=sampler,
            pruner=pruner,
        )
        study.set_user_attr(CONFIG_ATTR, json.dumps(config, sort_keys=True))
        study.set_user_attr(INSTANCE_ATTR, new_instance())
        created = True
    except DuplicatedStudyError:
        study = optuna.load_study(
            study_name=setup.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        created = False
        _check_same(study, setup, config)
    if setup.sampler == "grid" and (created or not wait_for_grid(study)):
        enqueue_grid(study, space.grid())
    return study, created


def _check_same(study: Study, setup: WorkerSetup, config: dict[str, Any]) -> None:
    """An existing study must have been made by the same settings and on the same data."""
    deadline = time.monotonic() + 30
    stored = config_of(study)
    while not stored and time.monotonic() < deadline:  # its creator is still writing it
        time.sleep(0.2)
        stored = config_of(study)
    if stored.get("key") != config["key"]:
        raise FxError(
            f"study {setup.study_name!r} exists with other settings (strategy, symbols, costs, objective, "
            "sampler or space); give another --study"
        )
    if stored.get("data_sha256") != config["data_sha256"]:
        raise FxError(
            f"study {setup.study_name!r} was run on other stored data (the window's files changed); "
            "give another --study"
        )


def prepare(request: RunRequest) -> tuple[WorkerSetup, Space, dict[str, Any], TrialData]:
    """Check every input, read the data once, and describe the study (nothing is run yet)."""
    objectives = parse_objectives(request.objective)
    check_sampler(request.sampler, len(objectives.metrics))
    if request.pruner not in PRUNERS:
        raise FxError(f"--pruner {request.pruner!r}: not one of {', '.join(PRUNERS)}")
    if not request.symbols:
        raise FxError("give --symbol or --symbols")
    strategy_path = resolve_strategy(request.strategy, request.strategies_dir)
    space = load_space(strategy_path, request.variants_dir, request.params)
    if request.sampler == "grid":
        space.grid()  # a dimension without step or choices is an error now, not in a worker
    space.realise(space.defaults())  # the file's own values must make a valid strategy
    name = request.study or study_name(request, strategy_path, objectives)
    _check_study_name(name)
    study_dir = request.out_dir / "optimize" / name
    make_folder(study_dir)  # --out naming a file is exit 2 here, before any data is read
    guard(request.out_dir, strategy_path.stem, request.holdout, request.options.start, request.options.end)
    storage = storage_spec(request.storage, study_dir)
    check_workers(storage, request.jobs)
    symbols = list(dict.fromkeys(request.symbols))
    o = request.options
    data = TrialData.prepare(
        request.data_dir,
        symbols,
        request.exchange,
        o.start,
        o.end,
        study_dir / "data",
        allow_gaps=o.allow_gaps,
        hole=request.hole,
    )
    strategy_bytes = strategy_path.read_bytes()
    data_sha = hashlib.sha256(json.dumps(data.data_sha, sort_keys=True).encode()).hexdigest()
    deadline = time.monotonic() + request.timeout_s if request.timeout_s else None
    setup = WorkerSetup(
        strategy_path=strategy_path,
        variants_dir=request.variants_dir,
        overrides=request.params,
        data_folder=study_dir / "data",
        options=o,
        objectives=objectives.metrics,
        min_trades=request.min_trades,
        storage=storage,
        study_name=name,
        sampler=request.sampler,
        seed=request.seed if request.seed is not None else secrets.randbits(31),
        pruner=request.pruner,
        budget=Budget(request.trials, deadline, request.early_stop),
        bucket_ns=request.bucket_ns,
        events=_study_events(request, symbols),
        event_before_ns=request.event_before_ns,
        event_after_ns=request.event_after_ns,
    )
    config = {
        "key": study_name(request, strategy_path, objectives),
        "strategy_name": strategy_path.stem,
        "strategy_text": strategy_bytes.decode("utf-8"),
        "strategy_sha256": hashlib.sha256(strategy_bytes).hexdigest(),
        "variants_dir": str(request.variants_dir.resolve()),
        "params": list(request.params),
        "symbols": symbols,
        "exchange": request.exchange,
        "options": o.key_fields(),
        "objectives": list(objectives.metrics),
        "min_trades": request.min_trades,
        "sampler": request.sampler,
        "seed": request.seed,
        "pruner": request.pruner,
        "data_sha256": data_sha,
        "bucket_ns": request.bucket_ns,
        "hole": list(request.hole) if request.hole is not None else None,
        "events": {
            "file": str(request.events_file),
            "before_ns": request.event_before_ns,
            "after_ns": request.event_after_ns,
            "count": len(setup.events),
        }
        if request.events_file is not None
        else None,
        "fx_version": __version__,
    }
    return setup, space, config, data


def events_bytes(path: Path) -> bytes:
    """The --events file's bytes (for a name's hash); FxError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FxError(f"--events {path}: {exc.strerror}") from None


def _study_events(request: RunRequest, symbols: list[str]) -> tuple[tuple[str, int], ...]:
    """The --events of the study's symbols, (symbol, onset), in time order; FxError for bad windows
    or a file without one of them."""
    if request.events_file is None:
        return ()
    if request.event_before_ns < 0 or request.event_after_ns < 0:
        raise FxError("--event-before and --event-after must not be negative")
    if request.event_before_ns + request.event_after_ns <= 0:
        raise FxError("--event-before + --event-after: an event's window must be longer than 0")
    wanted = {s.upper(): s for s in symbols}
    onsets = read_events(request.events_file)
    events = sorted(
        ((wanted[symbol], t) for symbol, times in onsets.items() if symbol in wanted for t in times),
        key=lambda e: (e[1], e[0]),
    )
    if not events:
        raise FxError(
            f"--events {request.events_file}: no event of the study's symbols ({', '.join(symbols)})"
        )
    return tuple(dict.fromkeys(events))


def _check_study_name(name: str) -> None:
    """A study name is also a folder name: no separators, no dot names, printable."""
    if name == LEDGER_DIR:
        raise FxError(f"--study {name!r}: the name of the ledger folder under <out>/optimize/")
    if not name or name in (".", "..") or "/" in name or "\\" in name or not name.isprintable():
        raise FxError(f"--study {name!r}: not usable as a folder name")


class StopFlag:
    """Set by the first SIGINT/SIGTERM (the signal is kept for the exit code); later ones ignored."""

    def __init__(self, shared: Any = None) -> None:
        self.signum: int | None = None
        self._shared = shared

    def __call__(self) -> bool:
        return self.signum is not None or (self._shared is not None and self._shared.is_set())

    def handle(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum
            if self._shared is not None:
                self._shared.set()

    def install(self) -> dict[int, Any]:
        """Install the handlers (main thread only); the previous ones, to restore."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, self.handle)
        return previous


def _worker_main(setup: WorkerSetup, events: Any, stop: Any) -> None:
    """A spawned worker: open the prepared data and the study, work, send the tally back."""
    flag = StopFlag(stop)
    flag.install()
    _quiet_optuna()
    try:
        tally = _work(setup, flag, lambda e: events.put(("trial", e)))
    except FxError as exc:
        events.put(("error", str(exc)))
        return
    except Exception as exc:  # the parent says it as an internal error (exit 3), once
        events.put(("crash", f"a worker failed: {type(exc).__name__}: {exc}"))
        return
    events.put(("done", tally))


def _work(
    setup: WorkerSetup, should_stop: Callable[[], bool], on_trial: Callable[[TrialEvent], None]
) -> Tally:
    space = load_space(setup.strategy_path, setup.variants_dir, setup.overrides)
    data = TrialData.open(setup.data_folder)
    study = load_study(setup)
    rss_log = os.environ.get(RSS_LOG_ENV)
    if rss_log:
        on_trial = _logging_rss(Path(rss_log), on_trial)
    return work(
        study,
        distributions=space.distributions(),
        feasible=space.feasible,
        evaluate=TrialEvaluator(space, data, setup),
        min_trades=setup.min_trades,
        budget=setup.budget,
        grid=setup.sampler == "grid",
        should_stop=should_stop,
        on_trial=on_trial,
    )


def _logging_rss(path: Path, on_trial: Callable[[TrialEvent], None]) -> Callable[[TrialEvent], None]:
    """A bench hook (bench/optimize.py reads it): after each trial, append "pid trial VmRSS-kB" to
    `path`, so a worker's memory can be followed from trial to trial. Off unless the env var is set."""

    def logged(event: TrialEvent) -> None:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            kb = next(line.split()[1] for line in status if line.startswith("VmRSS:"))
        with path.open("a", encoding="ascii") as log:
            log.write(f"{os.getpid()} {event.number} {kb}\n")
        on_trial(event)

    return logged


def run_study(
    request: RunRequest,
    on_trial: Callable[[TrialEvent], None],
    on_start: Callable[[Study], None] | None = None,
) -> RunOutcome:
    """Prepare, create or resume the study, and run the workers until a budget or a signal stops them."""
    _quiet_optuna()
    setup, space, config, _data = prepare(request)
    study, _created = create_or_load(setup, space, config)
    recovered = recover(study, [d.key for d in space.dimensions])
    # The ledger gets the count now (trials of a run killed outright) and at the end, however it ends.
    record_study(request.out_dir, setup.strategy_path.stem, study)
    try:
        if on_start is not None:
            on_start(study)
        if request.jobs == 1:
            flag = StopFlag()
            previous = flag.install()
            try:
                tally = _work(setup, flag, on_trial)
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)
            return RunOutcome(study, setup, space, tally, flag.signum, recovered)
        return _run_processes(request.jobs, setup, space, study, on_trial, recovered)
    finally:
        record_study(request.out_dir, setup.strategy_path.stem, study)


def _run_processes(
    jobs: int,
    setup: WorkerSetup,
    space: Space,
    study: Study,
    on_trial: Callable[[TrialEvent], None],
    recovered: list[int],
) -> RunOutcome:
    """N spawned workers on the shared storage; trial events come back on a queue."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    stop = context.Event()
    flag = StopFlag(stop)
    previous = flag.install()
    workers = [
        context.Process(target=_worker_main, args=(setup, events, stop), daemon=True) for _ in range(jobs)
    ]
    tally = Tally()
    errors: list[str] = []
    try:
        for w in workers:
            w.start()
        done = 0
        while done < jobs:
            try:
                kind, payload = events.get(timeout=0.5)
            except Exception:  # queue.Empty: check that no worker died without a word
                if all(not w.is_alive() for w in workers) and events.empty():
                    break
                continue
            if kind == "trial":
                on_trial(payload)
            elif kind == "done":
                done += 1
                tally.add(payload)
            elif kind == "crash":
                raise RuntimeError(payload)
            else:
                done += 1
                errors.append(payload)
        for w in workers:
            w.join()
    finally:
        stop.set()  # on an error here, the other workers finish their trial and stop
        for s, handler in previous.items():
            signal.signal(s, handler)
    if errors and not tally.complete:
        raise FxError(errors[0])
    tally.errors = errors
    # A worker killed outright (kill -9, the OOM killer) left its trial RUNNING: queue it again now.
    recovered += recover(study, list(space.distributions()))
    return RunOutcome(study, setup, space, tally, flag.signum, recovered)
