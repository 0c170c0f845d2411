"""Recorded events played to a `Consumer` the way a live venue delivers them, optionally paced.

`fx stream --replay` puts a `Playback` where the `ConnectionManager` would be: the same consumer
gets `on_frame` then `on_decoded` for every batch, in order, so everything downstream runs exactly
as it does live. The events come from the caller (the stream task reads them from the store with
`fxcli.store.replay`; `exchange` does not read the store itself). Several symbols' streams are
merged by (exchange time, receive time); each symbol's own order is kept exactly as given. Stored
gaps in a stream (at their start) go to the consumer's `on_gap`, between the batches around them.

    streams = {"BTCUSDT": replay(reader, "binance", "BTCUSDT", TABLES)}
    stats = await Playback(streams, consumer, speed=10.0).run(stop_requested)
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from fxcli.exchange.adapter import Decoded
from fxcli.exchange.status import Consumer
from fxcli.model.events import Event, Gap, MarketEvent, gap_position
from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_S

BATCH = 256  # events per delivered batch when not paced (one "frame")


class PlaybackConsumer(Consumer, Protocol):
    """A consumer of a playback: a live consumer that also takes the stored gaps a recording holds."""

    def on_gap(self, gap: Gap) -> None:
        """A stored gap, reached where it starts."""
        ...


@dataclass
class PlaybackStats:
    """What a playback delivered."""

    batches: int = 0
    events: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    is_complete: bool = False  # every event was delivered (not stopped early)


def merged(streams: Mapping[str, Iterable[Event]]) -> Iterator[Event]:
    """One time-ordered stream of several symbols: by (exchange time, receive time), earlier-named
    streams first on ties; the order within each stream is never changed."""
    keyed = [_keyed(stream) for stream in streams.values()]
    return (event for _, event in heapq.merge(*keyed, key=_first))


def _keyed(stream: Iterable[Event]) -> Iterator[tuple[tuple[int, int], Event]]:
    for e in stream:
        if isinstance(e, Gap):
            yield gap_position(e), e
        else:
            yield (e.exchange_ts_ns, e.received_ts_ns), e


def _first(pair: tuple[tuple[int, int], Event]) -> tuple[int, int]:
    return pair[0]


class Playback:
    """Replays `streams` to `consumer` as batches of decoded events, at `speed` x the recorded pace
    (None: as fast as the consumer takes them: it handles each batch before the next is read).
    """

    venue = "playback"

    def __init__(
        self,
        streams: Mapping[str, Iterable[Event]],
        consumer: PlaybackConsumer,
        *,
        speed: float | None = None,
        batch: int = BATCH,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.streams = streams
        self.consumer = consumer
        self.speed = speed
        self.batch = max(1, batch)
        self.stats = PlaybackStats()
        self._seq = 0

    async def run(self, stop: asyncio.Event | None = None) -> PlaybackStats:
        """Deliver every event (or until `stop` is set); returns what was delivered."""
        stats = self.stats
        speed = self.speed
        start_mono = time.monotonic()
        pending: list[MarketEvent] = []
        for event in merged(self.streams):
            if stop is not None and stop.is_set():
                return stats
            if isinstance(event, Gap):
                await self._deliver(pending)
                pending = []
                self.consumer.on_gap(event)
                continue
            ts = event.exchange_ts_ns
            if stats.first_ts_ns is None:
                stats.first_ts_ns = ts
            if speed is not None:
                delay = start_mono + (ts - stats.first_ts_ns) / NS_PER_S / speed - time.monotonic()
                if delay > 0:
                    await self._deliver(pending)
                    pending = []
                    if await _sleep(delay, stop):
                        return stats
            pending.append(event)
            if len(pending) >= self.batch:
                await self._deliver(pending)
                pending = []
        await self._deliver(pending)
        stats.is_complete = stop is None or not stop.is_set()
        return stats

    async def _deliver(self, events: list[MarketEvent]) -> None:
        if not events:
            return
        self._seq += 1
        frame = RawFrame(0, 0, self._seq, time.time_ns(), time.monotonic_ns(), "binary", b"")
        self.consumer.on_frame(frame)
        self.consumer.on_decoded(frame, Decoded(events=events))
        self.stats.batches += 1
        self.stats.events += len(events)
        self.stats.last_ts_ns = events[-1].exchange_ts_ns
        await asyncio.sleep(0)  # signals and other tasks run between batches


async def _sleep(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep `seconds`, waking early if `stop` is set; True if it was."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
