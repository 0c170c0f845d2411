"""The numbers fx accepts: finite, and inside what the engine can represent.

Time is counted in int64 nanoseconds (up to ~292 years), so a span of time given in seconds stays
under `MAX_SECONDS` (~31.7 years): far more than any window means, and `now - span` cannot wrap.
Counts of rows go to int64 (`INT64_MAX`). Options, strategy files and variant parameters are
checked against these once, where they are read, with one wording:

>>> out_of_range(float("nan"), 0, 60, low_open=True)
'must be in (0, 60], got nan'
>>> out_of_range(5, 1, None) is None
True
"""

from __future__ import annotations

import math

INT64_MAX = 2**63 - 1
MAX_SECONDS = 1e9  # any duration or time window, in seconds (1e18 ns: int64 with room for now - span)
MAX_COUNT = 10**9  # trades or book levels an indicator spans (EMA span, SMA period, ...)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def interval(
    low: float | None, high: float | None, *, low_open: bool = False, high_open: bool = False
) -> str:
    """'[0, 60]', '(0, 1e+09]', 'at least 1' or 'at most 5', as the messages say it."""
    if high is None:
        assert low is not None
        return f"greater than {_number(low)}" if low_open else f"at least {_number(low)}"
    if low is None:
        return f"less than {_number(high)}" if high_open else f"at most {_number(high)}"
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return f"in {left}{_number(low)}, {_number(high)}{right}"


def out_of_range(
    value: float,
    low: float | None,
    high: float | None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> str | None:
    """Why `value` is not a finite number in the interval ('must be in (0, 60], got nan'), or None."""
    fits = not (isinstance(value, float) and not math.isfinite(value))
    if fits and low is not None:
        fits = value > low if low_open else value >= low
    if fits and high is not None:
        fits = value < high if high_open else value <= high
    if fits:
        return None
    wanted = interval(low, high, low_open=low_open, high_open=high_open)
    if isinstance(value, float) and not math.isfinite(value) and (low is None or high is None):
        wanted = f"finite and {wanted}"
    return f"must be {wanted}, got {_number(value)}"
