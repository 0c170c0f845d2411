"""The fake venue as a real process (`python -m tests.fake_mexc_private --port-file F`), scripted
through its admin channel, as `fx stream --live` tests will drive it."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fake_mexc_private.harness import call

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start the venue process and wait for its port file."""
    port_file = tmp_path / "venue.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_mexc_private", "--port-file", str(port_file), *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not port_file.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        assert time.monotonic() < deadline, "the venue did not write its port file"
        time.sleep(0.05)
    return process, json.loads(port_file.read_text())


def test_process_serves_rest_admin_and_stops_on_sigterm(tmp_path: Path) -> None:
    process, info = start(tmp_path, "--seed", "5", "--symbols", "PEPEUSDT,MXUSDT", "--balance", "USDT=50")

    async def body() -> tuple[httpx.Response, dict[str, Any], httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(base_url=info["rest_url"], timeout=5.0) as client:
            book = {"symbol": "PEPEUSDT", "bids": [], "asks": [], "last": "0.0000101"}
            await client.post("/__admin/set_book", json=book)
            params = [("symbol", "PEPEUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1000000")]
            placed = await call(client, "POST", "/api/v3/order", [*params, ("price", "0.0000101")])
            await client.post("/__admin/advance", json={"symbol": "PEPEUSDT", "price": "0.0000100"})
            ledger = (await client.post("/__admin/ledger")).json()
            bad = await client.post("/__admin/explode", json={})
            knob = await client.post("/__admin/knobs", json={"no_such_knob": 1})
            return placed, ledger, bad, knob

    try:
        placed, ledger, bad, knob = asyncio.run(body())
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=10)

    assert placed.status_code == 200, placed.text
    assert [o["status"] for o in ledger["orders"]] == ["FILLED"]
    assert ledger["balances"]["USDT"] == {"free": "39.9", "locked": "0"}
    assert (bad.status_code, bad.json()) == (400, {"error": "explode: \"unknown command 'explode'\""})
    assert knob.status_code == 400
    assert info["ws_url"].startswith("ws://127.0.0.1:")
    assert (process.returncode, errors) == (0, b"")


def test_process_admin_arms_a_fault(tmp_path: Path) -> None:
    process, info = start(tmp_path)

    async def body() -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=info["rest_url"], timeout=5.0) as client:
            await client.post(
                "/__admin/fault", json={"kind": "reject", "when": "GET /api/v3/account", "code": 10072}
            )
            first = await call(client, "GET", "/api/v3/account")
            second = await call(client, "GET", "/api/v3/account")
            return first.status_code, second.status_code

    try:
        statuses = asyncio.run(body())
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)

    assert statuses == (400, 200)
