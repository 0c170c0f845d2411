"""Market events: one schema for every source (MEXC live and recorded, Binance captures, tardis CSV).

Times are integer nanoseconds since the Unix epoch (UTC). `exchange_ts_ns` is the venue's clock,
`received_ts_ns` the recorder's. Prices and quantities are float64 parsed from the venue's decimal
strings (correctly rounded; no further arithmetic before they are stored).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

import msgspec


class Side(IntEnum):
    """Aggressor side of a trade, or the side of a book level."""

    BUY = 1
    SELL = -1

    @property
    def is_bid(self) -> bool:
        """A book level with side BUY is a bid."""
        return self is Side.BUY


class GapReason(StrEnum):
    """Why a stretch of data is missing; gaps are data, not log lines."""

    DISCONNECT = "disconnect"
    VERSION_JUMP = "version_jump"
    RESYNC = "resync"
    WRITER_OVERFLOW = "writer_overflow"
    RATE_LIMITED = "rate_limited"
    SERVER_RESTART = "server_restart"
    IMPORT_HOLE = "import_hole"


class Backfill(StrEnum):
    """What a trade backfill over REST made of a gap (the `Gap.backfill` column)."""

    RECOVERED = "recovered"
    PARTIAL = "partial"
    NOT_RECOVERED = "not_recovered"
    OFF = "off"


Level = tuple[float, float]
"""One book level: (price, qty)."""


class Trade(msgspec.Struct, frozen=True, gc=False):
    """A trade print; `side` is the aggressor (+1 buy, -1 sell)."""

    exchange_ts_ns: int
    received_ts_ns: int
    symbol: str
    price: float
    qty: float
    side: int
    trade_id: int | None = None


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    """Absolute quantities for changed levels (qty 0 deletes the level).

    Versions are normalised so that a continuous stream always has
    `from_version == previous.to_version + 1` (Binance spot U/u and MEXC fromVersion/toVersion as they
    are; Binance USD-M uses `pu + 1` as from_version).
    """

    exchange_ts_ns: int
    received_ts_ns: int
    symbol: str
    bids: list[Level]
    asks: list[Level]
    from_version: int
    to_version: int


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A full (or top-N) book at `version`; `source` says where it came from (rest, tardis, ...).

    A source containing "top" (e.g. `tardis_top25`) is a partial view that deltas cannot build on.
    """

    exchange_ts_ns: int
    received_ts_ns: int
    symbol: str
    bids: list[Level]
    asks: list[Level]
    version: int
    source: str

    @property
    def is_full(self) -> bool:
        """True if deltas can be applied onto this snapshot (it is the whole book, not a top-N view)."""
        return "top" not in self.source


class BookTicker(msgspec.Struct, frozen=True, gc=False):
    """Best bid and ask with their quantities; `update_id` is the venue's book version when it has one."""

    exchange_ts_ns: int
    received_ts_ns: int
    symbol: str
    bid_price: float
    bid_qty: float
    ask_price: float
    ask_qty: float
    update_id: int | None = None


class Gap(msgspec.Struct, frozen=True, gc=False):
    """A stretch `[start_ns, end_ns]` of `symbol` whose data is missing or untrustworthy, and why.

    `received_ts_ns` is the recorder's clock when the gap became known (None when unknown, as for
    imports): a replay puts the gap after every event received up to then, so it hides the book
    exactly where the live path learned the book was broken.

    `backfill` says what `fx record` fetched over REST for the gap's trades (None: nothing was
    tried): `recovered` (every trade of `[backfill_from_ns, backfill_to_ns]`, the whole gap),
    `partial` (only that span; the venue keeps no more), `not_recovered` (why: in `detail`) or `off`.
    `backfill_trades` trades were stored, marked backfilled. The book stays unknown either way.
    """

    symbol: str
    start_ns: int
    end_ns: int
    reason: str
    detail: str = ""
    received_ts_ns: int | None = None
    backfill: str | None = None
    backfill_from_ns: int | None = None
    backfill_to_ns: int | None = None
    backfill_trades: int | None = None


def gap_position(gap: Gap) -> tuple[int, int]:
    """Where a gap stands among events ordered by (exchange time, receive time): at its start, after
    every event received before it was known; without a receive time, after every event of its start."""
    return gap.start_ns, gap.received_ts_ns or 2**63 - 1


BOOK_GAP_REASONS = frozenset({GapReason.VERSION_JUMP, GapReason.RESYNC, GapReason.IMPORT_HOLE})
"""Gaps that say the L2 book is unknown: strategies see no book inside them and open no position."""


class BookLost(msgspec.Struct, frozen=True, gc=False):
    """Live only: `symbol`'s book stopped being trustworthy at `start_ns` (venue time), learned at
    `received_ts_ns`. The `Gap` that ends it, once the book is whole again, is what is stored."""

    symbol: str
    start_ns: int
    received_ts_ns: int
    reason: str
    detail: str = ""


MarketEvent = Trade | BookDelta | BookSnapshot | BookTicker
"""What the market says; `Event` adds the Gap rows that say when it said nothing."""

Event = MarketEvent | Gap
