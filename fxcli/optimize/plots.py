"""PNG plots of a study (Optuna's matplotlib plots, Agg backend, imported only when drawn).

A plot that the study cannot support yet (importance with one complete trial, contour with one
parameter) is skipped and named in the summary, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.optimize.study import feasible_complete

if TYPE_CHECKING:
    from optuna import Study


def write_plots(study: Study, folder: Path, target_names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Draw every plot that applies; (files written, {skipped plot: why})."""
    from importlib.util import find_spec

    import matplotlib

    matplotlib.use("Agg")
    import warnings

    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    multi = len(study.directions) > 1
    params = sorted({k for t in study.get_trials(deepcopy=False) for k in t.params})
    target: Callable[[Any], float] | None = (lambda t: t.values[0]) if multi else None
    name = target_names[0]
    plots: dict[str, Callable[[], Any]] = {
        "history": lambda: vis.plot_optimization_history(study, target=target, target_name=name),
        "importance": lambda: vis.plot_param_importances(study, target=target, target_name=name),
        "slice": lambda: vis.plot_slice(study, target=target, target_name=name),
        "parallel_coordinates": lambda: vis.plot_parallel_coordinate(study, target=target, target_name=name),
    }
    written: list[str] = []
    skipped: dict[str, str] = {}
    if len(params) >= 2:
        if find_spec("scipy") is not None:  # Optuna's contour interpolates with scipy
            plots["contour"] = lambda: vis.plot_contour(
                study, params=params[:2], target=target, target_name=name
            )
        else:
            skipped["contour"] = "needs scipy (pip install scipy); heatmap.png shows the same two parameters"
        plots["heatmap"] = lambda: _heatmap(study, params[0], params[1], name)
    if multi:
        plots["pareto_front"] = lambda: vis.plot_pareto_front(study, target_names=target_names)
    for plot, draw in plots.items():
        path = folder / f"{plot}.png"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna flags these plots experimental
                drawn = draw()
            figure = _figure_of(drawn)
            figure.savefig(path, dpi=90, bbox_inches="tight")
            written.append(str(path))
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as exc:
            skipped[plot] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            plt.close("all")
    return written, skipped


def _figure_of(drawn: Any) -> Any:
    import numpy as np

    axes = drawn.flat[0] if isinstance(drawn, np.ndarray) else drawn
    if not axes.has_data() and not axes.get_figure().axes[1:]:
        raise ValueError("nothing to draw yet")
    return axes.get_figure()


def _heatmap(study: Study, x: str, y: str, name: str) -> Any:
    """The first objective's best value per (x, y) cell: a two-parameter map as backtesting.py draws."""
    import matplotlib.pyplot as plt
    import numpy as np

    trials = [t for t in study.get_trials(deepcopy=False) if feasible_complete(t) and x in t.params]
    if len(trials) < 2:
        raise ValueError("fewer than two complete trials")
    xs = sorted({t.params[x] for t in trials}, key=str)
    ys = sorted({t.params[y] for t in trials}, key=str)
    if len(xs) > 40 or len(ys) > 40:  # continuous values: bin them
        xs, ys = _bins(trials, x), _bins(trials, y)
    grid = np.full((len(ys), len(xs)), np.nan)
    maximize = study.directions[0].name == "MAXIMIZE"
    for t in trials:
        i, j = _cell(ys, t.params[y]), _cell(xs, t.params[x])
        value = t.values[0]
        old = grid[i, j]
        if np.isnan(old) or (value > old if maximize else value < old):
            grid[i, j] = value
    figure, axes = plt.subplots(figsize=(7, 5))
    image = axes.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    axes.set_xticks(range(len(xs)), [_label(v) for v in xs], rotation=45, fontsize=7)
    axes.set_yticks(range(len(ys)), [_label(v) for v in ys], fontsize=7)
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(f"best {name} per cell")
    figure.colorbar(image, ax=axes)
    return axes


def _bins(trials: list[Any], key: str) -> list[Any]:
    import numpy as np

    values = [float(t.params[key]) for t in trials]
    return list(np.linspace(min(values), max(values), 12))


def _cell(axis: list[Any], value: Any) -> int:
    if value in axis:
        return axis.index(value)
    return min(range(len(axis)), key=lambda i: abs(float(axis[i]) - float(value)))


def _label(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
