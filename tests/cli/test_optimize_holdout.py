"""The trial ledger and the locked holdout as a user meets them: `fx optimize run`, `walk-forward`,
`show`, `unlock` on the shipped sample (trades 2024-08-08 23:54:15Z..23:56:30Z)."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from tests.cli.optimize_helpers import optimize_args, run_optimize, strategy_file
from tests.cli.test_optimize_resume import _start, _wait_for_trials, next_journal
from tests.conftest import error_line, run_fx

HOLDOUT = "2024-08-08T23:56:00Z..2024-08-08T23:59:59Z"
SHOWN = "2024-08-08T23:56:00.000Z..2024-08-08T23:59:59.000Z"
BEFORE = "--to 2024-08-08T23:55:59.999Z"
QUICK = "--sampler random --trials 2 --seed 1 --min-trades 0 --no-plots"


def _tried(doc: dict[str, object]) -> int:
    counts = doc["trials"]
    assert isinstance(counts, dict)
    return int(counts["complete"] + counts["pruned"] + counts["failed"] + counts["running"])


def _ledger_lines(out: Path) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in (out / "optimize" / "ledger" / "scalper.jsonl").read_text().splitlines()
    ]


def test_the_ledger_counts_every_study_even_a_deleted_one(sample_store: Path, tmp_path: Path) -> None:
    strategy, out = strategy_file(tmp_path), tmp_path / "out"
    first = run_optimize(strategy, sample_store, out, f"{QUICK} --study a")
    other = run_optimize(strategy, sample_store, out, f"{QUICK} --study b --trials 3")
    assert other["ledger"]["total_trials"] == _tried(first) + _tried(other)

    shutil.rmtree(out / "optimize" / "a")  # the same search again, its first trials "forgotten"
    again = run_optimize(strategy, sample_store, out, f"{QUICK} --study a")

    assert again["ledger"]["studies"] == {"a": _tried(first) + _tried(again), "b": _tried(other)}
    assert again["ledger"]["total_trials"] == _tried(first) + _tried(other) + _tried(again)
    shown = json.loads(run_fx("optimize", "show", "b", "--out", str(out), "--json").stdout)
    assert shown["ledger"]["total_trials"] == again["ledger"]["total_trials"]


def test_a_run_stopped_by_sigterm_records_its_trials(sample_store: Path, tmp_path: Path) -> None:
    strategy, out = strategy_file(tmp_path), tmp_path / "out"
    process = _start(
        optimize_args(strategy, sample_store, out, *["--trials", "40", "--seed", "3", "--no-plots"])
    )
    journal = next_journal(out)
    _wait_for_trials(journal(), 3)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr

    shown = json.loads(run_fx("optimize", "show", journal().parent.name, "--out", str(out), "--json").stdout)
    assert _ledger_lines(out)[-1]["trials"] == _tried(shown) >= 3


def test_every_command_refuses_the_locked_holdout_until_unlocked(sample_store: Path, tmp_path: Path) -> None:
    strategy, out = strategy_file(tmp_path), tmp_path / "out"
    study = run_optimize(strategy, sample_store, out, f"{QUICK} --holdout {HOLDOUT} {BEFORE}")
    assert study["ledger"]["holdout"] == SHOWN
    assert study["ledger"]["locked"] is True
    run_args = optimize_args(strategy, sample_store, out, *QUICK.split())
    wf_args = ["optimize", "walk-forward", *run_args[2:], "--train", "30s", "--test", "20s"]

    for args in (
        run_args,  # no window: it would include the holdout
        [*run_args, "--from", "2024-08-08T23:56:10Z"],
        [*run_args, "--holdout", HOLDOUT, "--to", "2024-08-08T23:56:00Z"],  # --to is inclusive
        wf_args,
        [*wf_args, "--from", "2024-08-08T23:55:00Z"],
    ):
        message = error_line(run_fx(*args))
        assert f"locked holdout {SHOWN}" in message, args
        assert "fx optimize unlock scalper" in message
    assert "a strategy has one holdout" in error_line(
        run_fx(*run_args, "--holdout", "2024-08-08T23:56:00Z..2024-08-08T23:58:00Z", *BEFORE.split())
    )
    assert [e["kind"] for e in _ledger_lines(out)].count("holdout") == 1

    unlocked = run_fx("optimize", "unlock", "scalper", "--out", str(out), "--json")
    assert unlocked.returncode == 0, unlocked.stderr
    entry = _ledger_lines(out)[-1]
    assert entry["kind"] == "unlock"
    assert json.loads(unlocked.stdout)["unlock"]["time"] == entry["time"]

    final = run_optimize(strategy, sample_store, out, QUICK)  # the whole window: the final test
    assert final["ledger"]["locked"] is False
    assert [u["time"] for u in final["ledger"]["unlocked"]] == [entry["time"]]
    shown = run_fx("optimize", "show", final["study"], "--out", str(out))
    assert f"unlocked     {SHOWN} at {entry['time']} by {entry['by']}@{entry['host']}" in shown.stdout


def test_a_holdout_given_to_walk_forward_is_locked_first(sample_store: Path, tmp_path: Path) -> None:
    strategy, out = strategy_file(tmp_path), tmp_path / "out"
    args = optimize_args(strategy, sample_store, out, *QUICK.split())[2:]

    message = error_line(
        run_fx("optimize", "walk-forward", *args, "--train", "30s", "--test", "20s", "--holdout", HOLDOUT)
    )

    assert f"locked holdout {SHOWN}" in message
    assert _ledger_lines(out)[0]["kind"] == "holdout"


def test_holdout_and_ledger_errors_are_one_line(sample_store: Path, tmp_path: Path) -> None:
    strategy, out = strategy_file(tmp_path), tmp_path / "out"
    run_args = optimize_args(strategy, sample_store, out, *QUICK.split())
    run_optimize(strategy, sample_store, out, QUICK)

    assert "first study" in error_line(run_fx(*run_args, "--holdout", HOLDOUT, *BEFORE.split()))
    assert "not FROM..TO" in error_line(run_fx(*run_args, "--holdout", "2024-08-08"))
    assert "FROM is after TO" in error_line(run_fx(*run_args, "--holdout", "2024-08-09..2024-08-08"))
    assert "no holdout to unlock" in error_line(run_fx("optimize", "unlock", "scalper", "--out", str(out)))
    assert "no ledger" in error_line(run_fx("optimize", "unlock", "nothing", "--out", str(out)))
    assert "ledger folder" in error_line(run_fx(*run_args, "--study", "ledger"))

    ledger = out / "optimize" / "ledger" / "scalper.jsonl"
    ledger.write_text(ledger.read_text() + '{"kind": "trials", "study": 7}\n')
    line = len(ledger.read_text().splitlines())
    assert (
        error_line(run_fx(*run_args)) == f"{ledger}:{line}: not a ledger line (study is missing or not str)"
    )


def test_robustness_refuses_a_study_whose_window_touches_the_locked_holdout(
    sample_store: Path, tmp_path: Path
) -> None:
    # A study of the whole window made before the holdout was set (here: its ledger gone, as for a
    # study copied from another results folder) is not re-run on the locked range.
    strategy, out = strategy_file(tmp_path), tmp_path / "out"
    whole = run_optimize(strategy, sample_store, out, f"{QUICK} --study whole")
    (out / "optimize" / "ledger" / "scalper.jsonl").unlink()
    run_optimize(strategy, sample_store, out, f"{QUICK} --study early --holdout {HOLDOUT} {BEFORE}")

    args = ["optimize", "robustness", whole["study"], "--out", str(out), "--data-dir", str(sample_store)]
    message = error_line(run_fx(*args, "--mc", "permute", "-n", "10"))

    assert f"locked holdout {SHOWN}" in message
    assert not (out / "optimize" / "whole" / "robustness").exists()
