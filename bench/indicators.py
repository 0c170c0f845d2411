"""Benchmark: fx's indicator engine against TA-Lib, polars rolling windows and a per-tick budget.

What it measures, in one run:

- per-trade indicators: the batch twins of EMA(span 20), RSI(14) and SMA(20), called through the
  registry on a trade-only `Ticks` of 10M synthetic trades, against `talib.EMA/RSI/SMA` on the same
  price array (ns per value; best of 3 after a warm-up call, so numba compilation is not timed);
- time windows: the batch twins of MAX_PRICE, MIN_PRICE, FIRST_PRICE, LAST_PRICE, VOLUME and VWAP
  over the window (60, 0) on the same 10M irregular trades (the sum of the six calls) against one
  `polars.DataFrame.rolling(period="60s", closed="both").agg(...)` computing the same six columns,
  after checking both agree on every row whose timestamp is unique;
- streaming: one `Pipeline` holding every registered indicator at its default parameters, fed 1M
  events shaped like the Binance spot capture in ../shared/data/hftbacktest (~74% book tickers,
  trades in same-millisecond bursts), in microseconds per tick, with the marginal cost of each
  indicator and a cProfile of the whole pipeline.

It prints each figure, the ratio to its peer and whether the issue's target is met, then a block
to paste into the README. Nothing is asserted about timings: it is not part of the test suite.

Run: `make bench`, or `.venv/bin/python bench/indicators.py [--rows N] [--ticks N]` from the repo
root. Everything stays in memory (~3 GB peak at the default sizes).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import pstats
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import talib
from report import Layout, Line, Run, argument_parser, cores_and_python
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

from fxcli.engine import kernels
from fxcli.engine.params import IndicatorParams
from fxcli.engine.pipeline import Pipeline
from fxcli.engine.registry import Spec, load_all
from fxcli.engine.ticks import Ticks
from fxcli.model.events import BookTicker, MarketEvent, Trade
from fxcli.model.units import NS_PER_MS, NS_PER_S

REPO = Path(__file__).resolve().parents[1]
VARIANTS = REPO / "variants"

ROWS = 10_000_000
TICKS = 1_000_000
SEED = 20_240_808
T0_NS = int(datetime(2024, 8, 8, tzinfo=UTC).timestamp()) * NS_PER_S
SYMBOL = "BTCUSDT"
REPEATS = 3
WINDOW_REPEATS = 2  # the six window calls and polars' rolling take seconds each at 10M rows
STREAM_REPEATS = 2
MARGINAL_TICKS = 200_000  # per-indicator and cProfile runs use this prefix of the stream
PROFILE_TOP = 15

TARGET_TALIB_RATIO = 2.5
TARGET_POLARS_RATIO = 1.0
TARGET_US_PER_TICK = 2.0

WINDOW_S = 60.0
WINDOW_SET = ("MAX_PRICE", "MIN_PRICE", "FIRST_PRICE", "LAST_PRICE", "VOLUME", "VWAP")

# The tape's shape (bench/tape.py) follows the Binance spot capture.

RATIO_LEGEND = (
    "ratio: fx time / peer time (<1: fx faster); a batch figure is ns per output value; "
    "streaming is the whole pipeline (every registered indicator) per event"
)
LAYOUT = Layout(
    RATIO_LEGEND, fx_width=16, peer_name_width=6, peer_width=16, ratio_width=12, script="bench/indicators.py"
)


def price_cents(rng: np.random.Generator, count: int) -> np.ndarray:
    """A BTC-like walk in whole cents: a Laplace step keeps most trades at the last price."""
    return 6_000_000 + np.cumsum(np.rint(rng.laplace(0.0, 0.8, count))).astype(np.int64)


def synthetic_trades(rows: int, seed: int) -> pl.DataFrame:
    """`rows` trades in same-millisecond bursts at the capture's pace (~4 days at 10M rows)."""
    rng = np.random.default_rng(seed)
    sizes = burst_sizes(rng, rows)
    ends = np.cumsum(sizes)
    bursts = int(np.searchsorted(ends, rows)) + 1
    sizes, ends = sizes[:bursts], ends[:bursts]
    sizes[-1] -= ends[-1] - rows
    burst_ms = np.cumsum(gaps_ms(rng, bursts, BURST_GAP_MEDIAN_MS, BURST_GAP_SIGMA))
    side = np.where(rng.random(bursts) < 0.5, -1, 1).astype(np.int8)
    return pl.DataFrame(
        {
            "exchange_ts_ns": T0_NS + np.repeat(burst_ms, sizes) * NS_PER_MS,
            "price": price_cents(rng, rows) / 100.0,
            "qty": np.round(np.clip(rng.lognormal(np.log(6e-4), 2.0, rows), 1e-5, 5.0), 5),
            "side": np.repeat(side, sizes),
        }
    )


