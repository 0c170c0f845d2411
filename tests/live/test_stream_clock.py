"""`fx stream` live ticks on the venue's clock: a real subprocess against the fake MEXC venue.

A thin market goes quiet, a burst of buys prints in one push, and nothing follows. The strategy's
entry condition (PUMP_MAGNITUDE_PCT over the last second) becomes true only as time passes after the
burst, so only a clock tick can see it before the next trade. The venue's clock is set seconds away
from the local one: a tick that followed local time would fire seconds late (venue ahead) or decide
at an engine time seconds past the burst (venue behind); on the venue's clock (receive time minus the
measured skew) it decides at the first grid point after the crossing, and is published well before
the next trade is sent. With --clock-ms 0 the same burst is seen only at the next trade.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.fake_mexc import FakeMexc, frames
from tests.fake_mexc.market import TradeRecord
from tests.live.test_stream import Doc, FxStream, base_args, fake_venue, is_synced_snapshot, strategy_folders

SYMBOL = "THINUSDT"
CLOCK_MS = 200
# The burst lifts the price 10 %; the one-second recent TWPA reaches 4 % over the baseline once the
# burst price has held 0.4 s of it (0.4 / 1 * 10 %): never at the burst's own prints, which all share
# one millisecond. The baseline (3 s to 2 s back) holds the pre-burst price until 2 s after the burst,
# and is still low enough for 4 % until ~2.6 s: the next trade (sent at 1.5 s to ~2 s) still sees it.
BURST_PCT = 10
CROSSING_MS = 400
SKEW_MS = 4_000  # venue clock minus local clock: larger than any wall-clock bound below
PUBLISHED_WITHIN_S = 2.0  # expected ~0.6 s (crossing + one interval); generous for a loaded machine
SILENCE_S = 1.5  # after the burst, before the next trade is sent

VARIANTS = """\
schema = 1

[pump]
indicator = "PUMP_MAGNITUDE_PCT"
type = "GENERAL"
description = "TWPA of the last second over the TWPA of 3 s to 2 s ago, in %: moves as time passes."
params = { recent = [1, 0], baseline = [3, 2] }
"""

STRATEGY = """\
schema = 1
description = "Signal a burst that has held: only time passing after the burst makes s1 true."
side = "long"

[[s1]]
indicator = "pump"
op = "gte"
value = 4

[[z1]]
indicator = "pump"
op = "gte"
value = 1000  # never: the test is about when the signal is seen, not about fills
"""


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """Strategies and variants folders with `pump_test`, the burst strategy above."""
    return strategy_folders(tmp_path, STRATEGY, VARIANTS)


async def print_trades(venue: FakeMexc, symbol: str, price: str, count: int) -> int:
    """`count` buys of `symbol` at `price` in one push, stamped now on the venue's clock; their ms."""
    market = venue.markets[symbol]
    at_ms = venue.venue_ms()
    trades = [TradeRecord(symbol, market.next_trade_id + k, price, "2.000", 1, at_ms) for k in range(count)]
    market.next_trade_id += count
    venue.trades[symbol] += trades
    assert await venue.send_raw([frames.spot_deals(trades, sent_ms=at_ms)]) == 2  # both fx processes
    return at_ms


def is_signal(doc: Doc) -> bool:
    return bool(doc["type"] == "transition" and doc["to"] == "SIGNAL_DETECTED")


@pytest.mark.parametrize("skew_ms", [SKEW_MS, -SKEW_MS], ids=["venue_ahead", "venue_behind"])
def test_live_clock_tick_sees_a_burst_in_the_silence_on_the_venues_clock(folders: Path, skew_ms: int) -> None:
    with fake_venue([SYMBOL]) as (venue, loop):
        venue.clock_offset_ms = skew_ms  # before anything is stamped: one clock for the whole run
        ticking = FxStream(folders, *base_args(venue, folders, SYMBOL), "--clock-ms", str(CLOCK_MS))
        off = FxStream(folders, *base_args(venue, folders, SYMBOL), "--clock-ms", "0")
        for fx in (ticking, off):  # the baseline window is covered: the indicator is known
            fx.until(is_synced_snapshot(SYMBOL, "pump"), 15.0, "a synced snapshot with the pump known")

        loop.call_soon_threadsafe(venue.pause)  # the market goes quiet...
        for fx in (ticking, off):
            fx.read_for(0.3)  # ...and what was in flight lands
        market = venue.markets[SYMBOL]
        price = f"{market.mid_ticks * (100 + BURST_PCT) / 100 / 10**market.tick_decimals:.2f}"
        burst_ms = asyncio.run_coroutine_threadsafe(print_trades(venue, SYMBOL, price, 5), loop).result(5)
        sent = time.monotonic()

        # Published within PUBLISHED_WITHIN_S of the burst (a clock on local time: SKEW_MS late).
        signal_on = ticking.until(is_signal, PUBLISHED_WITHIN_S, "the signal on a clock tick")
        off.read_for(max(0.0, sent + SILENCE_S - time.monotonic()))
        silent_off = [d for d in off.docs if is_signal(d)]
        # The next trade, sent only now: the ticking run published its signal before it existed.
        next_ms = asyncio.run_coroutine_threadsafe(print_trades(venue, SYMBOL, price, 1), loop).result(5)
        signal_off = off.until(is_signal, 10.0, "the signal at the next trade")
        results = [fx.stop(signal.SIGINT) for fx in (ticking, off)]

    assert [code for code, _ in results] == [0, 0], results
    assert [d for d in ticking.docs if is_signal(d)] == [signal_on], "one signal, none before the burst"
    ms = 1_000_000
    # Decided on a tick (a grid point of venue time), at the first one after the crossing: not at the
    # burst, not seconds past it (a clock on local time is SKEW_MS away).
    assert signal_on["ts_ns"] % (CLOCK_MS * ms) == 0
    crossed_ms = burst_ms + CROSSING_MS
    assert crossed_ms - 50 <= signal_on["ts_ns"] // ms <= crossed_ms + CLOCK_MS + 50, (burst_ms, signal_on)
    assert signal_on["values"]["pump"] >= 4
    # The screen follows the ticks too: a snapshot made in the silence (engine time on a grid point
    # between the burst and the next trade) shows the pump the ticks moved, not its value at the burst.
    assert any(
        burst_ms * ms < d["ts_ns"] < next_ms * ms
        and d["ts_ns"] % (CLOCK_MS * ms) == 0
        and d["indicators"]["pump"] > 1
        for d in ticking.of("snapshot", SYMBOL)
    ), [(d["ts_ns"], d["indicators"]) for d in ticking.of("snapshot", SYMBOL)[-8:]]
    # Without the clock: nothing during the silence, then the signal at the next trade's own time.
    assert silent_off == []
    assert [d for d in off.docs if is_signal(d)] == [signal_off]
    assert signal_off["ts_ns"] == next_ms * ms
    summaries = [fx.docs[-1] for fx in (ticking, off)]
    assert [s["type"] for s in summaries] == ["summary", "summary"]
    ticks = [s["symbols"][SYMBOL]["clock_ticks"] for s in summaries]
    assert ticks[0] > 0
    assert ticks[1] == 0
