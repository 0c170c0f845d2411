"""Benchmark: one tick replay through fx's backtester, nautilus_trader's BacktestEngine and backtesting.py.

What it measures, in one run, on the same synthetic ticks for every side (1M by default: ~30 %
trades in same-millisecond bursts, the rest book tickers, with four pump episodes):

- fx: `fxcli.backtest.fast.run` (what `fx backtest` runs) with `strategies/pump_rider.toml`, its indicators
  resolved from `variants/` as `fx backtest` does, on msgspec `Trade` / `BookTicker` events; and,
  to split the cost, the same `Pipeline` alone (pump_rider's indicators, no strategy, no fills) and
  a bare one (market state and the loop, no indicator). The strategy has to trade: the run prints
  how many round trips it made and warns when there are fewer than MIN_FX_TRADES;
- nautilus_trader: `BacktestEngine.run()` with a no-op strategy subscribed to the trades, on
  `TradeTick`s for the trades and `QuoteTick`s for the book tickers (Binance spot BTCUSDT from
  nautilus's test instrument provider, a cash account on a simulated venue);
- backtesting.py: `Backtest.run()` with a no-op strategy on one bar per tick (OHLC = the last
  trade price, volume = the trade's quantity, 0 on a book ticker).

Only the replay is timed on each side (best of REPEATS); building each side's objects from the
shared columns is timed separately and printed too. The peers live in their own virtualenv
(bench/.venv-peers, from bench/requirements-peers.txt, created here when missing) and run as
subprocesses of its python that read the ticks from one .npz file written once by this script, time
themselves and print JSON.
The fx run is profiled with cProfile and the costliest functions are listed.

It prints each figure, the ratio to its peer and whether the issue's target is met, then a block
to paste into the README. Nothing is asserted about timings: it is not part of the test suite.

Run: `make bench`, or `.venv/bin/python bench/backtest.py [--events N] [--no-profile]` from the
repo root (~75 s at the default size on 2 cores). Files
go to a temp dir under `bench/.work/` (git-ignored) that is removed afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from report import Layout, Line, Run, argument_parser, cores_and_python, rate
from tape import (
    BURST_GAP_MEDIAN_MS,
    BURST_GAP_SIGMA,
    TICKER_EXTRA_P,
    TICKER_GAP_MEDIAN_MS,
    TICKER_GAP_SIGMA,
    TICKER_SINGLE_SHARE,
    burst_sizes,
    gaps_ms,
)

from fxcli.backtest.fast import RunResult, run
from fxcli.backtest.fills import Costs
from fxcli.engine.params import IndicatorParams
from fxcli.engine.pipeline import Pipeline
from fxcli.model.events import BookTicker, MarketEvent, Trade
from fxcli.model.units import NS_PER_MS, NS_PER_S
from fxcli.strategy.spec import StrategySpec, load_strategy
from fxcli.tasks.backtest import resolve_indicators

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
STRATEGY = REPO / "strategies" / "pump_rider.toml"
VARIANTS = REPO / "variants"
PEERS_VENV = REPO / "bench" / ".venv-peers"
PEERS_REQUIREMENTS = REPO / "bench" / "requirements-peers.txt"

EVENTS = 1_000_000
SEED = 20_240_808
T0_NS = int(datetime(2024, 8, 8, tzinfo=UTC).timestamp()) * NS_PER_S
SYMBOL = "BTCUSDT"  # nautilus's TestInstrumentProvider.btcusdt_binance(): prices in cents
BALANCE = 10_000.0
REPEATS = 3  # best of, for every side; each peer run is a fresh process (nautilus builds one engine)
WARM_UP_EVENTS = 20_000
PROFILE_TOP = 18
MIN_FX_TRADES = 3
PEER_TIMEOUT_S = 600

TARGET_NAUTILUS_RATIO = 3.0
TARGET_BACKTESTING_RATIO = 3.0

# The tape (bench/tape.py): trades come in same-ms taker bursts (70 % single fills, a Zipf tail of
# sweeps, mean ~3 fills), bursts ~110 ms apart on average; book tickers on their own clock, 1.74 per
# distinct ms on average, ~22 ms apart. That makes ~30 trades/s and ~80 tickers/s outside pumps
# (27 % trades), and ~31 % trades with the pumps' extra bursts over 1M ticks.
BASE_EVENTS_PER_S = 110.0  # the two processes above together, without pumps (measured)

# Pump episodes: at WHERE (a fraction of the replay) the price climbs by GAIN along a smoothstep
# (accelerating, then stalling) in RISE_S seconds while takers buy in extra bursts (PUMP_INTENSITY
# times the usual rate, PUMP_QTY_SCALE times the usual size, PUMP_BUY_SHARE of them buys), then
# gives back GIVE_BACK of the gain in DUMP_S seconds on sell-heavy bursts. pump_rider's S1 needs a
# 3 % jump on 5x the usual volume, Z1 3+ rush orders in 10 s; ZE1 closes once the climb stalls with
# 2 % banked, E1 on a 5 % loss: the last episode is a failed pump that collapses under its start.
PUMPS = (  # (where, gain, rise_s, dump_s, give_back)
    (0.25, 0.15, 60.0, 150.0, 0.8),
    (0.45, 0.30, 90.0, 150.0, 0.8),
    (0.65, 0.10, 45.0, 150.0, 0.8),
    (0.85, 0.08, 20.0, 30.0, 2.0),
)
PUMP_INTENSITY = 3.0
PUMP_QTY_SCALE = 3.0
PUMP_BUY_SHARE = 0.85
DUMP_SELL_SHARE = 0.70

RATIO_LEGEND = (
    "ratio: fx events/s / peer events/s (>1: fx faster); events/s = replayed ticks / wall time of the "
    "replay call alone (fx: fast.run, fx backtest's runner; nautilus: BacktestEngine.run; "
    "backtesting.py: Backtest.run)"
)
LAYOUT = Layout(
    RATIO_LEGEND, fx_width=16, peer_name_width=14, peer_width=16, ratio_width=7, script="bench/backtest.py"
)

# Runs under bench/.venv-peers/bin/python: `python peers.py nautilus|backtesting events.npz`. It
# imports only numpy and the peer, times the peer's replay call and prints one RESULT_PREFIX line
# of JSON. Kept in a string because the peers are untyped and absent from the project's .venv.
RESULT_PREFIX = "PEER-RESULT "
PEER_SCRIPT = '''\
"""bench/backtest.py's peers: replay the shared ticks, time the replay, print JSON."""

