"""fx optimize against vectorbt and backtesting.py on one synthetic tick day, and its own figures.

Everything the issue's Proof asks of `bench/optimize.py` (issue 13), in one run:

1. Threshold-only search: `fx optimize run` with `--sampler grid --jobs 2` over 4 parameters of
   pump_rider (the full S1 -> O1/Z1 -> ZE1/E1 machine, latency fills and cooldowns): the two S1
   thresholds (`s1[0].value`, pump size in %; `s1[1].value`, volume surge ratio), `exits.tp_pct`
   and `exits.sl_buffer_pct`, VALUES values each. The strategy file is strategies/pump_rider.toml
   with its [search] table removed, so the space is exactly the four `--param` keys and no indicator
   column changes between trials. event·trials/s end to end (the process from start to exit: the
   store read once, the tape and 7 indicator columns, every trial, trials.parquet, plots and the
   re-run of the pick) and inner (this_run.replay_s of summary.json: the workers' time inside
   trials, per worker). The peers see the same day and fx's own S1 signal columns:
   - vectorbt 1.2.0 `Portfolio.from_signals` over the grid's corners (2 values a key, 16 runs), the
     whole day, 4 columns at a time (its memory grows with bars x columns); bench/.venv-vbt;
   - backtesting.py 0.6.6 `Backtest.optimize` over the same 16 points on the day's first BT_EVENTS
     events (its rate is flat in the bar count; a full day would take ~20 min); bench/.venv-peers.
   Bars are events (every trade and book ticker; close = the last trade price), so bar·runs/s and
   event·trials/s are one unit. A peer enters when both of fx's S1 columns (pump_10s >= a,
   volume_surge_10s >= b, read from fx's indicator cache at the event rows) pass, and exits at the
   take profit or the stop; fx also runs O1, Z1 (rush orders, spread), ZE1, E1, the signal timeout,
   cooldowns and 50 ms latency fills, so it does more per event than either peer.
2. A search that also changes a window: `--param variants.pump_10s.baseline[0]=...` over WINDOWS
   values (each trial a new indicator column: the cache's worst case), trials/s end to end against
   2 cores / the wall time of one `fx backtest --no-chart` on the same store.
3. The optimiser's share of the workers' time (this_run.optimizer_share) in the grid run of 1 (its
   median trial is printed: the target holds for trials of >= 200 ms) and in a TPE run (TPE_TRIALS
   trials) on the same space.
4. Memory: the peak of the fx process tree's proportional set size (PSS: a page shared by k processes
   counts 1/k, so the memory-mapped columns count once) and of its summed RSS, with --jobs 2 (run 1)
   against --jobs 1 (the same grid, trials limited to JOBS1_TRIALS), sampled every 0.1 s from
   /proc; and each worker's VmRSS from trial 100 to trial RSS_TRIALS of a random search on a day of
   RSS_EVENTS events (FX_OPTIMIZE_RSS_LOG: fx's bench hook writes "pid trial VmRSS" per trial).

Run: `make bench`, or `.venv/bin/python bench/optimize.py`. Sizes: FX_BENCH_OPT_EVENTS (10M),
FX_BENCH_OPT_VALUES (4: 256 grid trials), FX_BENCH_OPT_BT_EVENTS (200k), FX_BENCH_OPT_WINDOWS (16),
FX_BENCH_OPT_TPE_TRIALS (64), FX_BENCH_OPT_JOBS1_TRIALS (32), FX_BENCH_OPT_RSS_EVENTS (200k),
FX_BENCH_OPT_RSS_TRIALS (2000). A quick run: FX_BENCH_OPT_EVENTS=1000000. Files go under
bench/.work/ and are removed afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from backtest import peers_python, run_peer_once, synthetic_ticks
from report import Layout, Line, Run, rate

from fxcli.store.schema import Table
from fxcli.store.writer import StoreWriter, WriteBatch

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
FX = REPO / ".venv" / "bin" / "fx"
VBT_VENV = REPO / "bench" / ".venv-vbt"
VBT_REQUIREMENTS = REPO / "bench" / "requirements-vbt.txt"


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"FX_BENCH_OPT_{name}", str(default)))


EVENTS = _env("EVENTS", 10_000_000)
VALUES = _env("VALUES", 4)
BT_EVENTS = _env("BT_EVENTS", 200_000)
WINDOWS = _env("WINDOWS", 16)
TPE_TRIALS = _env("TPE_TRIALS", 64)
JOBS1_TRIALS = _env("JOBS1_TRIALS", 32)
RSS_EVENTS = _env("RSS_EVENTS", 200_000)
RSS_TRIALS = _env("RSS_TRIALS", 2_000)
SEED = 13
EXCHANGE, SYMBOL = "bench", "BTCUSDT"
JOBS = 2

# The threshold grid: (first value, step) per key; VALUES values each. pump_rider's own values are
# 3 %, 5x, 25 %, 10 %: the grid spans them. The peers run the corners (first and last values).
STEPS = {
    "s1[0].value": (1.5, 0.5),
    "s1[1].value": (3.0, 1.0),
    "exits.tp_pct": (10.0, 5.0),
    "exits.sl_buffer_pct": (4.0, 2.0),
}
GRID = {key: [first + k * step for k in range(VALUES)] for key, (first, step) in STEPS.items()}
CORNERS = {key: (values[0], values[-1]) for key, values in GRID.items()}
WINDOW_KEY, WINDOW_FIRST, WINDOW_STEP = "variants.pump_10s.baseline[0]", 120, 30  # seconds back
TARGET_EVENT_TRIALS_S = 10e6
TARGET_WINDOW_RATIO = 0.9
TARGET_SHARE = 0.10
TARGET_GROWTH = 0.10


# --- the day --------------------------------------------------------------------------------------
def write_store(cols: dict[str, np.ndarray], root: Path) -> None:
    """The day's trades and book tickers through fx's StoreWriter, as `fx import` stores them."""
    trade, ticker = cols["is_trade"], ~cols["is_trade"]
    trades = pl.DataFrame(
        {
            "exchange_ts_ns": cols["ts_ns"][trade],
            "received_ts_ns": cols["received_ts_ns"][trade],
            "price": cols["price"][trade],
            "qty": cols["qty"][trade],
            "side": cols["side"][trade],
            "trade_id": np.arange(int(trade.sum()), dtype=np.int64),
            "backfilled": np.zeros(int(trade.sum()), dtype=bool),
        }
    )
    tickers = pl.DataFrame(
        {
            "exchange_ts_ns": cols["ts_ns"][ticker],
            "received_ts_ns": cols["received_ts_ns"][ticker],
            "bid_price": cols["bid"][ticker],
            "bid_qty": cols["bid_qty"][ticker],
            "ask_price": cols["ask"][ticker],
            "ask_qty": cols["ask_qty"][ticker],
            "update_id": np.arange(int(ticker.sum()), dtype=np.int64),
            "ts_estimated": np.zeros(int(ticker.sum()), dtype=bool),
        }
    )
    writer = StoreWriter(root)
    writer.submit(WriteBatch(EXCHANGE, SYMBOL, Table.TRADES, trades), block=True)
    writer.submit(WriteBatch(EXCHANGE, SYMBOL, Table.BOOK_TICKER, tickers), block=True)
    stats = writer.close()
    if stats.rows_added != trades.height + tickers.height:
        raise RuntimeError(f"store writer added {stats.rows_added} rows of {trades.height + tickers.height}")


def bench_strategy(folder: Path) -> Path:
    """strategies/pump_rider.toml without its [search] table: the space is the bench's --param keys."""
    from fxcli.optimize.space import strategy_text

    document = tomllib.loads((REPO / "strategies" / "pump_rider.toml").read_text(encoding="utf-8"))
    document.pop("search", None)
    path = folder / "pump_rider_bench.toml"
    path.write_text(strategy_text(document), encoding="utf-8")
    return path