def synthetic_events(count: int, seed: int) -> list[MarketEvent]:
    """`count` trades and book tickers of one symbol, merged in time, shaped like the spot capture."""
    rng = np.random.default_rng(seed)
    # Draw ~10% more of each process than `count` needs at the capture's rates (109 events/s).
    span_ms = int(count / 109.0 * 1_000 * 1.1) + 1_000
    burst_ms = np.cumsum(gaps_ms(rng, span_ms // 80, BURST_GAP_MEDIAN_MS, BURST_GAP_SIGMA))
    burst_ms = burst_ms[burst_ms < span_ms]
    sizes = burst_sizes(rng, len(burst_ms))
    ticker_ms = np.cumsum(gaps_ms(rng, span_ms // 15, TICKER_GAP_MEDIAN_MS, TICKER_GAP_SIGMA))
    ticker_ms = ticker_ms[ticker_ms < span_ms]
    per_ms = np.where(
        rng.random(len(ticker_ms)) < TICKER_SINGLE_SHARE, 1, 1 + rng.geometric(TICKER_EXTRA_P, len(ticker_ms))
    )
    trade_side = np.repeat(np.where(rng.random(len(burst_ms)) < 0.5, -1, 1), sizes)
    ms = np.concatenate([np.repeat(burst_ms, sizes), np.repeat(ticker_ms, per_ms)])
    is_trade = np.zeros(len(ms), dtype=bool)
    is_trade[: len(trade_side)] = True
    side = np.zeros(len(ms), dtype=np.int64)
    side[: len(trade_side)] = trade_side
    order = np.argsort(ms, kind="stable")[:count]
    ms, is_trade, side = ms[order], is_trade[order], side[order]
    n = len(ms)
    # The price moves on trades only; the book ticker quotes the last price or one cent below it.
    cents = 6_000_000 + np.cumsum(np.where(is_trade, np.rint(rng.laplace(0.0, 0.8, n)), 0)).astype(np.int64)
    bid_cents = cents - rng.integers(0, 2, n)
    ts = T0_NS + ms * NS_PER_MS
    received = ts + rng.integers(500_000, 3_000_000, n)
    qty = np.round(np.clip(rng.lognormal(np.log(6e-4), 2.0, n), 1e-5, 5.0), 5)
    bid_qty = np.round(rng.uniform(0.001, 3.0, n), 5)
    ask_qty = np.round(rng.uniform(0.001, 3.0, n), 5)
    columns = zip(
        ts.tolist(),
        received.tolist(),
        is_trade.tolist(),
        (cents / 100.0).tolist(),
        qty.tolist(),
        side.tolist(),
        (bid_cents / 100.0).tolist(),
        ((bid_cents + 1) / 100.0).tolist(),
        bid_qty.tolist(),
        ask_qty.tolist(),
        strict=True,
    )
    return [
        Trade(t, r, SYMBOL, p, q, s) if trade else BookTicker(t, r, SYMBOL, bid, b_qty, ask, a_qty)
        for t, r, trade, p, q, s, bid, ask, b_qty, a_qty in columns
    ]


def seconds(action: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_seconds(action: Callable[[], object], repeats: int) -> float:
    """Best wall time of `repeats` calls: the least disturbed by other work on a shared machine."""
    return min(seconds(action) for _ in range(repeats))


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| / |b| (0 where both are 0)."""
    scale = np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b) / scale)) if len(a) else 0.0


def params_of(spec: Spec, values: dict[str, object]) -> IndicatorParams:
    """`spec`'s parameters with `values`, validated as a variant file's would be."""
    return spec.params.model_validate(values)


def ratio_line(area: str, what: str, fx_s: float, peer_name: str, peer_s: float, per: int) -> Line:
    """A timing line in ns per value, held to `fx <= TARGET x peer`."""
    target = TARGET_TALIB_RATIO if peer_name == "talib" else TARGET_POLARS_RATIO
    ratio = fx_s / peer_s
    return Line(
        area,
        what,
        f"{fx_s / per * 1e9:.1f} ns/value",
        peer_name,
        f"{peer_s / per * 1e9:.1f} ns/value",
        f"{ratio:.2f}x",
        f"<= {target:.1f}x",
        ratio <= target,
    )


# --- a. per-trade indicators against TA-Lib -----------------------------------------------------


def measure_talib(ticks: Ticks, specs: dict[str, Spec], notes: list[str]) -> list[Line]:
    """EMA, RSI and SMA batch twins through the registry against TA-Lib on the same prices."""
    price = np.ascontiguousarray(ticks.price)
    cases: list[tuple[str, str, int, Callable[..., np.ndarray], Callable[[], np.ndarray]]] = [
        ("EMA", "span", 20, kernels.ema, lambda: talib.EMA(price, timeperiod=20)),
        ("RSI", "period", 14, kernels.rsi, lambda: talib.RSI(price, timeperiod=14)),
        ("SMA", "period", 20, kernels.sma, lambda: talib.SMA(price, timeperiod=20)),
    ]
    lines = []
    for name, field, value, kernel, peer in cases:
        spec = specs.get(name)
        fx: Callable[[], np.ndarray]
        if spec is not None:
            fx = functools.partial(spec.batch, ticks, params_of(spec, {field: value}))
            what = f"{name}({value}) batch"
        else:
            fx = functools.partial(kernel, price, value)
            what = f"{name}({value}) kernel"
            notes.append(f"{name} is not registered: timed fxcli.engine.kernels.{kernel.__name__} directly")
        fx_values, peer_values = fx(), peer()  # warm-up: numba compiles (or loads its cache) here
        both = np.isfinite(fx_values) & np.isfinite(peer_values) & (peer_values != 0.0)
        notes.append(
            f"{name}: fx and TA-Lib agree to {max_rel_diff(fx_values[both], peer_values[both]):.1e} "
            f"relative on {int(both.sum()):,} rows"
        )
        fx_s = best_seconds(fx, REPEATS)
        peer_s = best_seconds(peer, REPEATS)
        lines.append(ratio_line("batch", what, fx_s, "talib", peer_s, len(ticks)))
    return lines


# --- b. the 60 s window set against polars' rolling ---------------------------------------------


def polars_window_exprs(names: list[str]) -> list[pl.Expr]:
    """The polars aggregation of each fx window indicator in `names`."""
    price, qty = pl.col("price"), pl.col("qty")
    exprs = {
        "MAX_PRICE": price.max(),
        "MIN_PRICE": price.min(),
        "FIRST_PRICE": price.first(),
        "LAST_PRICE": price.last(),
        "VOLUME": qty.sum(),
        "VWAP": (price * qty).sum() / qty.sum(),
    }
    return [exprs[name].alias(name) for name in names]


def polars_rolling(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """polars' answer: every row's window `[ts - 60 s, ts]` (closed both ends, as fx's)."""
    return frame.rolling(index_column="ts", period=f"{int(WINDOW_S)}s", closed="both").agg(
        polars_window_exprs(names)
    )


def unique_ts_rows(ts: np.ndarray) -> np.ndarray:
    """True on rows whose timestamp no other row has."""
    unique = np.ones(len(ts), dtype=bool)
    same = ts[1:] == ts[:-1]
    unique[1:] &= ~same
    unique[:-1] &= ~same
    return unique


def six_calls(ticks: Ticks, specs: dict[str, Spec], params: dict[str, IndicatorParams]) -> dict[str, float]:
    """Seconds of each window twin, called one after the other on a fresh copy of `ticks`."""
    fresh = dataclasses.replace(ticks)  # same arrays, nothing derived from them yet
    seconds_of = {}
    for name, p in params.items():
        start = time.perf_counter()
        specs[name].batch(fresh, p)
        seconds_of[name] = time.perf_counter() - start
    return seconds_of


def measure_windows(
    frame: pl.DataFrame, ticks: Ticks, specs: dict[str, Spec], notes: list[str]
) -> list[Line]:
    """The six (60, 0) window twins (sum of their times) against one polars rolling aggregation."""
    names = [name for name in WINDOW_SET if name in specs]
    missing = [name for name in WINDOW_SET if name not in specs]
    if missing:
        notes.append(f"window set: not registered, skipped: {', '.join(missing)}")
    if not names:
        return []
    params = {name: params_of(specs[name], {"window": (WINDOW_S, 0.0)}) for name in names}
    warm = Ticks.from_trades(frame.head(10_000))
    for name in names:
        specs[name].batch(warm, params[name])  # numba compiles (or loads its cache) here
    fx_values = {name: specs[name].batch(dataclasses.replace(ticks), params[name]) for name in names}
    table = frame.select(pl.col("exchange_ts_ns").cast(pl.Datetime("ns")).alias("ts"), "price", "qty")
    answer = polars_rolling(table, names)

    compared = unique_ts_rows(ticks.ts_ns)
    for name in names:
        compared &= np.isfinite(fx_values[name])
    worst = max(max_rel_diff(fx_values[n][compared], answer[n].to_numpy()[compared]) for n in names)
    notes.append(
        "window set: polars' window holds every row with the current timestamp, later ones in the same "
        "millisecond included, fx's only rows up to the current one (as a stream sees them), so they "
        f"differ on ties; compared on the {int(compared.sum()):,} warm rows (of {len(ticks):,}) whose "
        f"timestamp is unique: max relative difference {worst:.1e}"
    )
    if worst > 1e-9:
        notes.append("window set: WARNING: fx and polars disagree by more than 1e-9 on unique-timestamp rows")
    del fx_values, answer

    # The six calls in a row on a fresh copy of `ticks` each time, as a batch run makes them: work
    # one call leaves behind for the next (shared window bounds, if the engine keeps any) counts once.
    runs = [six_calls(ticks, specs, params) for _ in range(WINDOW_REPEATS)]
    per_name = min(runs, key=lambda run: sum(run.values()))
    fx_s = sum(per_name.values())
    peer_s = best_seconds(lambda: polars_rolling(table, names), WINDOW_REPEATS)
    notes.append(
        "window set, fx per call in order: "
        + ", ".join(f"{name} {s / len(ticks) * 1e9:.0f}" for name, s in per_name.items())
        + " ns/value"
    )
    what = f"{len(names)} windows (60, 0)" + ("" if not missing else f" of {len(WINDOW_SET)}")
    return [ratio_line("batch", what, fx_s, "polars", peer_s, len(ticks))]


# --- c. streaming: the whole pipeline per tick --------------------------------------------------


def default_set(specs: dict[str, Spec]) -> list[tuple[str, str, IndicatorParams]]:
    """One instance of every registered indicator at its default parameters."""
    return [(name, name, spec.params()) for name, spec in sorted(specs.items())]


def variant_set(notes: list[str]) -> list[tuple[str, str, IndicatorParams]]:
    """Every variant of the shipped variants/*.toml, by its name; [] (and a note) when there is none."""
    from fxcli.engine.variants import VariantError, load_folder

    try:
        variants = load_folder(VARIANTS).variants()
    except VariantError as error:
        notes.append(f"variants/: not measured, the folder has a problem: {error}")
        return []
    if not variants:
        notes.append("variants/: no variants, so no variant set was measured")
    return [(v.name, v.indicator, v.indicator_params()) for v in variants]


def feed(pipeline: Pipeline, events: list[MarketEvent]) -> float:
    """Seconds to run `events` through a freshly reset `pipeline`."""
    pipeline.reset()
    on_event = pipeline.on_event
    start = time.perf_counter()
    for event in events:
        on_event(event)
    return time.perf_counter() - start


def stream_line(what: str, pipeline: Pipeline, events: list[MarketEvent]) -> Line:
    """µs per tick of `pipeline` over `events` (best of STREAM_REPEATS), against the target."""
    feed(pipeline, events[:20_000])  # first calls: imports, attribute caches, specialisation
    us = min(feed(pipeline, events) for _ in range(STREAM_REPEATS)) * 1e6 / len(events)
    return Line(
        "stream",
        what,
        f"{us:.2f} us/tick",
        "rate",
        f"{1e6 / us / 1e3:.0f}k ticks/s",
        f"{us / TARGET_US_PER_TICK:.2f}x budget",
        f"<= {TARGET_US_PER_TICK:.1f} us/tick",
        us <= TARGET_US_PER_TICK,
    )


def marginal_costs(specs: dict[str, Spec], events: list[MarketEvent]) -> list[tuple[str, float]]:
    """µs/tick each indicator adds, alone, to a pipeline with none (its windows included)."""
    bare = Pipeline(SYMBOL, [])
    feed(bare, events)
    base_us = min(feed(bare, events) for _ in range(2)) * 1e6 / len(events)
    costs = [("(none: state + loop)", base_us)]
    for name, kind, params in default_set(specs):
        pipeline = Pipeline(SYMBOL, [(name, kind, params)])
        us = min(feed(pipeline, events) for _ in range(2)) * 1e6 / len(events)
        costs.append((name, us - base_us))
    return costs


def qualified_name(filename: str, line: int, function: str) -> str:
    """`windows.TradeWindow.advance` for a profiled function (cProfile keeps only `advance`)."""
    if filename == "~":  # a builtin: cProfile's own text, e.g. <method 'append' of ...>
        return function.strip("<>").replace("method ", "").replace(" objects", "")
    module = next((m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == filename), None)
    for cls in vars(module).values() if module is not None else ():
        for member in vars(cls).values() if isinstance(cls, type) else ():
            code = getattr(member, "__code__", None)
            if code is not None and code.co_firstlineno == line and code.co_filename == filename:
                return f"{Path(filename).stem}.{code.co_qualname}"
    return f"{Path(filename).stem}.{function}"


def profile_rows(pipeline: Pipeline, events: list[MarketEvent]) -> tuple[float, list[tuple[str, int, float]]]:
    """cProfile of the pipeline: total seconds and (function, calls, own seconds), costliest first."""
    profiler = cProfile.Profile()
    pipeline.reset()
    on_event = pipeline.on_event
    profiler.enable()
    for event in events:
        on_event(event)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, function), (_cc, calls, own_s, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((qualified_name(filename, line, function), int(calls), float(own_s)))
    rows.sort(key=lambda row: row[2], reverse=True)
    return sum(row[2] for row in rows), rows


def measure_streaming(specs: dict[str, Spec], ticks: int, notes: list[str]) -> tuple[list[Line], list[str]]:
    """The default set (and the variant set, if any) per tick, plus where the time goes."""
    build_start = time.perf_counter()
    events = synthetic_events(ticks, SEED)
    trades = sum(1 for e in events if type(e) is Trade)
    span_s = (events[-1].exchange_ts_ns - events[0].exchange_ts_ns) / NS_PER_S
    notes.append(
        f"stream: {len(events):,} events ({trades / len(events):.0%} trades, the rest book tickers) over "
        f"{span_s / 3600:.1f} h, built in {time.perf_counter() - build_start:.1f} s"
    )
    indicators = default_set(specs)
    lines = [stream_line(f"{len(indicators)} indicators, defaults", Pipeline(SYMBOL, indicators), events)]
    variants = variant_set(notes)
    if variants:
        lines.append(stream_line(f"{len(variants)} variants", Pipeline(SYMBOL, variants), events))

    prefix = events[:MARGINAL_TICKS]
    report = [f"where the time goes ({len(prefix):,}-event prefix):"]
    costs = marginal_costs(specs, prefix)
    report.append(
        "  marginal us/tick of each indicator alone (its own windows included; shared in the full set):"
    )
    ranked = sorted(costs[1:], key=lambda c: c[1], reverse=True)
    report.append(f"    {costs[0][0]:<22} {costs[0][1]:.3f}")
    report += [f"    {name:<22} {us:+.3f}" for name, us in ranked]
    total_s, rows = profile_rows(Pipeline(SYMBOL, indicators), prefix)
    report.append(
        "  cProfile of the full set, own time (profiling inflates every call; shares matter, not us):"
    )
    report.append(f"    {'function':<36} {'calls/tick':>10} {'share':>6}")
    for function, calls, own_s in rows[:PROFILE_TOP]:
        report.append(f"    {function:<36} {calls / len(prefix):>10.2f} {own_s / total_s:>6.1%}")
    return lines, report


def parse_args() -> argparse.Namespace:
    """`--rows` / `--ticks` for a quick run; the issue's targets are for the defaults."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--rows", type=int, default=ROWS, help=f"trades for the batch figures (default {ROWS:,})"
    )
    parser.add_argument(
        "--ticks", type=int, default=None, help=f"events for streaming (default min({TICKS:,}, rows))"
    )
    return parser.parse_args()


def main() -> None:
    """Generate the data, measure the three areas, print."""
    args = parse_args()
    ticks_n = args.ticks if args.ticks is not None else min(TICKS, args.rows)
    run = Run(LAYOUT, f"numpy {np.__version__}", f"polars {pl.__version__}", f"TA-Lib {talib.__version__}")
    specs = load_all()
    print(f"registry: {len(specs)} indicators: {', '.join(sorted(specs))}")
    notes: list[str] = []

    generate_start = time.perf_counter()
    frame = synthetic_trades(args.rows, SEED)
    ticks = Ticks.from_trades(frame)
    tie_share = 1.0 - unique_ts_rows(ticks.ts_ns).mean()
    span_h = (ticks.ts_ns[-1] - ticks.ts_ns[0]) / NS_PER_S / 3600
    print(
        f"data: {len(ticks):,} synthetic trades over {span_h:.0f} h "
        f"({tie_share:.0%} share a millisecond with another), seed {SEED}, made in "
        f"{time.perf_counter() - generate_start:.1f} s"
    )
    lines = measure_talib(ticks, specs, notes)
    lines += measure_windows(frame, ticks, specs, notes)
    del frame, ticks
    stream_lines, report = measure_streaming(specs, ticks_n, notes)
    lines += stream_lines

    if args.rows != ROWS or ticks_n != TICKS:
        notes.append(f"the issue's targets are for {ROWS:,} rows and {TICKS:,} ticks")
    measured_on = (
        f"{args.rows:,} synthetic trades for the batch rows, {ticks_n:,} trades and book tickers for "
        f"streaming; {cores_and_python()}, TA-Lib {talib.__version__}, polars {pl.__version__}"
    )
    run.finish(lines, notes=[f"note: {note}" for note in notes], details=report, measured_on=measured_on)


if __name__ == "__main__":
    main()
