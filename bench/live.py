"""Benchmark: fx's live path (`fx stream --headless`, the recorder's ingest) on loopback against peers.

What it measures, in one run (the fake MEXC server of tests/fake_mexc runs in its own process, so
it never competes with the client for the GIL):

- ingest: the server pushes N pre-encoded spot trade frames (protobuf, one deal each, 15 symbols,
  trades + depth subscribed on one connection) as fast as the socket takes them. Received by
  (a) a count-only `websockets` client (the peer: it only counts frames), (b) `fx record`'s path: the
  record task with its own `Recorder` (raw log, decode, de-duplication, rows, writers) into a temp
  data dir, (c) `fx stream --headless`'s path: the stream task, live, momentum_scalper on
  every symbol, JSON lines to /dev/null. Frames per second from the first frame to the N-th
  (for (c), the N-th event through the strategy);
- decode cost per frame: `MexcFutures.decode` against pydantic `model_validate_json` (a
  discriminated union of the same push shapes) on the same futures JSON frames (deals and depth
  diffs), best of 5; `MexcSpot.decode` of protobuf frames alongside (no peer);
- tick-to-decision: `fx stream` live against the server at its own pace (trades + L2 diffs, books
  synced from REST): from a frame's receipt to the strategy's decision on its event, p50 / p99,
  after a warm-up;
- memory: 150 symbols, every shipped variant (the default indicator set) and pump_rider, 24
  simulated hours of trades and L2 diffs played through the stream session as fast as it takes
  them; RSS at every simulated hour.

Each figure is printed with its peer, the ratio and whether the issue's target is met ("NOT met"
when it is not), then a Markdown block for the README. Nothing is asserted: it is not a test.

Run: `make bench`, or `.venv/bin/python bench/live.py [--frames N] [--hours H] [--symbols N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, Field, TypeAdapter
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.fake_mexc is the server

from report import Layout, Line, Run, argument_parser, rate  # noqa: E402

from fxcli.engine.params import IndicatorParams  # noqa: E402
from fxcli.engine.variants import load_folder  # noqa: E402
from fxcli.exchange.adapter import Decoded, Endpoints, Kind  # noqa: E402
from fxcli.exchange.connection import plan_channels  # noqa: E402
from fxcli.exchange.mexc_futures import MexcFutures  # noqa: E402
from fxcli.exchange.mexc_spot import MexcSpot  # noqa: E402
from fxcli.live.latency import percentile_ns  # noqa: E402
from fxcli.live.record import record  # noqa: E402
from fxcli.live.recorder import Recorder  # noqa: E402
from fxcli.model.events import BookDelta, BookSnapshot, MarketEvent, Trade  # noqa: E402
from fxcli.model.frames import RawFrame  # noqa: E402
from fxcli.model.units import NS_PER_MS, NS_PER_S  # noqa: E402
from fxcli.settings import Settings  # noqa: E402
from fxcli.strategy.spec import load_strategy  # noqa: E402
from fxcli.tasks.backtest import Options, resolve_indicators  # noqa: E402
from fxcli.tasks.record import plan as record_plan  # noqa: E402
from fxcli.tasks.stream import Feed, StreamPlan, plan, run_events, stream  # noqa: E402
from fxcli.ui.dashboard import screen  # noqa: E402
from tests.fake_mexc import FakeMexc, Venue, frames  # noqa: E402
from tests.fake_mexc.market import Diff, TradeRecord  # noqa: E402

FRAMES = 300_000
INGEST_SYMBOLS = 15  # trades + depth: 30 channels, one spot connection
LATENCY_LOADS = (1, 20)  # symbols; the server sends a trade and a diff per symbol every LATENCY_TICK_S
LATENCY_TICK_S = 0.01
LATENCY_WARMUP_S = 6.0
LATENCY_RUN_S = 10.0
RSS_SYMBOLS = 150
RSS_HOURS = 24
RSS_STEP_S = 6.0  # simulated seconds between a symbol's events (a trade, then a diff)
DECODE_FRAMES = 20_000
REPEATS = 3
T0_NS = int(datetime(2024, 8, 8, tzinfo=UTC).timestamp()) * NS_PER_S

TARGET_INGEST = 200_000.0
TARGET_INGEST_RATIO = 1.0
TARGET_DECODE_RATIO = 5.0
TARGET_P99_US = 100.0
TARGET_RSS_MB = 200.0
TARGET_FLAT_MB = 10.0  # growth from hour 2 to the last hour that still counts as flat


def rss_mb() -> float:
    """Resident set size of this process, in MB."""
    with Path("/proc/self/statm").open() as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


# ---------------------------------------------------------------------------------------- server


def ws_frame(payload: bytes) -> bytes:
    """An unmasked binary WebSocket frame, as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x82, n)) + payload
    if n < 65536:
        return bytes((0x82, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x82, 127)) + n.to_bytes(8, "big") + payload


