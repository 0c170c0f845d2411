"""Per-symbol market state that every streaming indicator reads: engine time, last trade, top of book.

Engine time is the running maximum of exchange time, so a late event never moves time backwards;
the batch form (`Ticks`) applies the same rule.
"""

from __future__ import annotations

from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, MarketEvent, Trade

NAN = float("nan")
RUSH_MIN_FILLS = 2


class MarketState:
    """What the tape and the book say right now; updated once per event, read by every indicator."""

    __slots__ = (
        "_group",
        "_group_fills",
        "ask",
        "ask_qty",
        "bid",
        "bid_qty",
        "book",
        "book_hidden",
        "has_l2",
        "integral",
        "is_trade",
        "last_trade_ts_ns",
        "now_ns",
        "price",
        "qty",
        "rush_fill",
        "side",
        "symbol",
        "ticker",
        "trade_ms",
        "trades_seen",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.now_ns = -(2**62)
        self.is_trade = False
        self.price = NAN
        self.qty = 0.0
        self.side = 0
        self.trade_ms = -1
        self.trades_seen = 0
        self.rush_fill = 0
        self._group = (-1, 0)
        self._group_fills = 0
        self.last_trade_ts_ns = 0
        # Integral of the last-trade step function since the first trade, in price x ns; time-weighted
        # averages over any window are differences of it.
        self.integral = 0.0
        self.bid = self.ask = NAN
        self.bid_qty = self.ask_qty = NAN
        self.book = OrderBook(symbol)
        self.has_l2 = False
        self.book_hidden = False  # inside a book gap: the book is kept up to date but shows nothing
        self.ticker: tuple[float, float, float, float] | None = None  # the last BookTicker while hidden

    def apply(self, event: MarketEvent) -> None:
        """Advance to `event`: time, and the trade or book fields it changes."""
        ts = event.exchange_ts_ns
        if ts > self.now_ns:
            self.now_ns = ts
        if isinstance(event, Trade):
            self.is_trade = True
            if self.trades_seen:
                self.integral += self.price * (self.now_ns - self.last_trade_ts_ns)
            self.last_trade_ts_ns = self.now_ns
            self.price = event.price
            self.qty = event.qty
            self.side = event.side
            self.trade_ms = self.now_ns // 1_000_000
            self.trades_seen += 1
            # A market order that sweeps several fills prints them in one ms on one side (La Morgia et
            # al. 2020): the second fill of such a group marks one rush order, with no look-ahead.
            group = (self.trade_ms, self.side)
            self._group_fills = self._group_fills + 1 if group == self._group else 1
            self._group = group
            self.rush_fill = 1 if self._group_fills == RUSH_MIN_FILLS else 0
            return
        self.is_trade = False
        if isinstance(event, BookTicker):
            self.bid, self.bid_qty, self.ask, self.ask_qty = (
                event.bid_price,
                event.bid_qty,
                event.ask_price,
                event.ask_qty,
            )
        elif isinstance(event, BookSnapshot | BookDelta) and self._apply_l2(event):
            self.has_l2 = True
            self._show_top()

    def tick(self, ts_ns: int) -> None:
        """A clock tick: engine time moves to `ts_ns` (never back); trade and book stay as they are."""
        if ts_ns > self.now_ns:
            self.now_ns = ts_ns
        self.is_trade = False

    def apply_book(self, event: MarketEvent) -> None:
        """Inside a book gap: keep the book (or ticker) up to date without showing it or moving time."""
        if isinstance(event, BookTicker):
            self.ticker = (event.bid_price, event.bid_qty, event.ask_price, event.ask_qty)
        elif isinstance(event, BookSnapshot | BookDelta):
            self._apply_l2(event)

    def hide_book(self) -> None:
        """The book is unknown from now on (a book gap): top of book NaN, no L2 to walk."""
        if self.book_hidden:
            return
        self.book_hidden = True
        if not self.has_l2 and self.bid == self.bid:
            self.ticker = (self.bid, self.bid_qty, self.ask, self.ask_qty)
        self.has_l2 = False
        self.bid = self.ask = self.bid_qty = self.ask_qty = NAN

    def show_book(self) -> None:
        """The book gap is over: show the book (or the last ticker) as it is now."""
        if not self.book_hidden:
            return
        self.book_hidden = False
        if self.book.version is not None:
            self.has_l2 = True
            self._show_top()
        elif self.ticker is not None:
            self.bid, self.bid_qty, self.ask, self.ask_qty = self.ticker
        self.ticker = None

    def _apply_l2(self, event: BookSnapshot | BookDelta) -> bool:
        """Apply a full snapshot or a continuing delta; True if the book changed."""
        if isinstance(event, BookSnapshot):
            if not event.is_full:
                return False
            self.book.apply_snapshot(event)
            return True
        applied = self.book.apply_delta(event)
        if applied is Applied.GAP:
            # Updates are missing: the book is unknown (NaN top of book) until the next snapshot.
            self.book = OrderBook(self.symbol)
            self.has_l2 = False
            self.bid = self.ask = self.bid_qty = self.ask_qty = NAN
        return applied is Applied.APPLIED

    def _show_top(self) -> None:
        best_bid, best_ask = self.book.best_bid(), self.book.best_ask()
        self.bid, self.bid_qty = best_bid if best_bid else (NAN, NAN)
        self.ask, self.ask_qty = best_ask if best_ask else (NAN, NAN)

    def depth(self, levels: int) -> tuple[float, float]:
        """Summed bid and ask quantity of the best `levels` levels (the ticker's when there is no L2)."""
        if not self.has_l2:
            return self.bid_qty, self.ask_qty
        return self.book.sizes(levels)
