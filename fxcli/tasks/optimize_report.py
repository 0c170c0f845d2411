"""After `fx optimize run`, and for `list`, `show`, `export`: a study's results folder and documents.

`<out>/optimize/<study>/` holds trials.parquet, returns.parquet (each trial's returns per time
bucket), event_returns.parquet (per event, with --events), summary.json, best.toml (a complete
strategy file with the pick's parameters) and the PNG plots. The pick is re-run as a plain `fx backtest` on
best.toml: its objective values must equal the trial's to 1e-9 (relative to values above 1).
"""

from __future__ import annotations

import json
import math
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.optimize.event_returns import event_matrix, write_event_returns
from fxcli.optimize.objective import Objectives
from fxcli.optimize.results import (
    best_trial,
    clean,
    config_of,
    counts,
    pareto_front,
    ranked,
    trial_document,
    write_trials,
)
from fxcli.optimize.returns import returns_matrix, write_returns
from fxcli.optimize.space import load_space, strategy_text
from fxcli.optimize.storage import journal_studies, open_storage, storage_spec
from fxcli.optimize.study import Tally
from fxcli.outfile import write_output
from fxcli.tasks.backtest import Options, backtest
from fxcli.tasks.holdout import ledger_document

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial

    from fxcli.tasks.optimize import RunOutcome, RunRequest

RERUN_TOLERANCE = 1e-9
RETURNS_FILE = "returns.parquet"
EVENT_RETURNS_FILE = "event_returns.parquet"


def finish(request: RunRequest, outcome: RunOutcome, command: str, *, plots: bool = True) -> dict[str, Any]:
    """Write the results folder, re-run the pick, and return the run's document."""
    study, setup = outcome.study, outcome.setup
    folder = setup.data_folder.parent
    folder.mkdir(parents=True, exist_ok=True)
    write_trials(study, folder / "trials.parquet")
    document_returns = write_study_returns(study, folder)
    document_event_returns = write_study_event_returns(study, folder)
    best = best_trial(study)
    document: dict[str, Any] = {
        "study": study.study_name,
        "storage": setup.storage.label,
        "objectives": list(setup.objectives),
        "directions": [d.name.lower() for d in study.directions],
        "trials": counts(study),
        "this_run": this_run(outcome.tally),
        "recovered": outcome.recovered,
        "best": None,
        "best_file": None,
        "results_dir": str(folder),
        "rerun_matches": None,
        "stopped": signal.Signals(outcome.stopped_by).name if outcome.stopped_by else None,
        "resume_command": command,
        "ledger": ledger_document(request.out_dir, setup.strategy_path.stem),
        "returns_file": document_returns,
        "event_returns_file": document_event_returns,
    }
    if len(setup.objectives) > 1:
        document["pareto_front"] = [trial_document(t) for t in pareto_front(study)]
    if best is not None:
        document["best"] = trial_document(best)
        best_file = folder / "best.toml"
        write_output(best_file, strategy_text(outcome.space.realise(best.params).document).encode())
        document["best_file"] = str(best_file)
        if request.hole is not None:
            document["rerun"] = {"skipped": "the window has a hole, which fx backtest does not replay"}
        elif outcome.stopped_by is None:
            document["rerun"] = rerun(request, setup.options, setup.objectives, best, best_file, folder)
            document["rerun_matches"] = document["rerun"]["matches"]
    if plots:
        from fxcli.optimize.plots import write_plots

        written, skipped = write_plots(study, folder, list(setup.objectives))
        document["plots"], document["plots_skipped"] = written, skipped
    document = clean(document)
    text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_output(folder / "summary.json", text.encode())
    return document


def write_study_returns(study: Study, folder: Path) -> str | None:
    """returns.parquet of the study's complete trials (fxcli.optimize.returns); its path, or None
    when no trial completed or a resumed study's older trials have none (`report` says why)."""
    try:
        matrix = returns_matrix(study.get_trials(deepcopy=False))
    except FxError:
        return None
    if not matrix.trials:
        return None
    write_returns(matrix, folder / RETURNS_FILE)
    return str(folder / RETURNS_FILE)


def write_study_event_returns(study: Study, folder: Path) -> str | None:
    """event_returns.parquet of a study run with --events (fxcli.optimize.event_returns); its path,
    or None without per-event returns."""
    try:
        matrix, events = event_matrix(study.get_trials(deepcopy=False))
    except FxError:
        return None
    write_event_returns(matrix, events, folder / EVENT_RETURNS_FILE)
    return str(folder / EVENT_RETURNS_FILE)


def this_run(tally: Tally) -> dict[str, Any]:
    """What the workers of this run did, and the optimiser's share of their time (not the replays')."""
    share = (tally.wall_s - tally.replay_s) / tally.wall_s if tally.wall_s > 0 else None
    return {
        "complete": tally.complete,
        "pruned": tally.pruned,
        "failed": tally.failed,
        "infeasible": tally.infeasible,
        "worker_s": round(tally.wall_s, 3),
        "replay_s": round(tally.replay_s, 3),
        "optimizer_share": round(share, 4) if share is not None else None,
    }