def peer_signals(study_dir: Path, strategy: Path) -> dict[str, np.ndarray]:
    """fx's own S1 columns (pump_10s, volume_surge_10s) and last trade price at the day's event rows,
    read from the indicator cache the grid run left under its study folder (no recomputation)."""
    from fxcli.engine.clock import clock_ns_of
    from fxcli.optimize.trials import TrialData
    from fxcli.strategy.spec import load_strategy
    from fxcli.tasks.backtest import resolve_indicators

    spec = load_strategy(strategy)
    indicators = resolve_indicators(spec, REPO / "variants", strategy)
    data = TrialData.open(study_dir / "data")
    clock_ns = clock_ns_of(spec.clock_ms)
    tape = data.tape(SYMBOL, clock_ns, indicators)
    events = ~tape.is_clock if tape.is_clock is not None else np.ones(len(tape.price), dtype=bool)
    columns = {
        name: data.indicator(SYMBOL, tape, clock_ns, kind, params) for name, kind, params in indicators
    }
    out = {
        "close": np.asarray(tape.price[events]),
        "pump": np.nan_to_num(np.asarray(columns["pump_10s"][events]), nan=-np.inf),
        "surge": np.nan_to_num(np.asarray(columns["volume_surge_10s"][events]), nan=-np.inf),
    }
    if len(out["close"]) != EVENTS:
        raise RuntimeError(f"fx's tape has {len(out['close'])} event rows, the day {EVENTS}")
    out["close"] = pl.Series(out["close"]).fill_nan(None).fill_null(strategy="backward").to_numpy()
    return out


