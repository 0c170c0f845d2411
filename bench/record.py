"""`fx record` against the fake MEXC venue: frames/s sustained and CPU per frame, vs a bare client.

The fake venue runs in its own process (tests/fake_mexc, spot protocol, protobuf pushes). Two
clients record the same load in turn for the same time:

- peer: a bare `websockets` loop that subscribes the same channels and only counts frames (the
  floor: what receiving alone costs in Python);
- fx: `fx record --headless` (raw log, decoding, book sync, Parquet store, manifests).

"Sustained" means the venue never had to drop the client (its send queue stayed below 5,000
frames) and the recorder reported no disconnect gap. CPU is the child's user+system time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("FX_BENCH_SECONDS", "8"))  # measured, after warm-up
# (symbols, market tick in s, --table-flush-s): the venue makes a trade and a depth diff per symbol per tick
LOADS = [(30, 0.01, 1.0), (60, 0.01, 1.0), (60, 0.01, 10.0), (120, 0.01, 1.0), (120, 0.01, 10.0)]

VENUE = """
import asyncio, json, sys
from tests.fake_mexc import FakeMexc, Venue
symbols, tick_s, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
async def main():
    names = [f"S{i}USDT" for i in range(symbols)]
    async with FakeMexc(Venue.SPOT, names, tick_s=tick_s, max_lifetime_s=seconds + 180) as venue:
        print(json.dumps({"ws": venue.endpoints.ws_url, "rest": venue.endpoints.rest_url}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        dropped = sum(1 for c in venue.clients.values() if c.closed and c.close_code in (None, 1006))
        sent = sum(len(v) for v in venue.sent_to.values())
        print(json.dumps({"dropped": dropped, "trades_sent": sent}), flush=True)
asyncio.run(main())
"""

BARE = """
import asyncio, json, sys, time
from websockets.asyncio.client import connect
from fxcli.exchange.adapter import Kind
from fxcli.exchange.connection import assign, plan_channels
from fxcli.exchange.mexc_spot import MexcSpot
url, symbols, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
spot = MexcSpot()
channels = plan_channels(spot, [f"S{i}USDT" for i in range(symbols)], [Kind.TRADES, Kind.DEPTH])
frames = 0
async def one(chans):
    global frames
    async with connect(url, ping_interval=None, max_size=1 << 20) as ws:
        for i in range(0, len(chans), 15):
            await ws.send(spot.subscribe(chans[i : i + 15], i + 1))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                await asyncio.wait_for(ws.recv(), 1.0)
                frames += 1
            except TimeoutError:
                pass
async def report():
    while True:
        await asyncio.sleep(1.0)
        print(json.dumps({"event": "stats", "frames": frames}), flush=True)
async def main():
    reporter = asyncio.create_task(report())
    await asyncio.gather(*(one(s) for s in assign(channels, 30)))
    reporter.cancel()
asyncio.run(main())
"""


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def last_stats(out: Path) -> dict[str, Any]:
    stats = [json.loads(x) for x in out.read_text().splitlines() if '"event":"stats"' in x.replace(" ", "")]
    return stats[-1] if stats else {}


def frames_so_far(out: Path) -> int:
    return int(last_stats(out).get("frames", 0))


def steady(proc: subprocess.Popen[bytes], out: Path, symbols: int) -> tuple[float, int, float]:
    """CPU seconds (all threads) and frames over SECONDS once warm, and the wall time.

    Warm: 2.5 s after start, and for fx every book synced (REST snapshots come at 5/s, so 120
    symbols take 24 s; before that their diffs are only buffered and the recorder does less).
    """
    time.sleep(2.5)
    started = time.monotonic()
    while last_stats(out).get("books_synced", symbols) < symbols and time.monotonic() - started < 90:
        time.sleep(0.5)
    cpu0, frames0, t0 = cpu_s(proc.pid), frames_so_far(out), time.monotonic()
    time.sleep(SECONDS)
    cpu1, frames1, t1 = cpu_s(proc.pid), frames_so_far(out), time.monotonic()
    return cpu1 - cpu0, frames1 - frames0, t1 - t0


def start_venue(symbols: int, tick_s: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    venue = subprocess.Popen(
        [sys.executable, "-c", VENUE, str(symbols), str(tick_s), str(SECONDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert venue.stdout is not None
    return venue, json.loads(venue.stdout.readline())


def stop_venue(venue: subprocess.Popen[str]) -> dict[str, Any]:
    assert venue.stdin is not None
    assert venue.stdout is not None
    venue.stdin.write("\n")
    venue.stdin.flush()
    result: dict[str, Any] = json.loads(venue.stdout.readline())
    venue.wait(10)
    return result


def measure(args: list[str], symbols: int, tick_s: float, with_urls: bool) -> dict[str, Any]:
    """Run one client against a fresh venue; its stats lines (cumulative frames) go to a file."""
    venue, where = start_venue(symbols, tick_s)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.jsonl"
        urls = (
            ["--ws-url", where["ws"], "--rest-url", where["rest"], "--data-dir", folder] if with_urls else []
        )
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [*args, *(urls or [where["ws"], str(symbols), str(SECONDS)])],
                stdout=sink,
                stderr=subprocess.DEVNULL,
                cwd=REPO,
            )
            cpu, frames, wall = steady(proc, out, symbols)
            proc.send_signal(2)
            proc.wait(60)
        lines = [json.loads(x) for x in out.read_text().splitlines() if x.startswith("{")]
    stats = [x for x in lines if x.get("event") == "stats"]
    last = stats[-1] if stats else {}
    return {
        "frames_per_s": frames / wall,
        "us_per_frame": cpu / max(frames, 1) * 1e6,
        "cpu_share": cpu / wall,
        "disconnect_gaps": last.get("gaps", {}).get("disconnect", 0),
        "overflow_rows": last.get("overflow_rows", 0),
        **stop_venue(venue),
    }


def main() -> None:
    print(f"fx record vs a bare websockets client, {SECONDS:g} s per run, fake venue in its own process")
    print(
        f"{'symbols':>7} {'tables':>6} | {'fx frames/s':>11} {'us/frame':>8} {'cpu':>5} {'sustained':>9} | "
        f"{'bare frames/s':>13} {'us/frame':>8} | {'ratio':>5}"
    )
    names = [f"S{i}USDT" for i in range(max(n for n, _, _ in LOADS))]
    for symbols, tick_s, table_flush_s in LOADS:
        bare = measure([sys.executable, "-c", BARE], symbols, tick_s, with_urls=False)
        fx_args = [sys.executable, "-m", "fxcli", "record", "-e", "mexc-spot"]
        fx_args += ["--symbols", ",".join(names[:symbols]), "--table-flush-s", str(table_flush_s)]
        fx = measure([*fx_args, "--headless", "--stats-s", "1"], symbols, tick_s, with_urls=True)
        sustained = fx["dropped"] == 0 and fx["disconnect_gaps"] == 0 and fx["overflow_rows"] == 0
        ratio = fx["us_per_frame"] / bare["us_per_frame"]
        fx_part = f"{fx['frames_per_s']:>11,.0f} {fx['us_per_frame']:>8.1f} {fx['cpu_share']:>5.0%}"
        bare_part = f"{bare['frames_per_s']:>13,.0f} {bare['us_per_frame']:>8.1f}"
        yes = "yes" if sustained else "NO"
        print(f"{symbols:>7} {table_flush_s:>5g}s | {fx_part} {yes:>9} | {bare_part} | {ratio:>4.1f}x")


if __name__ == "__main__":
    main()
