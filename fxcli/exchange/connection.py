"""The connection manager: N WebSocket connections to one venue, kept subscribed for as long as it runs.

It owns sockets, application-level pings, dead-connection detection, make-before-break rotation,
reconnects (capped exponential backoff with full jitter) and a circuit breaker on dials, for every
venue alike: the venue's specifics come from its `Adapter`. What was asked and answered on a
connection is `subscriptions.Subscriptions`; the holes a lost connection leaves are
`gaps.SlotGaps`; what the consumer hears is `status` (frames first, then what they decoded to, and
lifecycle news). The manager never stops by itself: an unexpected error in a slot is logged,
reported as a failed dial, backed off and retried.

    class Recorder:                     # any object with these three methods is a Consumer
        def on_frame(self, frame): raw_queue.put_nowait(frame)          # raw first
        def on_decoded(self, frame, decoded): books.on_events(decoded.events); ...
        def on_status(self, status): ...   # StreamGap(gap) -> a Gap row; Disconnected -> a control record

    adapter = MexcSpot()                # or MexcSpot(Endpoints(...)) to point both WS and REST elsewhere
    channels = plan_channels(adapter, ["BTCUSDT", "ETHUSDT"], [Kind.TRADES, Kind.DEPTH])
    async with ConnectionManager(adapter, channels, Recorder(), config=ManagerConfig(connections=5)):
        await stop_requested.wait()     # SIGINT/SIGTERM set it; leaving the block closes everything
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fxcli.exchange.adapter import Adapter, Channel, Control, ControlKind, Decoded, Endpoints, Limits
from fxcli.exchange.direct import DirectConnection
from fxcli.exchange.gaps import gap_reason
from fxcli.exchange.pacing import Backoff, BreakerState, CircuitBreaker, TokenBucket
from fxcli.exchange.rest import retry_after_s
from fxcli.exchange.slot import Conn, Slot, SlotStatus, wait_any
from fxcli.exchange.status import (
    BreakerChanged,
    Connected,
    Consumer,
    DialFailed,
    Disconnected,
    DisconnectReason,
    GapOpened,
    Rejected,
    Status,
    StreamGap,
    Subscribed,
)
from fxcli.exchange.subscriptions import Request, Retries, assign, plan_channels
from fxcli.model.events import GapReason
from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_S

log = logging.getLogger(__name__)

__all__ = [
    "BreakerChanged",
    "Connected",
    "ConnectionManager",
    "Consumer",
    "DialFailed",
    "DisconnectReason",
    "Disconnected",
    "GapOpened",
    "ManagerConfig",
    "ManagerStats",
    "Rejected",
    "SlotStatus",
    "Status",
    "StreamGap",
    "Subscribed",
    "assign",
    "plan_channels",
]


@dataclass(frozen=True)
class ManagerConfig:
    """Knobs of a connection manager; the venue's limits come from its adapter."""

    connections: int | None = None  # at most this many; None: as few as `max_subs_per_conn` allows
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    stable_after_s: float = 10.0  # a connection that lived this long resets the reconnect backoff
    ack_timeout_s: float = 10.0  # an unanswered subscription counts as rejected after this
    reject_retry_base_s: float = 1.0
    reject_retry_cap_s: float = 300.0
    ping_jitter: float = 1 / 3  # pings every ping_every_s * U(1, 1 + jitter): 15-20 s for spot
    rotation_jitter: float = 0.02  # rotate at max_conn_age_s * U(1 - jitter, 1)
    # A replacement not subscribed to everything by then is abandoned (retried later); the time its
    # requests need at the venue's pace is added, so a connection of many channels can still rotate.
    rotate_ready_timeout_s: float = 15.0
    rotate_data_wait_s: float = 5.0  # after the acks, wait this long at most for its first data
    rotate_hold_s: float = 0.3  # then keep the old connection this long (a push interval and more)
    overlap_grace_s: float = 1.0  # frames on the replacement stay flagged this long after the old closed
    max_frame_bytes: int = 1 << 20
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    breaker_failures: int = 5
    breaker_open_s: float = 30.0
    breaker_successes: int = 3
    proxy: str | None = None  # only when the user asks (--proxy); environment proxies are never used


