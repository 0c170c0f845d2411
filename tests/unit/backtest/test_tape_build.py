"""`Tape.clocked(clocked_columns(...))` (one pass) against `Tape.build(Ticks.from_columns(...))`."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from fxcli.backtest.tape import Tape
from fxcli.engine.clocked import clocked_columns
from fxcli.engine.ticks import Ticks

MS = 1_000_000
NAMES = ("ts_ns", "is_trade", "price", "qty", "side", "bid", "bid_qty", "ask", "ask_qty")


def stream(seed: int, *, tickers: bool, backwards: bool) -> dict[str, np.ndarray]:
    """Trades (same-ms runs, both sides, a negative price) and optionally book tickers, with
    exchange times that go back now and then when `backwards`."""
    rng = np.random.default_rng(seed)
    n = 5_000
    gaps = rng.choice([0, 0, 1, 7, 300, 2_500], n) * MS + rng.integers(0, 3, n)
    ts = 1_700_000_000_000 * MS + np.cumsum(gaps)
    if backwards:
        back = rng.random(n) < 0.05
        ts[back] -= rng.integers(1, 900, back.sum()) * MS
    is_trade = rng.random(n) < (0.7 if tickers else 1.0)
    m = int(is_trade.sum())
    price = 100 + np.cumsum(rng.normal(0, 0.1, m))
    price[[0, m // 2]] *= -1  # the first at a time the second shares: its integral step is -0.0
    side = np.where(rng.random(m) < 0.5, 1, -1).astype(np.int8)
    side[:50] = 1  # a long same-side run in one ms makes rush fills
    ts[: np.flatnonzero(is_trade)[50]] = ts[0]
    k = n - m
    return {
        "ts_ns": ts,
        "is_trade": is_trade,
        "price": price,
        "qty": rng.lognormal(0, 1, m),
        "side": side,
        "bid": 99 + rng.random(k),
        "bid_qty": rng.random(k),
        "ask": 101 + rng.random(k),
        "ask_qty": rng.random(k),
    }


def arrays(tape: Tape) -> dict[str, Any]:
    ticks = tape.ticks
    out: dict[str, Any] = {
        f.name: getattr(ticks, f.name) for f in dataclasses.fields(Ticks) if f.name not in ("depth", "cache")
    }
    out.update({f"depth{n}": np.stack(pair) for n, pair in ticks.depth.items()})
    out.update(raw_ts=tape.raw_ts, price_after=tape.price, is_clock=tape.is_clock)
    return out


@pytest.mark.parametrize("clock_ms", [0, 10, 1000])
@pytest.mark.parametrize("tickers", [True, False])
@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_one_pass_tape_equals_the_tape_built_from_ticks(
    seed: int, tickers: bool, backwards: bool, clock_ms: int
) -> None:
    s = stream(seed, tickers=tickers, backwards=backwards)
    ts, trade, price, qty, side, bid, bid_qty, ask, ask_qty = (s[k] for k in NAMES)

    fast = Tape.clocked(
        clocked_columns(
            ts,
            trade,
            price,
            qty,
            side,
            bid,
            bid_qty,
            ask,
            ask_qty,
            depth_levels={1, 5},
            clock_ns=clock_ms * MS,
        )
    )
    ticks = Ticks.from_columns(ts, trade, price, qty, side, bid, bid_qty, ask, ask_qty, depth_levels=(1, 5))
    ref = Tape.build(ticks, ts, [], [], clock_ms * MS)

    assert fast is not None
    assert ref is not None
    assert (fast.clock_ticks, fast.l2_rows, fast.l2_events) == (ref.clock_ticks, ref.l2_rows, ref.l2_events)
    assert fast.seen.tolist() == ref.seen.tolist()
    mine, theirs = arrays(fast), arrays(ref)
    assert mine.keys() == theirs.keys()
    for name, array in theirs.items():
        if array is None:
            assert mine[name] is None, name
            continue
        assert mine[name].dtype == array.dtype, name
        assert np.ascontiguousarray(mine[name]).tobytes() == array.tobytes(), name
    idx = ref.ticks.trade_index  # the trades' own columns, as kernels.trade_columns would gather them
    gathered = (ref.ticks.ts_ns[idx], ref.ticks.price[idx], ref.ticks.qty[idx], ref.ticks.integral[idx])
    for mine_column, column in zip(fast.ticks.cache["trades"], gathered, strict=True):  # type: ignore[call-overload]
        assert np.asarray(mine_column).tobytes() == column.tobytes()
    if clock_ms == 1000:
        assert fast.clock_ticks > 0  # the grid was exercised
    assert int(np.count_nonzero(fast.ticks.rush_fill)) > 0


def test_a_trade_without_a_price_gives_no_tape() -> None:
    s = stream(3, tickers=False, backwards=False)
    s["price"][10] = np.nan
    ts, trade, price, qty, side, bid, bid_qty, ask, ask_qty = (s[k] for k in NAMES)
    columns = (ts, trade, price, qty, side, bid, bid_qty, ask, ask_qty)

    assert clocked_columns(*columns, depth_levels=set(), clock_ns=1000 * MS) is None
    assert Tape.build(Ticks.from_columns(*columns), ts, [], [], 1000 * MS) is None
