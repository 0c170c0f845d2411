"""Benchmark: what `fx stream --serve` with 10 subscribed clients costs the engine's tick-to-decision.

The fake MEXC venue (tests/fake_mexc, in a child process) sends a trade and an L2 diff per symbol
every 10 ms. `fx stream momentum_scalper` runs live against it twice in turn: without `--serve` (the
peer) and with `--serve` at 50 snapshots/s per symbol, 10 clients subscribed to every message type
(they run in a child process of their own, as other programs would, and read everything). From a
frame's receipt to the strategy's decision, p50 and p99 after a warm-up, alternating the two runs
`REPEATS` times; the median p99 of each is compared (target: with --serve <= 1.1 x without). The
same comparison is made for `--metrics` alone, scraped every `--scrape-s` (default 1 s: 15 times
Prometheus' default interval; a scrape holds the GIL for about a millisecond, so scraping 10 times a
second shows in the p99).

`fx record --metrics`: the recorder's ingest of a blast of trade frames (bench/live.py's ingest
run) without and with the metrics (their recorder subclass, notify and timed writes, scraped every
second), best of `REPEATS` each; the ratio is time per frame with / without.

Nothing is asserted: it is not a test. Run: `.venv/bin/python bench/serve.py [--symbols N] [--run-s S]
[--only serve|metrics|record]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from live import (  # noqa: E402
    LATENCY_TICK_S,
    LATENCY_WARMUP_S,
    ingest_symbols,
    live_plan,
    recorder_path,
    server,
)
from report import Layout, Line, Run, argument_parser  # noqa: E402

from fxcli.live.latency import percentile_ns  # noqa: E402
from fxcli.ops.address import Listen  # noqa: E402
from fxcli.ops.metrics import metrics_server  # noqa: E402
from fxcli.ops.record_metrics import RecordMetrics  # noqa: E402
from fxcli.ops.serve import StreamOps  # noqa: E402
from fxcli.store.encoding import write_durably  # noqa: E402
from fxcli.tasks.stream import Feed, StreamPlan, stream  # noqa: E402
from fxcli.ui.dashboard import screen  # noqa: E402

SYMBOLS = 10
RUN_S = 8.0
CLIENTS = 10
SERVE_RATE = 50.0
REPEATS = 3
TARGET_RATIO = 1.1
RECORD_FRAMES = 100_000

LAYOUT = Layout(
    legend="ratio = fx with the option / fx without it (lower is better; target <= 1.1)",
    fx_width=12,
    peer_name_width=16,
    peer_width=12,
    ratio_width=7,
    script="bench/serve.py",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _clients(url: str, n: int) -> None:
    """`n` clients subscribed to everything, reading until the server closes; prints the counts."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def one() -> int:
        for _ in range(200):
            try:
                ws = await connect(url)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            return -1
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe"}))
        count = 0
        try:
            async for _ in ws:
                count += 1
        except ConnectionClosed:
            pass
        return count

    print(json.dumps(await asyncio.gather(*(one() for _ in range(n)))), flush=True)


def _scraper(url: str, stop: threading.Event, every_s: float) -> None:
    while not stop.wait(every_s):
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            response.read()


def one_run(symbols: list[str], run_s: float, mode: str, scrape_s: float) -> tuple[float, float, str]:
    """p50, p99 (µs) of one live run; `mode` is "plain", "serve" or "metrics"."""
    feed, stop = Feed(), threading.Event()
    clients: subprocess.Popen[str] | None = None
    scrape_stop = threading.Event()
    note = ""
    with server(symbols, tick_s=LATENCY_TICK_S) as endpoints:
        plan = live_plan(symbols, endpoints)
        port = free_port()
        if mode == "serve":
            plan = dataclasses.replace(
                plan, ops=StreamOps(serve=Listen("127.0.0.1", port), rate_per_s=SERVE_RATE)
            )
            args = [sys.executable, __file__, "--clients", f"ws://127.0.0.1:{port}/"]
            clients = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=REPO)
        elif mode == "metrics":
            plan = dataclasses.replace(plan, ops=StreamOps(metrics=Listen("127.0.0.1", port)))
            threading.Thread(
                target=_scraper, args=(f"http://127.0.0.1:{port}/metrics", scrape_stop, scrape_s), daemon=True
            ).start()
        thread = threading.Thread(target=_run, args=(plan, feed, stop))
        thread.start()
        time.sleep(LATENCY_WARMUP_S)
        before = feed.latency()
        time.sleep(run_s)
        after = feed.latency()
        stop.set()
        scrape_stop.set()
        thread.join()
    if clients is not None:
        out, _ = clients.communicate(timeout=30)
        counts = json.loads(out.strip().splitlines()[-1])
        note = f"{len(counts)} clients read {min(counts):,}..{max(counts):,} messages"
    hist = [a - b for a, b in zip(after, before, strict=True)]
    return percentile_ns(hist, 0.5) / 1000, percentile_ns(hist, 0.99) / 1000, note


