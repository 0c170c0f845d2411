"""The fake MEXC private venue as a real process (`python -m tests.fake_mexc_private`), scripted
through its admin API, for tests that run `fx` itself as a subprocess against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET

# Enter at once, leave at once: every round trip is an entry order and an exit order.
ROUND_TRIP = """schema = 1
signal_timeout_s = 5
cooldown_s = 1
[sizing]
risk_variant = "risk_rsi"
[[s1]]
indicator = "PRICE"
op = "gt"
value = 0
[[z1]]
indicator = "PRICE"
op = "gt"
value = 0
[[ze1]]
indicator = "PRICE"
op = "gt"
value = 0
"""


@dataclass
class VenueProcess:
    """A running fake venue: its URLs, the env that points `fx` at it, and its admin channel."""

    rest_url: str
    ws_url: str
    pid: int

    @property
    def env(self) -> dict[str, str]:
        """FX_* variables for an `fx` subprocess: the venue's URLs and the keys it knows."""
        return {
            "FX_MEXC_SPOT_REST_URL": self.rest_url,
            "FX_MEXC_SPOT_USER_WS_URL": self.ws_url,
            "FX_MEXC_API_KEY": DOC_KEY,
            "FX_MEXC_API_SECRET": DOC_SECRET,
        }

    def admin(self, command: str, **args: Any) -> Any:
        """Run one admin command (`ledger`, `set_book`, `fault`, `knobs`, ...) and return its result."""
        reply = httpx.post(f"{self.rest_url}/__admin/{command}", json=args, timeout=10.0)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def fx_orders(self, prefix: str = "fx") -> list[dict[str, Any]]:
        """Every order the venue holds whose client id starts with `prefix`."""
        return [o for o in self.admin("ledger")["orders"] if (o["clientOrderId"] or "").startswith(prefix)]

    def open_fx_orders(self, prefix: str = "fx") -> list[dict[str, Any]]:
        """The open ones among them."""
        return [o for o in self.fx_orders(prefix) if o["status"] in ("NEW", "PARTIALLY_FILLED")]


@contextmanager
def venue_process(
    tmp: Path, symbols: str = "BTCUSDT", balances: tuple[str, ...] = (), lifetime_s: float = 120.0
) -> Iterator[VenueProcess]:
    """Start the fake venue; stop it (SIGTERM) on exit."""
    port_file = tmp / "venue.json"
    port_file.unlink(missing_ok=True)  # a file left by an earlier venue names a dead port
    args = [sys.executable, "-m", "tests.fake_mexc_private", "--port-file", str(port_file)]
    args += ["--symbols", symbols, "--max-lifetime-s", str(lifetime_s)]
    for balance in balances:
        args += ["--balance", balance]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the fake venue did not start: {proc.stderr.read() if proc.stderr else ''!r}"
                )
            time.sleep(0.05)
        info = json.loads(port_file.read_text())
        yield VenueProcess(info["rest_url"], info["ws_url"], info["pid"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def btc_like(venue: VenueProcess, last: str = "61800") -> None:
    """BTCUSDT as the sample recording prices it: 6 quantity decimals, a deep book around `last`."""
    venue.admin(
        "set_symbol", symbol="BTCUSDT", base_precision=6, quote_precision=2, base_fee_precision=8, last=last
    )
    price = float(last)
    asks = [(f"{price * (1 + k / 10000):.2f}", "5") for k in range(1, 6)]
    bids = [(f"{price * (1 - k / 10000):.2f}", "5") for k in range(1, 6)]
    venue.admin("set_book", symbol="BTCUSDT", bids=bids, asks=asks, last=last)