def trade_frames(symbols: list[str], n: int, seed: int = 7) -> list[bytes]:
    """`n` spot deals pushes, round-robin over `symbols`: random-walk prices, 1 ms apart."""
    rng = random.Random(seed)
    price = dict.fromkeys(symbols, 10_000)
    t0_ms = int(time.time() * 1000)
    out = []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        price[symbol] += rng.choice((-1, 0, 1))
        side = rng.choice((1, 2))
        trade = TradeRecord(
            symbol, i + 1, f"{price[symbol] / 100:.2f}", f"{rng.randint(1, 9999) / 1000:.3f}", side, t0_ms + i
        )
        out.append(frames.spot_deals([trade]))
    return out


class BlastMexc(FakeMexc):
    """The fake venue, plus: once a connection has subscribed to `want` channels, it is sent the
    pre-encoded frames straight into its socket (the server's own cost stays out of the way)."""

    def __init__(self, symbols: list[str], blob: bytes, want: int, **kwargs: Any) -> None:
        super().__init__(Venue.SPOT, symbols, **kwargs)
        self.blob = blob
        self.want = want
        self.blasted: set[int] = set()

    def _on_spot(self, live: Any, method: str, request: dict[str, object]) -> None:
        super()._on_spot(live, method, request)
        info = live.info
        if self.blob and len(info.subs) >= self.want and info.conn_id not in self.blasted:
            self.blasted.add(info.conn_id)
            # after the acks have gone out
            asyncio.get_running_loop().call_later(0.2, live.ws.transport.write, self.blob)


