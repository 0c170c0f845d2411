"""Shared pieces of the `fx optimize` CLI tests: a strategy with a [search] table, a run, the trials."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import polars as pl

from tests.conftest import REPO, run_fx

SEARCH = """
[search]
"s1[0].value" = { low = 0.0001, high = 0.0009, step = 0.0004 }
"exits.tp_pct" = { low = 0.04, high = 0.16, step = 0.04 }
"sizing.base_position_pct" = { choices = [0.25, 1.0] }
constraint = ["exits.tp_pct > exits.sl_buffer_pct"]
"""
# 3 x 4 x 2 points; tp 0.04 <= sl_buffer 0.05 breaks the constraint: 3 x 3 x 2 = 18 admissible.
ADMISSIBLE = {
    (s1, tp, size) for s1 in (0.0001, 0.0005, 0.0009) for tp in (0.08, 0.12, 0.16) for size in (0.25, 1.0)
}


def strategy_file(folder: Path, extra: str = SEARCH) -> Path:
    """momentum_scalper with this [search] table (instead of the one it ships with), in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scalper.toml"
    shipped = (REPO / "strategies" / "momentum_scalper.toml").read_text()
    path.write_text(shipped.split("\n[search]", 1)[0] + extra)
    return path


def optimize_args(strategy: Path, store: Path, out: Path, *extra: str) -> list[str]:
    """The arguments of `fx optimize run` on the sample store."""
    return [
        "optimize",
        "run",
        str(strategy),
        "--symbol",
        "BTCUSDT",
        "--data-dir",
        str(store),
        "--variants-dir",
        str(REPO / "variants"),
        "--out",
        str(out),
        *extra,
    ]


def run_optimize(strategy: Path, store: Path, out: Path, options: str = "", code: int = 0) -> dict[str, Any]:
    """Run `fx optimize run ... OPTIONS --json` (OPTIONS split as a shell does) and return its document."""
    result = run_fx(*optimize_args(strategy, store, out, *shlex.split(options), "--json"))
    assert result.returncode == code, (result.returncode, result.stderr)
    return dict(json.loads(result.stdout))


def trials(results_dir: str | Path) -> pl.DataFrame:
    """trials.parquet of a study, by trial number."""
    return pl.read_parquet(Path(results_dir) / "trials.parquet").sort("number")


def points(frame: pl.DataFrame) -> list[tuple[float, ...]]:
    """(s1[0].value, exits.tp_pct, sizing.base_position_pct) of the complete trials, in trial order,
    rounded to 9 digits (a grid step of 0.0004 is not exact in binary)."""
    done = frame.filter(pl.col("state") == "COMPLETE")
    keys = ("params.s1[0].value", "params.exits.tp_pct", "params.sizing.base_position_pct")
    columns = [done[k].to_list() for k in keys]
    return [tuple(round(float(v), 9) for v in row) for row in zip(*columns, strict=True)]
