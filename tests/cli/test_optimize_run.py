"""`fx optimize run` as a user runs it: samplers, grid, constraints, results, export, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import polars as pl
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from tests.cli.optimize_helpers import (
    ADMISSIBLE,
    optimize_args,
    points,
    run_optimize,
    strategy_file,
    trials,
)
from tests.conftest import error_line, run_fx

RUN_KEYS = {"study", "storage", "trials", "best", "best_file", "results_dir", "rerun_matches"}


@pytest.mark.parametrize("sampler", ["random", "tpe", "nsga2", "nsga3", "qmc", "cmaes"])
def test_optimize_each_sampler_runs_trials_and_checks_the_best(
    sample_store: Path, tmp_path: Path, sampler: str
) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy, sample_store, tmp_path / "out", f"--sampler {sampler} --trials 3 --seed 1 --no-plots"
    )

    counted = doc["trials"]["complete"] + doc["trials"]["pruned"] + doc["trials"]["failed"]
    assert counted == 3
    assert doc["best"] is not None
    assert doc["rerun_matches"] is True
    done = trials(doc["results_dir"]).filter(pl.col("state") == "COMPLETE")
    assert all(tp > 0.05 for tp in done["params.exits.tp_pct"])  # the constraint held for every replay


def test_optimize_grid_covers_every_admissible_point_once(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(strategy, sample_store, tmp_path / "out", "--sampler grid --no-plots")

    frame = trials(doc["results_dir"])
    assert sorted(points(frame)) == sorted(ADMISSIBLE)
    assert doc["trials"]["complete"] == len(ADMISSIBLE) == frame.height  # nothing infeasible was asked


def test_optimize_infeasible_points_never_reach_the_engine(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy, sample_store, tmp_path / "out", "--sampler random --trials 8 --seed 5 --no-plots"
    )

    frame = trials(doc["results_dir"])
    infeasible = frame.filter(pl.col("infeasible"))
    assert infeasible.height > 0  # seed 5 draws tp = 0.04 at least once
    assert (infeasible["params.exits.tp_pct"] <= 0.05).all()
    assert infeasible["trades"].is_null().all()
    assert infeasible["duration_s"].is_null().all()
    assert frame.filter(~pl.col("infeasible") & (pl.col("state") == "COMPLETE")).height == 8


def test_optimize_results_folder_json_and_rerun(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(strategy, sample_store, tmp_path / "out", "--trials 4 --seed 2")

    assert set(doc) >= RUN_KEYS
    assert set(doc["trials"]) >= {"complete", "pruned", "failed"}
    assert 0 < doc["this_run"]["replay_s"] < doc["this_run"]["worker_s"]
    assert 0 < doc["this_run"]["optimizer_share"] < 1
    assert set(doc["best"]) >= {"number", "params", "values", "metrics"}
    assert set(doc["best"]["params"]) == {"s1[0].value", "exits.tp_pct", "sizing.base_position_pct"}
    folder = Path(doc["results_dir"])
    assert folder == tmp_path / "out" / "optimize" / doc["study"]
    for name in ("trials.parquet", "summary.json", "best.toml", "history.png", "heatmap.png"):
        assert (folder / name).is_file(), name
    frame = trials(folder)
    assert {
        "number",
        "state",
        "values.Total profit %",
        "metrics.Sharpe",
        "duration_s",
        "seed",
        "data_sha256",
        "strategy_sha256",
        "fx_version",
    } <= set(frame.columns)
    assert json.loads((folder / "summary.json").read_text())["best"] == doc["best"]
    evaluated = frame.filter(~pl.col("infeasible"))
    assert evaluated["seed"].is_not_null().all()  # each trial's own sampler seed
    assert evaluated["seed"].n_unique() == evaluated.height


def test_optimize_exported_best_reproduces_the_best_trial(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)
    doc = run_optimize(strategy, sample_store, tmp_path / "out", "--trials 4 --seed 3 --no-plots")
    exported = tmp_path / "exported.toml"

    result = run_fx("optimize", "export", doc["study"], "--out", str(tmp_path / "out"), "--to", str(exported))
    backtest = run_fx(
        "backtest",
        str(exported),
        "--symbol",
        "BTCUSDT",
        "--data-dir",
        str(sample_store),
        "--variants-dir",
        str(Path(__file__).resolve().parents[2] / "variants"),
        "--out",
        str(tmp_path / "bt"),
        "--json",
    )

    assert result.returncode == 0, result.stderr
    assert backtest.returncode == 0, backtest.stderr
    metrics = json.loads(backtest.stdout)["symbols"]["BTCUSDT"]["metrics"]
    assert metrics["Total profit %"] == pytest.approx(doc["best"]["values"][0], rel=1e-9, abs=1e-12)
    stdout = run_fx("optimize", "export", doc["study"], "--out", str(tmp_path / "out"))
    assert stdout.stdout == exported.read_text()


def test_optimize_show_and_list_json(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)
    doc = run_optimize(strategy, sample_store, tmp_path / "out", "--trials 3 --seed 4 --no-plots")
    out = str(tmp_path / "out")

    shown = json.loads(run_fx("optimize", "show", doc["study"], "--out", out, "--top", "2", "--json").stdout)
    listed = json.loads(run_fx("optimize", "list", "--out", out, "--json").stdout)

    assert set(shown) >= {"study", "trials", "top"}
    assert shown["top"][0]["number"] == doc["best"]["number"]
    assert set(shown["top"][0]) >= {"number", "state", "params", "values"}
    assert len(shown["top"]) <= 2
    assert [row["study"] for row in listed] == [doc["study"]]


def test_optimize_same_command_resumes_the_same_study(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)
    first = run_optimize(strategy, sample_store, tmp_path / "out", "--trials 2 --seed 6 --no-plots")

    second = run_optimize(strategy, sample_store, tmp_path / "out", "--trials 4 --seed 6 --no-plots")

    assert second["study"] == first["study"]
    assert second["trials"]["complete"] == 4
    assert second["this_run"]["complete"] == 2


def test_optimize_several_objectives_give_a_pareto_front(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy,
        sample_store,
        tmp_path / "out",
        "--objective 'Total profit %,Max % of account underwater' --sampler random --trials 5 --seed 8",
    )

    front = doc["pareto_front"]
    assert front
    assert front[0]["number"] == doc["best"]["number"]
    assert all(len(t["values"]) == 2 for t in front)
    assert (Path(doc["results_dir"]) / "pareto_front.png").is_file()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--objective", "Sharpness"), "--objective 'Sharpness'"),
        (("--sampler", "annealing"), "--sampler 'annealing'"),
        (("--storage", "sqlite:///x.db", "--jobs", "2"), "SQLite cannot take 2"),
        (("--storage", "mysql://h/db"), "unsupported scheme"),
        (("--sampler", "cmaes", "--objective", "Sharpe,Calmar"), "one objective only"),
    ],
)
def test_optimize_bad_input_is_one_line_exit_2(
    sample_store: Path, tmp_path: Path, extra: tuple[str, ...], needle: str
) -> None:
    strategy = strategy_file(tmp_path)

    result = run_fx(*optimize_args(strategy, sample_store, tmp_path / "out", *extra))

    assert needle in error_line(result)


def test_optimize_show_unknown_study_is_exit_2(tmp_path: Path) -> None:
    result = run_fx("optimize", "show", "nope", "--out", str(tmp_path))

    assert "study 'nope'" in error_line(result)


def test_optimize_no_trial_within_constraints_is_exit_1(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy, sample_store, tmp_path / "out", "--trials 2 --min-trades 100000 --no-plots", code=1
    )

    assert doc["best"] is None
    assert doc["trials"]["complete"] == 2


def test_optimize_median_pruner_reports_window_quarters(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy,
        sample_store,
        tmp_path / "out",
        "--pruner median --sampler random --trials 6 --seed 9 --no-plots",
    )

    journal = Path(doc["results_dir"]) / "study.journal"
    study = optuna.load_study(
        study_name=doc["study"], storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    pruned = [
        t
        for t in study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
        if not t.user_attrs.get("infeasible")
    ]
    assert len(done) + len(pruned) == 6
    assert all(sorted(t.intermediate_values) == [0, 1, 2] for t in done)  # three quarters, then the end
    assert all(t.intermediate_values for t in pruned)  # pruned at a quarter, never before one


def test_optimize_early_stop_ends_a_stagnant_study(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy,
        sample_store,
        tmp_path / "out",
        "--sampler random --trials 60 --early-stop 3 --seed 1 --no-plots",
    )

    frame = trials(doc["results_dir"]).filter(~pl.col("infeasible"))
    assert frame.height < 60
    assert frame["number"].max() - doc["best"]["number"] >= 3  # no improvement in the last 3


def test_optimize_timeout_stops_asking(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(
        strategy, sample_store, tmp_path / "out", "--trials 100000 --timeout 2 --seed 1 --no-plots"
    )

    assert 1 <= doc["trials"]["complete"] < 100000


def test_optimize_named_study_with_other_settings_is_refused(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)
    run_optimize(strategy, sample_store, tmp_path / "out", "--study mine --trials 1 --seed 1 --no-plots")

    result = run_fx(
        *optimize_args(strategy, sample_store, tmp_path / "out", *["--study", "mine", "--fee-bps", "20"])
    )

    assert "study 'mine' exists with other settings" in error_line(result)