async def serve(symbols: list[str], blast: int, tick_s: float) -> None:
    """Run the fake venue until stdin closes; print its endpoints as one JSON line first."""
    if blast:
        blob = b"".join(ws_frame(f) for f in trade_frames(symbols, blast))
        venue: FakeMexc = BlastMexc(symbols, blob, 2 * len(symbols), tick_s=tick_s, max_lifetime_s=3600)
        venue.pause()
    else:
        venue = FakeMexc(Venue.SPOT, symbols, tick_s=tick_s, max_lifetime_s=3600, max_connections=256)
    async with venue:
        endpoints = venue.endpoints
        print(json.dumps({"ws_url": endpoints.ws_url, "rest_url": endpoints.rest_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextlib.contextmanager
def server(symbols: list[str], *, blast: int = 0, tick_s: float = 0.02) -> Iterator[Endpoints]:
    """The fake venue in a child process; its endpoints while the block runs."""
    args = [
        sys.executable,
        __file__,
        "--serve",
        ",".join(symbols),
        "--blast",
        str(blast),
        "--tick-s",
        str(tick_s),
    ]
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the fake server did not start")
        doc = json.loads(line)
        yield Endpoints(ws_url=doc["ws_url"], rest_url=doc["rest_url"])
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# ---------------------------------------------------------------------------------------- ingest


def ingest_symbols() -> list[str]:
    """The ingest runs' symbols."""
    return [f"S{i:02d}USDT" for i in range(INGEST_SYMBOLS)]


async def _count_only(url: str, n: int) -> float:
    spot = MexcSpot()
    channels = plan_channels(spot, ingest_symbols(), [Kind.TRADES, Kind.DEPTH])
    async with connect(url, ping_interval=None, max_size=1 << 20) as ws:
        for i in range(0, len(channels), spot.limits.channels_per_request):
            await ws.send(spot.subscribe(channels[i : i + spot.limits.channels_per_request], i + 1))
        count, first = 0, 0.0
        async for message in ws:
            if isinstance(message, bytes):
                if count == 0:
                    first = time.perf_counter()
                count += 1
                if count == n:
                    return n / (time.perf_counter() - first)
    raise RuntimeError("the server closed before all frames arrived")


def recorder_path(
    endpoints: Endpoints, n: int, work: Path, base: type[Recorder] = Recorder, **record_args: Any
) -> float:
    """Frames/s of `fx record`'s own consumer (raw log, decode, de-duplication, rows, book sync, writers);
    `base` and `record_args` (notify, write_file) are bench/serve.py's `--metrics` recorder."""
    marks: dict[str, float] = {}
    done = threading.Event()

    class Timed(base):  # type: ignore[valid-type,misc]
        def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
            super().on_decoded(frame, decoded)
            trades = self.counters.trades
            if "first" not in marks:
                marks["first"] = time.perf_counter()
            if trades >= n and not done.is_set():
                marks["last"] = time.perf_counter()
                done.set()

    settings = Settings(data_dir=work)
    config = record_plan(
        exchange="mexc-spot",
        symbols=",".join(ingest_symbols()),
        symbols_file=None,
        settings=settings,
        sources={},
        ws_url=endpoints.ws_url,
        rest_url=endpoints.rest_url,
    )
    record(config, stop=done.is_set, recorder_type=Timed, **record_args)
    return n / (marks["last"] - marks["first"])


def run_stream(symbols: list[str], endpoints: Endpoints, feed: Feed, stop: threading.Event) -> None:
    """`fx stream --headless` into /dev/null until `stop` (a thread's target)."""
    with Path(os.devnull).open("w") as devnull, screen(feed, headless=True, out=devnull):
        stream(live_plan(symbols, endpoints), feed, stop=stop)


def live_plan(symbols: list[str], endpoints: Endpoints) -> StreamPlan:
    """`fx stream momentum_scalper --symbols ... --ws-url ... --rest-url ...`, checked."""
    return plan(
        "momentum_scalper",
        symbols,
        strategies_dir=REPO / "strategies",
        variants_dir=REPO / "variants",
        options=Options(),
        ws_url=endpoints.ws_url,
        rest_url=endpoints.rest_url,
    )


def _stream_path(endpoints: Endpoints, n: int) -> float:
    """Events/s of `fx stream --headless`'s path: received, decoded and through the strategy."""
    feed, stop = Feed(), threading.Event()
    thread = threading.Thread(target=run_stream, args=(ingest_symbols(), endpoints, feed, stop))
    thread.start()
    stats = feed.stats
    while stats.frames == 0:
        time.sleep(0.0005)
    first = time.perf_counter()
    while stats.events < n:
        time.sleep(0.0005)
        if not thread.is_alive():
            raise RuntimeError("the stream ended early")
    processed = time.perf_counter()
    stop.set()
    thread.join()
    return n / (processed - first)


def measure_ingest(n: int) -> list[Line]:
    """Frames/s of the three clients against the same server."""
    best = {"count": 0.0, "recorder": 0.0, "stream": 0.0}
    for _ in range(REPEATS):
        with server(ingest_symbols(), blast=n) as endpoints:
            best["count"] = max(best["count"], asyncio.run(_count_only(endpoints.ws_url, n)))
        with server(ingest_symbols(), blast=n) as endpoints, tempfile.TemporaryDirectory() as work:
            best["recorder"] = max(best["recorder"], recorder_path(endpoints, n, Path(work)))
        with server(ingest_symbols(), blast=n) as endpoints:
            best["stream"] = max(best["stream"], _stream_path(endpoints, n))
    peer = best["count"]
    peer_text = f"count-only websockets {rate(peer)}"
    lines = []
    for key, what in (
        ("recorder", "fx record's path (raw log, decode, rows, writers)"),
        ("stream", "fx stream --headless (decoded, momentum_scalper on every event)"),
    ):
        fx = best[key]
        lines.append(
            Line(
                "ingest",
                what,
                rate(fx),
                "",
                peer_text,
                f"{fx / peer:.2f}x",
                f">= {TARGET_INGEST / 1e3:.0f}k/s and >= {TARGET_INGEST_RATIO:.1f}x",
                fx >= TARGET_INGEST and fx / peer >= TARGET_INGEST_RATIO,
            )
        )
    return lines


# ---------------------------------------------------------------------------------------- decode


class _PDeal(BaseModel):
    p: float
    v: float
    T: int
    O: int | None = None  # noqa: E741
    M: int | None = None
    t: int
    i: int | None = None


class _PDealPush(BaseModel):
    channel: Literal["push.deal"]
    symbol: str
    ts: int
    data: list[_PDeal]


class _PBook(BaseModel):
    asks: list[tuple[float, float, float]]
    bids: list[tuple[float, float, float]]
    begin: int
    end: int
    version: int
    cts: int | None = None


class _PDepthPush(BaseModel):
    channel: Literal["push.depth"]
    symbol: str
    ts: int
    data: _PBook


_PUSH = TypeAdapter(Annotated[_PDealPush | _PDepthPush, Field(discriminator="channel")])


class _MDeal(msgspec.Struct):
    p: float
    v: float
    T: int
    t: int
    O: int | None = None  # noqa: E741
    M: int | None = None
    i: int | None = None


class _MDealPush(msgspec.Struct, tag_field="channel", tag="push.deal"):
    symbol: str
    ts: int
    data: list[_MDeal]


class _MBook(msgspec.Struct):
    asks: list[tuple[float, float, float]]
    bids: list[tuple[float, float, float]]
    begin: int
    end: int
    version: int
    cts: int | None = None


class _MDepthPush(msgspec.Struct, tag_field="channel", tag="push.depth"):
    symbol: str
    ts: int
    data: _MBook


_MSGSPEC_PUSH = msgspec.json.Decoder(_MDealPush | _MDepthPush)


def futures_frames(n: int) -> list[str]:
    """Futures JSON pushes as the fake venue sends them: alternating deals and depth diffs."""
    from tests.fake_mexc.market import SymbolMarket

    market = SymbolMarket("BTC_USDT", random.Random(3), mid_ticks=6_000_000, tick_decimals=1)
    out: list[str] = []
    for i in range(n):
        if i % 2:
            diff: Diff = market.next_diff()
            out.append(frames.futures_depth(diff))
        else:
            out.append(frames.futures_deals([market.next_trade()]))
    return out


def _best_ns_per_frame(fn: Any, items: list[Any]) -> float:
    best = math.inf
    for _ in range(5):
        start = time.perf_counter_ns()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter_ns() - start) / len(items))
    return best


def measure_decode() -> list[Line]:
    """ns per frame: the futures adapter vs pydantic on the same frames; spot protobuf alongside."""
    texts = futures_frames(DECODE_FRAMES)
    futures = MexcFutures()
    decoded = [futures.decode(t, 0) for t in texts[:100]]
    assert all(d.events and not d.problem for d in decoded), "the adapter must decode every frame"
    fx_ns = _best_ns_per_frame(lambda t: futures.decode(t, 0), texts)
    peer_ns = _best_ns_per_frame(_PUSH.validate_json, texts)
    spot = MexcSpot()
    blobs = trade_frames(ingest_symbols(), DECODE_FRAMES)
    spot_ns = _best_ns_per_frame(lambda b: spot.decode(b, 0), blobs)
    parse_ns = _best_ns_per_frame(_MSGSPEC_PUSH.decode, texts)
    ratio = peer_ns / fx_ns
    return [
        Line(
            "decode",
            "MEXC futures JSON frame (deals / depth)",
            f"{fx_ns:,.0f} ns",
            "",
            f"pydantic model_validate_json {peer_ns:,.0f} ns",
            f"{ratio:.2f}x",
            f">= {TARGET_DECODE_RATIO:.0f}x",
            ratio >= TARGET_DECODE_RATIO,
        ),
        Line(
            "decode",
            "the same frames parsed into msgspec Structs alone (no events)",
            f"{parse_ns:,.0f} ns",
            "",
            f"pydantic model_validate_json {peer_ns:,.0f} ns",
            f"{peer_ns / parse_ns:.2f}x",
            "—",
            None,
        ),
        Line("decode", "MEXC spot protobuf deals frame", f"{spot_ns:,.0f} ns", "", "—", "—", "—", None),
    ]


# ---------------------------------------------------------------------------------------- latency


def measure_latency() -> list[Line]:
    """p50 / p99 of frame receipt -> decision at the server's own pace, after the books synced:
    one symbol (the path alone) and 20 (all frames of a tick arrive at once and queue)."""
    lines = []
    for count in LATENCY_LOADS:
        symbols = [f"L{i:02d}USDT" for i in range(count)]
        feed, stop = Feed(), threading.Event()
        with server(symbols, tick_s=LATENCY_TICK_S) as endpoints:
            thread = threading.Thread(target=run_stream, args=(symbols, endpoints, feed, stop))
            thread.start()
            time.sleep(LATENCY_WARMUP_S)
            before, frames_before = feed.latency(), feed.stats.frames
            time.sleep(LATENCY_RUN_S)
            after, frames_after = feed.latency(), feed.stats.frames
            stop.set()
            thread.join()
        hist = [a - b for a, b in zip(after, before, strict=True)]
        p50, p99 = percentile_ns(hist, 0.5) / 1000, percentile_ns(hist, 0.99) / 1000
        load = (frames_after - frames_before) / LATENCY_RUN_S
        area = f"tick-to-decision, {count} symbol{'s' if count > 1 else ''} at {rate(load)} frames"
        lines += [
            Line(area, "p50", f"{p50:,.0f} µs", "", "—", "—", "—", None),
            Line(
                area,
                "p99",
                f"{p99:,.0f} µs",
                "",
                "—",
                "—",
                f"<= {TARGET_P99_US:.0f} µs",
                p99 <= TARGET_P99_US,
            ),
        ]
    return lines


# ---------------------------------------------------------------------------------------- memory


def _day(
    symbol: str, seed: int, hours: int, samples: list[tuple[int, float]] | None
) -> Iterator[MarketEvent]:
    """A symbol's simulated `hours`: an L2 snapshot of 20 levels a side, then a trade and a diff every
    RSS_STEP_S. The book follows a random-walk mid and keeps 20 levels a side (the diff deletes the
    level that falls out), so the true state is bounded and any growth of the process is fx's."""
    rng = random.Random(seed)
    mid = rng.randint(5_000, 50_000)  # in ticks of 0.01
    bids = {mid - k: float(rng.randint(1, 500)) for k in range(1, 21)}
    asks = {mid + k: float(rng.randint(1, 500)) for k in range(1, 21)}
    version = 1

    def levels(book: dict[int, float], best_first: bool) -> list[tuple[float, float]]:
        return [(t / 100, q) for t, q in sorted(book.items(), reverse=best_first)]

    yield BookSnapshot(T0_NS, T0_NS, symbol, levels(bids, True), levels(asks, False), version, "rest")
    step_ns = int(RSS_STEP_S * NS_PER_S)
    next_hour = 1
    for i in range(1, int(hours * 3600 / RSS_STEP_S) + 1):
        ts = T0_NS + i * step_ns
        if samples is not None and ts >= T0_NS + next_hour * 3600 * NS_PER_S:
            samples.append((next_hour, rss_mb()))
            next_hour += 1
        mid += rng.choice((-1, 0, 0, 1))
        side = rng.choice((1, -1))
        yield Trade(ts, ts + NS_PER_MS, symbol, (mid + side) / 100, rng.randint(1, 1000) / 100, side, i)
        changed_bids: dict[int, float] = {}
        changed_asks: dict[int, float] = {}
        for book, changed, lo, hi in (
            (bids, changed_bids, mid - 20, mid - 1),
            (asks, changed_asks, mid + 1, mid + 20),
        ):
            for t in [t for t in book if not lo <= t <= hi]:
                del book[t]
                changed[t] = 0.0
            for t in range(lo, hi + 1):
                if t not in book:
                    book[t] = changed[t] = float(rng.randint(1, 500))
        tick = rng.choice(list(bids) + list(asks))
        target, changed = (bids, changed_bids) if tick in bids else (asks, changed_asks)
        target[tick] = changed[tick] = float(rng.randint(1, 500))
        version += 1
        yield BookDelta(
            ts + NS_PER_MS,
            ts + 2 * NS_PER_MS,
            symbol,
            [(t / 100, q) for t, q in changed_bids.items()],
            [(t / 100, q) for t, q in changed_asks.items()],
            version,
            version,
        )


def memory_in_a_fresh_process(symbols: int, hours: int) -> list[Line]:
    """`measure_memory` in a child process: the RSS of a fresh `fx stream`, not of this bench."""
    args = [sys.executable, __file__, "--memory-child", "--symbols", str(symbols), "--hours", str(hours)]
    child = subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=True)
    lines = []
    for text in child.stdout.splitlines():
        if text.startswith("{"):
            lines.append(Line(**json.loads(text)))
        else:
            print(text)
    return lines


