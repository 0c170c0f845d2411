"""Samplers by name, each wrapped so that a trial's proposal depends only on the seed, its position
in the study and the stored history, never on what a process happened to sample before.

A seeded Optuna sampler keeps one random generator for its life: a study killed and resumed draws
from a fresh generator and continues differently from an uninterrupted run (optimize.md §2.10,
measured). `Reseeding` builds a fresh inner sampler for every trial, seeded from (seed, position);
everything else a sampler uses (TPE's Parzen estimators, NSGA's population, CMA-ES's state) is
rebuilt from the stored trials. The position is the trial number less the trials abandoned before
it (a killed process's trials, re-enqueued): a resumed one-worker study then proposes exactly what
an uninterrupted one does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.optimize.owner import claim

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler
    from optuna.trial import FrozenTrial, TrialState

SAMPLERS = ("grid", "random", "tpe", "nsga2", "nsga3", "qmc", "cmaes")
SINGLE_OBJECTIVE_ONLY = frozenset({"cmaes"})
SEED_ATTR = "seed"  # user attr: the seed this trial's sampler was built with
ABANDONED = "abandoned"  # user attr of a trial failed because its process died (or it was surplus)


def check_sampler(name: str, n_objectives: int) -> None:
    """A known sampler that can handle this many objectives; FxError otherwise."""
    if name not in SAMPLERS:
        raise FxError(f"--sampler {name!r}: not one of {', '.join(SAMPLERS)}")
    if n_objectives > 1 and name in SINGLE_OBJECTIVE_ONLY:
        raise FxError(f"--sampler {name}: optimises one objective only, {n_objectives} given")


def trial_seed(seed: int, position: int) -> int:
    """The inner sampler's seed for the trial at `position` (a hash: neighbouring seeds do not overlap)."""
    digest = hashlib.sha256(f"{seed}:{position}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def inner_factory(name: str) -> Callable[[int], BaseSampler]:
    """A constructor of the named Optuna sampler from a seed (grid trials come from the queue:
    random stands in for a trial asked after the queue ran dry, which the study then drops)."""
    import optuna

    samplers: dict[str, Callable[[int], BaseSampler]] = {
        "grid": lambda s: optuna.samplers.RandomSampler(seed=s),
        "random": lambda s: optuna.samplers.RandomSampler(seed=s),
        "tpe": lambda s: optuna.samplers.TPESampler(seed=s),
        "nsga2": lambda s: optuna.samplers.NSGAIISampler(seed=s),
        "nsga3": lambda s: optuna.samplers.NSGAIIISampler(seed=s),
        "qmc": lambda s: optuna.samplers.QMCSampler(seed=s, warn_independent_sampling=False),
        "cmaes": lambda s: optuna.samplers.CmaEsSampler(seed=s, warn_independent_sampling=False),
    }
    chosen = samplers[name]

    def make(seed: int) -> BaseSampler:
        import warnings

        from optuna.exceptions import ExperimentalWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # QMC is flagged experimental
            return chosen(seed)

    return make


def position_of(study: Study, trial: FrozenTrial) -> int:
    """The trial's number less the abandoned trials numbered before it."""
    from optuna.trial import TrialState

    abandoned = sum(
        1
        for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        if t.number < trial.number and t.user_attrs.get(ABANDONED)
    )
    return trial.number - abandoned


def reseeding(name: str, seed: int) -> BaseSampler:
    """The named sampler, reseeded per trial (module docstring)."""
    from optuna.samplers import BaseSampler

    make = inner_factory(name)

    class Reseeding(BaseSampler):
        """Delegates every call to a sampler built in `before_trial` from (seed, position)."""

        def __init__(self) -> None:
            self._inner = make(trial_seed(seed, 0))

        def before_trial(self, study: Study, trial: FrozenTrial) -> None:
            claim(study, trial)  # the earliest moment a trial can say who runs it
            inner_seed = trial_seed(seed, position_of(study, trial))
            study._storage.set_trial_user_attr(trial._trial_id, SEED_ATTR, inner_seed)  # trials.parquet
            self._inner = make(inner_seed)
            self._inner.before_trial(study, trial)

        def infer_relative_search_space(
            self, study: Study, trial: FrozenTrial
        ) -> dict[str, BaseDistribution]:
            return self._inner.infer_relative_search_space(study, trial)

        def sample_relative(
            self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
        ) -> dict[str, Any]:
            return self._inner.sample_relative(study, trial, search_space)

        def sample_independent(
            self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
        ) -> Any:
            return self._inner.sample_independent(study, trial, param_name, param_distribution)

        def after_trial(
            self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
        ) -> None:
            self._inner.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self._inner.reseed_rng()

    return Reseeding()
