"""A study's results as files and documents: the trial table, the pick, the Pareto front.

The pick rule (documented in the README): among complete trials that meet the min-trades
constraint, the Pareto front of the objectives (a single objective: the trials with the best value);
of those, the best value of the first objective, then the lowest trial number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.optimize.objective import best_key, dominates
from fxcli.optimize.sampler import ABANDONED, SEED_ATTR
from fxcli.optimize.study import INFEASIBLE, direction_names, feasible_complete, shown_params

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial

CONFIG_ATTR = "fx_config"


def pareto_front(study: Study) -> list[FrozenTrial]:
    """Feasible complete trials no other feasible trial dominates, best first by the pick rule."""
    directions = direction_names(study)
    pool = [t for t in study.get_trials(deepcopy=False) if feasible_complete(t)]
    front = [t for t in pool if not any(dominates(o.values, t.values, directions) for o in pool)]
    return sorted(front, key=lambda t: best_key(t.values, t.number, directions))


def best_trial(study: Study) -> FrozenTrial | None:
    """The pick (module docstring); None when no trial completed within the constraints."""
    front = pareto_front(study)
    return front[0] if front else None


def counts(study: Study) -> dict[str, int]:
    """Trials by how they ended; infeasible points and abandoned (re-enqueued) trials apart."""
    tally = {"complete": 0, "pruned": 0, "failed": 0, "infeasible": 0, "abandoned": 0, "running": 0}
    for t in study.get_trials(deepcopy=False):
        name = t.state.name
        if name == "COMPLETE":
            tally["complete"] += 1
        elif name == "PRUNED":
            tally["infeasible" if t.user_attrs.get(INFEASIBLE) else "pruned"] += 1
        elif name == "FAIL":
            tally["abandoned" if t.user_attrs.get(ABANDONED) else "failed"] += 1
        elif name == "RUNNING":
            tally["running"] += 1
    return tally


def ranked(study: Study, *, min_trades: int | None = None, profitable: bool = False) -> list[FrozenTrial]:
    """Complete trials, best first by the first objective (then number), optionally filtered."""
    directions = direction_names(study)
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if min_trades is not None:
        trials = [t for t in trials if int(t.user_attrs.get("trades", 0)) >= min_trades]
    if profitable:
        trials = [t for t in trials if (t.user_attrs.get("metrics") or {}).get("Absolute profit", 0) > 0]
    return sorted(trials, key=lambda t: best_key(t.values, t.number, directions))


def trial_document(trial: FrozenTrial) -> dict[str, Any]:
    """One trial for `--json`: number, state, params (flat dotted keys), values, metrics."""
    document: dict[str, Any] = clean(
        {
            "number": trial.number,
            "state": trial.state.name,
            "params": shown_params(trial),
            "values": list(trial.values) if trial.values is not None else None,
            "trades": trial.user_attrs.get("trades"),
            "metrics": trial.user_attrs.get("metrics", {}),
        }
    )
    return document


def config_of(study: Study) -> dict[str, Any]:
    """The run configuration stored with the study (strategy text, symbols, costs, objectives)."""
    text = study.user_attrs.get(CONFIG_ATTR)
    loaded: dict[str, Any] = json.loads(text) if isinstance(text, str) else {}
    return loaded


def trial_rows(study: Study) -> list[dict[str, Any]]:
    """One row per trial for trials.parquet: params, values, every metric, timings and provenance."""
    config = config_of(study)
    metrics_keys = config.get("objectives", [])
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "infeasible": bool(t.user_attrs.get(INFEASIBLE, False)),
            "abandoned": bool(t.user_attrs.get(ABANDONED, False)),
            "reason": t.user_attrs.get("reason"),
        }
        row.update({f"params.{k}": v for k, v in shown_params(t).items()})
        values = list(t.values) if t.values is not None else [None] * len(metrics_keys)
        row.update({f"values.{k}": v for k, v in zip(metrics_keys, values, strict=False)})
        row["trades"] = t.user_attrs.get("trades")
        row.update({f"metrics.{k}": v for k, v in (t.user_attrs.get("metrics") or {}).items()})
        row["duration_s"] = t.user_attrs.get("duration_s")
        row["seed"] = t.user_attrs.get(SEED_ATTR)
        row["data_sha256"] = config.get("data_sha256")
        row["strategy_sha256"] = config.get("strategy_sha256")
        row["fx_version"] = config.get("fx_version")
        rows.append(row)
    return rows


def write_trials(study: Study, path: Path) -> None:
    """trials.parquet, written atomically."""
    import polars as pl

    from fxcli.outfile import output_file

    rows = trial_rows(study)
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame({"number": []})
    with output_file(path) as handle:
        frame.write_parquet(handle)


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
