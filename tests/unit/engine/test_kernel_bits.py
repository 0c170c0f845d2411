"""The numba forms of `kernels.twpa`, `kernels.twpa_ratio`, `kernels.momentum` and
`kernels.window_volume_ratio` give the bits of their numpy forms.

The batch replay's decisions compare these values with thresholds, so a kernel rewritten for speed
must not move a single bit: the numpy expressions they replaced are kept here as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from fxcli.engine import kernels
from fxcli.engine.ticks import Ticks
from fxcli.model.units import NS_PER_S
from tests.contracts.streams import synthetic

WINDOWS = [(10 * NS_PER_S, 0), (300 * NS_PER_S, 10 * NS_PER_S), (60 * NS_PER_S, 10 * NS_PER_S), (1, 0)]


def numpy_twpa(ticks: Ticks, t1: int, t2: int) -> np.ndarray:
    b = kernels.bounds(ticks, t1, t2)
    lo, hi = b.lo.astype(np.int64), b.hi.astype(np.int64)
    anchor = lo - 1
    last = np.where(hi > lo, hi - 1, anchor)
    ok = anchor >= 0
    a, k = np.where(ok, anchor, 0), np.where(ok, last, 0)
    start, end = ticks.ts_ns - t1, ticks.ts_ns - t2
    at_end = b.trade_integral[k] + b.trade_price[k] * (end - b.trade_ts[k])
    at_start = b.trade_integral[a] + b.trade_price[a] * (start - b.trade_ts[a])
    return np.where(ok, (at_end - at_start) / (end - start), np.nan)


def numpy_momentum(ticks: Ticks, t1: int, t2: int) -> np.ndarray:
    b = kernels.bounds(ticks, t1, t2)
    lo, hi = b.lo.astype(np.int64), b.hi.astype(np.int64)
    start = b.trade_price[np.maximum(lo - 1, 0)]
    end = b.trade_price[np.maximum(np.where(hi > lo, hi - 1, lo - 1), 0)]
    ok = (lo > 0) & (start != 0.0)
    out = np.full(len(ticks), np.nan)
    np.divide(100.0 * (end - start), start, out=out, where=ok)
    np.divide(out, (t1 - t2) / NS_PER_S, out=out, where=ok)
    return out


def numpy_volume_ratio(
    ticks: Ticks, recent: tuple[int, int], base: tuple[int, int], scale: float
) -> np.ndarray:
    v_recent, _ = kernels.window_sums(ticks, *recent)
    v_base, _ = kernels.window_sums(ticks, *base)
    ok = kernels.bounds(ticks, *recent).covered & kernels.bounds(ticks, *base).covered & (v_base != 0.0)
    out = np.full(len(ticks), np.nan)
    np.divide(v_recent, v_base * scale, out=out, where=ok)
    return out


@pytest.fixture(scope="module")
def ticks() -> Ticks:
    clocked, _ = Ticks.from_events(synthetic(8_000, seed=11)).with_clock(70_000_000)
    return clocked


@pytest.mark.parametrize(("t1", "t2"), WINDOWS)
def test_twpa_kernel_gives_the_numpy_bits(ticks: Ticks, t1: int, t2: int) -> None:
    mine, ref = kernels.twpa(ticks, t1, t2), numpy_twpa(ticks, t1, t2)

    assert np.isfinite(ref).sum() > 100
    assert mine.tobytes() == ref.tobytes()


@pytest.mark.parametrize(("t1", "t2"), WINDOWS)
def test_momentum_kernel_gives_the_numpy_bits(ticks: Ticks, t1: int, t2: int) -> None:
    mine, ref = kernels.momentum(ticks, t1, t2), numpy_momentum(ticks, t1, t2)

    assert np.isfinite(ref).sum() > 100
    assert mine.tobytes() == ref.tobytes()


def test_bounds_share_one_gather_of_the_trades(ticks: Ticks) -> None:
    a, b = kernels.bounds(ticks, *WINDOWS[0]), kernels.bounds(ticks, *WINDOWS[1])

    assert not ticks.is_trade.all()  # clock rows: the trades are a gather, made once
    assert a.trade_price is b.trade_price
    assert a.trade_integral is b.trade_integral


@pytest.mark.parametrize(("recent", "base"), [(WINDOWS[0], WINDOWS[1]), (WINDOWS[3], WINDOWS[2])])
def test_volume_ratio_kernel_gives_the_numpy_bits(
    ticks: Ticks, recent: tuple[int, int], base: tuple[int, int]
) -> None:
    mine = kernels.window_volume_ratio(ticks, recent, base, 1 / 29)
    ref = numpy_volume_ratio(ticks, recent, base, 1 / 29)

    assert np.isfinite(ref).sum() > 100
    assert mine.tobytes() == ref.tobytes()


@pytest.mark.parametrize(("recent", "base"), [(WINDOWS[0], WINDOWS[1]), (WINDOWS[3], WINDOWS[2])])
def test_twpa_ratio_kernel_gives_the_bits_of_dividing_the_columns(
    ticks: Ticks, recent: tuple[int, int], base: tuple[int, int]
) -> None:
    numerator, denominator = numpy_twpa(ticks, *recent), numpy_twpa(ticks, *base)
    ref = np.full(len(ticks), np.nan)
    np.divide(numerator, denominator, out=ref, where=denominator != 0.0)

    mine = kernels.twpa_ratio(ticks, recent, base)

    assert np.isfinite(ref).sum() > 100
    assert mine.tobytes() == ref.tobytes()