def measure_memory(symbols: int, hours: int) -> list[Line]:
    """RSS through `hours` simulated hours of `symbols` symbols with every shipped variant."""
    spec = load_strategy(REPO / "strategies" / "pump_rider.toml")
    catalog = load_folder(REPO / "variants")
    indicators: list[tuple[str, str, IndicatorParams]] = [
        (v.name, v.indicator, v.indicator_params()) for v in catalog.variants()
    ]
    names = {name for name, _, _ in indicators}
    indicators += [i for i in resolve_indicators(spec, REPO / "variants") if i[0] not in names]
    samples: list[tuple[int, float]] = []
    streams = {
        f"M{i:03d}USDT": _day(f"M{i:03d}USDT", i, hours, samples if i == 0 else None) for i in range(symbols)
    }
    feed = Feed()
    start_rss = rss_mb()
    start = time.perf_counter()
    with Path(os.devnull).open("w") as devnull, screen(feed, headless=True, out=devnull):
        report = run_events(spec, indicators, streams, Options(), feed)
    seconds = time.perf_counter() - start
    samples.append((hours, rss_mb()))
    peak = max(mb for _, mb in samples)
    at2 = next((mb for h, mb in samples if h == 2), samples[0][1])
    growth = samples[-1][1] - at2
    hourly = " ".join(f"{h}h:{mb:.0f}" for h, mb in samples if h in (1, 2, 6, 12, 18, hours))
    print(
        f"  memory run: {report.events:,} events of {symbols} symbols x {len(indicators)} indicators in "
        f"{seconds:.0f} s ({rate(report.events / seconds)}); RSS before {start_rss:.0f} MB, {hourly} MB"
    )
    area = f"RSS, {symbols} symbols, {len(indicators)} indicators, {hours} simulated hours"
    return [
        Line(
            area, "peak", f"{peak:.0f} MB", "", "—", "—", f"<= {TARGET_RSS_MB:.0f} MB", peak <= TARGET_RSS_MB
        ),
        Line(
            area,
            "growth after hour 2",
            f"{growth:+.1f} MB",
            "",
            "—",
            "—",
            f"flat (<= {TARGET_FLAT_MB:.0f} MB)",
            growth <= TARGET_FLAT_MB,
        ),
    ]


