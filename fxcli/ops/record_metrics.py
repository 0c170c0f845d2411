"""`fx record --metrics HOST:PORT`: the recorder's counters, gaps, writers and connections for Prometheus.

Three sources, none on the frame path but one dict increment per decoded event:

- the `Recorder` itself (frames, bytes, decode problems, rows, book sync, writer queues), read at
  scrape time through the collector;
- its `notify` events (gaps opened and stored, disconnects, dial failures, breaker changes), tallied
  as they are announced;
- the store writer's file sink, timed (`write_file`): the flush latency of each Parquet part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.exchange.adapter import Decoded
from fxcli.live.recorder import Notify, Recorder, RecordEvent
from fxcli.model.frames import RawFrame
from fxcli.ops.metrics import Count

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

BREAKER_STATES = ("closed", "half_open", "open")
# Parquet part writes (temp file, fsync, rename): milliseconds on a healthy disk, seconds when not.
WRITE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RecordMetrics:
    """Everything `fx record --metrics` exposes, in a registry of its own.

    Hand `notify(inner)`, `recorder_type()` and `timed(write_file)` to the recording run; the
    recorder registers itself when it is built.
    """

    def __init__(self, symbols: Iterable[str]) -> None:
        from prometheus_client import Histogram
        from prometheus_client.registry import CollectorRegistry

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=False)
        self.recorder: Recorder | None = None
        self.symbols = list(symbols)
        self.started = time.time()
        # event class -> decoded events: a plain dict bumped on the loop (no lock: this runs per event;
        # a scrape copies it in one C call, atomic under the GIL)
        self.events: dict[type, int] = {}
        self.gaps = Count()  # (reason,) -> gap rows stored
        self.gap_seconds = Count()  # (reason,) -> seconds those gaps cover
        self.disconnects = Count()  # (reason,) -> connections lost (rotations included)
        self.dial_failures = Count()
        self.open_gaps: dict[str, str] = {}  # symbol -> reason, from gap_opened until its gap is stored
        self.breakers: dict[str, str] = {}  # name -> state
        self.write_seconds = Histogram(
            "fx_record_write_seconds",
            "Seconds to write one Parquet part durably (temp file, fsync, rename): the flush latency.",
            buckets=WRITE_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_RecordCollector(self))

    def notify(self, inner: Notify | None) -> Notify:
        """A `notify` that tallies gaps, disconnects and breakers, then calls `inner` (the CLI's lines)."""

        def tally(event: RecordEvent) -> None:
            self.on_event(event)
            if inner is not None:
                inner(event)

        return tally

    def on_event(self, event: RecordEvent) -> None:
        """One announced recorder event."""
        fields = event.fields
        kind = event.kind
        if kind == "gap_opened":
            self.open_gaps[str(fields.get("symbol"))] = str(fields.get("reason"))
        elif kind == "gap":
            reason = str(fields.get("reason"))
            self.gaps.add((reason,))
            self.gap_seconds.add((reason,), float(fields.get("seconds") or 0.0))
            self.open_gaps.pop(str(fields.get("symbol")), None)
        elif kind == "disconnected":
            self.disconnects.add((str(fields.get("reason")),))
        elif kind == "dial_failed":
            self.dial_failures.add(())
        elif kind == "breaker":
            self.breakers[str(fields.get("name"))] = str(fields.get("to"))

    def recorder_type(self) -> type[Recorder]:
        """A `Recorder` that registers itself here and counts decoded events by kind."""
        metrics = self
        kinds = self.events

        class MeteredRecorder(Recorder):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                metrics.recorder = self

            def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
                for event in decoded.events:
                    kind = event.__class__
                    kinds[kind] = kinds.get(kind, 0) + 1
                super().on_decoded(frame, decoded)

        return MeteredRecorder

    def timed(self, write_file: Callable[[bytes, Path], None]) -> Callable[[bytes, Path], None]:
        """`write_file`, timed into `fx_record_write_seconds` (it runs on the writer's threads)."""
        histogram = self.write_seconds

        def write(data: bytes, path: Path) -> None:
            t0 = time.perf_counter()
            write_file(data, path)
            histogram.observe(time.perf_counter() - t0)

        return write


class _RecordCollector:
    """Reads the recorder at scrape time (on the metrics server's thread)."""

    def __init__(self, metrics: RecordMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        m = self.m
        rec = m.recorder
        yield GaugeMetricFamily(
            "fx_record_up", "1 once the recorder runs (0 while waiting for the venue).", rec is not None
        )
        yield GaugeMetricFamily(
            "fx_record_start_time_seconds", "When this fx record started (Unix time).", m.started
        )
        if rec is None:
            return
        venue = rec.venue
        c = rec.counters

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=["venue"])
            family.add_metric([venue], value)
            return family

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=["venue"])
            family.add_metric([venue], value)
            return family

        def by(
            name: str, doc: str, label: str, rows: Iterable[tuple[str, float]], *, is_counter: bool
        ) -> Metric:
            family: Metric
            if is_counter:
                family = CounterMetricFamily(name, doc, labels=["venue", label])
            else:
                family = GaugeMetricFamily(name, doc, labels=["venue", label])
            for key, value in rows:
                family.add_metric([venue, key], value)
            return family

        yield counter("fx_record_frames", "WebSocket frames received (pings' answers included).", c.frames)
        yield counter("fx_record_received_bytes", "Bytes of those frames.", c.bytes_in)
        yield by(
            "fx_record_events",
            "Decoded market events by kind (Trade, BookDelta, BookSnapshot, ...), before de-duplication.",
            "kind",
            ((kind.__name__, count) for kind, count in dict(m.events).items()),
            is_counter=True,
        )
        yield counter("fx_record_trades", "Trades kept for the store (after de-duplication).", c.trades)
        yield counter("fx_record_backfilled_trades", "Trades fetched over REST for a gap.", c.backfilled)
        yield by(
            "fx_record_decode_problems",
            "Frames that could not be decoded (problem) and bad items dropped from good frames (skipped).",
            "what",
            [("problem", c.problems), ("skipped", c.skipped)],
            is_counter=True,
        )
        yield counter("fx_record_duplicates", "Rotation copies dropped.", rec.copies.dropped)
        gaps = {k[0]: v for k, v in m.gaps.items()}
        overflow = rec.writer.stats.overflow_batches
        if overflow:
            gaps["writer_overflow"] = gaps.get("writer_overflow", 0.0) + overflow
        yield by("fx_record_gaps", "Gap rows stored, by reason.", "reason", gaps.items(), is_counter=True)
        yield by(
            "fx_record_gap_seconds",
            "Seconds covered by stored gaps, by reason.",
            "reason",
            ((k[0], v) for k, v in m.gap_seconds.items()),
            is_counter=True,
        )
        open_by: dict[str, float] = {}
        for reason in list(m.open_gaps.values()):
            open_by[reason] = open_by.get(reason, 0.0) + 1
        yield by(
            "fx_record_open_gaps",
            "Symbols inside a gap now, by reason.",
            "reason",
            open_by.items(),
            is_counter=False,
        )
        yield by(
            "fx_record_writer_queue_depth",
            "Batches waiting for a writer thread (store: Parquet batches; raw: raw-log flushes).",
            "writer",
            [("store", rec.writer.queue_depth), ("raw", rec.raw.queue_depth)],
            is_counter=False,
        )
        yield by(
            "fx_record_writer_overflow",
            "Batches dropped because a writer queue was full (store: each became a writer_overflow gap).",
            "writer",
            [("store", overflow), ("raw", rec.raw.stats.overflow_chunks)],
            is_counter=True,
        )
        yield counter(
            "fx_record_rows_written", "Rows added to the Parquet store.", rec.writer.stats.rows_added
        )
        yield counter(
            "fx_record_raw_bytes_written",
            "Compressed bytes written to the raw log.",
            rec.raw.stats.bytes_written,
        )
        last = rec.raw.stats.last_write_ns
        if last is not None:
            yield gauge(
                "fx_record_last_raw_write_seconds",
                "When the raw log was last written (Unix time).",
                last / 1e9,
            )
        books = rec.books
        if books is not None:
            synced = GaugeMetricFamily(
                "fx_record_book_synced",
                "1 when the symbol's L2 book is whole and in step.",
                labels=["venue", "symbol"],
            )
            for symbol in m.symbols:
                synced.add_metric([venue, symbol], 1.0 if books.is_synced(symbol) else 0.0)
            yield synced
        stats = rec.stats(0, 0.0)
        yield by(
            "fx_record_connections",
            "Connection slots planned and connected now.",
            "state",
            [("planned", stats.connections), ("connected", stats.connections_live)],
            is_counter=False,
        )
        yield gauge(
            "fx_record_symbols_live", "Symbols with every channel subscribed now.", stats.symbols_live
        )
        yield by(
            "fx_record_disconnects",
            "Connections lost (reconnected by the manager), by reason; rotations included.",
            "reason",
            ((k[0], v) for k, v in m.disconnects.items()),
            is_counter=True,
        )
        yield counter(
            "fx_record_dial_failures",
            "Connection attempts that failed.",
            sum(v for _, v in m.dial_failures.items()),
        )
        breaker = GaugeMetricFamily(
            "fx_record_breaker_state", "1 for the circuit breaker's current state.", labels=["name", "state"]
        )
        for name, now in list(m.breakers.items()):
            for state in BREAKER_STATES:
                breaker.add_metric([name, state], 1.0 if now == state else 0.0)
        yield breaker
        if rec.clock_offset_ms is not None:
            yield gauge(
                "fx_record_clock_offset_seconds", "Venue clock minus ours.", rec.clock_offset_ms / 1000
            )