def _tree(root: int) -> list[int]:
    """`root` and its descendants (the spawned workers and their resource tracker)."""
    pids, k = [root], 0
    while k < len(pids):
        try:
            children = Path(f"/proc/{pids[k]}/task/{pids[k]}/children").read_text().split()
        except OSError:
            children = []
        pids += [int(c) for c in children]
        k += 1
    return pids


def _memory_kb(pid: int) -> tuple[int, int]:
    """(Rss, Pss) of one process in kB; zeros when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


@dataclass
class Memory:
    """Peaks of the process tree's summed RSS and PSS, sampled while it runs."""

    rss_kb: int = 0
    pss_kb: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def follow(self, root: int) -> None:
        while not self.done.wait(0.1):
            sizes = [_memory_kb(pid) for pid in _tree(root)]
            self.rss_kb = max(self.rss_kb, sum(r for r, _ in sizes))
            self.pss_kb = max(self.pss_kb, sum(p for _, p in sizes))


@dataclass(frozen=True)
class FxRun:
    """One `fx optimize run` process: its wall time, --json document, trials table and memory."""

    wall_s: float
    report: dict[str, Any]
    trials: pl.DataFrame
    memory: Memory

    @property
    def complete(self) -> int:
        return int(self.report["this_run"]["complete"])

    @property
    def median_trial_s(self) -> float:
        done = self.trials.filter(pl.col("state") == "COMPLETE")
        return float(np.median(done["duration_s"].to_numpy())) if done.height else 0.0

    @property
    def study_dir(self) -> Path:
        return Path(self.report["results_dir"])


def fx_optimize(
    strategy: Path, store: Path, out: Path, params: list[str], *extra: str, env: dict[str, str] | None = None
) -> FxRun:
    """`fx optimize run STRATEGY --param ... --json` as a process, end to end."""
    command = [str(FX), "optimize", "run", str(strategy), "--symbol", SYMBOL, "--data-dir", str(store)]
    command += ["--out", str(out), "--variants-dir", str(REPO / "variants"), "--json"]
    command += [f"--param={p}" for p in params] + list(extra)
    memory = Memory()
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=out.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    follower = threading.Thread(target=memory.follow, args=(process.pid,), daemon=True)
    follower.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    memory.done.set()
    follower.join()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"fx optimize run failed ({process.returncode}): {tail}")
    report = json.loads(stdout)
    trials = pl.read_parquet(Path(report["results_dir"]) / "trials.parquet")
    return FxRun(wall, report, trials, memory)


