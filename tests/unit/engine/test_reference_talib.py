"""EMA, RSI and SMA against TA-Lib, the reference every trader's charting tool agrees with.

Both forms (batch twin and streaming pipeline) must equal TA-Lib to 1e-9 relative wherever TA-Lib
has a value, and be NaN exactly where TA-Lib is. The prices are a random walk with no flat
stretch: on a flat tape RSI deliberately differs (50 here, 0 in TA-Lib; see `RSI`'s docstring).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import talib

from fxcli.engine.pipeline import Pipeline
from fxcli.engine.registry import get
from fxcli.engine.ticks import Ticks
from fxcli.model.events import MarketEvent, Trade

MS = 1_000_000
T0 = 1_723_161_600_000 * MS
NAN = float("nan")


def random_walk(n: int = 20_000, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(100.0 * np.exp(np.cumsum(0.001 * rng.standard_normal(n))))


def as_trades(prices: np.ndarray) -> list[MarketEvent]:
    return [
        Trade(T0 + i * MS, T0 + i * MS, "S", float(p), 1.0, 1 - 2 * (i % 2), i) for i, p in enumerate(prices)
    ]


def both_forms(name: str, events: list[MarketEvent], **params: int) -> tuple[np.ndarray, np.ndarray]:
    """(batch, stream) values of indicator `name` over `events`."""
    spec = get(name)
    p = spec.params(**params)
    pipeline = Pipeline("S", [("x", name, p)])
    stream = np.array([pipeline.on_event(e)["x"] for e in events])
    return spec.batch(Ticks.from_events(events), p), stream


PRICES = random_walk()
TRADES = as_trades(PRICES)

CASES: list[tuple[str, dict[str, int], Callable[..., np.ndarray], int]] = [
    ("EMA", {"span": 3}, talib.EMA, 3),
    ("EMA", {"span": 20}, talib.EMA, 20),
    ("EMA", {"span": 200}, talib.EMA, 200),
    ("RSI", {"period": 2}, talib.RSI, 2),
    ("RSI", {"period": 14}, talib.RSI, 14),
    ("RSI", {"period": 50}, talib.RSI, 50),
    ("SMA", {"period": 5}, talib.SMA, 5),
    ("SMA", {"period": 30}, talib.SMA, 30),
    ("SMA", {"period": 500}, talib.SMA, 500),
]


def test_reference_prices_have_no_flat_stretch() -> None:
    assert (np.diff(PRICES) != 0).all()


@pytest.mark.parametrize(
    ("name", "params", "reference", "timeperiod"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
def test_reference_indicator_equals_talib_in_batch_and_stream(
    name: str, params: dict[str, int], reference: Callable[..., np.ndarray], timeperiod: int
) -> None:
    expected = reference(PRICES, timeperiod=timeperiod)

    batch, stream = both_forms(name, TRADES, **params)

    has_value = ~np.isnan(expected)
    assert has_value.sum() == len(PRICES) - timeperiod + (name != "RSI")
    for form, values in (("batch", batch), ("stream", stream)):
        np.testing.assert_array_equal(np.isnan(values), ~has_value, err_msg=f"{form}: NaN pattern")
        np.testing.assert_allclose(values[has_value], expected[has_value], rtol=1e-9, atol=0, err_msg=form)


def test_reference_ema_span_3_closed_form() -> None:
    # Seed = mean(1, 2, 3) = 2; then alpha = 2 / (3 + 1) = 1/2: 2 + (4 - 2) / 2 = 3, 3 + (5 - 3) / 2 = 4.
    events = as_trades(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))

    batch, stream = both_forms("EMA", events, span=3)

    for values in (batch, stream, talib.EMA(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), timeperiod=3)):
        np.testing.assert_array_equal(values, [NAN, NAN, 2.0, 3.0, 4.0])


def test_reference_rsi_period_2_closed_form() -> None:
    # Changes +2, -1, +1, -2. Seed: G = 2/2 = 1, L = 1/2 -> 100 * 1 / 1.5 = 200/3.
    # +1: G = (1 + 1) / 2 = 1, L = (0.5 + 0) / 2 = 0.25 -> 100 / 1.25 = 80.
    # -2: G = (1 + 0) / 2 = 0.5, L = (0.25 + 2) / 2 = 1.125 -> 100 * 0.5 / 1.625 = 400/13.
    prices = np.array([10.0, 12.0, 11.0, 12.0, 10.0])
    events = as_trades(prices)

    batch, stream = both_forms("RSI", events, period=2)

    expected = [NAN, NAN, 200 / 3, 80.0, 400 / 13]
    for values in (batch, stream, talib.RSI(prices, timeperiod=2)):
        np.testing.assert_allclose(values, expected, rtol=1e-14, equal_nan=True)


def test_reference_rsi_flat_tape_is_50_where_talib_says_0() -> None:
    prices = np.full(6, 7.0)

    batch, stream = both_forms("RSI", as_trades(prices), period=2)

    np.testing.assert_array_equal(talib.RSI(prices, timeperiod=2), [NAN, NAN, 0.0, 0.0, 0.0, 0.0])
    for values in (batch, stream):
        np.testing.assert_array_equal(values, [NAN, NAN, 50.0, 50.0, 50.0, 50.0])
