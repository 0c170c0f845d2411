"""The batch runner (`fxcli.backtest.fast.run`) gives the streaming runner's `RunResult`, field by field.

Every scenario runs both runners on the same inputs and compares every field exactly: floats bit
for bit (and int vs float), the order of lists and of dict keys (the diagnostics' insertion order
too), NaN equal to NaN. Scenarios: the shipped strategies and hand-written specs (require = "any",
O1 cancels, timeouts, E1, stop-loss / take-profit, stop / target from variants, shorts, every
operator, names the values do not hold, partial fills, rejected entries and exits) on synthetic
streams with pumps (full L2, top of book only, trades only, a broken delta chain), cut at many
points to end in every state, on a thin hand-built book, and on the shipped Binance sample
replayed from a store; other costs, balances and sampling periods; prices exactly on a stop or
target and times exactly at a timeout; degenerate streams and the inputs that fall back to the
streaming runner. The columnar `Ticks.from_columns` is checked bit for bit against `from_events`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from fxcli.backtest import fast, runner
from fxcli.backtest.fills import Costs
from fxcli.backtest.runner import RunResult
from fxcli.engine.params import IndicatorParams
from fxcli.engine.ticks import Ticks
from fxcli.model.book import OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, MarketEvent, Trade
from fxcli.strategy.spec import StrategySpec, load_strategy
from fxcli.tasks.backtest import resolve_indicators
from tests.conftest import FIXTURES, REPO
from tests.contracts.streams import real_sample, synthetic

MS = 1_000_000
S = 1_000_000_000
VARIANTS = REPO / "variants"
STRATEGIES = sorted((REPO / "strategies").glob("*.toml"))
SEEDS = (7, 11, 23)
BOOKS = ("l2", "ticker", "trades", "broken_chain")
EVENTS = 12_000

Indicators = list[tuple[str, str, IndicatorParams]]

# --- comparing results ------------------------------------------------------------------------------


def exact(value: Any) -> Any:
    """A comparable form that keeps what `==` forgets: float bits, int vs float, dict key order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            [(f.name, exact(getattr(value, f.name))) for f in dataclasses.fields(value)],
        )
    if isinstance(value, dict):
        return ("dict", [(exact(k), exact(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [exact(v) for v in value])
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def assert_same(stream: RunResult, batch: RunResult) -> None:
    """Equal field by field; a difference names the field and the first item that differs."""
    for f in dataclasses.fields(RunResult):
        mine, ref = getattr(batch, f.name), getattr(stream, f.name)
        if exact(mine) == exact(ref):
            continue
        if isinstance(ref, list) and isinstance(mine, list):
            assert len(mine) == len(ref), f"{f.name}: {len(mine)} items, the streaming runner has {len(ref)}"
            i = next(i for i, (a, b) in enumerate(zip(mine, ref, strict=True)) if exact(a) != exact(b))
            pytest.fail(f"{f.name}[{i}]: {mine[i]!r} != streaming {ref[i]!r}")
        pytest.fail(f"{f.name}: {mine!r} != streaming {ref!r}")


class NoFallback:
    """Stands in for `fast.runner`: a scenario meant for the batch path must not hand over."""

    def run(self, *args: object, **kwargs: object) -> RunResult:
        raise AssertionError("the batch runner fell back to the streaming runner")


def check(
    spec: StrategySpec,
    indicators: Indicators,
    events: list[MarketEvent],
    *,
    costs: Costs | None = None,
    balance: float = 10_000.0,
    every: int = S,
    monkeypatch: pytest.MonkeyPatch | None = None,
    clock_ms: int = 0,
    trade_from_ns: int = 0,
) -> RunResult:
    """Both runners on the same inputs; asserts they agree and returns the streaming result."""
    costs = costs or Costs()
    timing = {"equity_every_ns": every, "clock_ms": clock_ms, "trade_from_ns": trade_from_ns}
    stream = runner.run(spec, "S", indicators, events, costs, balance, **timing)  # type: ignore[arg-type]
    if monkeypatch is not None:
        monkeypatch.setattr(fast, "runner", NoFallback())
    batch = fast.run(spec, "S", indicators, iter(events), costs, balance, **timing)  # type: ignore[arg-type]
    if monkeypatch is not None:
        monkeypatch.undo()
    assert_same(stream, batch)
    return stream


# --- streams ----------------------------------------------------------------------------------------

# (where in the stream, gain, rise s, fall s, share of the gain given back): the last one collapses
# below its start (stops and E1 exits), the others stall and fade (ZE1 exits, dump_fader's shorts).
EPISODES = ((0.3, 0.09, 30.0, 60.0, 0.8), (0.55, 0.14, 45.0, 80.0, 0.7), (0.8, 0.08, 20.0, 20.0, 1.8))


def _factor(ts: int, starts: list[int]) -> float:
    f = 1.0
    for t0, (_, gain, rise_s, fall_s, back) in zip(starts, EPISODES, strict=True):
        rise, fall = rise_s * S, fall_s * S
        if ts < t0:
            continue
        if ts <= t0 + rise:
            x = (ts - t0) / rise
            f *= 1.0 + gain * x * x * (3.0 - 2.0 * x)
        elif ts <= t0 + rise + fall:
            f *= 1.0 + gain * (1.0 - back * (ts - t0 - rise) / fall)
        else:
            f *= 1.0 + gain * (1.0 - back)
    return f


@functools.cache
def pumped(seed: int, book: str = "l2") -> list[MarketEvent]:
    """`synthetic` with pump episodes: prices (trades and tickers) lifted along each episode's curve,
    and same-ms buy bursts every 250 ms while it rises (rush orders, a volume surge).

    `book`: "l2" keeps snapshots and deltas, "ticker" drops them, "trades" keeps trades only,
    "broken_chain" drops one delta (a version gap: the book is unknown) and resyncs later with a
    new snapshot.
    """
    base = synthetic(EVENTS, seed)
    starts = [base[int(where * len(base))].exchange_ts_ns for where, *_ in EPISODES]
    bursts = sorted(
        t0 + k * 250 * MS for t0, ep in zip(starts, EPISODES, strict=True) for k in range(int(ep[2] * 4))
    )
    out: list[MarketEvent] = []
    last, b = 100.0, 0
    for event in base:
        ts = event.exchange_ts_ns
        while b < len(bursts) and bursts[b] <= ts:
            at = bursts[b]
            out.extend(
                Trade(at, at + 3 * MS, "S", last * _factor(at, starts), 4.0, 1, None) for _ in range(4)
            )
            b += 1
        if isinstance(event, Trade):
            last = event.price
            event = msgspec.structs.replace(event, price=event.price * _factor(ts, starts))
        elif isinstance(event, BookTicker):
            f = _factor(ts, starts)
            event = msgspec.structs.replace(
                event, bid_price=event.bid_price * f, ask_price=event.ask_price * f
            )
        out.append(event)
    if book == "ticker":
        return [e for e in out if isinstance(e, Trade | BookTicker)]
    if book == "trades":
        return [e for e in out if isinstance(e, Trade)]
    if book == "broken_chain":
        return broken_chain(out)
    return out


def broken_chain(events: list[MarketEvent]) -> list[MarketEvent]:
    """Drop the delta a third of the way in; put a snapshot two thirds in that the later deltas continue."""
    deltas = [i for i, e in enumerate(events) if isinstance(e, BookDelta)]
    drop, resync = deltas[len(deltas) // 3], deltas[2 * len(deltas) // 3]
    book = OrderBook("S")
    out: list[MarketEvent] = []
    for i, event in enumerate(events):
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, BookDelta):
            if i == resync:
                bids, asks = book.top(1_000)
                ts = event.exchange_ts_ns
                out.append(BookSnapshot(ts, ts, "S", bids, asks, event.from_version - 1, "rest"))
            book.apply_delta(event)
            if i == drop:
                continue
        out.append(event)
    return out


def thin_book(cut: int | None = None, *, bids_at_end: bool = True) -> list[MarketEvent]:
    """A hand-built tape on a thin L2 book: no asks at first (entries are refused), then 1 base of
    asks (big entries fill partly), bids of 0.5 (exits fill partly, then again), no bids for a while
    (exits are refused and retried), bids back, none again, and (`bids_at_end`) 0.3 at the end, so
    the last position is closed partly against the book and the rest at the last price. Trades every
    100 ms at 100, tickers between."""
    events: list[MarketEvent] = [BookSnapshot(0, 0, "S", [(99.9, 0.3), (99.8, 0.2)], [], 1, "rest")]
    version = 1

    def delta(ts: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> None:
        nonlocal version
        version += 1
        events.append(BookDelta(ts, ts, "S", bids, asks, version, version))

    for k in range(1, 400):
        ts = k * 100 * MS
        if k == 50:
            delta(ts, [], [(100.1, 0.5), (100.2, 0.5)])
        elif k == 150:
            delta(ts, [(99.9, 0.0), (99.8, 0.0)], [])
        elif k == 230:
            delta(ts, [(99.5, 0.3)], [])
        elif k == 300:
            delta(ts, [(99.5, 0.0)], [])
        elif k == 390 and bids_at_end:
            delta(ts, [(99.4, 0.3)], [])
        events.append(Trade(ts, ts, "S", 100.0 + 0.01 * (k % 7), 0.1, 1 if k % 3 else -1, k))
        if k % 4 == 0:
            events.append(BookTicker(ts + 40 * MS, ts + 40 * MS, "S", 99.0, 1.0, 101.0, 1.0))
    return events if cut is None else events[:cut]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[MarketEvent]:
    """The shipped Binance spot excerpt, imported into a temporary store and replayed from it."""
    data = tmp_path_factory.mktemp("binance") / "data"
    return real_sample(FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz", data)


# --- strategies -------------------------------------------------------------------------------------


def make_spec(**fields: Any) -> StrategySpec:
    base: dict[str, Any] = {"schema": 1, "name": "t", "signal_timeout_s": 20, "cooldown_s": 30}
    base.update(fields)
    return StrategySpec.model_validate(base)


def cond(indicator: str, op: str, value: float) -> dict[str, Any]:
    return {"indicator": indicator, "op": op, "value": value}


HAND_SPECS: dict[str, StrategySpec] = {
    # Any one of three S1 conditions, one of which the values never hold (always PENDING).
    "require_any": make_spec(
        require={"s1": "any", "o1": "any", "z1": "any"},
        s1=[
            cond("pump_10s", "gte", 2.0),
            cond("volume_surge_10s", "gte", 8.0),
            cond("pump_60s", "gte", 0),  # a 900 s baseline: never warm in these streams
        ],
        o1=[cond("momentum_10s", "lt", -0.05), cond("velocity_cascade_10_60", "lt", -0.05)],
        z1=[cond("rush_orders_10s", "gte", 3), cond("pump_60s", "gte", 0)],
        ze1=[cond("UNREALIZED_PNL_PCT", "gte", 1.0)],
        e1=[cond("UNREALIZED_PNL_PCT", "lte", -2.0)],
    ),
    # O1 cancels most signals, the rest time out: Z1 can never fire.
    "o1_and_timeouts": make_spec(
        signal_timeout_s=5,
        cooldown_s=3,
        s1=[cond("momentum_10s", "gte", 0.002)],
        o1=[cond("momentum_10s", "lt", 0.0)],
        z1=[cond("rush_orders_10s", "gte", 10_000)],
    ),
    # No O1 at all: every signal times out.
    "timeouts_only": make_spec(
        signal_timeout_s=2.5,
        cooldown_s=0,
        s1=[cond("momentum_10s", "gte", 0.0)],
        z1=[cond("spread", "lt", -1)],
    ),
    # E1 on a small loss, with a long emergency cooldown; ZE1 never fires.
    "emergency": make_spec(
        emergency_cooldown_s=200,
        s1=[cond("pump_10s", "gte", 1.0)],
        z1=[cond("rush_orders_10s", "gte", 1)],
        e1=[cond("UNREALIZED_PNL_PCT", "lte", -0.3)],
        ze1=[cond("UNREALIZED_PNL_PCT", "gte", 1_000)],
    ),
    # Tight stop-loss and take-profit from the entry price, no other exit.
    "stop_take": make_spec(
        cooldown_s=5,
        exits={"sl_buffer_pct": 0.4, "tp_pct": 0.6},
        s1=[cond("momentum_10s", "gte", 0.003)],
        z1=[cond("PRICE", "gt", 0)],
    ),
    # Stop and target from the 60 s high and low (indicator names: the shipped STOP_LOSS and
    # TAKE_PROFIT variants are a long's, low and high), size from RSI; a short.
    "short_variant_exits": make_spec(
        side="short",
        cooldown_s=10,
        sizing={"risk_variant": "risk_rsi", "base_position_pct": 2.0},
        exits={
            "stop_loss_variant": "MAX_PRICE",
            "take_profit_variant": "MIN_PRICE",
            "sl_buffer_pct": 0.2,
            "tp_pct": 0.2,
        },
        s1=[cond("momentum_10s", "lte", -0.003)],
        z1=[cond("spread", "lte", 5.0)],
        ze1=[cond("velocity_cascade_10_60", "gt", 0.01)],
    ),
    # between, allowed, eq, gt, lt.
    "operators": make_spec(
        cooldown_s=1,
        s1=[
            {"indicator": "pump_10s", "op": "between", "min": 0.5, "max": 50},
            {"indicator": "rush_orders_10s", "op": "allowed", "values": [1, 2, 3, 4, 5, 6, 7, 8]},
        ],
        o1=[cond("rush_orders_10s", "eq", 0)],
        z1=[cond("trade_rate_10s", "gt", 1.0), cond("book_imbalance_5", "lt", 0.9)],
        ze1=[{"indicator": "UNREALIZED_PNL_PCT", "op": "between", "min": 0.2, "max": 1e9}],
        e1=[cond("UNREALIZED_PNL_PCT", "lt", -0.4)],
    ),
    # Entries below min_notional are refused by the machine itself (balance too small).
    "too_small": make_spec(
        cooldown_s=2,
        sizing={"min_notional": 10_000, "max_notional": 20_000, "max_leverage": 0.5},
        s1=[cond("momentum_10s", "gte", 0.002)],
        z1=[cond("PRICE", "gt", 0)],
    ),
    # Big orders and everything fires at once: entries and exits take whatever the book holds.
    "big_and_eager": make_spec(
        cooldown_s=0.5,
        sizing={"base_position_pct": 100, "max_notional": 1e9, "max_leverage": 10},
        s1=[cond("PRICE", "gt", 0)],
        z1=[cond("PRICE", "gt", 0)],
        ze1=[cond("PRICE", "gt", 0)],
    ),
}


def shipped(path: Path) -> tuple[StrategySpec, Indicators]:
    spec = load_strategy(path)
    return spec, resolve_indicators(spec, VARIANTS)


def hand(name: str) -> tuple[StrategySpec, Indicators]:
    spec = HAND_SPECS[name]
    return spec, resolve_indicators(spec, VARIANTS)


# --- the shipped strategies -------------------------------------------------------------------------


@pytest.mark.parametrize("book", BOOKS)
@pytest.mark.parametrize(
    ("seed", "clock_ms"), [*((seed, 0) for seed in SEEDS), (SEEDS[1], 1_000), (SEEDS[1], 130)]
)
@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.stem)
def test_fast_equals_streaming_for_shipped_strategies_on_pumped_streams(
    path: Path, seed: int, clock_ms: int, book: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = shipped(path)

    result = check(spec, indicators, pumped(seed, book), clock_ms=clock_ms, monkeypatch=monkeypatch)

    if clock_ms:
        assert result.clock_ticks > result.events // 10, "the clock must add rows for the parity to cover"


def test_pumped_streams_make_the_shipped_strategies_trade() -> None:
    # Otherwise the parity above would only prove that both runners sit in MONITORING alike.
    for path in STRATEGIES:
        spec, indicators = shipped(path)
        results = [runner.run(spec, "S", indicators, pumped(seed), Costs(), 10_000.0) for seed in SEEDS]
        assert sum(len(r.trades) for r in results) >= 2, path.stem


@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.stem)
def test_fast_equals_streaming_for_shipped_strategies_on_the_binance_sample(
    path: Path, sample: list[MarketEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = shipped(path)

    check(spec, indicators, sample, monkeypatch=monkeypatch)


@pytest.mark.parametrize("name", sorted(HAND_SPECS))
def test_fast_equals_streaming_for_hand_written_specs_on_the_binance_sample(
    name: str, sample: list[MarketEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand(name)

    check(spec, indicators, sample, monkeypatch=monkeypatch)


# --- hand-written specs -----------------------------------------------------------------------------


@pytest.mark.parametrize("book", BOOKS)
@pytest.mark.parametrize("name", sorted(HAND_SPECS))
def test_fast_equals_streaming_for_hand_written_specs(
    name: str, book: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand(name)

    check(spec, indicators, pumped(SEEDS[0], book), monkeypatch=monkeypatch)


def test_hand_written_specs_reach_the_paths_they_are_named_for() -> None:
    events = pumped(SEEDS[0])
    groups: set[str] = set()
    for name in HAND_SPECS:
        spec, indicators = hand(name)
        result = runner.run(spec, "S", indicators, events, Costs(), 10_000.0)
        groups |= {t.group for t in result.transitions}
        groups |= {t.exit_reason for t in result.trades}
    assert {"o1", "timeout", "e1", "stop_loss", "take_profit", "ze1", "rejected"} <= groups


@pytest.mark.parametrize("bids_at_end", [True, False], ids=["bids_at_end", "no_bids_at_end"])
@pytest.mark.parametrize("cut", [None, *range(20, 1_000, 23)])
@pytest.mark.parametrize("name", ["big_and_eager", "too_small", "o1_and_timeouts"])
def test_fast_equals_streaming_on_a_thin_book_cut_anywhere(
    name: str, cut: int | None, bids_at_end: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand(name)

    check(
        spec, indicators, thin_book(cut, bids_at_end=bids_at_end), balance=100_000.0, monkeypatch=monkeypatch
    )


def test_thin_book_refuses_entries_fills_partly_and_ends_with_open_positions() -> None:
    spec, indicators = hand("big_and_eager")
    results = [
        runner.run(spec, "S", indicators, thin_book(cut), Costs(), 100_000.0) for cut in range(20, 1_000, 23)
    ]
    trades = [t for r in results for t in r.trades]

    assert all(r.rejected for r in results[5:])
    assert any(t.entry_fill.is_partial for t in trades)
    assert any(len(t.exit_fills) > 1 and t.exit_reason == "ze1" for t in trades)
    # Closed at the end: partly against the book, the rest at the last trade.
    assert any(
        t.exit_reason == "end_of_data" and [f.source for f in t.exit_fills] == ["l2", "last_trade"]
        for t in trades
    )


@pytest.mark.parametrize("cut", range(1_000, EVENTS, 1_371))
@pytest.mark.parametrize("name", ["big_and_eager", "stop_take", "emergency"])
def test_fast_equals_streaming_on_pumped_streams_cut_anywhere(
    name: str, cut: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand(name)

    check(spec, indicators, pumped(SEEDS[1])[:cut], monkeypatch=monkeypatch)


# --- costs, balance, sampling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "costs",
    [
        Costs(latency_ms=0.0),
        Costs(latency_ms=0.4, taker_fee_bps=0.0, slippage_bps=0.0),
        Costs(latency_ms=5_000.0, taker_fee_bps=25.0, slippage_bps=30.0),
        Costs(latency_ms=-3.0),
    ],
    ids=["no_latency", "sub_ms_latency_no_fees", "5s_latency", "negative_latency"],
)
@pytest.mark.parametrize("book", ["l2", "trades"])
def test_fast_equals_streaming_under_other_costs(
    costs: Costs, book: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand("big_and_eager")

    check(spec, indicators, pumped(SEEDS[2], book), costs=costs, monkeypatch=monkeypatch)


@pytest.mark.parametrize("every", [1, 250 * MS, 60 * S, 10**15])
@pytest.mark.parametrize("balance", [10_000, 10_000.0, 3.0])
def test_fast_equals_streaming_for_any_sampling_and_balance(
    every: int, balance: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = shipped(REPO / "strategies" / "momentum_scalper.toml")

    check(spec, indicators, pumped(SEEDS[2], "ticker"), balance=balance, every=every, monkeypatch=monkeypatch)


@pytest.mark.parametrize("share", [0.0, 0.3, 0.7])
def test_fast_equals_streaming_when_trading_starts_late(
    share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # walk-forward's warm-up lead: the indicators see every row, the strategy looks for no signal
    # before trade_from_ns (the machine's first cooldown end), in both runners alike.
    spec, indicators = hand("big_and_eager")
    events = pumped(SEEDS[2], "ticker")
    first, last = events[0].exchange_ts_ns, events[-1].exchange_ts_ns
    trade_from = first + int((last - first) * share)

    result = check(spec, indicators, events, trade_from_ns=trade_from, monkeypatch=monkeypatch)

    assert result.trades
    assert min(t.entry_ts_ns for t in result.trades) >= trade_from
    assert result.first_ts_ns == first  # the lead was replayed


# --- odd inputs -------------------------------------------------------------------------------------


def _ticker(ts: int) -> BookTicker:
    return BookTicker(ts, ts, "S", 99.0, 1.0, 101.0, 2.0)


@pytest.mark.parametrize(
    "events",
    [
        [],
        [_ticker(5)],
        [_ticker(k * S) for k in range(50)],
        [Trade(7, 7, "S", 100.0, 1.0, 1)],
        [_ticker(0), Trade(-(10 * S), 0, "S", 100.0, 1.0, 1), Trade(3 * S, 3 * S, "S", 101.0, 1.0, -1)],
    ],
    ids=["empty", "one_ticker", "tickers_only", "one_trade", "negative_times"],
)
def test_fast_equals_streaming_on_degenerate_streams(events: list[MarketEvent]) -> None:
    spec, indicators = hand("big_and_eager")

    check(spec, indicators, events)


def test_names_the_values_do_not_hold_are_pending_in_every_group(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(
        cooldown_s=5,
        require={"z1": "any", "e1": "any"},
        s1=[cond("momentum_10s", "gte", 0.002), cond("nowhere", "lt", 1)],
        z1=[cond("PRICE", "gt", 0), cond("nowhere", "gt", 0)],
        o1=[cond("nowhere", "gt", 0)],
        ze1=[cond("UNREALIZED_PNL_PCT", "gte", 0.3), cond("nowhere", "gt", 0)],
        e1=[cond("UNREALIZED_PNL_PCT", "lte", -0.3), cond("nowhere", "gt", 0)],
    )
    spec_s1_any = spec.model_copy(update={"require": {**spec.require, "s1": "any"}})
    held = make_spec(s1=[cond("momentum_10s", "gte", 0)], z1=[cond("PRICE", "gt", 0)])
    indicators = resolve_indicators(held, VARIANTS)

    result = check(spec_s1_any, indicators, pumped(SEEDS[0]), monkeypatch=monkeypatch)
    check(spec, indicators, pumped(SEEDS[0]), monkeypatch=monkeypatch)

    assert list(result.diagnostics["pending"]) == ["s1", "o1", "z1", "e1", "ze1"]


def test_an_observer_gets_the_streaming_loop() -> None:
    spec, indicators = shipped(REPO / "strategies" / "momentum_scalper.toml")
    seen: list[int] = []

    result = fast.run(
        spec,
        "S",
        indicators,
        pumped(SEEDS[0]),
        Costs(),
        10_000.0,
        observer=lambda s, m, e: seen.append(s.now_ns),
    )

    first_trade = next(i for i, e in enumerate(pumped(SEEDS[0])) if isinstance(e, Trade))
    assert len(seen) == result.events - first_trade  # the observer sees every event from the first price on
    assert_same(runner.run(spec, "S", indicators, pumped(SEEDS[0]), Costs(), 10_000.0), result)


def test_inputs_the_batch_runner_does_not_model_fall_back_to_the_same_result() -> None:
    spec, indicators = shipped(REPO / "strategies" / "momentum_scalper.toml")
    events = pumped(SEEDS[1], "ticker")
    nan_trade = [*events[:500], Trade(events[500].exchange_ts_ns, 0, "S", math.nan, 1.0, 1), *events[500:]]
    twice = [*indicators, indicators[0]]

    check(spec, indicators, nan_trade)
    check(spec, twice, events)


# --- the columnar Ticks -----------------------------------------------------------------------------


def _bits(ticks: Ticks) -> dict[str, Any]:
    out = {
        f.name: getattr(ticks, f.name) for f in dataclasses.fields(Ticks) if f.name not in ("depth", "cache")
    }
    out.update({f"depth{n}": np.stack(pair) for n, pair in ticks.depth.items()})
    return out


@pytest.mark.parametrize("book", ["ticker", "trades"])
@pytest.mark.parametrize("seed", SEEDS)
def test_columnar_ticks_are_bit_identical_to_replaying_market_state(seed: int, book: str) -> None:
    events = pumped(seed, book)
    is_trade = np.array([isinstance(e, Trade) for e in events])

    trades = [e for e in events if isinstance(e, Trade)]
    tickers = [e for e in events if isinstance(e, BookTicker)]

    built = Ticks.from_columns(
        np.array([e.exchange_ts_ns for e in events]),
        is_trade,
        np.array([e.price for e in trades]),
        np.array([e.qty for e in trades]),
        np.array([e.side for e in trades], dtype=np.int64),
        np.array([e.bid_price for e in tickers]),
        np.array([e.bid_qty for e in tickers]),
        np.array([e.ask_price for e in tickers]),
        np.array([e.ask_qty for e in tickers]),
        depth_levels=(1, 5),
    )
    replayed = Ticks.from_events(events, depth_levels=(5, 1))

    mine, ref = _bits(built), _bits(replayed)
    assert mine.keys() == ref.keys()
    for name, array in ref.items():
        assert mine[name].dtype == array.dtype, name
        assert mine[name].tobytes() == array.tobytes(), name


def test_diagnostics_keep_the_order_in_which_groups_first_had_a_pending_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Within one skipped stretch Z1 (evaluated after O1 on every row) is PENDING from the start and
    # O1 only from the 10th ticker on (its spread goes NaN): the machine inserts z1 before o1.
    events: list[MarketEvent] = []
    for k in range(1, 200):
        ts = k * 100 * MS
        events.append(Trade(ts, ts, "S", 100.0 + 0.01 * k, 1.0, 1, k))
        bid = math.nan if k >= 10 else 99.0
        events.append(BookTicker(ts + MS, ts + MS, "S", bid, 1.0, 101.0, 1.0))
    spec = make_spec(
        signal_timeout_s=60,
        s1=[cond("PRICE", "gt", 0)],
        o1=[cond("spread", "gt", 100)],
        z1=[cond("nowhere", "gt", 0)],
    )
    indicators = resolve_indicators(
        make_spec(s1=[cond("PRICE", "gt", 0)], z1=[cond("spread", "gt", 0)]), VARIANTS
    )

    result = check(spec, indicators, events, monkeypatch=monkeypatch)

    assert list(result.diagnostics["pending"]) == ["z1", "o1"]


def tape(prices: list[float]) -> list[MarketEvent]:
    """Trades only, one every 100 ms from t = 100 ms, at `prices`."""
    return [Trade(k * 100 * MS, k * 100 * MS, "S", p, 1.0, 1, k) for k, p in enumerate(prices, start=1)]


def test_a_signal_times_out_on_the_first_row_strictly_past_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = make_spec(
        signal_timeout_s=1.0, cooldown_s=0.3, s1=[cond("PRICE", "gt", 0)], z1=[cond("PRICE", "lt", 0)]
    )

    result = check(spec, resolve_indicators(spec, VARIANTS), tape([100.0] * 60), monkeypatch=monkeypatch)

    timeouts = [t for t in result.transitions if t.group == "timeout"]
    signals = [t for t in result.transitions if t.group == "s1"]
    assert timeouts
    assert [t.ts_ns - s.ts_ns for s, t in zip(signals, timeouts, strict=False)] == [1_100 * MS] * len(
        timeouts
    )


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("exit_at", ["stop", "take"])
def test_a_price_exactly_on_the_stop_or_target_exits(
    side: str, exit_at: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No slippage and no book: the entry fills at the last trade, 100.0, so the levels are known.
    spec = make_spec(
        side=side,
        exits={"sl_buffer_pct": 7, "tp_pct": 9},
        s1=[cond("PRICE", "gt", 0)],
        z1=[cond("PRICE", "gt", 0)],
    )
    sign = 1 if side == "long" else -1
    level = 100.0 * (1.0 - sign * 7 / 100.0) if exit_at == "stop" else 100.0 * (1.0 + sign * 9 / 100.0)
    costs = Costs(slippage_bps=0.0)

    result = check(
        spec,
        resolve_indicators(spec, VARIANTS),
        tape([100.0] * 10 + [level] + [100.0] * 10),
        costs=costs,
        monkeypatch=monkeypatch,
    )

    reason = "stop_loss" if exit_at == "stop" else "take_profit"
    assert [t.ts_ns for t in result.transitions if t.group == reason] == [1_100 * MS]


def test_times_beyond_int64_from_huge_cooldowns_and_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine and the runner compute these times as Python ints; numpy must compare them exactly.
    spec, indicators = hand("emergency")
    spec = spec.model_copy(
        update={"cooldown_s": 1e12, "emergency_cooldown_s": 1e12, "signal_timeout_s": 1e12}
    )

    check(spec, indicators, pumped(SEEDS[0]), monkeypatch=monkeypatch)
    check(spec, indicators, pumped(SEEDS[0]), costs=Costs(latency_ms=1e13), monkeypatch=monkeypatch)


# --- clock rows -------------------------------------------------------------------------------------

CLOCKS = (1_000, 130)


@pytest.mark.parametrize("clock_ms", CLOCKS)
@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.stem)
def test_fast_equals_streaming_with_clock_rows_on_the_binance_sample(
    path: Path, clock_ms: int, sample: list[MarketEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = shipped(path)

    result = check(spec, indicators, sample, clock_ms=clock_ms, monkeypatch=monkeypatch)

    assert result.clock_ticks > 0


@pytest.mark.parametrize("cut", [None, *range(20, 1_000, 97)])
@pytest.mark.parametrize("name", ["big_and_eager", "too_small", "o1_and_timeouts"])
def test_fast_equals_streaming_with_clock_rows_on_a_thin_book_cut_anywhere(
    name: str, cut: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand(name)

    check(spec, indicators, thin_book(cut), balance=100_000.0, clock_ms=100, monkeypatch=monkeypatch)


@pytest.mark.parametrize("name", sorted(HAND_SPECS))
def test_fast_equals_streaming_with_clock_rows_for_hand_written_specs(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand(name)

    check(spec, indicators, pumped(SEEDS[0], "trades"), clock_ms=1_000, monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    "costs",
    [Costs(latency_ms=0.0), Costs(latency_ms=5_000.0), Costs(latency_ms=-3.0), Costs(latency_ms=1_000.0)],
    ids=["no_latency", "5s_latency", "negative_latency", "latency_one_tick"],
)
def test_fast_equals_streaming_with_clock_rows_under_other_costs(
    costs: Costs, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, indicators = hand("big_and_eager")

    check(spec, indicators, pumped(SEEDS[2], "trades"), costs=costs, clock_ms=1_000, monkeypatch=monkeypatch)
