"""`fx stream`'s Prometheus metrics: the session's counters, latency, strategy states, orders, fills, PnL.

`StreamTally` is a `Feed` tap: it runs on the engine's thread for each note (a few a minute) and
frame (a few a second per symbol) and only stores or adds. `StreamCollector` reads it, the feed's
counters and its latency histograms when Prometheus scrapes, on the server's thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from fxcli.live.feed import Feed, FillNote, OrderNote, StatusNote, SymbolFrame, TradeNote
from fxcli.ops.metrics import Count, latency_family
from fxcli.ops.schema import OrderView, is_venue_fill, live_order, paper_order
from fxcli.strategy.machine import State, Transition

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry


# Per-symbol gauges read from each symbol's latest frame: name, meaning, value.
PER_SYMBOL: tuple[tuple[str, str, Callable[[SymbolFrame], float]], ...] = (
    ("fx_stream_equity_quote", "Paper account equity, marked to the book.", lambda f: f.equity),
    (
        "fx_stream_pnl_quote",
        "Equity minus the starting balance (realised and unrealised, net of fees).",
        lambda f: f.pnl,
    ),
    ("fx_stream_position_base", "Open position, signed (+ long, - short).", lambda f: f.side * f.qty),
    (
        "fx_stream_last_event_time_seconds",
        "Venue time of the last event the strategy saw (Unix time).",
        lambda f: f.ts_ns / 1e9,
    ),
)


class StreamTally:
    """What a session published, counted as it is published (a `Feed` tap)."""

    def __init__(self) -> None:
        self.frames: dict[str, SymbolFrame] = {}  # the latest per symbol
        self.transitions = Count()  # (group, to_state)
        self.orders = Count()  # (action, status, paper)
        self.fills = Count()  # (action, source, paper)
        self.trades = Count()  # (symbol,)
        self.realized_pnl = Count()  # (symbol,) -> quote, net of fees
        self.news = Count()  # (kind,) connection and data news

    def __call__(self, item: object) -> None:
        if isinstance(item, SymbolFrame):
            self.frames[item.symbol] = item
        elif isinstance(item, Transition):
            self.transitions.add((item.group, item.to_state.value))
        elif isinstance(item, FillNote):
            is_paper = not is_venue_fill(item)
            if is_paper:
                self.on_order(paper_order(item))
            self.fills.add((item.action, item.fill.source, "true" if is_paper else "false"))
        elif isinstance(item, OrderNote):
            self.on_order(live_order(item))
        elif isinstance(item, TradeNote):
            self.trades.add((item.trade.symbol,))
            self.realized_pnl.add((item.trade.symbol,), item.trade.pnl)
        elif isinstance(item, StatusNote):
            self.news.add((item.kind,))

    def on_order(self, note: OrderView) -> None:
        """An order's news (paper: derived from its fill; real orders: the broker's `OrderNote`)."""
        self.orders.add((note.action, note.status, "true" if note.is_paper else "false"))


class StreamCollector:
    """The session's metrics, read at scrape time."""

    def __init__(
        self, feed: Feed, tally: StreamTally, extra: Callable[[], Iterable[Metric]] | None = None
    ) -> None:
        self.feed = feed
        self.tally = tally
        self.extra = extra  # the --serve server's own numbers (clients, drops)
        self.started = time.time()

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        feed, tally = self.feed, self.tally
        info = feed.info
        venue = info.exchange if info is not None else ""
        stats = feed.stats
        yield GaugeMetricFamily(
            "fx_stream_start_time_seconds", "When this fx stream started (Unix time).", self.started
        )
        for name, doc, value in (
            ("fx_stream_frames", "Frames received from the venue (replay: none).", stats.frames),
            ("fx_stream_events", "Market events routed to the strategy.", stats.events),
            (
                "fx_stream_gaps",
                "Gaps the strategy went through (live book gaps, recorded gaps of a replay).",
                stats.gaps,
            ),
            (
                "fx_stream_screen_frames_dropped",
                "Frames the screen was too slow to show.",
                feed.dropped_frames,
            ),
        ):
            family = CounterMetricFamily(name, doc, labels=["venue"])
            family.add_metric([venue], value)
            yield family
        connections = GaugeMetricFamily(
            "fx_stream_connections", "Venue connections open now.", labels=["venue"]
        )
        connections.add_metric([venue], stats.connections)
        yield connections
        yield latency_family(
            "fx_stream_tick_to_decision_seconds",
            "From a frame's receipt to the strategy's decision on each of its events.",
            feed.histograms,
        )
        frames = list(tally.frames.values())
        states = GaugeMetricFamily(
            "fx_stream_strategy_symbols", "Symbols in each strategy state now.", labels=["state"]
        )
        for state in State:
            states.add_metric([state.value], sum(1 for f in frames if f.state == state.value))
        yield states
        for gauge_name, meaning, value_of in PER_SYMBOL:
            gauge = GaugeMetricFamily(gauge_name, meaning, labels=["symbol"])
            for f in frames:
                reading = value_of(f)
                if not math.isnan(reading):  # no price yet: no equity either
                    gauge.add_metric([f.symbol], reading)
            yield gauge
        yield _counted(
            "fx_stream_transitions",
            "Strategy transitions by group and new state.",
            ["group", "to_state"],
            tally.transitions,
        )
        yield _counted(
            "fx_stream_orders",
            "Orders by action and status (paper: one per fill).",
            ["action", "status", "paper"],
            tally.orders,
        )
        yield _counted(
            "fx_stream_fills",
            "Fills by action and what the fill model walked.",
            ["action", "source", "paper"],
            tally.fills,
        )
        yield _counted("fx_stream_trades", "Closed round trips.", ["symbol"], tally.trades)
        yield _counted(
            "fx_stream_realized_pnl_quote",
            "Net profit of closed round trips.",
            ["symbol"],
            tally.realized_pnl,
            is_counter=False,
        )
        yield _counted(
            "fx_stream_news",
            "Connection and data news by kind (connected, disconnected, gap, book_lost, breaker, ...).",
            ["kind"],
            tally.news,
        )
        if self.extra is not None:
            yield from self.extra()


def _counted(name: str, doc: str, labels: list[str], count: Count, *, is_counter: bool = True) -> Metric:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    family: CounterMetricFamily | GaugeMetricFamily
    if is_counter:
        family = CounterMetricFamily(name, doc, labels=labels)
    else:
        family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in count.items():
        family.add_metric(list(key), value)
    return family


def stream_registry(
    feed: Feed, extra: Callable[[], Iterable[Metric]] | None = None
) -> tuple[CollectorRegistry, StreamTally]:
    """A registry of its own for one session, and the tally to add to `feed.taps`."""
    from prometheus_client.registry import CollectorRegistry

    tally = StreamTally()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamCollector(feed, tally, extra))
    return registry, tally
