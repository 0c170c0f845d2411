"""`fx inspect --verify` and reads while `fx record` writes (probe D12): parts appear, merge and
are deleted under the reader, and that is never reported as damage."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.conftest import run_fx
from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import run, until
from tests.live.test_record import SPOT, start_recorder, trades_stored, wait_exit


@pytest.mark.slow
def test_verify_during_a_recording_never_reports_a_file_the_recorder_is_replacing(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"
    symbols = [*SPOT, "DUSDT"]

    async def scenario() -> tuple[int, list[tuple[int, str]]]:
        async with FakeMexc(Venue.SPOT, symbols) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.2", "--table-flush-s", "0.2")
            try:
                await until(lambda: trades_stored(data_dir, "mexc-spot", symbols) > 40, 10.0, "trades")
                results = []
                for _ in range(12):  # every 0.2 s a part per table; every 8 a merge that deletes 8
                    verify = await asyncio.to_thread(
                        run_fx, "inspect", "--verify", "--data-dir", str(data_dir)
                    )
                    results.append((verify.returncode, verify.stderr))
                proc.send_signal(signal.SIGINT)
                code = await wait_exit(proc, 10.0)
            finally:
                if proc.poll() is None:
                    proc.kill()
            return code, results

    code, results = run(scenario(), 90.0)

    assert code == 0, out.with_suffix(".err").read_text()[-2000:]
    assert [r for r in results if r[0] != 0] == []
    final = run_fx("inspect", "--verify", "--data-dir", str(data_dir))
    assert final.returncode == 0, final.stderr
