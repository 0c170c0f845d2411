"""`[variants.NAME]` in a strategy file: `fx backtest` runs it as if the variants file said so, and
a realised point of the search space (best.toml) is a strategy `fx backtest` runs on its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

from fxcli.optimize.space import load_space, strategy_text
from tests.conftest import REPO, error_line, run_fx

STRATEGY = REPO / "strategies" / "momentum_scalper.toml"
OVERRIDE = "\n[variants.momentum_10s]\nwindow = [30, 0]\n"


def fx_backtest(
    store: Path, strategy: Path, out: Path, variants: Path = REPO / "variants"
) -> CompletedProcess[str]:
    args = ["backtest", str(strategy), "--variants-dir", str(variants), "--symbol", "BTCUSDT"]
    return run_fx(*args, "--data-dir", str(store), "--out", str(out), "--json")


def backtest(store: Path, strategy: Path, variants: Path, out: Path) -> dict[str, Any]:
    result = fx_backtest(store, strategy, out, variants)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    return {key: document[key] for key in ("symbols", "combined")}  # run ids differ: the files do


def strategy_copy(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True)
    path = folder / STRATEGY.name  # the same name: the summaries name the same strategy
    path.write_text(STRATEGY.read_text() + extra)
    return path


def test_override_runs_as_the_edited_variants_file_does(sample_store: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited-variants"
    shutil.copytree(REPO / "variants", edited)
    edit = run_fx("variants", "edit", "momentum_10s", "-p", "window=[30,0]", "--variants-dir", str(edited))
    assert edit.returncode == 0, edit.stderr
    overridden = strategy_copy(tmp_path / "override", OVERRIDE)
    candidate = load_space(STRATEGY, REPO / "variants").realise({"variants.momentum_10s.window": "[30, 0]"})
    best = strategy_copy(tmp_path / "best")
    best.write_text(strategy_text(candidate.document))

    plain = backtest(sample_store, STRATEGY, REPO / "variants", tmp_path / "r0")
    with_edit = backtest(sample_store, STRATEGY, edited, tmp_path / "r1")
    with_override = backtest(sample_store, overridden, REPO / "variants", tmp_path / "r2")
    from_best = backtest(sample_store, best, REPO / "variants", tmp_path / "r3")

    assert with_override == with_edit
    assert from_best == with_edit
    assert with_override != plain  # the override did change the run
    assert with_edit["symbols"]["BTCUSDT"]["metrics"] != plain["symbols"]["BTCUSDT"]["metrics"]


def test_bad_override_is_one_line_naming_file_line_and_key(sample_store: Path, tmp_path: Path) -> None:
    unknown_param = strategy_copy(tmp_path / "a", "\n[variants.momentum_10s]\nwindw = [30, 0]\n")
    unknown_name = strategy_copy(tmp_path / "b", "\n[variants.momentum_1s]\nwindow = [30, 0]\n")
    bad_value = strategy_copy(tmp_path / "c", "\n[variants.momentum_10s]\nwindow = [0, 30]\n")
    lines = len(STRATEGY.read_text().splitlines())

    messages = [
        error_line(fx_backtest(sample_store, path, tmp_path / "out"))
        for path in (unknown_param, unknown_name, bad_value)
    ]

    assert messages[0].startswith(
        f"{unknown_param}:{lines + 3}: variants.momentum_10s.windw: "
        "unknown parameter of PRICE_MOMENTUM (takes"
    )
    assert messages[1].startswith(
        f"{unknown_name}:{lines + 2}: variants.momentum_1s: 'momentum_1s' is not a variant or an indicator"
    )
    assert messages[2].startswith(
        f"{bad_value}:{lines + 3}: variants.momentum_10s.window: window (0, 30) must have"
    )
    assert not (tmp_path / "out").exists()


def test_stream_plans_the_override_as_the_edited_variants_file(sample_store: Path, tmp_path: Path) -> None:
    from fxcli.tasks.backtest import Options
    from fxcli.tasks.stream import plan

    edited = tmp_path / "edited-variants"
    shutil.copytree(REPO / "variants", edited)
    assert (
        run_fx(
            "variants", "edit", "momentum_10s", "-p", "window=[30,0]", "--variants-dir", str(edited)
        ).returncode
        == 0
    )
    overridden = strategy_copy(tmp_path / "override", OVERRIDE)

    def indicators(strategy: Path, variants: Path, replay: Path | None) -> Any:
        return plan(
            str(strategy),
            ["BTCUSDT"],
            strategies_dir=REPO / "strategies",
            variants_dir=variants,
            options=Options(),
            replay_dir=replay,
        ).indicators

    for replay in (sample_store, None):  # --replay, and a live stream (planned, not connected)
        with_override = indicators(overridden, REPO / "variants", replay)
        assert with_override == indicators(STRATEGY, edited, replay)
        assert with_override != indicators(STRATEGY, REPO / "variants", replay)