def fx_backtest_wall(strategy: Path, store: Path, out: Path) -> float:
    """One `fx backtest --no-chart` process on the same store, end to end."""
    command = [str(FX), "backtest", str(strategy), "--symbol", SYMBOL, "--data-dir", str(store), "--no-chart"]
    command += ["--out", str(out), "--variants-dir", str(REPO / "variants")]
    start = time.perf_counter()
    subprocess.run(command, cwd=out.parent, check=True, capture_output=True)
    return time.perf_counter() - start


def grid_params(grid: dict[str, Any]) -> list[str]:
    """`KEY=LOW:HIGH:STEP` for each key of `grid` (its values evenly spaced)."""
    params = []
    for key, values in grid.items():
        step = values[1] - values[0] if len(values) > 1 else 1.0
        params.append(f"{key}={values[0]}:{values[-1]}:{step}")
    return params


def rss_growth(log: Path) -> dict[int, tuple[int, int, int, int]]:
    """Per worker pid: (first trial >= 100, its VmRSS kB, last trial, its VmRSS kB) from the hook's log."""
    rows: dict[int, list[tuple[int, int]]] = {}
    for line in log.read_text(encoding="ascii").splitlines():
        pid, number, kb = (int(x) for x in line.split())
        rows.setdefault(pid, []).append((number, kb))
    out = {}
    for pid, seen in rows.items():
        seen.sort()
        later = [row for row in seen if row[0] >= 100]
        if later:
            out[pid] = (*later[0], *seen[-1])
    return out


# --- the peers (they run under their own venvs: untyped, so kept as text) -----------------------

PEERS_SCRIPT = r"""
import itertools, json, resource, sys, time
import numpy as np

GRID = json.loads(sys.argv[3])


def peak_rss():
    # VmHWM, not getrusage(RUSAGE_SELF): Linux keeps ru_maxrss across exec, so it would report the
    # bench process's own peak. The worker processes (backtesting.py's pool) are getrusage children.
    with open("/proc/self/status") as status:
        self_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, children_kb) * 1024


def vectorbt(data, chunk):
    import pandas as pd
    import vectorbt as vbt
    close = pd.Series(data["close"])
    pump, surge = data["pump"], data["surge"]
    combos = list(itertools.product(*GRID.values()))
    # Warm numba up on a small slice first (its compile time is not the engine's speed).
    small = slice(0, 2000)
    vbt.Portfolio.from_signals(close.iloc[small], pd.Series(pump[small] >= 1.0), None,
                               tp_stop=0.2, sl_stop=0.1, fees=0.001)
    start, trades = time.perf_counter(), 0
    for lo in range(0, len(combos), chunk):
        part = combos[lo:lo + chunk]
        entries = np.column_stack([(pump >= a) & (surge >= b) for a, b, _, _ in part])
        tp = np.array([[c / 100 for _, _, c, _ in part]])
        sl = np.array([[d / 100 for _, _, _, d in part]])
        pf = vbt.Portfolio.from_signals(close, entries, None, tp_stop=tp, sl_stop=sl, fees=0.001,
                                        init_cash=10_000.0)
        trades += int(pf.trades.count().sum())
        del pf, entries
    return {"wall_s": time.perf_counter() - start, "runs": len(combos), "bars": len(close),
            "trades": trades, "peak_rss": peak_rss(), "version": vbt.__version__}


def threshold_strategy():
    # Bound to the module-level name Threshold: backtesting.py's optimize pickles the class (by its
    # qualified name) to its worker processes.
    from backtesting import Strategy

    class Threshold(Strategy):
        pump_min, surge_min, tp_pct, sl_pct = (v[0] for v in GRID.values())

        def init(self):
            pass  # the signals are data columns (Pump, Surge), computed once as fx caches its indicators

        def next(self):
            signal = self.data.Pump[-1] >= self.pump_min and self.data.Surge[-1] >= self.surge_min
            if signal and not self.position:
                price = self.data.Close[-1]
                self.buy(size=0.5, tp=price * (1 + self.tp_pct / 100), sl=price * (1 - self.sl_pct / 100))

    Threshold.__qualname__ = "Threshold"
    return Threshold


Threshold = None  # set by main() when backtesting.py runs (vectorbt's venv has no backtesting)


def backtesting_py(data, bars):
    import pandas as pd
    import backtesting
    from backtesting import Backtest
    close = data["close"][:bars]
    index = pd.date_range("2024-08-08", periods=len(close), freq="s")  # a bar a second: only the order counts
    frame = pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close, "Volume": 1.0,
                          "Pump": data["pump"][:bars], "Surge": data["surge"][:bars]}, index=index)
    names = ("pump_min", "surge_min", "tp_pct", "sl_pct")
    grid = {n: list(values) for n, values in zip(names, GRID.values())}
    bt = Backtest(frame, Threshold, cash=10_000_000, commission=0.001, finalize_trades=True)
    bt.run()  # warm-up
    start = time.perf_counter()
    stats, heatmap = bt.optimize(**grid, maximize="Equity Final [$]", return_heatmap=True)
    return {"wall_s": time.perf_counter() - start, "runs": int(heatmap.size), "bars": len(close),
            "trades": int(stats["# Trades"]), "peak_rss": peak_rss(), "version": backtesting.__version__}


def main():
    global Threshold
    peer, path = sys.argv[1], sys.argv[2]
    if peer != "vectorbt":
        Threshold = threshold_strategy()
    data = dict(np.load(path))
    if peer == "vectorbt":
        result = vectorbt(data, int(sys.argv[4]))
    else:
        result = backtesting_py(data, int(sys.argv[4]))
    print("PEER-RESULT " + json.dumps(result), flush=True)


main()
"""


