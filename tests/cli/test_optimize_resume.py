"""Resume and stop: kill -9 at a random point then the same command; SIGINT; several worker processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import polars as pl
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from tests.cli.optimize_helpers import ADMISSIBLE, optimize_args, points, run_optimize, strategy_file, trials

SEEDED = "--sampler tpe --trials 14 --seed 11 --no-plots"


def _start(args: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    return subprocess.Popen(
        [sys.executable, "-m", "fxcli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_trials(journal: Path, n: int, timeout_s: float = 60.0) -> None:
    """Until the journal holds `n` finished trials (op 6 = set_trial_state_values)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if journal.is_file():
            ops = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
            if sum(1 for op in ops if op.get("op_code") == 6 and op.get("state") in (1, 2, 3)) >= n:
                return
        time.sleep(0.05)
    raise AssertionError(f"{journal}: fewer than {n} finished trials after {timeout_s} s")


def test_optimize_kill_9_then_resume_gives_the_uninterrupted_trials(
    sample_store: Path, tmp_path: Path
) -> None:
    strategy = strategy_file(tmp_path)
    whole = run_optimize(strategy, sample_store, tmp_path / "whole", SEEDED)
    rng = random.Random()
    kill_after = rng.randint(2, 11)
    study_dir = tmp_path / "killed" / "optimize" / whole["study"]

    process = _start(optimize_args(strategy, sample_store, tmp_path / "killed", *SEEDED.split()))
    _wait_for_trials(study_dir / "study.journal", kill_after)
    time.sleep(rng.uniform(0.0, 0.3))  # somewhere inside a trial, or between two
    process.send_signal(signal.SIGKILL)
    process.communicate()
    resumed = run_optimize(strategy, sample_store, tmp_path / "killed", SEEDED)

    assert resumed["study"] == whole["study"]
    expected = points(trials(whole["results_dir"]))
    got = points(trials(resumed["results_dir"]))
    assert got == expected, f"killed after {kill_after} trials"
    assert resumed["best"]["params"] == whole["best"]["params"]


@pytest.mark.parametrize(
    ("stop", "jobs", "code"),
    [(signal.SIGINT, "1", 130), (signal.SIGTERM, "2", 143)],
    ids=["sigint", "sigterm-jobs-2"],
)
def test_optimize_signal_finishes_the_trials_in_flight_and_prints_the_resume_command(
    sample_store: Path, tmp_path: Path, stop: signal.Signals, jobs: str, code: int
) -> None:
    strategy = strategy_file(tmp_path)
    options = f"--trials 40 --jobs {jobs} --seed 12 --no-plots"
    process = _start(optimize_args(strategy, sample_store, tmp_path / "out", *options.split()))
    journal = next_journal(tmp_path / "out")

    _wait_for_trials(journal(), 3)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    frame = trials(journal().parent)

    assert process.returncode == code, stderr
    assert "resume with: fx optimize run" in stderr
    assert not frame.filter(pl.col("state") == "RUNNING").height  # every worker finished its trial
    assert 3 <= frame.height < 40
    resumed = run_optimize(strategy, sample_store, tmp_path / "out", options)
    assert resumed["trials"]["complete"] + resumed["trials"]["failed"] + resumed["trials"]["pruned"] >= 40


def next_journal(out: Path) -> Callable[[], Path]:
    """A function finding the one study journal under `out` once it exists."""

    def find() -> Path:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list((out / "optimize").glob("*/study.journal"))
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no study journal under {out}")

    return find


def test_optimize_two_processes_on_one_journal_share_the_grid(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)
    args = optimize_args(
        strategy, sample_store, tmp_path / "out", "--sampler", "grid", "--study", "g", "--no-plots", "--json"
    )

    first, second = _start(args), _start(args)
    outputs = [p.communicate(timeout=300) for p in (first, second)]

    assert first.returncode == 0, outputs[0][1]
    assert second.returncode == 0, outputs[1][1]
    docs = [json.loads(o[0]) for o in outputs]
    frame = trials(docs[0]["results_dir"])
    done = points(frame)
    assert len(done) == len(set(done)) == len(ADMISSIBLE)  # every point once, none twice
    assert sum(d["this_run"]["complete"] for d in docs) == len(ADMISSIBLE)


def test_optimize_jobs_2_workers_finish_the_study(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)

    doc = run_optimize(strategy, sample_store, tmp_path / "out", "--sampler grid --jobs 2 --no-plots")

    done = points(trials(doc["results_dir"]))
    assert len(done) == len(set(done)) == len(ADMISSIBLE)
    assert doc["this_run"]["complete"] == len(ADMISSIBLE)
    assert doc["rerun_matches"] is True


def test_optimize_kill_9_of_a_worker_leaves_no_trial_running(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path)
    options = ["--trials", "16", "--jobs", "2", "--seed", "4", "--no-plots", "--json"]
    process = _start(optimize_args(strategy, sample_store, tmp_path / "out", *options))
    journal = next_journal(tmp_path / "out")

    _wait_for_trials(journal(), 2)
    os.kill(_trial_owners(journal())[-1], signal.SIGKILL)  # a worker that has run a trial
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr
    doc = json.loads(stdout)
    study = optuna.load_study(
        study_name=doc["study"], storage=JournalStorage(JournalFileBackend(str(journal())))
    )
    running = study.get_trials(states=(TrialState.RUNNING,))
    # Only a trial created in the instant before its process wrote its name may wait (a minute) to be
    # failed; one that has an owner or parameters is failed and queued again at once.
    assert all("pid" not in t.user_attrs and not t.params for t in running), running
    assert doc["trials"]["abandoned"] <= 1


def _trial_owners(journal: Path) -> list[int]:
    """The pids that have claimed trials in a journal, in order of first claim."""
    pids: dict[int, None] = {}
    for line in journal.read_text().splitlines():
        op = json.loads(line)
        if op.get("op_code") == 8 and "pid" in op.get("user_attr", {}):
            pids[op["user_attr"]["pid"]] = None
    return list(pids)
