"""What one capture line may hold; a line with anything else is skipped as damaged, never stored.

Times must lie in [2000-01-01, 2100-01-01) UTC: wide enough for any real capture, narrow enough to
catch a sign flip or a unit slip (milliseconds read as nanoseconds land in 1970, the other way round
beyond int64). Ids and versions must fit the store's int64 columns and be >= 0. Exchange and symbol
names must be what the store accepts as one folder name; that rule belongs to the store, so the
import task passes it in as a `NameCheck` (`fxcli.store.layout.check_name`).
"""

from __future__ import annotations

from collections.abc import Callable

INT64_MAX = 2**63 - 1
EARLIEST_S = 946_684_800  # 2000-01-01T00:00:00Z
LATEST_S = 4_102_444_800  # 2100-01-01T00:00:00Z, excluded
EARLIEST_MS, LATEST_MS = EARLIEST_S * 1_000, LATEST_S * 1_000
EARLIEST_US, LATEST_US = EARLIEST_S * 1_000_000, LATEST_S * 1_000_000
EARLIEST_NS, LATEST_NS = EARLIEST_S * 1_000_000_000, LATEST_S * 1_000_000_000
WINDOW_TEXT = "2000-01-01 .. 2100-01-01 UTC"

NameCheck = Callable[[str, str], str]
"""`check(kind, name)` returns `name` if the store can hold it, else raises ValueError saying why."""


def id_problem(what: str, value: int) -> str | None:
    """Why an id or version cannot be stored (negative, or beyond int64), or None if it can."""
    if 0 <= value <= INT64_MAX:
        return None
    return f"{what} {value} is negative" if value < 0 else f"{what} {value} is beyond int64"


def explain_bounds(message: str) -> str:
    """A decoder's 'Expected `int` >= 946684800000' with the bound said in words."""
    return (
        message.replace(f">= {EARLIEST_MS}", f">= {EARLIEST_MS} (2000-01-01 in ms)")
        .replace(f"<= {LATEST_MS - 1}", f"<= {LATEST_MS - 1} (2099-12-31 in ms)")
        .replace(f"<= {INT64_MAX}", f"<= {INT64_MAX} (int64)")
    )