def run_peer(python: Path, script: Path, peer: str, data: Path, size: int) -> dict[str, Any]:
    """One peer in its own process with the corner grid and its size argument; the JSON it printed."""
    return run_peer_once(python, script, peer, data, json.dumps(CORNERS), str(size))


# --- output ---------------------------------------------------------------------------------------


def per_s(figure: dict[str, Any]) -> float:
    return float(figure["bars"]) * float(figure["runs"]) / float(figure["wall_s"])


@dataclass(frozen=True)
class Figures:
    """Every run of one bench."""

    grid: FxRun
    jobs1: FxRun
    tpe: FxRun
    window: FxRun
    backtest_s: float
    growth: dict[int, tuple[int, int, int, int]]
    vbt: dict[str, Any]
    bt: dict[str, Any]

    def end_to_end(self) -> float:
        return EVENTS * self.grid.complete / self.grid.wall_s

    def inner(self) -> float:
        return EVENTS * self.grid.complete / (float(self.grid.report["this_run"]["replay_s"]) / JOBS)

    def worst_growth(self) -> float:
        return max(
            ((last - first) / first for _, first, _, last in self.growth.values()), default=float("nan")
        )


def share_line(name: str, run: FxRun) -> Line:
    share = float(run.report["this_run"]["optimizer_share"])
    median = run.median_trial_s
    met = share <= TARGET_SHARE if median >= 0.2 else None
    what = f"optimiser's share of worker time, {name} (median trial {median * 1e3:,.0f} ms)"
    return Line("", what, f"{share * 100:.1f} %", "", "—", "—", "<= 10 % (median trial >= 200 ms)", met)


