"""`fx stream --notify` live against the fake MEXC venue and a real webhook on 127.0.0.1: a pump's entry
and exit, a dropped connection's gap, and the day's summary when the stream is stopped."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from fxcli.ops.notify import GAP_KINDS
from tests.cli.notify_server import NotifyServer
from tests.live import test_stream as live

folders = live.folders  # the fixture: a strategies and a variants folder with `pump_test`


def test_live_stream_notifies_entry_exit_a_disconnect_gap_and_the_daily_summary(folders: Path) -> None:
    with NotifyServer() as server, live.fake_venue(["PUMPUSDT"]) as (venue, loop):
        notify = ("--notify", server.url + "/hook", "--notify-on", "entry,exit,gap,daily")
        fx = live.FxStream(folders, *live.base_args(venue, folders, "PUMPUSDT"), *notify)
        fx.until(
            live.is_synced_snapshot("PUMPUSDT", "momentum_1s", "imbalance_5"), 10.0, "a warm, synced book"
        )
        loop.call_soon_threadsafe(venue.quiet_books.add, "PUMPUSDT")
        asyncio.run_coroutine_threadsafe(live.pump(venue, "PUMPUSDT"), loop).result(10)
        fx.until(lambda d: d["type"] == "trade", 8.0, "a closed trade")
        asyncio.run_coroutine_threadsafe(venue.disconnect_all(code=None), loop).result(5)
        fx.until(lambda d: d["type"] == "status" and d["kind"] == "gap", 10.0, "the disconnect's gap")

        code, err = fx.stop(signal.SIGTERM)

        bodies = server.bodies("/hook")
    assert code == 0, err
    [trade] = fx.of("trade")
    [entry] = [b for b in bodies if b["event"] == "entry"]
    [exit_] = [b for b in bodies if b["event"] == "exit"]
    assert entry["text"].startswith("PUMPUSDT entry long ")
    assert entry["price"] == pytest.approx(trade["entry_price"])
    assert exit_["pnl"] == pytest.approx(trade["pnl"])
    assert exit_["reason"] == trade["exit_reason"] == "ze1"
    gaps = [b for b in bodies if b["event"] == "gap"]
    said = [d for d in fx.of("status") if d["kind"] in GAP_KINDS]
    assert [(b["kind"], b["detail"]) for b in gaps] == [(d["kind"], d["detail"]) for d in said]
    assert {b["symbol"] for b in gaps} == {"PUMPUSDT"}
    assert any(b["detail"].startswith("disconnect from ") for b in gaps)
    assert bodies[-1]["event"] == "daily"
    assert (bodies[-1]["trades"], bodies[-1]["gaps"]) == (1, len(gaps))
    assert bodies[-1]["pnl"] == pytest.approx(trade["pnl"])