@dataclass
class ManagerStats:
    """Counters over a manager's life."""

    frames: int = 0
    bytes: int = 0  # payload size (characters for text frames)
    events: int = 0
    problems: int = 0
    skipped: int = 0  # items a decoder dropped from an otherwise good frame (a bad deal in a push)
    dials: int = 0
    dial_failures: int = 0
    disconnects: int = 0
    rotations: int = 0
    subscribe_requests: int = 0
    rejections: int = 0
    consumer_errors: int = 0
    slot_errors: int = 0


class ConnectionManager:
    """Keeps `channels` subscribed over N connections to `adapter`'s venue until `stop()`."""

    def __init__(
        self,
        adapter: Adapter,
        channels: Sequence[Channel],
        consumer: Consumer,
        *,
        config: ManagerConfig | None = None,
        endpoints: Endpoints | None = None,
        limits: Limits | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.adapter = adapter
        self.consumer = consumer
        self.config = config or ManagerConfig()
        self.endpoints = endpoints or adapter.endpoints
        self.limits = limits or adapter.limits
        self.stats = ManagerStats()
        self._rng = rng or random.Random()
        cfg = self.config
        self.assignment = assign(channels, self.limits.max_subs_per_conn, cfg.connections)
        self.bucket = TokenBucket(self.limits.sub_burst, self.limits.sub_rate_per_s)
        self.dial_breaker = CircuitBreaker(
            f"{adapter.venue} dial",
            failure_threshold=cfg.breaker_failures,
            open_s=cfg.breaker_open_s,
            success_threshold=cfg.breaker_successes,
            on_change=self._breaker_changed,
        )
        self._slots = [
            Slot(
                i,
                chans,
                Backoff(cfg.backoff_base_s, cfg.backoff_cap_s, rng=self._rng),
                Retries(cfg.reject_retry_base_s, cfg.reject_retry_cap_s, self._rng),
            )
            for i, chans in enumerate(self.assignment)
        ]
        self._conn_ids = itertools.count(1)
        self._req_ids = itertools.count(1)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ public API

    async def __aenter__(self) -> ConnectionManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start one supervisor task per slot; returns at once (connections open in the background)."""
        if self._tasks:
            raise RuntimeError("connection manager already started")
        self._tasks = [
            asyncio.create_task(self._run_slot(slot), name=f"fx-conn-slot-{slot.index}")
            for slot in self._slots
        ]

    async def run(self) -> None:
        """Start, then wait until `stop()` is called from elsewhere."""
        await self.start()
        await self._stopping.wait()
        await self._join()

    async def stop(self) -> None:
        """Close every connection (code 1000), report open gaps up to now, and end all tasks."""
        self._stopping.set()
        await self._join()

    def rotate(self, slot: int) -> None:
        """Rotate a slot's connection now (make-before-break), as if it had reached its maximum age."""
        self._slots[slot].rotate_now.set()

    def slots(self) -> list[SlotStatus]:
        """What each slot is doing now."""
        now = time.monotonic()
        out = []
        for slot in self._slots:
            conn = slot.current
            live = conn is not None and conn.is_live
            subs = conn.subs if conn is not None else None
            out.append(
                SlotStatus(
                    slot=slot.index,
                    channels=len(slot.channels),
                    conn_id=conn.conn_id if conn else None,
                    is_connected=live,
                    active=len(subs.active) if subs else 0,
                    pending=sum(len(r.channels) for r in subs.pending.values()) if subs else 0,
                    rejected=len(subs.rejected) if subs else 0,
                    age_s=now - conn.opened_mono if conn and live else 0.0,
                )
            )
        return out

    # ------------------------------------------------------------------ slot supervision

    async def _join(self) -> None:
        if self._tasks:
            # A dial in progress may take up to open_timeout_s: give closes a moment, then cancel.
            _, late = await asyncio.wait(self._tasks, timeout=self.config.close_timeout_s + 1.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._background:
            pending = list(self._background)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._background.difference_update(pending)

    async def _run_slot(self, slot: Slot) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    conn = await self._dial_until_connected(slot)
                    if conn is None:
                        break
                    slot.current = conn
                    await self._supervise(slot)
                except Exception as exc:  # a bug or an odd library error must not end the slot silently
                    await self._slot_failed(slot, exc)
        finally:
            for conn in (slot.replacement, slot.current):
                if conn is not None:
                    await self._close(slot, conn, DisconnectReason.STOPPED, 1000, "stopped")
            for gap in slot.gaps.close_all(time.time_ns(), "stopped while disconnected"):
                self._status(StreamGap(slot.index, gap))

    async def _slot_failed(self, slot: Slot, exc: Exception) -> None:
        """Report an unexpected error, drop the slot's connections (their holes open) and back off."""
        self.stats.slot_errors += 1
        detail = f"slot supervisor failed: {type(exc).__name__}: {exc}"
        log.error("slot %d: %s", slot.index, detail, exc_info=exc)
        for conn in (slot.replacement, slot.current):
            if conn is not None:
                await self._close(slot, conn, DisconnectReason.ERROR, 1011, detail)
        slot.current = slot.replacement = None
        delay = slot.backoff.next_delay()
        self._status(
            DialFailed(
                slot.index, detail, slot.backoff.attempts, delay, time.time_ns(), self.dial_breaker.state
            )
        )
        await self._sleep(delay)

    async def _supervise(self, slot: Slot) -> None:
        """Watch the current connection until it ends (then back off) or the manager stops; rotate on age."""
        conn = slot.current
        assert conn is not None
        deadline = self._rotation_deadline(conn)
        while not self._stopping.is_set():
            conn = slot.current
            assert conn is not None
            timeout = max(0.0, deadline - time.monotonic())
            await wait_any([conn.finished, self._stopping, slot.rotate_now], timeout)
            if self._stopping.is_set():
                return
            if conn.finished.is_set():
                self._after_loss(slot, conn)
                delay = slot.backoff.next_delay()
                await self._sleep(delay)
                return
            slot.rotate_now.clear()
            if await self._rotate(slot):
                new = slot.current
                assert new is not None
                deadline = self._rotation_deadline(new)
            else:
                deadline = time.monotonic() + slot.retry_delay_s

    def _rotation_deadline(self, conn: Conn) -> float:
        jitter = self._rng.uniform(1 - self.config.rotation_jitter, 1)
        return conn.opened_mono + self.limits.max_conn_age_s * jitter

    def _after_loss(self, slot: Slot, conn: Conn) -> None:
        lived_s = time.monotonic() - conn.opened_mono
        if lived_s >= self.config.stable_after_s:
            slot.backoff.reset()

    def _ready_timeout_s(self, slot: Slot) -> float:
        """How long a replacement may take to be subscribed: the configured wait plus the time all its
        requests take at the venue's pace (the bucket may be empty: other slots share it)."""
        lim = self.limits
        requests = math.ceil(len(slot.channels) / max(1, lim.channels_per_request))
        return self.config.rotate_ready_timeout_s + requests / lim.sub_rate_per_s

    async def _rotate(self, slot: Slot) -> bool:
        """Make-before-break: open and subscribe a replacement, wait until it carries every channel the
        old connection carries (and its first data), then close the old one. False if the replacement
        could not be made ready: it is closed, the old one kept, and the rotation tried again later."""
        cfg = self.config
        old = slot.current
        assert old is not None
        if not self.dial_breaker.allow():
            slot.retry_delay_s = self.dial_breaker.retry_in_s()
            return False
        new = await self._dial(slot, replacing=old.conn_id)
        if new is None:
            return False  # _dial left the delay in slot.retry_delay_s
        slot.replacement = new
        new.overlap_with, old.overlap_with = old.conn_id, new.conn_id
        self._spawn(self._subscribe(slot, new, slot.channels))
        # Answered is not enough: a channel refused on new is still flowing on old, so old stays until
        # new carries every channel old carries (refused ones are retried on new meanwhile).
        deadline = time.monotonic() + self._ready_timeout_s(slot)
        ready = False
        while new.is_live and old.is_live and not self._stopping.is_set():
            ready = new.subs.answered.is_set() and new.subs.has_all(old.subs.active)
            left = deadline - time.monotonic()
            if ready or left <= 0:
                break
            await wait_any([new.finished, old.finished, self._stopping], min(left, 0.02))
        if ready and new.is_live and not self._stopping.is_set():
            await wait_any([new.first_data, new.finished, self._stopping], cfg.rotate_data_wait_s)
            # The venue may still owe the old connection a push it started before the new one
            # subscribed (pushes are cut per connection): let it arrive before the old one closes.
            await wait_any([old.finished, self._stopping], cfg.rotate_hold_s)
        slot.replacement = None
        if self._stopping.is_set():
            slot.current = new  # both are closed by the slot's shutdown
            await self._close(slot, old, DisconnectReason.STOPPED, 1000, "stopped")
            return True
        if not new.is_live or not (ready or old.finished.is_set()):
            new.overlap_with = old.overlap_with = None
            missing = sorted(set(old.subs.active) - new.subs.active)
            detail = "replacement not ready in time"
            if missing:
                detail += f": {len(missing)} channel(s) not subscribed ({', '.join(missing[:4])})"
            await self._close(slot, new, DisconnectReason.ABANDONED, 1000, detail)
            slot.retry_delay_s = slot.backoff.next_delay()
            return False
        self.stats.rotations += 1
        slot.backoff.reset()
        slot.current = new
        if old.is_live:
            await self._close(
                slot, old, DisconnectReason.ROTATED, 1000, f"rotated to connection {new.conn_id}"
            )
        else:
            self._after_loss(slot, old)
        # Copies of old's last frames may still arrive on new: flag them until well after old is gone.
        new.overlap_until_mono = time.monotonic() + cfg.overlap_grace_s
        return True

    async def _dial_until_connected(self, slot: Slot) -> Conn | None:
        while not self._stopping.is_set():
            if not self.dial_breaker.allow():
                await self._sleep(self.dial_breaker.retry_in_s())
                continue
            conn = await self._dial(slot)
            if conn is not None:
                self._spawn(self._subscribe(slot, conn, slot.channels))
                return conn
            await self._sleep(slot.retry_delay_s)
        return None

    async def _dial(self, slot: Slot, *, replacing: int | None = None) -> Conn | None:
        """One dial; on failure count it against the breaker, report it, and leave the delay to wait in
        `slot.retry_delay_s` (honouring Retry-After on HTTP 429/418)."""
        cfg = self.config
        url = self.endpoints.ws_url
        self.stats.dials += 1
        try:
            ws = await connect(
                url,
                ping_interval=None,  # MEXC documents only the application-level ping
                max_size=cfg.max_frame_bytes,
                open_timeout=cfg.open_timeout_s,
                close_timeout=cfg.close_timeout_s,
                user_agent_header="fx/0.1",
                create_connection=DirectConnection,
                proxy=cfg.proxy,  # None: never the environment's proxies
            )
        except Exception as exc:  # any failure to connect is a failed dial: count it, back off, retry
            self.stats.dial_failures += 1
            self.dial_breaker.record_failure()
            at_least = 0.0
            detail = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, InvalidStatus) and exc.response.status_code in (418, 429):
                at_least = retry_after_s(exc.response.headers.get("Retry-After"))
                slot.gaps.rate_limited_while_down = True
            delay = slot.backoff.next_delay(at_least_s=at_least)
            slot.retry_delay_s = delay
            log.warning("slot %d: dial %s failed (%s); retry in %.2f s", slot.index, url, detail, delay)
            self._status(
                DialFailed(
                    slot.index, detail, slot.backoff.attempts, delay, time.time_ns(), self.dial_breaker.state
                )
            )
            return None
        self.dial_breaker.record_success()
        conn = Conn(slot.index, next(self._conn_ids), ws, slot.channels)
        conn.next_ping_mono = conn.opened_mono + self._ping_interval()
        if isinstance(ws, DirectConnection):
            ws.attach(lambda data: self._on_direct(slot, conn, data))
        conn.tasks = [
            asyncio.create_task(self._read(slot, conn), name=f"fx-conn-{conn.conn_id}-read"),
            asyncio.create_task(self._housekeep(slot, conn), name=f"fx-conn-{conn.conn_id}-keep"),
        ]
        self._status(Connected(slot.index, conn.conn_id, url, time.time_ns(), replacing))
        return conn

    async def _close(self, slot: Slot, conn: Conn, reason: DisconnectReason, code: int, detail: str) -> None:
        conn.finish(reason, code, detail)
        with contextlib.suppress(Exception):
            await conn.ws.close(code, detail[:120])
        await self._end(slot, conn)

    async def _end(self, slot: Slot, conn: Conn) -> None:
        """Stop a finished connection's tasks and report it once.

        The reader is given until the close completes to hand over frames already received (they
        are data a recorder must keep); only then is it cancelled.
        """
        current = asyncio.current_task()
        reader, keeper = conn.tasks if conn.tasks else (None, None)
        if keeper is not None and keeper is not current:
            keeper.cancel()
        if reader is not None and reader is not current and not reader.done():
            await asyncio.wait([reader], timeout=self.config.close_timeout_s + 0.5)
            reader.cancel()
        for task in (reader, keeper):
            if task is not None and task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if conn.tasks:
            conn.tasks = []
            self._report_disconnect(slot, conn)

    def _report_disconnect(self, slot: Slot, conn: Conn) -> None:
        self.stats.disconnects += 1
        reason = conn.reason or DisconnectReason.SERVER_CLOSED
        gap_reason_now = self._open_gaps(slot, conn, reason)
        log.info(
            "slot %d: connection %d closed (%s, code %s): %s",
            slot.index,
            conn.conn_id,
            reason,
            conn.code,
            conn.detail,
        )
        self._status(
            Disconnected(
                slot.index,
                conn.conn_id,
                reason,
                conn.code,
                conn.detail,
                time.time_ns(),
                conn.last_rx_ns,
                gap_reason_now,
            )
        )

    # ------------------------------------------------------------------ per-connection tasks

    def _on_direct(self, slot: Slot, conn: Conn, data: bytes | str) -> None:
        """A frame from inside the socket's callback: a failure loses this connection, never the loop."""
        try:
            self._on_frame(slot, conn, data)
        except Exception as exc:
            log.exception("slot %d: connection %d frame handling failed", slot.index, conn.conn_id)
            if conn.finish(DisconnectReason.ERROR, None, f"{type(exc).__name__}: {exc}"):
                with contextlib.suppress(Exception):
                    conn.ws.transport.abort()  # the reader sees the close and reports it

    async def _read(self, slot: Slot, conn: Conn) -> None:
        """Frames the library assembled (fragmented ones), and the close: `_on_direct` gets the rest."""
        ws = conn.ws
        try:
            while True:
                data = await ws.recv()
                self._on_frame(slot, conn, data)
        except ConnectionClosed as exc:
            # If we closed it on purpose, `finish` was called already and these are no-ops.
            if exc.rcvd is not None and (exc.sent is None or exc.rcvd_then_sent):
                conn.finish(DisconnectReason.SERVER_CLOSED, exc.rcvd.code, exc.rcvd.reason or str(exc))
            elif exc.sent is not None:  # we closed it: a protocol error such as an oversized frame (1009)
                conn.finish(DisconnectReason.ERROR, exc.sent.code, exc.sent.reason or str(exc))
            else:
                conn.finish(DisconnectReason.SERVER_CLOSED, 1006, "connection dropped without a close frame")
        except Exception as exc:  # a bug or an OS error: the connection is lost, the manager goes on
            log.exception("slot %d: connection %d reader failed", slot.index, conn.conn_id)
            conn.finish(DisconnectReason.ERROR, None, f"{type(exc).__name__}: {exc}")
        self._spawn(self._end(slot, conn))

    def _on_frame(self, slot: Slot, conn: Conn, data: bytes | str) -> None:
        received_ts_ns = time.time_ns()
        received_mono_ns = time.monotonic_ns()
        conn.seq += 1
        conn.last_rx_mono = received_mono_ns / NS_PER_S
        conn.last_rx_ns = received_ts_ns
        overlap = conn.overlap_with
        if (
            overlap is not None
            and conn.overlap_until_mono is not None
            and conn.last_rx_mono > conn.overlap_until_mono
        ):
            overlap = conn.overlap_with = conn.overlap_until_mono = None
        kind = "text" if type(data) is str else "binary"
        frame = RawFrame(
            slot.index, conn.conn_id, conn.seq, received_ts_ns, received_mono_ns, kind, data, overlap
        )
        self.stats.frames += 1
        self.stats.bytes += len(data)
        try:
            self.consumer.on_frame(frame)
        except Exception:
            self._consumer_failed("on_frame")
        try:
            decoded = self.adapter.decode(data, received_ts_ns)
        except Exception as exc:  # decode must not raise; if it does, the frame is a problem, not a crash
            decoded = Decoded(problem=f"decoder raised {type(exc).__name__}: {exc}")
        if decoded.skipped:  # a bad item of a good frame: the rest of the frame is kept
            self.stats.skipped += decoded.skipped
            self._problem(slot, conn, decoded.problem, what="skipped items")
        elif decoded.problem:
            self._problem(slot, conn, decoded.problem)
        if decoded.control is not None:
            self._on_control(slot, conn, decoded.control)
        if decoded.events:
            self.stats.events += len(decoded.events)
            conn.first_data.set()
        if decoded.sent_ts_ns > conn.last_sent_ns:
            conn.last_sent_ns = decoded.sent_ts_ns
        try:
            self.consumer.on_decoded(frame, decoded)
        except Exception:
            self._consumer_failed("on_decoded")

    async def _housekeep(self, slot: Slot, conn: Conn) -> None:
        """Pings, dead-connection detection, ack timeouts and due retries; a failure loses the connection
        (and so is reported and replaced), never the slot."""
        try:
            await self._keep(slot, conn)
        except Exception as exc:
            log.exception("slot %d: connection %d housekeeping failed", slot.index, conn.conn_id)
            if conn.finish(DisconnectReason.ERROR, None, f"housekeeping failed: {type(exc).__name__}: {exc}"):
                with contextlib.suppress(Exception):
                    conn.ws.transport.abort()

    async def _keep(self, slot: Slot, conn: Conn) -> None:
        lim, cfg = self.limits, self.config
        tick = max(0.02, min(0.25, lim.pong_timeout_s / 5, lim.ping_every_s / 5, cfg.ack_timeout_s / 5))
        while conn.is_live:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if conn.ping_sent_mono is not None:
                if conn.last_rx_mono >= conn.ping_sent_mono:
                    conn.ping_sent_mono = None
                elif now - conn.ping_sent_mono >= lim.pong_timeout_s:
                    self._kill(slot, conn, f"no pong and no data for {lim.pong_timeout_s:g} s after a ping")
                    return
            if now >= conn.next_ping_mono:
                conn.next_ping_mono = now + self._ping_interval()
                if conn.ping_sent_mono is None:
                    conn.ping_sent_mono = now
                await self._send(conn, self.adapter.ping())
            for request in conn.subs.overdue(now, cfg.ack_timeout_s):
                self._rejected(slot, conn, request.channels, f"no answer within {cfg.ack_timeout_s:g} s")
            if conn is slot.current or conn is slot.replacement:
                due = slot.retries.due(slot.channels, conn.subs.rejected, now)
                if due:
                    conn.subs.retrying(due)
                    self._spawn(self._subscribe(slot, conn, due))

    def _kill(self, slot: Slot, conn: Conn, detail: str) -> None:
        """Give up on a silent connection at once: abort the socket, no closing handshake."""
        log.warning("slot %d: connection %d is dead: %s", slot.index, conn.conn_id, detail)
        if conn.finish(DisconnectReason.DEAD, 1006, detail):
            with contextlib.suppress(Exception):
                conn.ws.transport.abort()

    async def _subscribe(self, slot: Slot, conn: Conn, channels: list[Channel]) -> None:
        """Send subscription requests in chunks of `channels_per_request`, each paced by the bucket."""
        size = max(1, self.limits.channels_per_request)
        for i in range(0, len(channels), size):
            chunk = channels[i : i + size]
            await self.bucket.acquire()
            if not conn.is_live or self._stopping.is_set():
                return
            req_id = next(self._req_ids)
            conn.subs.sent(Request(req_id, chunk, time.monotonic()))
            self.stats.subscribe_requests += 1
            await self._send(conn, self.adapter.subscribe(chunk, req_id))

    async def _send(self, conn: Conn, text: str) -> None:
        try:
            await conn.ws.send(text)
        except ConnectionClosed:
            pass  # the reader sees the close and reports it
        except Exception as exc:
            log.warning("connection %d: send failed: %s", conn.conn_id, exc)

    # ------------------------------------------------------------------ acks and rejections

    def _on_control(self, slot: Slot, conn: Conn, control: Control) -> None:
        if control.kind is ControlKind.PONG:
            conn.ping_sent_mono = None
            return
        matched = conn.subs.match(control)
        if not matched:
            if control.kind is not ControlKind.ACK:
                log.warning(
                    "slot %d: connection %d: venue says %s: %s",
                    slot.index,
                    conn.conn_id,
                    control.kind,
                    control.reason,
                )
            return
        if control.kind is ControlKind.ACK:
            conn.subs.acked(matched)
            slot.retries.forget(c.name for c in matched)
            self._status(Subscribed(slot.index, conn.conn_id, tuple(matched), time.time_ns()))
        else:
            self._rejected(slot, conn, matched, control.reason or str(control.kind))
        self._maybe_close_gaps(slot, conn)

    def _rejected(self, slot: Slot, conn: Conn, channels: list[Channel], reason: str) -> None:
        self.stats.rejections += len(channels)
        conn.subs.refused(channels)
        delay, attempt = slot.retries.schedule(channels, time.monotonic())
        log.warning(
            "slot %d: connection %d: %d channel(s) rejected (%s); retry %d in %.1f s",
            slot.index,
            conn.conn_id,
            len(channels),
            reason,
            attempt,
            delay,
        )
        self._status(
            Rejected(slot.index, conn.conn_id, tuple(channels), reason, attempt, delay, time.time_ns())
        )

    # ------------------------------------------------------------------ gaps

    def _open_gaps(self, slot: Slot, conn: Conn, reason: DisconnectReason) -> GapReason | None:
        """A lost connection leaves a hole in each symbol it carried that no other connection covers."""
        if reason in (DisconnectReason.ROTATED, DisconnectReason.ABANDONED, DisconnectReason.STOPPED):
            return None
        if not conn.subs.active:
            return None
        why = gap_reason(conn.code, conn.detail)
        others = [
            c for c in (slot.current, slot.replacement) if c is not None and c is not conn and c.is_live
        ]
        covered: set[str] = set().union(*(c.subs.active for c in others))
        start = conn.last_sent_ns or conn.last_rx_ns or time.time_ns()
        detail = f"connection {conn.conn_id} {reason} (code {conn.code})"
        opened = slot.gaps.on_loss(conn.subs.active, covered, start, why, detail)
        now = time.time_ns()
        for symbol, channels in opened:
            self._status(GapOpened(slot.index, symbol, channels, start, why, detail, now))
        return why if opened else None

    def _maybe_close_gaps(self, slot: Slot, conn: Conn) -> None:
        if not slot.gaps or not conn.is_live:
            return
        how = f"resubscribed on connection {conn.conn_id}"
        for gap in slot.gaps.on_active(conn.subs.active, time.time_ns(), how):
            self._status(StreamGap(slot.index, gap))

    # ------------------------------------------------------------------ small things

    def _ping_interval(self) -> float:
        return self.limits.ping_every_s * self._rng.uniform(1.0, 1.0 + self.config.ping_jitter)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the manager stops."""
        if seconds > 0:
            await wait_any([self._stopping], seconds)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.slot_errors += 1
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def _status(self, status: Status) -> None:
        try:
            self.consumer.on_status(status)
        except Exception:
            self._consumer_failed("on_status")

    def _consumer_failed(self, where: str) -> None:
        self.stats.consumer_errors += 1
        if self.stats.consumer_errors <= 5 or self.stats.consumer_errors % 1000 == 0:
            log.exception(
                "consumer %s raised (%d so far); the stream goes on", where, self.stats.consumer_errors
            )

    def _problem(self, slot: Slot, conn: Conn, problem: str, *, what: str = "undecodable frame") -> None:
        if what == "undecodable frame":
            self.stats.problems += 1
        conn.problems += 1
        if conn.problems <= 5 or conn.problems % 1000 == 0:
            log.warning(
                "slot %d: connection %d: %s #%d: %s", slot.index, conn.conn_id, what, conn.problems, problem
            )
        else:
            log.debug("slot %d: connection %d: %s: %s", slot.index, conn.conn_id, what, problem)

    def _breaker_changed(self, old: BreakerState, new: BreakerState) -> None:
        log.warning("%s dial circuit breaker: %s -> %s", self.adapter.venue, old, new)
        self._status(BreakerChanged(f"{self.adapter.venue} dial", old, new, time.time_ns()))
