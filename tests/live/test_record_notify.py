"""`fx record --notify` as a real subprocess against the fake MEXC venue and a real webhook on 127.0.0.1:
a forced disconnect's gaps, and the day's summary when the recorder stops."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.cli.notify_server import NotifyServer
from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import run, until
from tests.live.test_record import SPOT, lines, start_recorder, trades_stored


def _disconnects(server: NotifyServer) -> list[str]:
    bodies = server.bodies("/hook/s3cr3t")
    return [b["symbol"] for b in bodies if b["event"] == "gap" and b["detail"]["reason"] == "disconnect"]


def test_record_notifies_each_gap_of_a_disconnect_and_a_daily_summary(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    async def scenario(server: NotifyServer) -> int:
        async with FakeMexc(Venue.SPOT, SPOT) as venue:
            hook = ("--notify", server.url + "/hook/s3cr3t", "--notify-on", "gap,daily")
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.5", *hook)
            try:
                await until(lambda: trades_stored(data_dir, "mexc-spot", SPOT) > 20, 8.0, "stored trades")
                await venue.disconnect_all(code=None)  # TCP dropped without a close frame: a gap
                await until(lambda: len(_disconnects(server)) == len(SPOT), 8.0, "a gap note per symbol")
                proc.send_signal(signal.SIGINT)
                await until(lambda: proc.poll() is not None, 8.0, "fx record to exit", step_s=0.05)
            finally:
                if proc.poll() is None:
                    proc.kill()
            await asyncio.sleep(0)
            assert proc.returncode is not None
            return proc.returncode

    with NotifyServer() as server:
        code = run(scenario(server), 30.0)
        bodies = server.bodies("/hook/s3cr3t")

    assert code == 0, out.with_suffix(".err").read_text()[-2000:]
    recorded = [e for e in lines(out) if e["event"] == "gap"]
    gaps = [b for b in bodies if b["event"] == "gap"]
    assert sorted((b["symbol"], b["detail"]["reason"]) for b in gaps) == sorted(
        (e["symbol"], e["reason"]) for e in recorded
    )
    assert sorted(b["symbol"] for b in gaps if b["detail"]["reason"] == "disconnect") == SPOT
    assert all(b["text"].startswith(f"{b['symbol']} record gap: {b['detail']['reason']}, ") for b in gaps)
    assert bodies[-1]["event"] == "daily"
    assert bodies[-1]["command"] == "record"
    assert bodies[-1]["gaps"] == len(gaps)
    assert bodies[-1]["text"].startswith("fx record daily ")
    [stats] = [e for e in lines(out) if e["event"] == "notify_stats"]
    [delivered] = stats["destinations"]
    assert delivered["name"] == f"webhook {server.url}/…"
    assert (delivered["sent"], delivered["failed"], delivered["undelivered"]) == (len(bodies), 0, 0)
    logged = out.read_text() + out.with_suffix(".err").read_text()
    assert "s3cr3t" not in logged