import json
import sys
import time

import numpy as np

RESULT_PREFIX = "PEER-RESULT "


def load(path):
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def last_trade_price(cols):
    """The last trade's price at every event (events before the first trade get the first one)."""
    is_trade = cols["is_trade"]
    index = np.where(is_trade, np.arange(len(is_trade)), 0)
    np.maximum.accumulate(index, out=index)
    price = cols["price"][index]
    first = int(np.argmax(is_trade))
    price[:first] = cols["price"][first]
    return price


def nautilus(cols):
    import nautilus_trader
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import BTC, USDT
    from nautilus_trader.model.data import QuoteTick, TradeTick
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    class NoOp(Strategy):
        """Subscribes to the trades and does nothing with them but count."""

        def __init__(self, instrument_id):
            super().__init__()
            self.instrument_id = instrument_id
            self.trades_seen = 0

        def on_start(self):
            self.subscribe_trade_ticks(self.instrument_id)

        def on_trade_tick(self, tick):
            self.trades_seen += 1

    start = time.perf_counter()
    instrument = TestInstrumentProvider.btcusdt_binance()
    iid = instrument.id
    pp, sp = instrument.price_precision, instrument.size_precision
    is_trade = cols["is_trade"]
    ts = cols["ts_ns"].astype(np.uint64)
    t, q = is_trade, ~is_trade
    # AggressorSide: 1 = BUYER, 2 = SELLER.
    aggressor = np.where(cols["side"][t] > 0, 1, 2).astype(np.uint8)
    trade_ids = [str(i) for i in range(int(t.sum()))]
    trades = TradeTick.from_raw_arrays_to_list(
        iid, pp, sp, cols["price"][t], cols["qty"][t], aggressor, trade_ids, ts[t], ts[t]
    )
    quotes = QuoteTick.from_raw_arrays_to_list(
        iid, pp, sp, cols["bid"][q], cols["ask"][q], cols["bid_qty"][q], cols["ask_qty"][q], ts[q], ts[q]
    )
    # One list in the replay's own order (trades and tickers interleaved as fx sees them).
    merged = trades + quotes
    order = np.concatenate([np.flatnonzero(t), np.flatnonzero(q)])
    data = [None] * len(merged)
    for tick, position in zip(merged, order.tolist(), strict=True):
        data[position] = tick
    built_ticks = time.perf_counter()
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(
        venue=Venue("BINANCE"),
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=None,
        starting_balances=[Money(1_000_000, USDT), Money(10, BTC)],
    )
    engine.add_instrument(instrument)
    engine.add_data(data, sort=False)
    strategy = NoOp(iid)
    engine.add_strategy(strategy)
    ready = time.perf_counter()
    engine.run()
    ran = time.perf_counter()
    result = {
        "peer": "nautilus_trader",
        "version": nautilus_trader.__version__,
        "events": len(data),
        "ticks_build_s": built_ticks - start,
        "engine_build_s": ready - built_ticks,
        "run_s": ran - ready,
        "iterations": engine.iteration,
        "trades_seen": strategy.trades_seen,
        "trades": len(trades),
        "quotes": len(quotes),
    }
    engine.dispose()
    return result


