"""Window and trade-count indicators on a hand-built tape, against values computed by hand.

The tape (seconds after T0, price, qty):

    row 0  t=0   trade 100  x1
    row 1  t=2   trade 102  x3
    row 2  t=5   trade 101  x2
    row 3  t=5   trade 104  x1     same timestamp as row 2
    row 4  t=9   trade  99  x4
    row 5  t=20  book ticker        no trade in the 6 s before it
    row 6  t=21  trade  98  x2
    row 7  t=21  trade  97  x1

Last-trade step function: 100 on [0, 2), 102 on [2, 5), 104 on [5, 9), 99 on [9, 21), then 97.
Every value is checked in both forms, streaming and batch.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fxcli.engine.indicators.velocity_cascade import VelocityCascadeParams
from fxcli.engine.params import IndicatorParams
from fxcli.engine.pipeline import Pipeline
from fxcli.engine.registry import get
from fxcli.engine.ticks import Ticks
from fxcli.model.events import BookTicker, MarketEvent, Trade
from fxcli.model.units import NS_PER_S

T0 = 1_723_161_600 * NS_PER_S
NAN = float("nan")


def tape() -> list[MarketEvent]:
    def trade(t: int, price: float, qty: float) -> Trade:
        return Trade(T0 + t * NS_PER_S, T0 + t * NS_PER_S, "S", price, qty, 1)

    book = BookTicker(T0 + 20 * NS_PER_S, T0 + 20 * NS_PER_S, "S", 97.0, 1.0, 99.0, 1.0)
    return [
        trade(0, 100.0, 1.0),
        trade(2, 102.0, 3.0),
        trade(5, 101.0, 2.0),
        trade(5, 104.0, 1.0),
        trade(9, 99.0, 4.0),
        book,
        trade(21, 98.0, 2.0),
        trade(21, 97.0, 1.0),
    ]


def both_forms(name: str, **params: object) -> tuple[np.ndarray, np.ndarray]:
    spec = get(name)
    p: IndicatorParams = spec.params(**params)
    events = tape()
    pipeline = Pipeline("S", [("x", name, p)])
    stream = np.array([pipeline.on_event(e)["x"] for e in events])
    return stream, spec.batch(Ticks.from_events(events), p)


def assert_values(name: str, expected: list[float], **params: object) -> None:
    stream, batch = both_forms(name, **params)

    np.testing.assert_array_equal(stream, np.array(expected), err_msg=f"{name} streaming")
    np.testing.assert_array_equal(batch, np.array(expected), err_msg=f"{name} batch")


# Window (6, 0). Rows 0-3: no trade older than now - 6 yet -> NaN. Row 4 (now 9, window [3, 9]):
# inside 101 x2, 104 x1, 99 x4. Row 5 (now 20, [14, 20]): covered but empty -> NaN. Row 6 (now 21):
# 98 x2. Row 7: 98 x2, 97 x1.
SIX = {"window": (6.0, 0.0)}


def test_vwap_window_is_notional_over_volume_nan_when_uncovered_or_empty() -> None:
    # row 4: (101*2 + 104*1 + 99*4) / 7 = 702 / 7; row 6: 196 / 2 = 98; row 7: (196 + 97) / 3 = 293 / 3
    assert_values("VWAP", [NAN, NAN, NAN, NAN, 702 / 7, NAN, 98.0, 293 / 3], **SIX)


def test_max_price_window_is_highest_inside_nan_when_uncovered_or_empty() -> None:
    assert_values("MAX_PRICE", [NAN, NAN, NAN, NAN, 104.0, NAN, 98.0, 98.0], **SIX)


def test_min_price_window_is_lowest_inside_nan_when_uncovered_or_empty() -> None:
    assert_values("MIN_PRICE", [NAN, NAN, NAN, NAN, 99.0, NAN, 98.0, 97.0], **SIX)


def test_first_price_window_is_oldest_inside_by_row_nan_when_uncovered_or_empty() -> None:
    # row 4: 101 (row 2) is older than 104 (row 3) at the same timestamp; row 7: 98 before 97
    assert_values("FIRST_PRICE", [NAN, NAN, NAN, NAN, 101.0, NAN, 98.0, 98.0], **SIX)


def test_last_price_window_is_newest_inside_nan_when_uncovered_or_empty() -> None:
    assert_values("LAST_PRICE", [NAN, NAN, NAN, NAN, 99.0, NAN, 98.0, 97.0], **SIX)


def test_price_momentum_window_is_percent_per_second_nan_until_covered() -> None:
    # row 4: start = price in force just before 3 = 102, end = 99: 100 * (99 - 102) / 102 / 6
    # row 5: start = 99 (the newest trade older than 14), window empty so end = start: 0
    # rows 6, 7: start 99, end 98 then 97
    expected = [
        NAN,
        NAN,
        NAN,
        NAN,
        100.0 * (99 - 102) / 102 / 6,  # -0.4902 %/s
        0.0,
        100.0 * (98 - 99) / 99 / 6,  # -0.1684 %/s
        100.0 * (97 - 99) / 99 / 6,  # -0.3367 %/s
    ]

    assert_values("PRICE_MOMENTUM", expected, **SIX)


def test_velocity_cascade_is_recent_minus_prior_momentum_nan_until_prior_covered() -> None:
    # short 2, long 6. Row 4 (now 9): recent (2, 0) = [7, 9]: start 104 (trade at 5), end 99;
    # prior (6, 2) = [3, 7]: start 102 (trade at 2), end 104 (newest at <= 7).
    # Rows 5-7: both windows start at 99; recent ends at 99, 98, 97 and prior at 99 (empty windows).
    expected = [
        NAN,
        NAN,
        NAN,
        NAN,
        100.0 * (99 - 104) / 104 / 2 - 100.0 * (104 - 102) / 102 / 4,  # -2.4038 - 0.4902 = -2.8940
        0.0,
        100.0 * (98 - 99) / 99 / 2,  # -0.5051
        100.0 * (97 - 99) / 99 / 2,  # -1.0101
    ]

    assert_values("VELOCITY_CASCADE", expected, short_s=2.0, long_s=6.0)


def test_velocity_cascade_params_short_not_below_long_is_rejected_naming_both() -> None:
    with pytest.raises(ValidationError, match=r"short_s \(60\) must be less than long_s \(10\)"):
        VelocityCascadeParams(short_s=60.0, long_s=10.0)


# Recent (2, 0) and baseline (6, 2). Row 4 (now 9): recent [7, 9]: 104 on [7, 9) -> TWPA 104;
# baseline [3, 7]: 102 on [3, 5), 104 on [5, 7) -> (204 + 208) / 4 = 103. Row 3 (now 5): baseline
# [-1, 3] has no trade before it -> NaN. Rows 5-7: 99 stood through both windows -> ratio 1.
TWO_SIX = {"recent": (2.0, 0.0), "baseline": (6.0, 2.0)}


def test_twpa_ratio_is_recent_over_baseline_twpa_nan_until_baseline_covered() -> None:
    assert_values("TWPA_RATIO", [NAN, NAN, NAN, NAN, 104 / 103, 1.0, 1.0, 1.0], **TWO_SIX)  # 1.0097


def test_pump_magnitude_pct_is_percent_above_baseline_twpa_nan_until_covered() -> None:
    # row 4: 100 * (104 / 103 - 1) = 0.9709 %
    assert_values("PUMP_MAGNITUDE_PCT", [NAN, NAN, NAN, NAN, 100 * (104 / 103 - 1), 0.0, 0.0, 0.0], **TWO_SIX)


def test_sma_is_mean_of_last_period_trades_carried_over_book_nan_before_period() -> None:
    # period 3 over trades 100, 102, 101, 104, 99, 98, 97: sums 303, 307, 304, (book) 304, 301, 294
    assert_values("SMA", [NAN, NAN, 101.0, 307 / 3, 304 / 3, 304 / 3, 301 / 3, 98.0], period=3)
