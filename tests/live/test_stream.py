"""`fx stream` live against the fake MEXC venue: a real subprocess, real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fake_mexc import FakeMexc, Venue, frames
from tests.fake_mexc.market import Diff, SymbolMarket, now_ms

Doc = dict[str, Any]

VARIANTS = """\
schema = 1

[momentum_1s]
indicator = "PRICE_MOMENTUM"
type = "GENERAL"
description = "Price change over the last second, in % per second."
params = { window = [1, 0] }

[imbalance_5]
indicator = "BOOK_IMBALANCE"
type = "GENERAL"
description = "Bid minus ask quantity over the best 5 levels: known only once the L2 book is."
params = { levels = 5 }
"""

STRATEGY = """\
schema = 1
description = "Long a pump of the fake venue; out when it stalls. Entry needs the L2 book."
side = "long"
signal_timeout_s = 30
cooldown_s = 60

[sizing]
base_position_pct = 40   # 4,000 USDT of a 10,000 balance: a walk over a few of the fake's levels
max_notional = 100000

[exits]
sl_buffer_pct = 50
tp_pct = 50

[[s1]]
indicator = "momentum_1s"
op = "gte"
value = 0.3

[[z1]]
indicator = "imbalance_5"
op = "between"
min = -1
max = 1

[[ze1]]
indicator = "momentum_1s"
op = "lte"
value = 0.05
"""


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """A strategies and a variants folder with the test strategy `pump_test`."""
    return strategy_folders(tmp_path, STRATEGY, VARIANTS)


def strategy_folders(root: Path, strategy: str, variants: str) -> Path:
    """`root` with a strategies folder holding `strategy` as `pump_test` and a variants folder."""
    (root / "strategies").mkdir()
    (root / "variants").mkdir()
    (root / "strategies" / "pump_test.toml").write_text(strategy)
    (root / "variants" / "test.toml").write_text(variants)
    return root


@contextmanager
def fake_venue(
    symbols: list[str], *, tick_s: float = 0.02, lifetime_s: float = 60.0
) -> Iterator[tuple[FakeMexc, asyncio.AbstractEventLoop]]:
    """The fake venue on its own event loop in a thread, for the length of the block."""
    loop = asyncio.new_event_loop()
    venue = FakeMexc(Venue.SPOT, symbols, tick_s=tick_s, max_lifetime_s=lifetime_s, max_connections=256)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(venue.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(venue.stop())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10), "the fake venue did not start"
    try:
        yield venue, loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


class FxStream:
    """`fx stream` as a user runs it, with its stdout read line by line on a thread."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fxcli", "stream", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.docs: list[Doc] = []
        self.raw: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, check: Callable[[Doc], bool], timeout_s: float, what: str) -> Doc:
        """The first JSON line (from now on) that passes `check`."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                line = ""
            if line is None or (line == "" and time.monotonic() >= deadline):
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"no {what} within {timeout_s} s; stderr: {self.close()[-2000:]}")
            if not line:
                continue
            self.raw.append(line)
            doc: Doc = json.loads(line)
            self.docs.append(doc)
            if check(doc):
                return doc

    def read_for(self, seconds: float) -> None:
        """Keep every line that arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return
            if line is None:
                return
            self.raw.append(line)
            self.docs.append(json.loads(line))

    def stop(self, sig: signal.Signals) -> tuple[int, str]:
        """Send `sig`, read the rest, return (exit code, stderr)."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        while (line := self.lines.get(timeout=10)) is not None:
            self.raw.append(line)
            self.docs.append(json.loads(line))
        return code, self.close()

    def close(self) -> str:
        """Close the pipes; returns what was written on stderr."""
        assert self.proc.stderr is not None
        assert self.proc.stdout is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return err

    def of(self, kind: str, symbol: str | None = None) -> list[Doc]:
        """Every line of one type (and symbol)."""
        return [d for d in self.docs if d["type"] == kind and symbol in (None, d.get("symbol"))]


def is_synced_snapshot(symbol: str, *indicators: str) -> Callable[[Doc], bool]:
    """A check: a snapshot of `symbol` with both sides of the book and these indicators known."""
    return lambda d: (
        d["type"] == "snapshot"
        and d["symbol"] == symbol
        and d["bid"] is not None
        and d["ask"] is not None
        and all(d["indicators"].get(n) is not None for n in indicators)
    )


def _price(market: SymbolMarket, ticks: int) -> str:
    return f"{ticks / 10**market.tick_decimals:.{market.tick_decimals}f}"


async def pump(venue: FakeMexc, symbol: str, steps: int = 50, step_s: float = 0.02) -> None:
    """Lift `symbol`'s mid by 0.05 % a step; asks the new mid reaches are deleted on the wire too, so
    the book never crosses and the client's book stays the server's."""
    market = venue.markets[symbol]
    for _ in range(steps):
        market.mid_ticks += max(1, market.mid_ticks // 2000)
        gone = [p for p in market.asks if round(float(p) * 10**market.tick_decimals) <= market.mid_ticks]
        for price in gone:
            del market.asks[price]
        fresh = [(_price(market, market.mid_ticks + k), "50.000") for k in (1, 2, 3)]
        for price, qty in fresh:
            market.asks[price] = qty
        market.version += 1
        diff = Diff(symbol, market.version, market.version, [], [(p, "0") for p in gone] + fresh, now_ms())
        await venue.send_raw([frames.spot_depth(diff)])
        await asyncio.sleep(step_s)


def base_args(venue: FakeMexc, folders: Path, *symbols: str) -> list[str]:
    return [
        "pump_test",
        "--symbols",
        ",".join(symbols),
        "--headless",
        "--every",
        "0.2",
        "--ws-url",
        venue.endpoints.ws_url,
        "--rest-url",
        venue.endpoints.rest_url,
        "--strategies-dir",
        str(folders / "strategies"),
        "--variants-dir",
        str(folders / "variants"),
        "--out",
        str(folders / "results"),
    ]


def test_stream_headless_prints_json_lines_follows_the_book_and_exits_0_on_sigint(folders: Path) -> None:
    with fake_venue(["AAAUSDT", "BBBUSDT"]) as (venue, loop):
        fx = FxStream(folders, *base_args(venue, folders, "AAAUSDT", "BBBUSDT"))
        fx.until(is_synced_snapshot("AAAUSDT"), 10.0, "a synced AAAUSDT snapshot")
        fx.until(is_synced_snapshot("BBBUSDT"), 5.0, "a synced BBBUSDT snapshot")
        loop.call_soon_threadsafe(venue.pause)
        fx.read_for(1.0)  # frames in flight land; the quiet engine shows where the market stopped
        best = {
            s: (max(float(p) for p in m.bids), min(float(p) for p in m.asks))
            for s, m in venue.markets.items()
        }
        latest = {s: fx.of("snapshot", s)[-1] for s in best}

        code, err = fx.stop(signal.SIGINT)

    assert code == 0, err
    assert {s: (d["bid"], d["ask"]) for s, d in latest.items()} == best
    kinds = {d["type"] for d in fx.docs}
    assert {"start", "status", "transition", "snapshot", "stats", "summary"} <= kinds
    assert fx.docs[0]["type"] == "start"
    assert fx.docs[0]["symbols"] == ["AAAUSDT", "BBBUSDT"]
    (summary,) = fx.of("summary")
    assert summary == fx.docs[-1]
    assert summary["ended"] == "stopped"
    assert summary["events"] == sum(v["events"] for v in summary["symbols"].values())
    assert all(v["events"] > 0 for v in summary["symbols"].values())
    assert set(summary["symbols"]) == {"AAAUSDT", "BBBUSDT"}
    assert all(fx.of("transition", s)[0]["to"] == "MONITORING" for s in ("AAAUSDT", "BBBUSDT"))
    session = Path(summary["out_dir"])
    assert (session / "summary.json").is_file()
    assert all((session / s / "transitions.parquet").is_file() for s in ("AAAUSDT", "BBBUSDT"))


def test_pump_makes_the_strategy_trade_with_paper_fills_that_walk_the_live_book(folders: Path) -> None:
    with fake_venue(["PUMPUSDT", "CALMUSDT"]) as (venue, loop):
        fx = FxStream(folders, *base_args(venue, folders, "PUMPUSDT", "CALMUSDT"))
        fx.until(is_synced_snapshot("PUMPUSDT", "momentum_1s", "imbalance_5"), 10.0, "a warm, synced book")

        # From here the book changes only by the pump: the exit walks the bids the entry saw.
        loop.call_soon_threadsafe(venue.quiet_books.add, "PUMPUSDT")
        asyncio.run_coroutine_threadsafe(pump(venue, "PUMPUSDT"), loop).result(10)
        opened = fx.until(lambda d: d["type"] == "fill" and d["action"] == "open", 5.0, "an entry fill")
        closed = fx.until(lambda d: d["type"] == "fill" and d["action"] == "close", 8.0, "an exit fill")
        code, err = fx.stop(signal.SIGTERM)

    assert code == 0, err
    assert opened["symbol"] == closed["symbol"] == "PUMPUSDT"
    for fill in (opened, closed):
        assert fill["source"] == "l2"  # the fill model walked the book built from the live diffs
        assert fill["levels"] >= 1
        assert not fill["partial"], json.dumps(fill)  # the pump's asks and the bids the entry saw
        assert fill["slippage_bps"] >= 0
    assert opened["side"] == 1
    assert closed["side"] == -1
    assert opened["notional"] == pytest.approx(4000.0)
    assert opened["price"] >= opened["expected_price"] - 1e-9  # a buy walks up from the best ask
    (trade,) = fx.of("trade", "PUMPUSDT")
    assert (trade["entry_source"], trade["exit_source"]) == ("l2", "l2")
    assert trade["exit_reason"] == "ze1"
    path = [(t["to"], t["group"]) for t in fx.of("transition", "PUMPUSDT")]
    assert path[:6] == [
        ("MONITORING", "start"),
        ("SIGNAL_DETECTED", "s1"),
        ("ENTRY_EVALUATION", "z1"),
        ("POSITION_ACTIVE", "fill"),
        ("CLOSE_ORDER_EVALUATION", "ze1"),
        ("EXITED", "fill"),
    ]
    assert fx.of("trade", "CALMUSDT") == []
    summary = fx.docs[-1]
    assert summary["type"] == "summary"
    assert summary["symbols"]["PUMPUSDT"]["trades"] == 1


def test_stream_table_mode_ends_with_the_session_summary(folders: Path) -> None:
    with fake_venue(["AAAUSDT"]) as (venue, _):
        args = [a for a in base_args(venue, folders, "AAAUSDT") if a not in ("--headless", "--every", "0.2")]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "fxcli", "stream", *args],
            cwd=folders,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)

    assert proc.returncode == 0, err
    assert "fx stream pump_test · mexc-spot · live (stopped)" in out
    assert "AAAUSDT" in out
    assert "session: " in err


def test_record_flag_records_the_venue_while_the_strategy_runs(folders: Path) -> None:
    data = folders / "data"
    with fake_venue(["AAAUSDT"]) as (venue, _):
        fx = FxStream(folders, *base_args(venue, folders, "AAAUSDT"), "--record", "--data-dir", str(data))
        fx.until(is_synced_snapshot("AAAUSDT"), 10.0, "a synced snapshot")
        fx.read_for(1.0)

        code, err = fx.stop(signal.SIGINT)
        connections, snapshots = len(venue.clients), venue.depth_requests["AAAUSDT"]

    assert code == 0, err
    assert connections == 1  # the recorder shares the stream's connection...
    assert snapshots == 1  # ...and its book
    assert any(d["kind"] == "record_started" for d in fx.of("status"))
    recorded = fx.docs[-1]["recorded"]
    assert recorded["trades"] > 0
    assert recorded["raw_files"] >= 1
    assert list((data / "mexc-spot" / "AAAUSDT" / "trades").rglob("*.parquet"))
    assert list((data / "mexc-spot" / "raw").rglob("*.jsonl.zst"))
