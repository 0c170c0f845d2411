"""`fx record` against the fake MEXC venue (CPU per frame vs a bare client), and a simulated hour of
table flushes through the store writer (cost per flush early and late in the hour, vs the old rewrite).

Part 1, end to end (`--part e2e`):

The fake venue runs in its own process (tests/fake_mexc, spot protocol, protobuf pushes). Two
clients record the same load in turn for the same time:

- peer: a bare `websockets` loop that subscribes the same channels and only counts frames (the
  floor: what receiving alone costs in Python);
- fx: `fx record --headless` (raw log, decoding, book sync, Parquet store, manifests).

"Sustained" means the venue never had to drop the client (its send queue stayed below 5,000
frames) and the recorder reported no disconnect gap. CPU is the child's user+system time.

Part 2, a simulated hour (`--part hour`): the real `StoreWriter` gets what `fx record` submits over
one UTC hour at `--table-flush-s 1` for 150 symbols: 3,600 rounds, each with every symbol's new
trades and book-delta rows of that second (hour-correct exchange times; 10 % of the symbols
liquid, ~200 delta rows/s or ~0.7M an hour, 30 % medium, 60 % quiet) and now and then a 20-level
snapshot, as fast as the writer goes (one round per flush: submit, then wait until written). It
prints the writer's CPU (the process, all threads) and wall time per flush over the first and the
last ten minutes and their ratio (target <= 1.2: append cost must not grow with the hour), and
the compaction at close. The peer, in the same run, is the previous scheme (each flush read the
whole hour file, appended, re-encoded and renamed it): at a few flushes in each window every
symbol's grown hour is written as one file and that flush's append is timed the old way.
`--symbols/--flushes` shorten it.
"""

from __future__ import annotations

import argparse
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


# ------------------------------------------------------------------------------ part 2: an hour

HOUR_NS = 1_723_118_400 * 10**9  # 2024-08-08T12:00:00Z: a past hour, so closing the writer compacts it
WINDOW_FLUSHES = 600  # ten minutes of 1 s flushes
# (share of symbols, trades per s, depth pushes per s, levels per push): liquid, medium, quiet
TIERS = [(0.1, 8.0, 10.0, 40), (0.3, 2.0, 5.0, 20), (0.6, 0.3, 2.0, 5)]  # a push changes 1..levels levels
SNAPSHOT_EVERY_S = 600  # a resync's REST snapshot per symbol, on average
SNAPSHOT_LEVELS = 20


