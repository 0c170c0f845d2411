"""What a connection manager keeps per connection slot and per physical connection.

A slot is a fixed share of the channels; over a run it is served by a succession of connections
(reconnects, make-before-break rotations), each with its own socket, subscriptions and liveness.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection

from fxcli.exchange.adapter import Channel
from fxcli.exchange.gaps import SlotGaps
from fxcli.exchange.pacing import Backoff
from fxcli.exchange.status import DisconnectReason
from fxcli.exchange.subscriptions import Retries, Subscriptions


@dataclass(frozen=True)
class SlotStatus:
    """One slot as it is now."""

    slot: int
    channels: int
    conn_id: int | None
    is_connected: bool
    active: int
    pending: int
    rejected: int
    age_s: float


class Conn:
    """One physical connection: its socket, its subscriptions, and what it received last."""

    def __init__(self, slot: int, conn_id: int, ws: ClientConnection, channels: list[Channel]) -> None:
        self.slot = slot
        self.conn_id = conn_id
        self.ws = ws
        self.subs = Subscriptions(channels)
        self.opened_mono = time.monotonic()
        self.seq = 0
        self.last_rx_mono = self.opened_mono
        self.last_rx_ns: int | None = None
        self.last_sent_ns = 0  # venue send time of the newest push received
        self.first_data = asyncio.Event()
        self.finished = asyncio.Event()
        self.reason: DisconnectReason | None = None
        self.code: int | None = None
        self.detail = ""
        self.ping_sent_mono: float | None = None
        self.next_ping_mono = 0.0
        self.overlap_with: int | None = None
        self.overlap_until_mono: float | None = None
        self.problems = 0
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def is_live(self) -> bool:
        return not self.finished.is_set()

    def finish(self, reason: DisconnectReason, code: int | None, detail: str) -> bool:
        """Mark the connection over (first caller wins); True if this call did it."""
        if self.finished.is_set():
            return False
        self.reason, self.code, self.detail = reason, code, detail
        self.finished.set()
        return True


class Slot:
    def __init__(self, index: int, channels: list[Channel], backoff: Backoff, retries: Retries) -> None:
        self.index = index
        self.channels = channels
        by_symbol: dict[str, list[Channel]] = {}
        for channel in channels:
            by_symbol.setdefault(channel.symbol, []).append(channel)
        self.backoff = backoff
        self.retries = retries
        self.gaps = SlotGaps(by_symbol)
        self.current: Conn | None = None
        self.replacement: Conn | None = None
        self.rotate_now = asyncio.Event()
        self.retry_delay_s = 0.0  # what the last failed dial (or rotation) asks to wait


async def wait_any(events: list[asyncio.Event], timeout: float | None) -> None:
    """Wait until one of `events` is set, or `timeout` seconds pass."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
