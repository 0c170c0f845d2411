"""Benchmark: `fx variants validate` and `fx variants list` on folders of 2k, 10k and 100k variants.

What it measures, in one run: for each size, one variants file of N valid variants (PUMP, EMA, RSI
and SPREAD tables in turn, each under a comment line, as people write them) in a temp dir under
`bench/.work/`, and the wall time of `fx variants validate` and `fx variants list --json` on it as
real subprocesses (best of 3, interpreter start-up included: ~0.4 s of every figure), in seconds
and variants per second.

The peer is fx before the fix, when given with `--before DIR` (an fx source tree, e.g.
`git worktree add /tmp/fx-before 99e919f`): the same commands run with `PYTHONPATH=DIR` on the same
files in the same run, once each and capped at `--timeout` seconds (it was quadratic: 2,000
variants took 14.5 s). The ratio is its time over this tree's (>1: faster now). The issue's target:
10,000 variants validate in seconds (here: under 5 s). Nothing is asserted about timings: it is not
part of the test suite.

Run: `.venv/bin/python bench/variants.py [--sizes 2000,10000,100000] [--before DIR]` from the repo
root; the temp dir is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import Layout, Line, Run, argument_parser, cores_and_python, rate

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
SIZES = (2_000, 10_000, 100_000)
REPEATS = 3
TIMEOUT_S = 120.0
TARGET_SIZE = 10_000
TARGET_VALIDATE_S = 5.0
COMMANDS = {"validate": ("variants", "validate"), "list": ("variants", "list", "--json")}
BLOCKS = (
    (
        'indicator = "PUMP_MAGNITUDE_PCT"',
        'type = "GENERAL"',
        "params = { recent = [{i}, 0], baseline = [300, {i}] }",
    ),
    ('indicator = "EMA"', 'type = "PRICE"', "params = { span = {i} }"),
    ('indicator = "RSI"', 'type = "RISK"', "params = { period = {i} }"),
    ('indicator = "SPREAD_PCT"', 'type = "GENERAL"', 'description = "spread number {i}"'),
)

LAYOUT = Layout(
    legend="ratio = time before the fix / time now (>1: faster now); times include ~0.4 s start-up",
    fx_width=20,
    peer_name_width=6,
    peer_width=20,
    ratio_width=7,
    script="bench/variants.py",
)


def variants_file(n: int) -> str:
    """Text of one variants file holding `n` valid variants."""
    parts = ["schema = 1\n"]
    for i in range(n):
        lines = "\n".join(line.replace("{i}", str(i % 250 + 1)) for line in BLOCKS[i % len(BLOCKS)])
        parts.append(f"\n# variant {i}\n[v{i:06d}]\n{lines}\n")
    return "".join(parts)


def time_fx(
    folder: Path, command: tuple[str, ...], source: Path | None, repeats: int, timeout_s: float
) -> float | None:
    """Best wall time of `fx COMMAND --variants-dir folder` (None when it ran past `timeout_s`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            result = subprocess.run(
                [sys.executable, "-m", "fxcli", *command, "--variants-dir", str(folder)],
                capture_output=True,
                text=True,
                cwd=folder,  # not the checkout: `python -m` imports the fxcli of the current folder first
                env=env,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"fx {' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
        best = elapsed if best is None else min(best, elapsed)
    return best


def figure(n: int, seconds: float | None, timeout_s: float) -> str:
    """`1.23 s, 8k/s`, or `> 120 s` for a run that was stopped."""
    if seconds is None:
        return f"> {timeout_s:.0f} s"
    return f"{seconds:.2f} s, {rate(n / seconds)}"


def measure(sizes: list[int], before: Path | None, timeout_s: float, work: Path) -> list[Line]:
    """One line per size and command: now, and before the fix when a source tree is given."""
    lines = []
    for n in sizes:
        folder = work / f"n{n}"
        folder.mkdir()
        (folder / "many.toml").write_text(variants_file(n), encoding="utf-8")
        for name, command in COMMANDS.items():
            now = time_fx(folder, command, None, REPEATS, timeout_s)
            old = time_fx(folder, command, before, 1, timeout_s) if before is not None else None
            ratio = "—"
            if before is not None and now is not None:
                ratio = f"> {timeout_s / now:.0f}x" if old is None else f"{old / now:.1f}x"
            is_target = name == "validate" and n == TARGET_SIZE
            lines.append(
                Line(
                    area=f"{n:,} variants",
                    what=f"fx variants {name}",
                    fx=figure(n, now, timeout_s),
                    peer_name="before" if before is not None else "",
                    peer=figure(n, old, timeout_s) if before is not None else "not run",
                    ratio=ratio,
                    target=f"<= {TARGET_VALIDATE_S:.0f} s",
                    is_met=(now is not None and now <= TARGET_VALIDATE_S) if is_target else None,
                )
            )
            print(f"  measured: {lines[-1].label}", flush=True)
    return lines


def parse_args() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in SIZES),
        help="Comma-separated variant counts (default 2000,10000,100000).",
    )
    parser.add_argument("--before", type=Path, help="An fx source tree to time on the same files (the peer).")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="Cap on one run of the peer, in s.")
    return parser.parse_args()


def main() -> None:
    """Write the folders under bench/.work, time both commands on each, print, clean up."""
    args = parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    run = Run(LAYOUT)
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="variants-", dir=WORK))
    try:
        lines = measure(sizes, args.before, args.timeout, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    before = f"; before = {args.before}" if args.before else ""
    run.finish(lines, measured_on=f"one file of N variants; {cores_and_python()}{before}")


if __name__ == "__main__":
    main()
