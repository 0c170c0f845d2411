"""The fault soak of the live path: fx record and fx stream --record against one fake venue that does
everything a bad day on MEXC does, then the store is held to its promises.

Faults, in order: REST answers 300 ms late throughout; REST 503s with a dropped TCP connection;
subscriptions refused or answered late at a forced rotation; a version jump whose resync meets
crossed snapshots; a kill -9 of fx record and a restart; a server restart (close 1001). Then, for
both recordings:

- every trade the venue made is stored or lies inside a Gap row;
- the book replayed from the store equals the venue's book at every checkpoint outside gaps;
- no `writer_overflow`;
- and the live decisions of fx stream equal `fx backtest --compare-stream` over what it recorded:
  the session's transitions and trades, row for row, and the backtest's own stream replay.

The suite runs a reduced version (`FX_SOAK=full` or `make soak`: 60 symbols for three minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fxcli.store.schema import Table
from tests.conftest import run_fx
from tests.fake_mexc import FakeMexc
from tests.live.store_check import check_book, missed_trades
from tests.live.test_record import start_recorder, table
from tests.live.test_stream import VARIANTS, FxStream, fake_venue

STRATEGY = """\
schema = 1
description = "Trades the fake venue's wiggles all the time: entries need the book, exits do not."
side = "long"
signal_timeout_s = 2
cooldown_s = 0.5

[sizing]
base_position_pct = 5

[exits]
sl_buffer_pct = 50
tp_pct = 50

[[s1]]
indicator = "momentum_1s"
op = "gt"
value = 0

[[z1]]
indicator = "imbalance_5"
op = "between"
min = -1
max = 1

[[ze1]]
indicator = "momentum_1s"
op = "lt"
value = 0
"""

COSTS = ("--balance", "10000", "--fee-bps", "10", "--latency-ms", "50", "--slippage-bps", "5")


@dataclass(frozen=True)
class Scale:
    symbols: int
    seconds: float
    tick_s: float


SCALE = Scale(60, 180.0, 0.1) if os.environ.get("FX_SOAK") == "full" else Scale(12, 36.0, 0.05)


def on_venue(loop: asyncio.AbstractEventLoop, action: Callable[[], object]) -> None:
    """Run a fault on the venue's own loop (awaiting it when it is a coroutine)."""

    async def act() -> None:
        result = action()
        if asyncio.iscoroutine(result):
            await result

    asyncio.run_coroutine_threadsafe(act(), loop).result(10)


async def checkpoints(venue: FakeMexc) -> None:
    while True:
        venue.checkpoint()
        await asyncio.sleep(0.25)


def check_recording(venue: FakeMexc, data_dir: Path, exchange: str = "mexc-spot") -> dict[str, Any]:
    """The store's promises for every symbol of one recording; returns what was checked."""
    seen: dict[str, Any] = {"trades": 0, "checkpoints": 0, "gaps": 0}
    for symbol in venue.markets:
        made, missed = missed_trades(venue, data_dir, exchange, symbol)
        assert missed == [], (
            f"{data_dir.name} {symbol}: {len(missed)} of {made} trades neither stored nor in a gap"
        )
        book = check_book(data_dir, exchange, symbol, venue.checkpoints[symbol])
        assert book.mismatches == [], f"{data_dir.name} {symbol}: {book.mismatches[:3]}"
        assert book.broken == 0, f"{data_dir.name} {symbol}: {book.broken} stored diffs broke the book"
        gaps = table(data_dir, exchange, symbol, Table.GAPS)
        assert "writer_overflow" not in gaps["reason"].to_list()
        seen["trades"] += made
        seen["checkpoints"] += book.checked
        seen["gaps"] += gaps.height
    return seen


