"""Benchmark: `fx backtest` end to end from the store (process start to result), this tree against main.

A synthetic day of stored trades (3M by default, with pump episodes so pump_rider trades) is written
once to a store under bench/.work/. Then `fx backtest pump_rider` runs as a process on it, for this
tree and for the code on the `main` branch (its files exported with `git archive` into bench/.work/
and run with the same virtualenv): the figures are events per second of wall time from process
start to exit, and peak RSS per event (ru_maxrss of the child). Both must write the same
summary.json bytes: the columnar path changes speed, not results. Best of REPEATS for the time.

Run: `make bench`, or `.venv/bin/python bench/backtest_store.py [--trades N] [--peer REF]`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import Layout, Line, Run, argument_parser, rate

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
TRADES = 3_000_000
REPEATS = 2
DAY0_NS = 1_723_161_600_000_000_000  # 2024-08-09 00:00 UTC
TARGET_RATE = 1.5e6
TARGET_BYTES = 100.0


def write_store(root: Path, count: int, seed: int = 5) -> None:
    """`count` trades over one day: same-ms bursts, a random walk with four pumps."""
    import polars as pl

    from fxcli.store.schema import SPECS, Table
    from fxcli.store.writer import StoreWriter, WriteBatch

    rng = np.random.default_rng(seed)
    gaps_ms = rng.exponential(86_400_000 / count * 1.6, count).astype(np.int64) * (rng.random(count) < 0.6)
    ts = DAY0_NS + np.cumsum(gaps_ms) * 1_000_000
    ts = np.minimum(ts, DAY0_NS + 86_399_999_000_000)
    log_price = np.cumsum(rng.normal(0, 2e-5, count))
    for where in (0.2, 0.45, 0.65, 0.85):  # pumps: +15 % over 3 min, back over 10 min
        at = int(where * count)
        rise = np.clip((ts - ts[at]) / 180e9, 0, 1) * 0.15
        fall = np.clip((ts - ts[at] - 180e9) / 600e9, 0, 1) * 0.15
        log_price += rise - fall
    frame = pl.DataFrame(
        {
            "exchange_ts_ns": ts,
            "received_ts_ns": ts + 2_000_000,
            "price": 0.05 * np.exp(log_price),
            "qty": rng.lognormal(3, 1, count),
            "side": np.where(rng.random(count) < 0.5, 1, -1).astype(np.int8),
            "trade_id": np.arange(count, dtype=np.int64),
            "backfilled": pl.Series([None] * count, dtype=pl.Boolean),
        },
        schema=SPECS[Table.TRADES].polars_schema(),
    )
    with StoreWriter(root) as writer:
        writer.submit(WriteBatch("mexc", "PUMPUSDT", Table.TRADES, frame), block=True)


def export_peer(ref: str, into: Path) -> Path:
    """The fxcli package of git `ref`, exported under `into`."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "fxcli"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def run_fx(source: Path, data: Path, out: Path) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS bytes and summary.json of one `fx backtest` process importing fxcli
    from `source`."""
    code = (  # the fxcli imported must be the one under `source` (not the installed tree)
        "import sys, fxcli; assert fxcli.__file__.startswith(sys.argv.pop(1)); "
        "from fxcli.cli import main; sys.exit(main())"
    )
    args = [
        sys.executable, "-c", code, str(source), "backtest", "pump_rider", "--symbol", "PUMPUSDT",
        "--data-dir", str(data), "--out", str(out),
        "--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    child = subprocess.Popen(args, env=env, cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read() if child.stderr else b""
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS (ru_maxrss, KiB)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"fx backtest from {source} failed:\n{stderr.decode()}")
    peak = usage.ru_maxrss * 1024
    summaries = list(out.rglob("summary.json"))
    summary = summaries[0].read_bytes()
    shutil.rmtree(out)
    return wall, peak, summary


def measure(source: Path, data: Path, scratch: Path) -> tuple[float, int, bytes]:
    """Best wall time of REPEATS runs and the peak RSS (measured alone: ru_maxrss is a maximum)."""
    walls, peak, summary = [], 0, b""
    for k in range(REPEATS):
        wall, rss, summary = run_fx(source, data, scratch / f"out{k}")
        walls.append(wall)
        peak = max(peak, rss)
    return min(walls), peak, summary


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--trades", type=int, default=TRADES, help=f"stored trades (default {TRADES:,})")
    parser.add_argument("--peer", default="main", help="git ref of the code to compare with (default main)")
    args = parser.parse_args()
    layout = Layout(
        legend="ratio: this tree's figure over main's (higher is better for events/s, lower for bytes)",
        fx_width=18,
        peer_name_width=4,
        peer_width=18,
        ratio_width=7,
        script="bench/backtest_store.py",
    )
    run = Run(layout)
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        scratch = Path(tmp)
        data = scratch / "data"
        print(f"writing {args.trades:,} stored trades ...", flush=True)
        write_store(data, args.trades)
        peer = export_peer(args.peer, scratch / "peer")
        peer_wall, peer_rss, peer_summary = measure(peer, data, scratch)
        wall, rss, summary = measure(REPO, data, scratch)
    events = args.trades
    same = summary == peer_summary
    per_s, peer_per_s = events / wall, events / peer_wall
    lines = [
        Line(
            "fx backtest from the store",
            f"{events / 1e6:g}M trades: events/s end to end",
            rate(per_s, "events"),
            args.peer,
            rate(peer_per_s, "events"),
            f"{per_s / peer_per_s:.2f}x",
            f">= {rate(TARGET_RATE, 'events')}",
            per_s >= TARGET_RATE,
        ),
    ]
    lines.append(
        Line(
            "fx backtest from the store",
            f"{events / 1e6:g}M trades: peak RSS per event",
            f"{rss / events:.0f} B",
            args.peer,
            f"{peer_rss / events:.0f} B",
            f"{rss / peer_rss:.2f}x",
            f"<= {TARGET_BYTES:.0f} B + constant",
            (rss - 150 * 2**20) / events <= TARGET_BYTES,
        )
    )
    notes = [
        f"  wall {wall:.2f} s against {peer_wall:.2f} s; peak RSS {rss / 2**20:.0f} MiB against "
        f"{peer_rss / 2**20:.0f} MiB (the target allows a constant: 150 MiB of interpreter and libraries)",
        f"  summary.json identical to {args.peer}'s: {'yes' if same else 'NO'}",
    ]
    run.finish(lines, notes=notes)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
