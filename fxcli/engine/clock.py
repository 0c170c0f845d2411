"""Clock ticks: engine time moving on a fixed grid of exchange time while no event arrives.

Time-weighted indicators (TWPA, PUMP_MAGNITUDE_PCT, windows that expire) change as time passes, so
without ticks a burst of buys followed by silence is seen only at the next event. Every `clock_ms`
the engine and the strategy are evaluated as if an event with no trade or book content arrived.

The grid is multiples of `clock_ms` since the epoch, so two runs over overlapping data tick at the
same instants. A tick at grid point g fires before the first event whose exchange time reaches g
(engine time before it < g <= its time): ticks therefore lie between the first and the last event
of the data, one per interval however long a silence lasts, and an event exactly on a grid point
comes right after the tick at that instant. The streaming runner and the batch twins (`Ticks`
with clock rows) both follow this rule, and live the tick fires when the venue's clock passes g.
"""

from __future__ import annotations

import numpy as np

from fxcli.model.units import NS_PER_MS

DEFAULT_CLOCK_MS = 1000
MIN_CLOCK_MS = 10  # finer than the venues' own millisecond stamps and network jitter: cost, no signal
MAX_CLOCK_MS = 3_600_000  # an hour: beyond, the clock no longer says anything the windows (seconds) can use
NEVER = 2**63 - 1  # a grid point no engine time reaches


def check_clock_ms(value: object) -> int:
    """`value` as a clock interval in ms (0: off); ValueError says why it is not one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number of milliseconds (0 turns the clock off), got {value!r}")
    if value != 0 and not MIN_CLOCK_MS <= value <= MAX_CLOCK_MS:
        raise ValueError(
            f"must be 0 (off) or between {MIN_CLOCK_MS} and {MAX_CLOCK_MS} ms (an hour), got {value}"
        )
    return value


def next_tick_ns(now_ns: int, clock_ns: int) -> int:
    """The first grid point after engine time `now_ns` (NEVER with the clock off)."""
    return (now_ns // clock_ns + 1) * clock_ns if clock_ns > 0 else NEVER


def grid_rows(now_ns: np.ndarray, clock_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Where ticks go among rows of engine time `now_ns` (never decreasing): for each tick, the row
    it precedes, and its time. Ticks fire at grid points g with now[i - 1] < g <= now[i]."""
    if clock_ns <= 0 or len(now_ns) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cell = now_ns // clock_ns
    counts = np.diff(cell)  # grid points in (now[i - 1], now[i]] for i >= 1
    before = np.repeat(np.arange(1, len(now_ns), dtype=np.int64), counts)
    # The k-th tick before row i is at (cell[i - 1] + k) * clock, k = 1..counts[i - 1].
    starts = np.cumsum(counts) - counts
    k = np.arange(len(before), dtype=np.int64) - np.repeat(starts, counts) + 1
    times = (cell[before - 1] + k) * clock_ns
    return before, times


def clock_ns_of(clock_ms: int) -> int:
    """A clock interval in ns."""
    return clock_ms * NS_PER_MS
