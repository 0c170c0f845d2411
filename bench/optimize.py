"""fx optimize against vectorbt and backtesting.py: a threshold-only search on one synthetic tick day.

What it measures, in one run, on the same day for every side (issue 13, Proof):

- fx: `fx optimize run pump_rider --sampler grid` over 4 parameters (two S1 thresholds, the take
  profit and the stop; the full S1->E1 machine and fills), end to end as a subprocess on the day
  written to an fx store; event·trials/s = events x completed trials / wall. Prints
  `fx optimize not available` and goes on while the command does not exist.
- vectorbt 1.2.0: `Portfolio.from_signals` over the same 4-parameter grid of the same signals (entry
  when the 10-s price change and the 10-s volume surge pass their thresholds, exit at the take profit
  or the stop), in its own venv (bench/.venv-vbt: vectorbt needs pandas >= 3, nautilus < 3).
- backtesting.py 0.6.6: `Backtest.optimize` over the same grid and strategy, in bench/.venv-peers.

Bars are events: every trade and book ticker is one bar whose price is the last trade price, so
bar·runs/s and event·trials/s are the same unit and the peers see every event fx replays. The
signals are computed once outside the timed part (fx caches its indicator columns too). vectorbt
runs the whole day in chunks of grid columns (its memory grows with bars x columns: 20 GB for
1M x 153 in docs/optimize.md §6.2); backtesting.py runs a prefix of the day (FX_BENCH_OPT_BT_EVENTS,
default 200k) because a full-day grid would take 20 minutes: its rate is flat in the bar count
(§6.2: 0.14 M at 10k bars, 0.16-0.20 M at 100k). Peak RSS of each peer process is its own
high-water RSS (VmHWM) and its worker children's (getrusage).

Run: `make bench`, or `.venv/bin/python bench/optimize.py`; FX_BENCH_OPT_EVENTS (default 10M) sets
the day's size. Files go under bench/.work/ and are removed afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from backtest import peers_python, run_peer_once, synthetic_ticks
from report import Layout, Line, Run, rate

from fxcli.model.units import NS_PER_S
from fxcli.store.schema import Table
from fxcli.store.writer import StoreWriter, WriteBatch

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
FX = REPO / ".venv" / "bin" / "fx"
VBT_VENV = REPO / "bench" / ".venv-vbt"
VBT_REQUIREMENTS = REPO / "bench" / "requirements-vbt.txt"

EVENTS = int(os.environ.get("FX_BENCH_OPT_EVENTS", "10000000"))
BT_EVENTS = int(os.environ.get("FX_BENCH_OPT_BT_EVENTS", "200000"))
SEED = 13
EXCHANGE, SYMBOL = "bench", "BTCUSDT"

# The 4-parameter grid, two values each (16 trials): pump_rider's S1 thresholds (price change in 10 s,
# %; volume over the 5-minute norm), its take profit and its stop (both %). The peers get the same values.
GRID = {
    "s1[0].value": (2.0, 3.0),
    "s1[1].value": (4.0, 5.0),
    "exits.tp_pct": (20.0, 25.0),
    "exits.sl_buffer_pct": (5.0, 10.0),
}
TARGET_EVENT_TRIALS_S = 10e6


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


def peer_signals(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One bar per event: the last trade price, the % price change over 10 s, and the traded volume of
    the last 10 s over the 5-minute norm (its 10-s average) — pump_rider's two S1 conditions."""
    price = pl.Series(cols["price"]).fill_null(strategy="forward").fill_nan(None).forward_fill()
    close = price.fill_null(strategy="backward").to_numpy()
    ts = cols["ts_ns"]
    back_10s = np.searchsorted(ts, ts - 10 * NS_PER_S, side="left")
    back_300s = np.searchsorted(ts, ts - 300 * NS_PER_S, side="left")
    volume = np.concatenate([[0.0], np.cumsum(cols["qty"])])
    recent = volume[1:] - volume[back_10s]
    norm = (volume[1:] - volume[back_300s]) / 30.0
    with np.errstate(divide="ignore", invalid="ignore"):
        surge = np.where(norm > 0, recent / norm, 0.0)
    change = (close / close[back_10s] - 1.0) * 100.0
    return {"ts_ns": ts, "close": close, "pump": change, "surge": surge}


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
    """One peer in its own process with the grid and its size argument; the JSON it printed."""
    return run_peer_once(python, script, peer, data, json.dumps(GRID), str(size))


