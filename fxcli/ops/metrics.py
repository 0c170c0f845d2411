"""Prometheus exposition shared by `fx record --metrics` and `fx stream --serve/--metrics`.

Each run has its own `CollectorRegistry` (never the library's global one: two runs in one process,
as in tests, must not see each other's numbers). The collectors read the counters the recorder and
the session keep anyway, at scrape time: a scrape costs the scraper's thread, never the engine's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fxcli.errors import FxError
from fxcli.live.latency import LATENCY_BINS, bin_ceiling_ns
from fxcli.model.units import NS_PER_S
from fxcli.ops.address import Listen

if TYPE_CHECKING:
    from prometheus_client.core import HistogramMetricFamily
    from prometheus_client.registry import CollectorRegistry

# Tick-to-decision buckets in seconds: 1 µs .. 1 s, where a pure-Python engine's decisions fall.
LATENCY_BUCKETS_S = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 0.1, 1.0)
_CEILINGS_NS = [bin_ceiling_ns(i) for i in range(LATENCY_BINS)]


def _bucket_of_bin() -> list[int]:
    """For each histogram bin, the first `LATENCY_BUCKETS_S` bucket its whole range is below
    (len(LATENCY_BUCKETS_S) when none: only +Inf holds it)."""
    edges_ns = [round(le * NS_PER_S) for le in LATENCY_BUCKETS_S]
    out = []
    for ceiling in _CEILINGS_NS:
        out.append(next((k for k, edge in enumerate(edges_ns) if ceiling <= edge), len(edges_ns)))
    return out


_BUCKET_OF_BIN = _bucket_of_bin()


def latency_family(name: str, documentation: str, hists: list[list[int]]) -> HistogramMetricFamily:
    """fx's log-linear latency histograms (one per symbol) as one Prometheus histogram.

    A bin counts under `le` only when its whole range is below `le` (its ceiling), so each bucket is
    a lower bound: never flatters the latency. `_sum` is estimated from the bin ceilings (≤ ~6 % high).
    The merge runs in C (`zip`, `sum`): a scrape holds the GIL the engine needs for as short as it can.
    """
    from prometheus_client.core import HistogramMetricFamily
    from prometheus_client.utils import floatToGoString

    merged = [sum(column) for column in zip(*list(hists), strict=True)] if hists else []
    per_bucket = [0] * (len(LATENCY_BUCKETS_S) + 1)
    total_ns = 0
    for index, count in enumerate(merged):
        if count:
            per_bucket[_BUCKET_OF_BIN[index]] += count
            total_ns += count * _CEILINGS_NS[index]
    buckets: list[tuple[str, float]] = []
    running = 0
    for le, count in zip(LATENCY_BUCKETS_S, per_bucket, strict=False):
        running += count
        # the client library's own label form ("1.0", "1e-06"); it is untyped
        buckets.append((floatToGoString(le), float(running)))  # type: ignore[no-untyped-call]
    buckets.append(("+Inf", float(sum(per_bucket))))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=total_ns / NS_PER_S)


class MetricsServer:
    """prometheus_client's HTTP server for one registry, on its own daemon thread."""

    def __init__(self, listen: Listen, registry: CollectorRegistry, option: str) -> None:
        from prometheus_client import start_http_server

        try:
            self._server, self._thread = start_http_server(listen.port, listen.host, registry)
        except OSError as exc:
            raise FxError(
                f"{option} {listen.host}:{listen.port}: cannot listen: {exc.strerror or exc}"
            ) from None
        self.port: int = self._server.server_port
        self.url = listen.url("http", self.port) + "/metrics"

    def close(self) -> None:
        """Stop answering and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)


@contextlib.contextmanager
def metrics_server(
    listen: Listen | None, registry: CollectorRegistry, option: str
) -> Iterator[MetricsServer | None]:
    """A metrics server for the block (None when `listen` is None); FxError (exit 2) if it cannot bind."""
    if listen is None:
        yield None
        return
    server = MetricsServer(listen, registry, option)
    try:
        yield server
    finally:
        server.close()


class Count:
    """A counter bumped from one thread and read from another (the GIL makes `+=` on an int atomic
    enough for a metric; the lock only guards the dict's shape against a scrape iterating it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[tuple[str, ...], float] = {}

    def add(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        """Add `amount` under `key`."""
        with self._lock:
            self.values[key] = self.values.get(key, 0.0) + amount

    def items(self) -> list[tuple[tuple[str, ...], float]]:
        """A copy, safe to iterate while the owner goes on counting."""
        with self._lock:
            return list(self.values.items())