class Flow:
    """One simulated symbol: its rates, and the running version and price of its book."""

    def __init__(self, index: int, symbols: int, rng: Any) -> None:
        share, edge, tier = index / symbols, 0.0, TIERS[-1]
        for candidate in TIERS:
            edge += candidate[0]
            if share < edge:
                tier = candidate
                break
        _, trades_s, pushes_s, levels = tier
        self.name = f"S{index}USDT"
        self.trades_s, self.pushes_s, self.levels = trades_s, pushes_s, levels
        self.version = 1_000_000
        self.price = 100.0 + index
        self.rng = rng

    def second(self, at_ns: int) -> list[tuple[str, Any]]:
        """This symbol's batches for the flush of the second starting at `at_ns`."""
        import numpy as np
        import polars as pl

        rng, out = self.rng, []
        n = int(rng.poisson(self.trades_s))
        if n:
            ts = at_ns + np.sort(rng.integers(0, 10**9, n))
            out.append(
                (
                    "trades",
                    pl.DataFrame(
                        {
                            "exchange_ts_ns": ts,
                            "received_ts_ns": ts + rng.integers(5, 50, n) * 10**6,
                            "price": np.round(self.price * (1 + rng.normal(0, 1e-4, n)), 4),
                            "qty": np.round(rng.exponential(0.5, n), 3),
                            "side": rng.choice(np.array([1, -1], dtype=np.int8), n),
                            "trade_id": pl.Series([None] * n, dtype=pl.Int64),
                        }
                    ),
                )
            )
        pushes = int(rng.poisson(self.pushes_s))
        if pushes:
            per = rng.integers(1, self.levels + 1, pushes)
            rows = int(per.sum())
            push_ts = at_ns + np.sort(rng.integers(0, 10**9, pushes))
            versions = self.version + np.arange(1, pushes + 1)
            self.version += pushes
            ts = np.repeat(push_ts, per)
            out.append(
                (
                    "book_deltas",
                    pl.DataFrame(
                        {
                            "exchange_ts_ns": ts,
                            "received_ts_ns": ts + 20 * 10**6,
                            "from_version": np.repeat(versions, per),
                            "to_version": np.repeat(versions, per),
                            "side": rng.choice(np.array([1, -1], dtype=np.int8), rows),
                            "price": np.round(self.price + rng.integers(-50, 50, rows) * 0.01, 4),
                            "qty": np.where(
                                rng.random(rows) < 0.3, 0.0, np.round(rng.exponential(2, rows), 3)
                            ),
                        }
                    ),
                )
            )
        if rng.random() < 1 / SNAPSHOT_EVERY_S:
            levels = np.tile(np.arange(SNAPSHOT_LEVELS, dtype=np.int16), 2)
            sides = np.repeat(np.array([1, -1], dtype=np.int8), SNAPSHOT_LEVELS)
            out.append(
                (
                    "book_snapshots",
                    pl.DataFrame(
                        {
                            "exchange_ts_ns": [at_ns + 500_000_000] * len(levels),
                            "received_ts_ns": [at_ns + 520_000_000] * len(levels),
                            "version": [self.version] * len(levels),
                            "source": ["rest"] * len(levels),
                            "side": sides,
                            "level": levels,
                            "price": self.price - sides * (levels + 1) * 0.01,
                            "qty": np.round(rng.exponential(2, len(levels)), 3),
                            "ts_estimated": [False] * len(levels),
                        }
                    ),
                )
            )
        return out


def old_append(path: Path, frame: Any, spec: Any) -> None:
    """What the previous writer did per (symbol, table) and flush: read the whole hour file, append,
    re-encode, fsync, rename, fsync the folder, load and save the manifest."""
    import polars as pl

    from fxcli.outfile import fsync_folder
    from fxcli.store import manifest
    from fxcli.store.encoding import encode_parquet, write_durably

    merged = pl.concat([pl.read_parquet(path), frame])
    payload = encode_parquet(merged, spec)
    tmp = path.with_name(f".{path.name}{manifest.TMP_MARK}{os.getpid()}")
    write_durably(payload, tmp)
    tmp.replace(path)
    book = manifest.load(path.parent)
    fsync_folder(path.parent)
    manifest.save(path.parent, book)


def time_old_flush(root: Path, old_root: Path, batches: list[Any]) -> tuple[float, float]:
    """CPU and wall seconds of one flush the old way, on hour files grown to what `root` holds."""
    from concurrent.futures import ThreadPoolExecutor

    from fxcli.store.encoding import encode_parquet
    from fxcli.store.reader import StoreReader
    from fxcli.store.schema import SPECS

    reader, jobs = StoreReader(root), []
    for batch in batches:  # the grown hour as one file, as the old writer kept it (not timed)
        spec = SPECS[batch.table]
        path = old_root / batch.symbol / batch.table.value / "hour.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        grown = reader.scan(batch.exchange, batch.symbol, batch.table).collect()
        path.write_bytes(encode_parquet(grown, spec))
        jobs.append((path, SPECS[batch.table].conform(batch.frame), spec))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # as the old writer did
        list(pool.map(lambda job: old_append(*job), jobs))
    return time.process_time() - cpu0, time.perf_counter() - wall0


