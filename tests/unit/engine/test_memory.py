"""One symbol's pipeline holds memory bounded by its windows: a long stream must not make it grow."""

from __future__ import annotations

import gc
import os
import random
import tracemalloc
from collections.abc import Iterator

import pytest

from fxcli.engine.pipeline import Pipeline
from fxcli.engine.registry import load_all
from fxcli.model.events import BookTicker, MarketEvent, Trade

MS = 1_000_000
T0 = 1_723_161_600_000 * MS
TICKERS_PER_TRADE = 2
MAX_STEP_MS = 6  # between events: a trade every <= 18 ms, ~1 per 9 ms, same-ms bursts included
# The suite measures 150k events (a leak of one small object every ~12 events still shows);
# `make soak` measures the full million.
MEASURED_EVENTS = int(os.environ.get("FX_MEMORY_EVENTS", "150000"))
MAX_GROWTH_BYTES = 300_000


def ticks_forever(seed: int) -> Iterator[MarketEvent]:
    """An endless stream, made lazily: a trade then two book tickers, 0-6 ms apart, on a price walk."""
    rng = random.Random(seed)
    ts = T0
    cents = 6_000_000
    while True:
        ts += rng.randint(0, MAX_STEP_MS) * MS
        cents += rng.choice((-1, 0, 0, 1))
        side = 1 if rng.random() < 0.5 else -1
        yield Trade(ts, ts, "S", cents / 100, round(rng.uniform(1e-4, 2.0), 5), side)
        for _ in range(TICKERS_PER_TRADE):
            ts += rng.randint(0, MAX_STEP_MS) * MS
            yield BookTicker(ts, ts, "S", (cents - 1) / 100, rng.uniform(0.1, 5.0), cents / 100, 1.0)


def traced_bytes() -> int:
    """Bytes allocated since tracemalloc started and still alive, after a full collection."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.mark.slow
def test_pipeline_every_indicator_after_many_more_events_grows_at_most_300kb() -> None:
    specs = load_all()
    indicators = [(name, name, spec.params()) for name, spec in sorted(specs.items())]
    # Warm-up: past every indicator's longest window, so each holds a full window's points already.
    warm_s = 30.0 + max(specs[kind].warmup(params).seconds for _, kind, params in indicators)
    stream = ticks_forever(seed=3)
    tracemalloc.start()
    try:
        pipeline = Pipeline("S", indicators)
        on_event = pipeline.on_event
        warm_until = T0 + round(warm_s * 1e9)
        for event in stream:
            on_event(event)
            if event.exchange_ts_ns >= warm_until:
                break
        before = traced_bytes()

        for _, event in zip(range(MEASURED_EVENTS), stream, strict=False):
            on_event(event)
        after = traced_bytes()
    finally:
        tracemalloc.stop()

    assert after - before <= MAX_GROWTH_BYTES, (
        f"{len(indicators)} indicators grew by {after - before:,} bytes over {MEASURED_EVENTS:,} events "
        f"(from {before:,} to {after:,})"
    )