def parquet(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(folder / name)


@pytest.mark.soak
@pytest.mark.slow
def test_live_path_under_faults_keeps_every_promise(tmp_path: Path) -> None:
    symbols = [f"S{i}USDT" for i in range(SCALE.symbols)]
    (tmp_path / "strategies").mkdir()
    (tmp_path / "variants").mkdir()
    (tmp_path / "strategies" / "soak.toml").write_text(STRATEGY)
    (tmp_path / "variants" / "soak.toml").write_text(VARIANTS)
    recorded, streamed, out = tmp_path / "recorded", tmp_path / "streamed", tmp_path / "results"
    rotate_s = f"{SCALE.seconds * 0.4:g}"
    d = SCALE.seconds
    with fake_venue(symbols, tick_s=SCALE.tick_s, lifetime_s=d * 3 + 60) as (venue, loop):
        venue.snapshot_delay_s = 0.3  # every REST answer comes 300 ms after its snapshot was taken
        ticking: Future[None] = asyncio.run_coroutine_threadsafe(checkpoints(venue), loop)
        log = tmp_path / "record.jsonl"
        recorder = start_recorder(venue, recorded, log, "--flush-s", "0.5", "--rotate-after-s", rotate_s)
        stream = FxStream(
            tmp_path,
            "soak",
            "--symbols",
            ",".join(symbols),
            "--headless",
            "--every",
            "1",
            "--ws-url",
            venue.endpoints.ws_url,
            "--rest-url",
            venue.endpoints.rest_url,
            "--record",
            "--data-dir",
            str(streamed),
            "--out",
            str(out),
            "--rotate-after-s",
            rotate_s,
            *COSTS,
        )
        start = time.monotonic()

        def at(fraction: float) -> None:
            time.sleep(max(0.0, start + fraction * d - time.monotonic()))

        at(0.15)
        venue.rest_failure_status = HTTPStatus.SERVICE_UNAVAILABLE
        on_venue(loop, lambda: setattr(venue, "rest_failures", 2 * len(symbols)))
        on_venue(loop, lambda: venue.disconnect_all(None))  # TCP dropped: every book resyncs through 503s
        at(0.35)
        on_venue(loop, lambda: venue.block("S1USDT", times=4))  # refused at the rotations to come
        on_venue(loop, lambda: venue.ack_late("S3USDT", 1.5, times=4))  # ...and answered late
        at(0.5)
        on_venue(loop, lambda: venue.cross_next_snapshots("S2USDT", 2))
        on_venue(loop, lambda: venue.skip_next_diff("S2USDT"))  # a jump; its resync meets crossed books
        at(0.6)
        recorder.kill()  # kill -9
        killed = recorder.wait(10)
        at(0.65)
        recorder = start_recorder(venue, recorded, log, "--flush-s", "0.5", "--rotate-after-s", rotate_s)
        at(0.8)
        on_venue(loop, lambda: venue.disconnect_all(1001))  # a server restart
        at(1.0)
        recorder.send_signal(signal.SIGINT)
        stream.proc.send_signal(signal.SIGINT)
        record_code = recorder.wait(30)
        stream_code, stream_err = stream.stop(signal.SIGINT)
        ticking.cancel()
        on_venue(loop, venue.pause)

        # The faults really happened, in one process or the other.
        events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        notes = [(d["kind"], d.get("detail", "")) for d in stream.docs if d["type"] == "status"]
        rotated = [e for e in events if e["event"] == "disconnected" and e["reason"] == "rotated"]
        assert rotated or any(kind == "disconnected" and " rotated " in text for kind, text in notes)
        assert any(e["event"] == "rejected" for e in events) or any(kind == "rejected" for kind, _ in notes)
        assert killed == -signal.SIGKILL
        assert record_code == 0, log.with_suffix(".err").read_text()[-3000:]
        assert stream_code == 0, stream_err[-3000:]
        for data_dir in (recorded, streamed):
            seen = check_recording(venue, data_dir)
            # Enough happened to prove something: book checkpoints for every symbol many times over
            # (a loaded 2-core machine writes ~10 per symbol in the reduced run, an idle one more).
            assert seen["checkpoints"] > 5 * len(symbols), seen
            print(f"\n{data_dir.name}: {seen}")

    summary = stream.docs[-1]
    assert summary["type"] == "summary"
    session = Path(summary["out_dir"])
    backtest = run_fx(
        "backtest",
        "soak",
        "--symbols",
        ",".join(symbols),
        "--data-dir",
        str(streamed),
        "--strategies-dir",
        str(tmp_path / "strategies"),
        "--variants-dir",
        str(tmp_path / "variants"),
        "--out",
        str(tmp_path / "backtests"),
        "--allow-gaps",
        "--compare-stream",
        "--no-chart",
        "--json",
        *COSTS,
        cwd=tmp_path,
    )
    assert backtest.returncode == 0, backtest.stderr[-3000:]
    report = json.loads(backtest.stdout)
    assert report["compare_stream"]["agree"], report["compare_stream"]["message"]
    folder = Path(report["out_dir"])
    decided = 0
    for symbol in symbols:
        live, replayed = (
            parquet(session / symbol, "transitions.parquet"),
            parquet(folder / symbol, "transitions.parquet"),
        )
        assert live.equals(replayed), f"{symbol}: the live session decided differently from its recording"
        assert parquet(session / symbol, "trades.parquet").equals(parquet(folder / symbol, "trades.parquet"))
        decided += live.height
    assert decided > 5 * len(symbols)  # the strategy really traded through the faults