def measure_vectorbt(script: Path, data: Path) -> dict[str, Any]:
    """vectorbt's from_signals over the grid, the whole day, 4 grid columns at a time."""
    return run_peer(peers_python(VBT_VENV, VBT_REQUIREMENTS), script, "vectorbt", data, 4)


def measure_backtesting_py(script: Path, data: Path) -> dict[str, Any]:
    """backtesting.py's Backtest.optimize over the grid, on the day's first BT_EVENTS events."""
    return run_peer(peers_python(), script, "backtesting.py", data, BT_EVENTS)


# --- fx -------------------------------------------------------------------------------------------


def measure_fx(store: Path, out: Path, events: int) -> dict[str, Any] | None:
    """`fx optimize run` end to end on the stored day; None when the command does not exist yet."""
    probe = subprocess.run([str(FX), "optimize", "--help"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return None
    params = [f"--param={key}={low}:{high}:{high - low}" for key, (low, high) in GRID.items()]
    command = [str(FX), "optimize", "run", "pump_rider", "--symbol", SYMBOL, "--trials", "16"]
    command += ["--sampler", "grid", *params, "--data-dir", str(store), "--out", str(out), "--json"]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"fx optimize failed: {stderr.strip().splitlines()[-1:]}")
    report = json.loads(stdout)
    trials = int(report["trials"]["complete"]) + int(report["trials"].get("pruned", 0))
    return {"wall_s": wall, "runs": trials, "bars": events, "peak_rss": usage.ru_maxrss * 1024}


# --- output ---------------------------------------------------------------------------------------


def per_s(figure: dict[str, Any]) -> float:
    return float(figure["bars"]) * float(figure["runs"]) / float(figure["wall_s"])


def lines_of(fx: dict[str, Any] | None, vbt: dict[str, Any], bt: dict[str, Any]) -> list[Line]:
    unit = "event·trials"
    fx_text = rate(per_s(fx), unit) if fx else "n/a"
    out = []
    for name, peer in (("vectorbt", vbt), ("backtesting.py", bt)):
        ratio = f"{per_s(fx) / per_s(peer):.1f}x" if fx else "n/a"
        met = (per_s(fx) >= TARGET_EVENT_TRIALS_S) if fx else None
        out.append(
            Line(
                "threshold search",
                f"vs {name}",
                fx_text,
                name,
                rate(per_s(peer), unit),
                ratio,
                ">= 10M event·trials/s",
                met,
            )
        )
    return out


def main() -> None:
    """Generate and store the day, run fx and each peer, print the figures and clean up."""
    layout = Layout(
        legend="ratio = fx event·trials/s / peer bar·runs/s (bars are events); higher is faster",
        fx_width=22,
        peer_name_width=14,
        peer_width=22,
        ratio_width=7,
        script="bench/optimize.py",
    )
    bench = Run(layout, f"numpy {np.__version__}", f"polars {pl.__version__}")
    WORK.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="optimize-", dir=WORK))
    try:
        cols = synthetic_ticks(EVENTS, SEED)
        store = folder / "data"
        write_store(cols, store)
        data = folder / "signals.npz"
        signals = peer_signals(cols)
        np.savez(
            data, ts_ns=signals["ts_ns"], close=signals["close"], pump=signals["pump"], surge=signals["surge"]
        )
        del cols
        script = folder / "peers.py"
        script.write_text(PEERS_SCRIPT, encoding="utf-8")
        fx = measure_fx(store, folder / "results", EVENTS)
        if fx is None:
            print("fx optimize not available (the command does not exist yet): peers only")
        vbt = measure_vectorbt(script, data)
        bt = measure_backtesting_py(script, data)
        own_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        details = [
            f"day: {EVENTS:,} events (trades and book tickers) of one symbol, seed {SEED}; grid {GRID}",
            *(
                f"{name}: {p['bars']:,} bars x {p['runs']} runs in {p['wall_s']:.1f} s, "
                f"{rate(per_s(p), 'bar·runs')}, {p.get('trades', 0)} trades, peak RSS "
                f"{p['peak_rss'] / 2**20:,.0f} MiB{', ' + p['version'] if 'version' in p else ''}"
                for name, p in (("fx optimize", fx), ("vectorbt", vbt), ("backtesting.py", bt))
                if p is not None
            ),
            f"bench process peak RSS (self) {own_rss_kib / 1024:,.0f} MiB",
        ]
        bench.finish(lines_of(fx, vbt, bt), details=details)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