def lines_of(f: Figures) -> list[Line]:
    unit = "event·trials"
    out = []
    for kind, fx_rate in (("end to end", f.end_to_end()), ("inner (replay time)", f.inner())):
        for name, peer in (("vectorbt", f.vbt), ("backtesting.py", f.bt)):
            what = f"threshold search, 4 keys, {kind}, --jobs {JOBS}"
            ratio = f"{fx_rate / per_s(peer):.1f}x"
            met = fx_rate >= TARGET_EVENT_TRIALS_S
            out.append(
                Line("", what, rate(fx_rate, unit), name, rate(per_s(peer), unit), ratio, ">= 10M/s", met)
            )
    trials_s = f.window.complete / f.window.wall_s
    peer_s = JOBS / f.backtest_s
    out.append(
        Line(
            "",
            f"search changing a window ({f.window.complete} windows), end to end",
            f"{trials_s:.3f} trials/s",
            f"{JOBS} cores / fx backtest",
            f"{peer_s:.3f} trials/s",
            f"{trials_s / peer_s:.2f}x",
            ">= 0.9x",
            trials_s / peer_s >= TARGET_WINDOW_RATIO,
        )
    )
    out += [share_line("grid", f.grid), share_line(f"TPE, {f.tpe.complete} trials", f.tpe)]
    two, one = f.grid.memory, f.jobs1.memory
    out.append(
        Line(
            "",
            f"peak PSS of fx's processes, --jobs {JOBS} vs --jobs 1",
            f"{two.pss_kb / 1024:,.0f} MiB",
            "--jobs 1",
            f"{one.pss_kb / 1024:,.0f} MiB",
            f"{two.pss_kb / one.pss_kb:.2f}x",
            "< 2x (not doubled)",
            two.pss_kb < 2 * one.pss_kb,
        )
    )
    out.append(
        Line(
            "",
            f"peak summed RSS of fx's processes, --jobs {JOBS} vs --jobs 1",
            f"{two.rss_kb / 1024:,.0f} MiB",
            "--jobs 1",
            f"{one.rss_kb / 1024:,.0f} MiB",
            f"{two.rss_kb / one.rss_kb:.2f}x",
            "",
            None,
        )
    )
    growth = f.worst_growth()
    out.append(
        Line(
            "",
            f"worker RSS growth, trial 100 to {RSS_TRIALS:,} ({RSS_EVENTS:,}-event day)",
            f"{growth * 100:+.1f} %",
            "",
            "—",
            "—",
            "<= 10 %",
            growth <= TARGET_GROWTH,
        )
    )
    return out


def corner_trades(run: FxRun) -> int:
    """Closed trades of fx's trials at the grid's corners (the points the peers run)."""
    frame = run.trials.filter(pl.col("state") == "COMPLETE")
    for key, values in CORNERS.items():
        frame = frame.filter(pl.col(f"params.{key}").is_in(list(values)))
    return int(frame["trades"].sum())


def details_of(f: Figures) -> list[str]:
    g = f.grid
    done = g.trials.filter(pl.col("state") == "COMPLETE")
    this = g.report["this_run"]
    trades = done["trades"].to_numpy()
    text = [
        f"day: {EVENTS:,} events (trades and book tickers, 4 pumps) of one symbol, seed {SEED}",
        f"strategy: strategies/pump_rider.toml without [search]; grid {GRID} ({len(done)} trials)",
        f"fx grid, --jobs {JOBS}: {g.wall_s:.1f} s wall for {g.complete} trials; "
        f"workers {this['worker_s']} s, "
        f"of which in trials {this['replay_s']} s; median trial {g.median_trial_s * 1e3:,.0f} ms; "
        f"closed trades per trial {trades.min()}-{trades.max()}",
        f"fx --jobs 1, {f.jobs1.complete} trials of the same grid: {f.jobs1.wall_s:.1f} s wall, median trial "
        f"{f.jobs1.median_trial_s * 1e3:,.0f} ms",
        f"fx TPE, --jobs {JOBS}: {f.tpe.wall_s:.1f} s wall for {f.tpe.complete} trials, "
        f"this_run {f.tpe.report['this_run']}",
        f"fx window search: {f.window.wall_s:.1f} s wall for {f.window.complete} trials (median "
        f"{f.window.median_trial_s * 1e3:,.0f} ms); one fx backtest --no-chart {f.backtest_s:.1f} s",
        f"closed trades on the 16 corner points: fx {corner_trades(g)}, vectorbt {f.vbt['trades']}, "
        f"backtesting.py (best point, {BT_EVENTS:,} events) {f.bt['trades']}",
        *(
            f"{name}: {p['bars']:,} bars x {p['runs']} runs in {p['wall_s']:.1f} s, peak RSS "
            f"{p['peak_rss'] / 2**20:,.0f} MiB, {p['version']}"
            for name, p in (("vectorbt", f.vbt), ("backtesting.py", f.bt))
        ),
        *(
            f"worker {pid}: VmRSS {a / 1024:,.0f} MiB at trial {n0}, {b / 1024:,.0f} MiB at trial {n1}"
            for pid, (n0, a, n1, b) in sorted(f.growth.items())
        ),
        f"bench process peak RSS (self) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB",
    ]
    return text