def rerun(
    request: RunRequest,
    options: Options,
    objective_keys: tuple[str, ...],
    best: FrozenTrial,
    best_file: Path,
    folder: Path,
) -> dict[str, Any]:
    """`fx backtest best.toml` on the same data and costs; does it give the trial's objective values?"""
    report = backtest(
        str(best_file),
        list(dict.fromkeys(request.symbols)),
        exchange=request.exchange,
        data_dir=request.data_dir,
        variants_dir=request.variants_dir,
        strategies_dir=request.strategies_dir,
        out_dir=folder / "rerun",
        options=options,
    )
    objectives = Objectives(objective_keys)
    values = objectives.score({r.symbol: r.metrics for r in report.runs})
    expected = list(best.values)
    matches = values is not None and all(
        math.isclose(a, b, rel_tol=RERUN_TOLERANCE, abs_tol=RERUN_TOLERANCE)
        for a, b in zip(values, expected, strict=True)
    )
    return {
        "values": values,
        "trial_values": expected,
        "matches": matches,
        "backtest_dir": str(report.out_dir),
    }


def open_study(name: str, out: Path, storage: str | None) -> Study:
    """A stored study by name (default storage: its journal under `<out>/optimize/<name>/`)."""
    import optuna

    spec = storage_spec(storage, out / "optimize" / name)
    if spec.journal is not None and not spec.journal.is_file():
        known = [n for n, _ in journal_studies(out)]
        hint = f" (known: {', '.join(known[:10])})" if known else ""
        raise FxError(f"study {name!r}: no {spec.journal}{hint}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=name, storage=open_storage(spec))
    except KeyError:
        raise FxError(f"study {name!r}: not in {spec.label}") from None


def list_studies(out: Path, storage: str | None) -> list[dict[str, Any]]:
    """Every study: name, storage, trial counts, best values."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    places = (
        [(storage_spec(storage, out), None)]
        if storage
        else [(storage_spec(None, journal.parent), name) for name, journal in journal_studies(out)]
    )
    rows = []
    for spec, only in places:
        backend = open_storage(spec)
        for summary in optuna.get_all_study_summaries(backend, include_best_trial=False):
            if only is not None and summary.study_name != only:
                continue
            study = optuna.load_study(study_name=summary.study_name, storage=backend)
            best = best_trial(study)
            rows.append(
                clean(
                    {
                        "study": summary.study_name,
                        "storage": spec.label,
                        "objectives": config_of(study).get("objectives", []),
                        "trials": counts(study),
                        "best": trial_document(best) if best is not None else None,
                        "started": str(summary.datetime_start) if summary.datetime_start else None,
                    }
                )
            )
    return rows


def show_study(
    name: str, out: Path, storage: str | None, *, top: int, min_trades: int | None, profitable: bool
) -> dict[str, Any]:
    """A study's counts and its best trials (best first), filtered."""
    study = open_study(name, out, storage)
    chosen = ranked(study, min_trades=min_trades, profitable=profitable)[:top]
    document: dict[str, Any] = clean(
        {
            "study": name,
            "objectives": config_of(study).get("objectives", []),
            "directions": [d.name.lower() for d in study.directions],
            "trials": counts(study),
            "top": [trial_document(t) for t in chosen],
            "ledger": ledger_document(out, config_of(study).get("strategy_name")),
        }
    )
    return document


def export_trial(name: str, out: Path, storage: str | None, number: int | None) -> str:
    """The strategy file (TOML text) of a trial (default: the pick) of a stored study."""
    study = open_study(name, out, storage)
    if number is None:
        trial = best_trial(study)
        if trial is None:
            raise FxError(f"study {name!r}: no complete trial within the constraints to export")
    else:
        trials = [t for t in study.get_trials(deepcopy=False) if t.number == number]
        if not trials:
            raise FxError(f"--trial {number}: study {name!r} has no such trial")
        trial = trials[0]
        if not trial.params:
            raise FxError(f"--trial {number}: has no parameters yet ({trial.state.name})")
    return trial_strategy_text(study, trial)


def trial_strategy_text(study: Study, trial: FrozenTrial) -> str:
    """The complete strategy file (TOML text) a trial of `study` ran: the study's file with its params."""
    config = config_of(study)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{config.get('strategy_name', 'strategy')}.toml"
        path.write_text(config["strategy_text"], encoding="utf-8")
        space = load_space(path, Path(config["variants_dir"]), tuple(config.get("params", ())))
        return strategy_text(space.realise(trial.params).document)


def write_strategy(path: Path, text: str) -> None:
    """An exported strategy file (atomically; an unwritable place is exit 2)."""
    try:
        write_output(path, text.encode())
    except OSError as exc:
        raise FxError(f"--to {path}: {exc.strerror or exc}") from None