def backtesting_py(cols):
    import backtesting
    import pandas as pd
    from backtesting import Backtest, Strategy

    class NoOp(Strategy):
        def init(self):
            pass

        def next(self):
            pass

    start = time.perf_counter()
    price = last_trade_price(cols)
    volume = np.where(cols["is_trade"], cols["qty"], 0.0)
    frame = pd.DataFrame(
        {"Open": price, "High": price, "Low": price, "Close": price, "Volume": volume},
        index=pd.to_datetime(cols["ts_ns"], unit="ns"),
    )
    bt = Backtest(frame, NoOp, cash=10_000_000, commission=0.0)
    ready = time.perf_counter()
    stats = bt.run()
    ran = time.perf_counter()
    return {
        "peer": "backtesting.py",
        "version": backtesting.__version__,
        "pandas": pd.__version__,
        "events": len(frame),
        "build_s": ready - start,
        "run_s": ran - ready,
        "bt_trades": int(stats["# Trades"]),
    }


def main():
    peer, path = sys.argv[1], sys.argv[2]
    cols = load(path)
    measure = {"nautilus": nautilus, "backtesting": backtesting_py}[peer]
    result = measure(cols)
    result["numpy"] = np.__version__
    result["python"] = sys.version.split()[0]
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
'''


# --- the ticks ----------------------------------------------------------------------------------


def arrivals_ms(rng: np.random.Generator, span_ms: int, median_ms: float, sigma: float) -> np.ndarray:
    """Millisecond times of a renewal process with log-normal gaps, covering `[0, span_ms)`."""
    mean_ms = median_ms * float(np.exp(sigma**2 / 2))
    times = np.cumsum(gaps_ms(rng, int(span_ms / mean_ms * 1.2) + 100, median_ms, sigma))
    while times[-1] < span_ms:  # rare: the clip at MAX_GAP_MS lengthens the mean a little
        more = np.cumsum(gaps_ms(rng, len(times) // 4 + 100, median_ms, sigma))
        times = np.concatenate([times, times[-1] + more])
    return times[times < span_ms]


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 before 0, 1 after 1, 3x^2 - 2x^3 between: a move that accelerates, then stalls."""
    x = np.clip(x, 0.0, 1.0)
    return np.asarray(x * x * (3.0 - 2.0 * x))


def pump_overlay(ms: np.ndarray, starts_ms: list[float]) -> np.ndarray:
    """Multiplicative price factor of the pump episodes at times `ms`."""
    factor = np.ones(len(ms))
    for (_, gain, rise_s, dump_s, give_back), start in zip(PUMPS, starts_ms, strict=True):
        rise = smoothstep((ms - start) / (rise_s * 1e3))
        fall = smoothstep((ms - start - rise_s * 1e3) / (dump_s * 1e3))
        factor *= 1.0 + gain * (rise - give_back * fall)
    return factor


def synthetic_ticks(count: int, seed: int) -> dict[str, np.ndarray]:
    """`count` trades and book tickers of one symbol in time order, as columns.

    Columns: ts_ns (exchange time, whole ms), received_ts_ns, is_trade, price / qty / side (the
    trade's; NaN / 0 on a ticker), bid / bid_qty / ask / ask_qty (the ticker's; NaN on a trade).
    """
    rng = np.random.default_rng(seed)
    span_ms = int(count / BASE_EVENTS_PER_S * 1e3)
    starts_ms = [pump[0] * span_ms for pump in PUMPS]
    # Draw 20 % more time than `count` needs, then keep the first `count` events.
    draw_ms = int(span_ms * 1.2) + 10_000
    burst_ms = arrivals_ms(rng, draw_ms, BURST_GAP_MEDIAN_MS, BURST_GAP_SIGMA)
    buy_share = np.full(len(burst_ms), 0.5)
    qty_scale = np.ones(len(burst_ms))
    for (_, _, rise_s, dump_s, _), start in zip(PUMPS, starts_ms, strict=True):
        legs = ((0.0, rise_s, PUMP_BUY_SHARE), (rise_s, dump_s, 1.0 - DUMP_SELL_SHARE))
        for offset_s, length_s, buy in legs:
            extra = (start + offset_s * 1e3) + arrivals_ms(
                rng, int(length_s * 1e3), BURST_GAP_MEDIAN_MS / PUMP_INTENSITY, BURST_GAP_SIGMA
            )
            burst_ms = np.concatenate([burst_ms, np.rint(extra).astype(np.int64)])
            buy_share = np.concatenate([buy_share, np.full(len(extra), buy)])
            qty_scale = np.concatenate([qty_scale, np.full(len(extra), PUMP_QTY_SCALE)])
    sizes = burst_sizes(rng, len(burst_ms))
    burst_side = np.where(rng.random(len(burst_ms)) < buy_share, 1, -1)

    ticker_ms = arrivals_ms(rng, draw_ms, TICKER_GAP_MEDIAN_MS, TICKER_GAP_SIGMA)
    per_ms = np.where(
        rng.random(len(ticker_ms)) < TICKER_SINGLE_SHARE,
        1,
        1 + rng.geometric(TICKER_EXTRA_P, len(ticker_ms)),
    )
    trades = int(sizes.sum())
    ms = np.concatenate([np.repeat(burst_ms, sizes), np.repeat(ticker_ms, per_ms)])
    is_trade = np.arange(len(ms)) < trades
    side = np.concatenate([np.repeat(burst_side, sizes), np.zeros(len(ms) - trades, dtype=np.int64)])
    scale = np.concatenate([np.repeat(qty_scale, sizes), np.ones(len(ms) - trades)])
    # Stable sort: within one ms, a burst's fills keep their order and trades come before tickers.
    order = np.argsort(ms, kind="stable")
    order = order[int(np.argmax(is_trade[order])) :][:count]  # the replay opens on a trade
    ms, is_trade, side, scale = ms[order], is_trade[order], side[order], scale[order]
    n = len(ms)

    # A BTC-like walk in whole cents that moves on trades (a Laplace step keeps most trades at the
    # last price), times the pump overlay; the ticker quotes that price or one cent below, +1 cent.
    walk = 6_000_000 + np.cumsum(np.where(is_trade, np.rint(rng.laplace(0.0, 0.8, n)), 0.0))
    cents = np.rint(walk * pump_overlay(ms.astype(np.float64), starts_ms))
    bid_cents = cents - rng.integers(0, 2, n)
    ts = T0_NS + ms * NS_PER_MS
    received = np.maximum.accumulate(ts + rng.integers(500_000, 3_000_000, n))
    qty = np.round(np.clip(rng.lognormal(np.log(6e-4), 2.0, n) * scale, 1e-5, 5.0), 5)
    nan = np.full(n, np.nan)
    return {
        "ts_ns": ts.astype(np.int64),
        "received_ts_ns": received.astype(np.int64),
        "is_trade": is_trade,
        "price": np.where(is_trade, cents / 100.0, nan),
        "qty": np.where(is_trade, qty, 0.0),
        "side": side.astype(np.int8),
        "bid": np.where(is_trade, nan, bid_cents / 100.0),
        "bid_qty": np.where(is_trade, nan, np.round(rng.uniform(0.001, 3.0, n), 5)),
        "ask": np.where(is_trade, nan, (bid_cents + 1) / 100.0),
        "ask_qty": np.where(is_trade, nan, np.round(rng.uniform(0.001, 3.0, n), 5)),
    }


def fx_events(cols: dict[str, np.ndarray]) -> list[MarketEvent]:
    """The columns as fx's msgspec events, in order."""
    rows = zip(
        cols["ts_ns"].tolist(),
        cols["received_ts_ns"].tolist(),
        cols["is_trade"].tolist(),
        cols["price"].tolist(),
        cols["qty"].tolist(),
        cols["side"].tolist(),
        cols["bid"].tolist(),
        cols["bid_qty"].tolist(),
        cols["ask"].tolist(),
        cols["ask_qty"].tolist(),
        strict=True,
    )
    return [
        Trade(ts, rx, SYMBOL, p, q, s) if trade else BookTicker(ts, rx, SYMBOL, bid, bq, ask, aq)
        for ts, rx, trade, p, q, s, bid, bq, ask, aq in rows
    ]


def describe_ticks(cols: dict[str, np.ndarray]) -> str:
    """Count, trade share, same-ms share, span and the pumps' size, for the data line."""
    ts, is_trade = cols["ts_ns"], cols["is_trade"]
    trade_ts = ts[is_trade]
    tied = np.zeros(len(trade_ts), dtype=bool)
    tied[1:] |= trade_ts[1:] == trade_ts[:-1]
    tied[:-1] |= trade_ts[1:] == trade_ts[:-1]
    span_s = (ts[-1] - ts[0]) / NS_PER_S
    gains = ", ".join(f"+{gain:.0%} in {rise_s:.0f} s" for _, gain, rise_s, _, _ in PUMPS)
    return (
        f"{len(ts):,} ticks over {span_s / 3600:.1f} h: {is_trade.mean():.0%} trades "
        f"({tied.mean():.0%} of them share their ms with another), the rest book tickers; "
        f"{len(PUMPS)} pumps ({gains})"
    )


# --- fx -----------------------------------------------------------------------------------------


@dataclass
class FxFigures:
    """fx's timings and what the strategy did."""

    run_s: float
    pipeline_s: float
    bare_s: float
    build_s: float
    result: RunResult
    indicators: list[tuple[str, str, IndicatorParams]]


def seconds(action: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def fx_run(
    spec: StrategySpec, indicators: list[tuple[str, str, IndicatorParams]], events: list[MarketEvent]
) -> RunResult:
    """One backtest as `fx backtest` runs it (default costs and balance, the strategy's clock)."""
    return run(spec, SYMBOL, indicators, events, Costs(), BALANCE, clock_ms=spec.clock_ms)


def feed(pipeline: Pipeline, events: list[MarketEvent]) -> None:
    """Every event through a freshly reset pipeline (no strategy, no fills)."""
    pipeline.reset()
    on_event = pipeline.on_event
    for event in events:
        on_event(event)


def measure_fx(cols: dict[str, np.ndarray]) -> tuple[FxFigures, list[MarketEvent], StrategySpec]:
    """pump_rider through `fast.run` (fx backtest's runner), the streaming pipeline alone, and a bare
    pipeline: best of REPEATS rounds.

    The three alternate within each round, so a burst of load on a shared machine hits all three
    rather than one, and the differences between them (the cost split) stay meaningful.
    """
    spec = load_strategy(STRATEGY)
    indicators = resolve_indicators(spec, VARIANTS)
    start = time.perf_counter()
    events = fx_events(cols)
    build_s = time.perf_counter() - start
    fx_run(spec, indicators, events[:WARM_UP_EVENTS])  # first calls: imports, caches, specialisation
    results: list[RunResult] = []
    pipeline, bare = Pipeline(SYMBOL, indicators), Pipeline(SYMBOL, [])
    run_s = pipeline_s = bare_s = math.inf
    for _ in range(REPEATS):
        run_s = min(run_s, seconds(lambda: results.append(fx_run(spec, indicators, events))))
        pipeline_s = min(pipeline_s, seconds(lambda: feed(pipeline, events)))
        bare_s = min(bare_s, seconds(lambda: feed(bare, events)))
    return FxFigures(run_s, pipeline_s, bare_s, build_s, results[-1], indicators), events, spec


def profile_fx(
    spec: StrategySpec, indicators: list[tuple[str, str, IndicatorParams]], events: list[MarketEvent]
) -> list[str]:
    """cProfile of one fx run: the costliest functions by own time, with calls per event."""
    profiler = cProfile.Profile()
    profiler.enable()
    fx_run(spec, indicators, events)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, function), entry in stats.stats.items():  # type: ignore[attr-defined]
        _cc, calls, own_s, cum_s, _callers = entry
        rows.append((where(filename, line, function), int(calls), float(own_s), float(cum_s)))
    rows.sort(key=lambda row: row[2], reverse=True)
    total_s = sum(row[2] for row in rows)
    cum = {name.rsplit(" ", 1)[-1]: cum_s for name, _, _, cum_s in rows if name.startswith("fxcli/")}
    pipeline, machine = cum.get("on_event", 0.0) / total_s, cum.get("on_tick", 0.0) / total_s
    report = [
        f"cProfile of the fx run ({len(events):,} events, {total_s:.1f} s under the profiler; profiling "
        "inflates every call, so read the shares, not the times):",
        f"  split: Pipeline.on_event {pipeline:.0%}, StrategyMachine.on_tick {machine:.0%}, the runner's "
        f"loop, fills and equity points {1 - pipeline - machine:.0%}",
        f"  {'function':<52} {'calls/event':>11} {'own':>6} {'with callees':>12}",
    ]
    for name, calls, own_s, cum_s in rows[:PROFILE_TOP]:
        report.append(
            f"  {name:<52} {calls / len(events):>11.2f} {own_s / total_s:>6.1%} {cum_s / total_s:>12.1%}"
        )
    return report


def where(filename: str, line: int, function: str) -> str:
    """`fxcli/engine/pipeline.py:46 on_event` for a profiled function, or the builtin's name."""
    if filename == "~":
        return function.strip("<>").replace("method ", "").replace(" objects", "")
    path = Path(filename)
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else Path(*path.parts[-2:])
    return f"{shown}:{line} {function}"


# --- the peers ----------------------------------------------------------------------------------


def peers_python(venv: Path = PEERS_VENV, requirements: Path = PEERS_REQUIREMENTS) -> Path:
    """`venv`/bin/python (bench/.venv-peers by default), after creating the venv or installing the
    pins of `requirements` when they are newer than its stamp (`.installed`, as the Makefile's)."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    fresh = stamp.is_file() and stamp.stat().st_mtime >= requirements.stat().st_mtime
    if python.is_file() and fresh:
        return python
    print(f"peers: installing {requirements.relative_to(REPO)} into {venv.relative_to(REPO)}")
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    stamp.touch()
    return python


def run_peer_once(python: Path, script: Path, peer: str, data: Path, *extra: str) -> dict[str, Any]:
    """Run one peer in its own process (`extra`: more arguments) and return the JSON it printed."""
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), str(script), peer, str(data), *extra],
        capture_output=True,
        text=True,
        cwd=script.parent,
        env=env,
        check=False,
        timeout=PEER_TIMEOUT_S,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"peer {peer} failed ({done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    result["process_s"] = time.perf_counter() - start
    return result


def run_peer(python: Path, script: Path, peer: str, data: Path) -> dict[str, Any]:
    """The peer's fastest of REPEATS fresh processes (every timing is the minimum over them)."""
    runs = [run_peer_once(python, script, peer, data) for _ in range(REPEATS)]
    best = dict(runs[0])
    for key in runs[0]:
        if key.endswith("_s"):
            best[key] = min(run[key] for run in runs)
    return best


# --- output -------------------------------------------------------------------------------------


def events_rate(events: int, wall_s: float) -> str:
    """`1.23M events/s` or `456k events/s`."""
    return rate(events / wall_s, "events")


def ratio_line(
    area: str, what: str, events: int, fx_s: float, peer_name: str, peer: dict[str, Any], target: float | None
) -> Line:
    """fx's events/s against a peer's, held to `fx >= target x peer` when there is a target."""
    ratio = (events / fx_s) / (peer["events"] / peer["run_s"])
    return Line(
        area,
        what,
        events_rate(events, fx_s),
        peer_name,
        events_rate(peer["events"], peer["run_s"]),
        f"{ratio:.2f}x",
        "none" if target is None else f">= {target:.0f}x",
        None if target is None else ratio >= target,
    )


def split_lines(fx: FxFigures, events: int) -> list[str]:
    """Where fx's time goes: state + windows, indicators, strategy + fills + equity, in µs/event."""
    bare_us = fx.bare_s / events * 1e6
    pipeline_us = fx.pipeline_s / events * 1e6
    run_us = fx.run_s / events * 1e6
    names = ", ".join(name for name, _, _ in fx.indicators)
    return [
        "fx cost split (best of each, µs per event):",
        f"  bare pipeline (market state + loop, no indicator)  "
        f"{bare_us:6.2f} µs  {events_rate(events, fx.bare_s)}",
        f"  + pump_rider's {len(fx.indicators)} indicators = pipeline alone     "
        f"{pipeline_us:6.2f} µs  {events_rate(events, fx.pipeline_s)}  (+{pipeline_us - bare_us:.2f})",
        f"  + strategy machine, fills, equity = runner.run      "
        f"{run_us:6.2f} µs  {events_rate(events, fx.run_s)}  (+{run_us - pipeline_us:.2f})",
        f"  indicators: {names}",
    ]


def strategy_lines(result: RunResult) -> list[str]:
    """What pump_rider did: round trips, exits, transitions; a warning when it barely traded."""
    reasons = Counter(t.exit_reason for t in result.trades)
    pnl = sum(t.pnl for t in result.trades)
    groups = Counter(t.group for t in result.transitions)
    lines = [
        f"fx strategy: pump_rider made {len(result.trades)} round trip(s) "
        f"(exits: {', '.join(f'{r} {n}' for r, n in sorted(reasons.items())) or 'none'}), "
        f"net PnL {pnl:+.2f} USDT on {BALANCE:,.0f}; {len(result.transitions)} transitions "
        f"({', '.join(f'{g} {n}' for g, n in sorted(groups.items()))})"
    ]
    if len(result.trades) < MIN_FX_TRADES:
        lines.append(
            f"WARNING: fewer than {MIN_FX_TRADES} round trips: the strategy barely ran its entry/exit "
            "paths, so the fx figure undercounts its cost (use more --events)"
        )
    return lines


def build_lines(fx: FxFigures, nautilus: dict[str, Any], bt: dict[str, Any]) -> list[str]:
    """Data construction, not timed in the ratios."""
    return [
        "data construction (not in the ratios):",
        f"  fx: msgspec Trade/BookTicker structs from columns      {fx.build_s:6.2f} s",
        f"  nautilus: TradeTick/QuoteTick lists (from_raw_arrays)   {nautilus['ticks_build_s']:6.2f} s"
        f"; engine, venue, instrument, add_data {nautilus['engine_build_s']:.2f} s",
        f"  backtesting.py: DataFrame + Backtest(...)              {bt['build_s']:6.2f} s",
        f"  peer processes, end to end (imports, load, build, run): nautilus {nautilus['process_s']:.1f} s, "
        f"backtesting.py {bt['process_s']:.1f} s",
    ]


def parse_args() -> argparse.Namespace:
    """`--events` for a quick run; the issue's targets are for the default 1M."""
    parser = argument_parser(__doc__)
    parser.add_argument("--events", type=int, default=EVENTS, help=f"ticks to replay (default {EVENTS:,})")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of the fx run")
    return parser.parse_args()


def main() -> None:
    """Generate the ticks, run fx here and each peer in its venv, print, clean up."""
    args = parse_args()
    run = Run(LAYOUT, f"numpy {np.__version__}")
    python = peers_python()
    WORK.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="backtest-", dir=WORK))
    try:
        start = time.perf_counter()
        cols = synthetic_ticks(args.events, SEED)
        data = work / "ticks.npz"
        arrays: dict[str, Any] = dict(cols)  # numpy's stub would take a column for allow_pickle
        np.savez(data, **arrays)
        print(f"data: {describe_ticks(cols)}; seed {SEED}, made in {time.perf_counter() - start:.1f} s")
        script = work / "peers.py"
        script.write_text(PEER_SCRIPT)
        nautilus = run_peer(python, script, "nautilus", data)
        bt = run_peer(python, script, "backtesting", data)
        fx, events, spec = measure_fx(cols)
        del cols
        profile = [] if args.no_profile else profile_fx(spec, fx.indicators, events)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(events)
    if nautilus["trades_seen"] != nautilus["trades"]:
        print(
            f"WARNING: nautilus's strategy saw {nautilus['trades_seen']:,} of {nautilus['trades']:,} trades"
        )
    pipeline = f"fx pipeline alone ({len(fx.indicators)} indicators) vs no-op"
    lines = [
        ratio_line(
            "backtest", "fx pump_rider vs no-op", n, fx.run_s, "nautilus", nautilus, TARGET_NAUTILUS_RATIO
        ),
        ratio_line(
            "backtest", "fx pump_rider vs no-op", n, fx.run_s, "backtesting.py", bt, TARGET_BACKTESTING_RATIO
        ),
        ratio_line("split", pipeline, n, fx.pipeline_s, "nautilus", nautilus, None),
        ratio_line("split", pipeline, n, fx.pipeline_s, "backtesting.py", bt, None),
        ratio_line("split", "fx bare pipeline vs no-op", n, fx.bare_s, "nautilus", nautilus, None),
        ratio_line("split", "fx bare pipeline vs no-op", n, fx.bare_s, "backtesting.py", bt, None),
    ]
    peers = (
        f"nautilus_trader {nautilus['version']}, backtesting.py {bt['version']} with pandas "
        f"{bt['pandas']}, numpy {bt['numpy']}"
    )
    print(f"peers: {peers}, Python {bt['python']} (bench/.venv-peers)")
    notes = [
        *strategy_lines(fx.result),
        f"nautilus: the no-op strategy saw {nautilus['trades_seen']:,} trades; the engine also "
        f"replayed {nautilus['quotes']:,} quotes",
    ]
    if args.events != EVENTS:
        notes.append(f"note: the issue's targets are for {EVENTS:,} events")
    details = split_lines(fx, n) + build_lines(fx, nautilus, bt)
    if profile:
        details += ["", *profile]
    measured_on = (
        f"{n:,} synthetic ticks, ~30 % trades, with pumps; fx runs strategies/pump_rider.toml, the peers "
        f"a no-op strategy; {cores_and_python()}; {peers}"
    )
    run.finish(lines, notes=notes, details=details, measured_on=measured_on)


if __name__ == "__main__":
    main()
