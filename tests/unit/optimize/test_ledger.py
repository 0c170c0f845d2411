"""The trial ledger: totals across studies and incarnations, the holdout, unlock, concurrency, damage."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from fxcli.errors import FxError
from fxcli.optimize.ledger import Ledger, ledger_path

HOUR = 3_600_000_000_000
H_LO, H_HI = 100 * HOUR, 110 * HOUR


def test_totals_sum_the_latest_count_of_every_study(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path, "scalper")
    ledger.record_trials("a", 10)
    ledger.record_trials("b", 5)
    ledger.record_trials("a", 30)  # a resumed: its latest count replaces the earlier one

    again = Ledger.open(tmp_path, "scalper")

    assert again.studies() == {"a": 30, "b": 5}
    assert again.total_trials() == 35
    assert Ledger.open(tmp_path, "other").total_trials() == 0  # one ledger per strategy


def test_a_study_made_again_under_its_name_adds_its_trials(tmp_path: Path) -> None:
    # Its folder deleted and the same command run again: a new instance; the old trials still count.
    ledger = Ledger.open(tmp_path, "scalper")
    ledger.record_trials("a", 50, instance="first")
    ledger.record_trials("a", 20, instance="second")
    ledger.record_trials("a", 50, instance="second")

    assert Ledger.open(tmp_path, "scalper").studies() == {"a": 100}


def _append_many(out: str, tag: str, n: int) -> None:
    ledger = Ledger.open(Path(out), "scalper")
    for i in range(n):
        ledger.record_trials(f"{tag}-{i}", i)


def test_two_processes_appending_at_once_lose_no_line(tmp_path: Path) -> None:
    n = 400
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), t, n)) for t in ("x", "y")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0

    lines = ledger_path(tmp_path, "scalper").read_text().splitlines()

    assert len(lines) == 2 * n
    assert all(json.loads(line)["kind"] == "trials" for line in lines)  # none torn or interleaved
    assert Ledger.open(tmp_path, "scalper").total_trials() == 2 * sum(range(n))


def test_the_holdout_refuses_every_window_that_touches_it(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path, "scalper")
    assert ledger.set_holdout(H_LO, H_HI) is True
    locked = Ledger.open(tmp_path, "scalper")

    assert locked.holdout() == (H_LO, H_HI)
    for window in ((None, None), (None, H_LO + 1), (H_HI - 1, None), (H_LO + 5, H_LO + 6), (0, 200 * HOUR)):
        with pytest.raises(FxError, match=r"locked holdout .*fx optimize unlock scalper"):
            locked.check_window(*window)
    locked.check_window(None, H_LO)  # half-open: ends just before it
    locked.check_window(H_HI, None)


def test_the_same_holdout_again_is_fine_another_is_refused(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path, "scalper")
    ledger.set_holdout(H_LO, H_HI)

    assert ledger.set_holdout(H_LO, H_HI) is False
    with pytest.raises(FxError, match="already has the holdout"):
        ledger.set_holdout(H_LO, H_HI + HOUR)
    assert len(ledger_path(tmp_path, "scalper").read_text().splitlines()) == 1


def test_a_holdout_after_trials_were_run_is_refused(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path, "scalper")
    ledger.record_trials("a", 3)

    with pytest.raises(FxError, match=r"already has 3 trials .*first study"):
        ledger.set_holdout(H_LO, H_HI)


def test_unlock_opens_the_range_and_is_recorded(tmp_path: Path) -> None:
    Ledger.open(tmp_path, "scalper").set_holdout(H_LO, H_HI)

    entry = Ledger.open(tmp_path, "scalper").unlock()

    reopened = Ledger.open(tmp_path, "scalper")
    assert reopened.holdout() is None
    reopened.check_window(None, None)
    assert reopened.unlocked() == [entry]
    assert (entry["from_ns"], entry["to_ns"]) == (H_LO, H_HI)
    assert entry["by"]
    assert entry["host"]
    assert entry["time"].endswith("Z")
    last = json.loads(ledger_path(tmp_path, "scalper").read_text().splitlines()[-1])
    assert last["kind"] == "unlock"
    doc = reopened.document()
    assert (doc["locked"], doc["holdout"], doc["unlocked"]) == (False, entry["range"], [entry])


def test_unlock_without_a_holdout_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FxError, match="no holdout to unlock"):
        Ledger.open(tmp_path, "scalper").unlock()


@pytest.mark.parametrize(
    "line",
    [
        "{not json",
        "[1, 2]",
        '{"kind": "party"}',
        '{"kind": "trials", "study": "a"}',
        '{"kind": "trials", "study": "a", "trials": -1}',
        '{"kind": "holdout", "from_ns": 5, "to_ns": 5}',
    ],
)
def test_a_damaged_line_is_one_error_naming_file_and_line(tmp_path: Path, line: str) -> None:
    path = ledger_path(tmp_path, "scalper")
    path.parent.mkdir(parents=True)
    good = '{"kind": "trials", "study": "a", "trials": 1}\n'
    path.write_text(good + line + "\n" + good)

    with pytest.raises(FxError, match=f"^{path}:2: not a ledger line"):
        Ledger.open(tmp_path, "scalper")
