"""The bench hook of `fx optimize run`: FX_OPTIMIZE_RSS_LOG makes every worker log its RSS per trial."""

from __future__ import annotations

from pathlib import Path

from tests.cli.optimize_helpers import optimize_args, run_optimize, strategy_file, trials
from tests.conftest import run_fx


def test_optimize_rss_log_has_one_line_per_trial_from_each_worker(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path / "s")
    log = tmp_path / "rss.log"
    result = run_fx(
        *optimize_args(
            strategy,
            sample_store,
            tmp_path / "out",
            "--sampler",
            "grid",
            "--jobs",
            "2",
            "--no-plots",
            "--json",
        ),
        env={"FX_OPTIMIZE_RSS_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr
    rows = [tuple(int(x) for x in line.split()) for line in log.read_text().splitlines()]
    (study,) = (p for p in (tmp_path / "out" / "optimize").iterdir() if p.name != "ledger")
    done = trials(study)
    numbers = sorted(done.filter(done["state"] != "WAITING")["number"].to_list())
    assert sorted(number for _, number, _ in rows) == numbers  # every evaluated trial once
    pids = {pid for pid, _, _ in rows}
    assert len(pids) == 2
    assert all(kb > 10_000 for _, _, kb in rows)


def test_optimize_without_the_variable_writes_no_log(sample_store: Path, tmp_path: Path) -> None:
    strategy = strategy_file(tmp_path / "s")
    run_optimize(strategy, sample_store, tmp_path / "out", "--sampler random --trials 2 --no-plots")
    assert not list(tmp_path.rglob("*.log"))