# ---------------------------------------------------------------------------------------- main


RATIO_LEGEND = (
    "ratio: decode = pydantic time / fx time; ingest = fx frames/s / count-only frames/s (>1: fx faster)"
)
# The legend goes under the README table only; the console's ratio column has no heading.
LAYOUT = Layout(
    RATIO_LEGEND,
    fx_width=10,
    peer_name_width=0,
    peer_width=0,
    ratio_width=0,
    ratio_heading="",
    script="bench/live.py",
    not_met="NOT met",
    is_legend_on_console=False,
)


def parse_args() -> argparse.Namespace:
    """Sizes for a quick run; `--serve` is the fake server's child-process mode."""
    parser = argument_parser(__doc__)
    parser.add_argument("--frames", type=int, default=FRAMES, help=f"ingest frames (default {FRAMES:,})")
    parser.add_argument("--symbols", type=int, default=RSS_SYMBOLS, help="symbols of the memory run")
    parser.add_argument("--hours", type=int, default=RSS_HOURS, help="simulated hours of the memory run")
    parser.add_argument("--only", choices=("ingest", "decode", "latency", "memory"), help="one measure")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--blast", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tick-s", type=float, default=0.02, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Measure everything, print the figures, then the README block."""
    args = parse_args()
    if args.serve:
        asyncio.run(serve(args.serve.split(","), args.blast, args.tick_s))
        return
    if args.memory_child:
        for line in measure_memory(args.symbols, args.hours):
            print(json.dumps(dataclasses.asdict(line)), flush=True)
        return
    run = Run(LAYOUT)
    lines: list[Line] = []
    if args.only in (None, "decode"):
        lines += measure_decode()
    if args.only in (None, "ingest"):
        lines += measure_ingest(args.frames)
    if args.only in (None, "latency"):
        lines += measure_latency()
    if args.only in (None, "memory"):
        lines += memory_in_a_fresh_process(args.symbols, args.hours)
    run.finish(lines)


if __name__ == "__main__":
    main()