def _run(plan: StreamPlan, feed: Feed, stop: threading.Event) -> None:
    """`fx stream --headless` of `plan` into /dev/null until `stop` (a thread's target)."""
    with Path(os.devnull).open("w") as devnull, screen(feed, headless=True, out=devnull):
        stream(plan, feed, stop=stop)


def measure(
    symbol_count: int, run_s: float, only: str | None, scrape_s: float
) -> tuple[list[Line], list[str]]:
    """Alternating runs without and with each option; median p50 / p99 of each."""
    symbols = [f"L{i:02d}USDT" for i in range(symbol_count)]
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "serve": [], "metrics": []}
    notes: list[str] = []
    modes = ("plain", only) if only else ("plain", "serve", "plain", "metrics")
    for _ in range(REPEATS):
        for mode in modes:
            p50, p99, note = one_run(symbols, run_s, mode, scrape_s)
            results[mode].append((p50, p99))
            if note:
                notes.append(note)
    plain50 = statistics.median(r[0] for r in results["plain"])
    plain99 = statistics.median(r[1] for r in results["plain"])
    lines = []
    for mode, what in (
        ("serve", f"--serve, {CLIENTS} clients"),
        ("metrics", f"--metrics, scraped every {scrape_s:g} s"),
    ):
        if not results[mode]:
            continue
        p50 = statistics.median(r[0] for r in results[mode])
        p99 = statistics.median(r[1] for r in results[mode])
        area = f"tick-to-decision, {symbol_count} symbols, {what}"
        lines.append(
            Line(
                area,
                "p50",
                f"{p50:,.0f} µs",
                "without",
                f"{plain50:,.0f} µs",
                f"{p50 / plain50:.2f}",
                "—",
                None,
            )
        )
        lines.append(
            Line(
                area,
                "p99",
                f"{p99:,.0f} µs",
                "without",
                f"{plain99:,.0f} µs",
                f"{p99 / plain99:.2f}",
                f"<= {TARGET_RATIO}",
                p99 / plain99 <= TARGET_RATIO,
            )
        )
    return lines, notes


def record_rate(frames: int, *, is_metered: bool) -> float:
    """`fx record`'s ingest (frames/s) of a blast of trade frames, with or without --metrics (scraped
    every second while it records)."""
    with server(ingest_symbols(), blast=frames) as endpoints, tempfile.TemporaryDirectory() as work:
        if not is_metered:
            return recorder_path(endpoints, frames, Path(work))
        meter = RecordMetrics(ingest_symbols())
        stop = threading.Event()
        with metrics_server(Listen("127.0.0.1", 0), meter.registry, "--metrics") as metrics:
            assert metrics is not None
            threading.Thread(target=_scraper, args=(metrics.url, stop, 1.0), daemon=True).start()
            try:
                return recorder_path(
                    endpoints,
                    frames,
                    Path(work),
                    meter.recorder_type(),
                    notify=meter.notify(None),
                    write_file=meter.timed(write_durably),
                )
            finally:
                stop.set()


def measure_record(frames: int) -> list[Line]:
    """Best of `REPEATS` ingest rates without and with --metrics, alternating."""
    plain = metered = 0.0
    for _ in range(REPEATS):
        plain = max(plain, record_rate(frames, is_metered=False))
        metered = max(metered, record_rate(frames, is_metered=True))
    return [
        Line(
            "fx record ingest, --metrics scraped every 1 s",
            "frames/s",
            f"{metered:,.0f}",
            "without",
            f"{plain:,.0f}",
            f"{plain / metered:.2f}",
            "<= 1.1 (time per frame)",
            plain / metered <= TARGET_RATIO,
        )
    ]


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--symbols", type=int, default=SYMBOLS, help=f"live symbols (default {SYMBOLS})")
    parser.add_argument(
        "--run-s", type=float, default=RUN_S, help=f"measured seconds per run (default {RUN_S})"
    )
    parser.add_argument("--only", choices=("serve", "metrics", "record"), help="one comparison")
    parser.add_argument("--frames", type=int, default=RECORD_FRAMES, help="frames of the record ingest")
    parser.add_argument("--scrape-s", type=float, default=1.0, help="seconds between scrapes (default 1)")
    parser.add_argument("--clients", help=argparse.SUPPRESS)  # the clients' child-process mode
    args = parser.parse_args()
    if args.clients:
        asyncio.run(_clients(args.clients, CLIENTS))
        return
    run = Run(LAYOUT)
    lines: list[Line] = []
    notes: list[str] = []
    if args.only != "record":
        lines, notes = measure(args.symbols, args.run_s, args.only, args.scrape_s)
    if args.only in (None, "record"):
        lines += measure_record(args.frames)
    run.finish(lines, notes=notes)


if __name__ == "__main__":
    main()