def new_store(folder: Path, events: int) -> Path:
    cols = synthetic_ticks(events, SEED)
    write_store(cols, folder)
    return folder


def main() -> None:
    """Store the day, run fx's searches and each peer, print the figures and clean up."""
    layout = Layout(
        legend="ratio = fx over the peer (event·trials/s and bar·runs/s are one unit: bars are events); "
        "memory ratios are --jobs 2 over --jobs 1",
        fx_width=24,
        peer_name_width=20,
        peer_width=24,
        ratio_width=7,
        script="bench/optimize.py",
    )
    bench = Run(layout, f"numpy {np.__version__}", f"polars {pl.__version__}")
    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="optimize-", dir=WORK))
    try:
        strategy = bench_strategy(folder)
        store = new_store(folder / "data", EVENTS)
        params = grid_params(GRID)
        print(f"fx: grid of {VALUES**4} points on {EVENTS:,} events ...", flush=True)
        grid = fx_optimize(strategy, store, folder / "grid", params, "--sampler=grid", f"--jobs={JOBS}")
        data = folder / "signals.npz"
        signals = peer_signals(grid.study_dir, strategy)
        np.savez(data, close=signals["close"], pump=signals["pump"], surge=signals["surge"])
        jobs1 = fx_optimize(
            strategy, store, folder / "jobs1", params, "--sampler=grid", "--jobs=1",
            f"--trials={JOBS1_TRIALS}", "--no-plots",
        )  # fmt: skip
        print("fx: TPE, window search, fx backtest ...", flush=True)
        tpe = fx_optimize(
            strategy, store, folder / "tpe", params, "--sampler=tpe", "--seed=7", f"--trials={TPE_TRIALS}",
            f"--jobs={JOBS}", "--no-plots",
        )  # fmt: skip
        last = WINDOW_FIRST + (WINDOWS - 1) * WINDOW_STEP
        window = fx_optimize(
            strategy, store, folder / "window", [f"{WINDOW_KEY}={WINDOW_FIRST}:{last}:{WINDOW_STEP}"],
            "--sampler=grid", f"--jobs={JOBS}",
        )  # fmt: skip
        backtest_s = fx_backtest_wall(strategy, store, folder / "backtest")
        print(f"fx: {RSS_TRIALS:,} random trials on {RSS_EVENTS:,} events (worker RSS) ...", flush=True)
        small = new_store(folder / "small", RSS_EVENTS)
        log = folder / "rss.log"
        ranges = [f"{key}={values[0]}:{values[-1]}" for key, values in GRID.items()]
        fx_optimize(
            strategy, small, folder / "rss", ranges, "--sampler=random", "--seed=1", f"--trials={RSS_TRIALS}",
            f"--jobs={JOBS}", "--no-plots", env={"FX_OPTIMIZE_RSS_LOG": str(log)},
        )  # fmt: skip
        print("peers: vectorbt, backtesting.py ...", flush=True)
        script = folder / "peers.py"
        script.write_text(PEERS_SCRIPT, encoding="utf-8")
        vbt = run_peer(peers_python(VBT_VENV, VBT_REQUIREMENTS), script, "vectorbt", data, 4)
        bt = run_peer(peers_python(), script, "backtesting.py", data, BT_EVENTS)
        figures = Figures(grid, jobs1, tpe, window, backtest_s, rss_growth(log), vbt, bt)
        bench.finish(lines_of(figures), details=details_of(figures))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