def simulate_hour(symbols: int, flushes: int, old_samples: int) -> None:
    """Part 2: one hour of 1 s table flushes of `symbols` symbols through the real StoreWriter."""
    import shutil

    import numpy as np

    from fxcli.store.schema import Table
    from fxcli.store.writer import StoreWriter, WriteBatch

    window = min(WINDOW_FLUSHES, flushes // 3)
    first, last = range(window), range(flushes - window, flushes)
    samples = {w[len(w) * (i + 1) // (old_samples + 1)] for w in (first, last) for i in range(old_samples)}
    print(
        f"\nsimulated hour: {symbols} symbols, {flushes} flushes of 1 s, windows of {window} flushes; "
        f"the old rewrite timed at flushes {sorted(samples)}"
    )
    rng = np.random.default_rng(20_261_206)
    flows = [Flow(i, symbols, rng) for i in range(symbols)]
    work = REPO / "bench" / ".work"
    work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="record-hour-", dir=work))
    costs: list[tuple[float, float, int]] = []  # per flush: cpu s, wall s, rows
    old: dict[int, tuple[float, float]] = {}
    started = time.perf_counter()
    try:
        writer = StoreWriter(folder / "store", max_queue=symbols * 3 + 8)
        for flush in range(flushes):
            at_ns = HOUR_NS + flush * 10**9
            batches = [
                WriteBatch("mexc-spot", flow.name, Table(table), frame, append=True)
                for flow in flows
                for table, frame in flow.second(at_ns)
            ]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for batch in batches:
                writer.submit(batch, block=True)
            writer.drain()
            costs.append(
                (
                    time.process_time() - cpu0,
                    time.perf_counter() - wall0,
                    sum(b.frame.height for b in batches),
                )
            )
            if flush in samples:
                old[flush] = time_old_flush(folder / "store", folder / "old", batches)
                shutil.rmtree(folder / "old")
            if flush % 300 == 299:
                print(f"  flush {flush + 1}: {time.perf_counter() - started:,.0f} s so far", flush=True)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        writer.close()  # the hour is over by the clock: compacted here
        close_cpu, close_wall = time.process_time() - cpu0, time.perf_counter() - wall0
        files = sum(1 for _ in (folder / "store").rglob("*.parquet"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def mean(flush_range: range, at: int) -> float:
        return sum(costs[i][at] for i in flush_range) / len(flush_range)

    def old_mean(flush_range: range, at: int) -> float:
        picked = [old[i][at] for i in flush_range if i in old]
        return sum(picked) / len(picked) if picked else float("nan")

    rows = sum(c[2] for c in costs)
    print(
        f"rows written: {rows:,} ({rows / flushes:,.0f} per flush); "
        f"wall {time.perf_counter() - started:,.0f} s"
    )
    print(f"{'per flush':<26} | {'first 10 min':>12} | {'last 10 min':>11} | {'last/first':>10}")
    for name, at in (("fx parts: CPU ms", 0), ("fx parts: wall ms", 1)):
        a, b = mean(first, at), mean(last, at)
        print(f"{name:<26} | {a * 1000:>12.1f} | {b * 1000:>11.1f} | {b / a:>9.2f}x")
    for name, at in (("old rewrite: CPU ms", 0), ("old rewrite: wall ms", 1)):
        a, b = old_mean(first, at), old_mean(last, at)
        print(f"{name:<26} | {a * 1000:>12.1f} | {b * 1000:>11.1f} | {b / a:>9.2f}x")
    fx_last, old_last = mean(last, 0), old_mean(last, 0)
    print(
        f"last 10 min, CPU per flush: old / fx = {old_last / fx_last:.1f}x (target for fx: last/first <= 1.2)"
    )
    print(
        f"close (compacts the hour into one file per table): CPU {close_cpu:.1f} s, "
        f"wall {close_wall:.1f} s; {files} files left"
    )


def run_e2e() -> None:
    """Part 1: `fx record --headless` against a bare client, CPU per frame."""
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


def main() -> None:
    """Run the parts asked for (both by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=["e2e", "hour", "both"], default="both")
    parser.add_argument("--symbols", type=int, default=150, help="simulated hour: symbols (default 150)")
    parser.add_argument(
        "--flushes", type=int, default=3600, help="simulated hour: 1 s flushes (default 3600)"
    )
    parser.add_argument("--old-samples", type=int, default=3, help="flushes per window timed the old way")
    args = parser.parse_args()
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.part in ("e2e", "both"):
        run_e2e()
    if args.part in ("hour", "both"):
        simulate_hour(args.symbols, args.flushes, args.old_samples)


if __name__ == "__main__":
    main()
