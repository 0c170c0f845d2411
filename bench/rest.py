"""REST round trips on loopback: fx's `RestClient` against a bare httpx client and the urllib-in-a-thread
client it replaced.

    .venv/bin/python bench/rest.py [--calls N] [--rounds R]

A keep-alive HTTP/1.1 server runs on 127.0.0.1 in its own thread (its own event loop), answering
`{"serverTime": ...}`. Each client makes N sequential GETs; the best of R rounds is kept, the three
clients alternating within each round. The target (docs/mexc-orders.md, goal for the order path):
fx's round trip <= 1.25x a bare httpx request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable

import httpx

from fxcli.exchange.pacing import TokenBucket
from fxcli.exchange.rest import RestClient

BODY = b'{"serverTime":1765000000000}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)
TARGET_RATIO = 1.25


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readline():
            while (await reader.readline()).strip():
                pass
            writer.write(ANSWER)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def start_server() -> tuple[str, Callable[[], None]]:
    """The server's URL, and a function that stops it."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, asyncio.Server] = {}

    async def main() -> None:
        holder["server"] = await asyncio.start_server(_serve_one, "127.0.0.1", 0)
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(main()), loop.run_forever()))
    thread.start()
    ready.wait()
    port = holder["server"].sockets[0].getsockname()[1]

    def stop() -> None:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    return f"http://127.0.0.1:{port}/api/v3/time", stop


async def timed(calls: int, one: Callable[[], Awaitable[object]]) -> float:
    """Microseconds per call over `calls` sequential calls (after one warm-up call)."""
    await one()
    start = time.perf_counter()
    for _ in range(calls):
        await one()
    return (time.perf_counter() - start) / calls * 1e6


async def run(calls: int, rounds: int, url: str) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        async with (
            RestClient(timeout_s=5.0, bucket=TokenBucket(1000, 1e9)) as fx,
            httpx.AsyncClient(trust_env=False) as bare,
        ):

            def urllib_get() -> bytes:
                with urllib.request.urlopen(url, timeout=5.0) as answer:
                    body: bytes = answer.read()
                    return body

            sides: dict[str, Callable[[], Awaitable[object]]] = {
                "fx RestClient.get": lambda: fx.get(url),
                "bare httpx.AsyncClient.get": lambda: bare.get(url),
                "urllib in a thread (before)": lambda: asyncio.to_thread(urllib_get),
            }
            for name, one in sides.items():
                best[name] = min(best.get(name, float("inf")), await timed(calls, one))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load (1 min): {os.getloadavg()[0]:.2f}; {args.calls} sequential GETs, best of {args.rounds}")
    url, stop = start_server()
    try:
        best = asyncio.run(run(args.calls, args.rounds, url))
    finally:
        stop()
    peer = best["bare httpx.AsyncClient.get"]
    for name, us in best.items():
        print(f"{name:30s} {us:8.1f} us/call  {us / peer:5.2f}x bare httpx")
    ratio = best["fx RestClient.get"] / peer
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"target fx <= {TARGET_RATIO}x bare httpx: {verdict} ({ratio:.2f}x)")
    print("\n| client | us per call | vs bare httpx |\n|---|---|---|")
    for name, us in best.items():
        print(f"| {name} | {us:.1f} | {us / peer:.2f}x |")


if __name__ == "__main__":
    main()
