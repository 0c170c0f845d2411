"""A second stop signal while fx record or fx stream is stopping (what `timeout`, a process-group kill
or a second Ctrl-C deliver) is ignored: the last flush and the session files are written, exit 0
(reliability-probe.md D4, review-live.md 15e). Real subprocesses, real signals."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import run, until
from tests.live.test_record import (
    EXCHANGE,
    SPOT,
    check_trades,
    lines,
    start_recorder,
    trades_stored,
    wait_exit,
)
from tests.live.test_stream import FxStream, base_args, fake_venue, folders, is_synced_snapshot

__all__ = ["folders"]  # the fixture, shared with test_stream


@pytest.mark.parametrize("pause_s", [0.0, 0.05])
def test_record_takes_a_second_signal_while_stopping_and_loses_nothing(
    pause_s: float, tmp_path: Path
) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    async def scenario() -> tuple[int, dict[str, dict[str, int]]]:
        async with FakeMexc(Venue.SPOT, SPOT, tick_s=0.01) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.5", "--table-flush-s", "2")
            try:
                await until(lambda: trades_stored(data_dir, EXCHANGE[Venue.SPOT], SPOT) > 30, 20.0, "trades")
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(pause_s)
                proc.send_signal(signal.SIGTERM)
                proc.send_signal(signal.SIGINT)
                code = await wait_exit(proc, 15.0)
                stopped_ms = venue.venue_ms()
            finally:
                if proc.poll() is None:
                    proc.kill()
            return code, check_trades(venue, data_dir, sent_before_ms=stopped_ms)

    code, summary = run(scenario(), 50.0)

    errors = out.with_suffix(".err").read_text()
    assert code == 0, errors[-2000:]
    assert "further SIGINT/SIGTERM are ignored" in errors
    assert "Traceback" not in errors
    assert all(s["gapped"] == 0 for s in summary.values()), summary  # the last flush was written
    assert lines(out)[-1]["event"] == "stopped"


def test_stream_takes_a_second_signal_while_stopping_and_writes_its_session(folders: Path) -> None:
    with fake_venue(["AAAUSDT"]) as (venue, _):
        fx = FxStream(
            folders, *base_args(venue, folders, "AAAUSDT"), "--record", "--data-dir", str(folders / "d")
        )
        fx.until(is_synced_snapshot("AAAUSDT"), 10.0, "a synced snapshot")
        fx.proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
        fx.proc.send_signal(signal.SIGTERM)
        code, err = fx.stop(signal.SIGINT)

    assert code == 0, err
    assert "Traceback" not in err
    summary = fx.docs[-1]
    assert summary["type"] == "summary"
    assert (Path(summary["out_dir"]) / "summary.json").is_file()
    assert summary["recorded"]["trades"] > 0
