"""User-stream push decoding: µs per push (p50/p99) for the private pushes, next to the public-data
decoder that `fx record` runs on every market frame.

    .venv/bin/python bench/pushes.py [--pushes N] [--rounds R]

Frames: the order, deal and account pushes of docs/mexc-orders.md §3.5, and the aggregated-trades push
of docs/mexc-protocol.md §6.2.1 for `MexcSpot.decode` (the peer). Each push is timed alone
(perf_counter_ns around one call), the kinds interleaved so load changes hit all alike; percentiles
pool R rounds of N calls per kind. "UserStream._on_push" adds what the stream does per push after
decoding (the canary's bookkeeping, the owner's callback, here a no-op): the in-process share of
push-to-state latency, whose target is p99 <= 200 µs (goal G8).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import time
from collections.abc import Callable

from fxcli.exchange.mexc_private.pushes import decode
from fxcli.exchange.mexc_private.userstream import UserStream
from fxcli.exchange.mexc_spot import MexcSpot
from tests.unit.exchange.mexc_private_frames import ACCOUNT_USDT, DEAL, PARTIAL

TARGET_P99_US = 200.0
PUBLIC_TRADES = base64.b64decode(
    "Ci9zcG90QHB1YmxpYy5hZ2dyZS5kZWFscy52My5hcGkucGJAMTAwbXNAQlRDVVNEVBoHQlRDVVNEVDC8qdnQ"
    "xDLSE0oKHwoIOTMyMjAuMDASCjAuMDQ0MzgyNDMYAiC7qdnQxDISJ3Nwb3RAcHVibGljLmFnZ3JlLmRlYWxz"
    "LnYzLmFwaS5wYkAxMDBtcw=="
)
PEER = "MexcSpot.decode (public trades)"


class _NoKeys:
    """The stream is never run here; only its per-push path is timed."""

    async def listen_key_create(self) -> str:
        raise NotImplementedError

    async def listen_key_extend(self, key: str) -> None:
        raise NotImplementedError

    async def listen_key_delete(self, key: str) -> None:
        raise NotImplementedError


def _sides() -> dict[str, Callable[[], object]]:
    spot = MexcSpot()
    stream = UserStream(
        _NoKeys(), "ws://unused", on_order=lambda _: None, on_trade=lambda _: None, on_account=lambda _: None
    )
    return {
        PEER: lambda: spot.decode(PUBLIC_TRADES, 0),
        "pushes.decode (order)": lambda: decode(PARTIAL),
        "pushes.decode (deal)": lambda: decode(DEAL),
        "pushes.decode (account)": lambda: decode(ACCOUNT_USDT),
        "UserStream._on_push (order)": lambda: stream._on_push(PARTIAL),
    }


def measure(pushes: int, rounds: int) -> dict[str, list[float]]:
    """Per-call µs for every side, interleaved: side A, B, C, ... then again."""
    sides = _sides()
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for one in sides.values():  # warm up: imports, caches
        for _ in range(200):
            one()
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for _ in range(pushes):
            for name, one in sides.items():
                start = clock()
                one()
                samples[name].append((clock() - start) / 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load (1 min): {os.getloadavg()[0]:.2f}; {args.pushes} pushes per kind, {args.rounds} rounds")
    samples = measure(args.pushes, args.rounds)
    rows = []
    for name, values in samples.items():
        cuts = statistics.quantiles(values, n=100)
        rows.append((name, cuts[49], cuts[98]))
    peer_p50 = rows[0][1]
    for name, p50, p99 in rows:
        print(f"{name:32s} p50 {p50:6.2f} us  p99 {p99:6.2f} us  {p50 / peer_p50:5.2f}x the public decoder")
    worst = max(p99 for name, _, p99 in rows if name != PEER)
    verdict = "met" if worst <= TARGET_P99_US else "NOT met"
    print(f"target p99 <= {TARGET_P99_US:g} us per private push (G8, in-process): {verdict} ({worst:.1f} us)")
    print("\n| decoder | p50 µs | p99 µs | p50 vs public decoder |\n|---|---|---|---|")
    for name, p50, p99 in rows:
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {p50 / peer_p50:.2f}x |")


if __name__ == "__main__":
    main()
