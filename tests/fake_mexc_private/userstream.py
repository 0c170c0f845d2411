"""The user-data stream of the fake venue (docs/mexc-orders.md §2.5 listen keys, §3.1 lifecycle):
listen keys valid 60 minutes from creation or the last PUT, at most 60 valid per account, at most 5
connections per key; `ws://…/ws?listenKey=K`; SUBSCRIPTION/PING as the public socket; a connection
with no valid subscription is closed after 30 s, one without any client traffic after 60 s, every
connection after 24 h. Every time is a knob so tests run in seconds.

listenKey death (F15) comes in two kinds: "close" (the server closes the socket) and "silent"
(PINGs are still answered, private pushes stop). Push faults (F13/F14) act in `publish`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.fake_mexc import frames
from tests.fake_mexc_private.faults import PUSH_KINDS, Faults
from tests.fake_mexc_private.pushes import CHANNELS
from tests.fake_mexc_private.replies import VenueError
from tests.fake_mexc_private.wire import close_server

HOST = "127.0.0.1"
KEY_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class ListenKey:
    """One listen key: valid until `expires_ms`; `state` live, silent (pushes stop) or dead."""

    key: str
    api_key: str
    expires_ms: int
    state: str = "live"


@dataclass
class StreamConn:
    """One user-stream connection (tests read these)."""

    conn_id: int
    key: str
    opened_mono: float
    last_traffic_mono: float
    subs: set[str] = field(default_factory=set)
    pings: int = 0
    pushes: int = 0
    closed: bool = False
    close_reason: str = ""


@dataclass
class _Live:
    info: StreamConn
    ws: ServerConnection
    queue: asyncio.Queue[bytes | str]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class UserStreams:
    """Listen keys and the WebSocket server that serves them."""

    def __init__(self, *, seed: int, clock: Callable[[], int], faults: Faults) -> None:
        self.clock = clock
        self.faults = faults
        self.rng = random.Random(seed * 7919 + 1)
        self.keys: dict[str, ListenKey] = {}
        self.conns: dict[int, StreamConn] = {}
        self.key_ttl_ms = 3_600_000
        self.max_keys = 60
        self.max_conns_per_key = 5
        self.no_sub_close_s = 30.0
        self.idle_close_s = 60.0
        self.max_conn_s = 86_400.0
        self.expiry = "close"  # what an expired key does to its sockets: "close" | "silent"
        self.created = 0  # listen keys ever created (a reconnect storm shows here)
        self.ws_url = ""
        self._live: dict[int, _Live] = {}
        self._held: dict[str, list[bytes]] = {}  # reorder_push: frames waiting for the channel's next push
        self._next_conn = 1
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- listen keys (REST side)

    def valid_keys(self) -> list[str]:
        """Keys that are valid now (live or silently dead: the venue still lists a silent key)."""
        self._expire()
        return [k.key for k in self.keys.values() if k.state != "dead"]

    def create(self, api_key: str) -> str:
        """A new 64-character key; the 61st valid key is refused with 730003 [CHOICE]."""
        if len(self.valid_keys()) >= self.max_keys:
            raise VenueError(730003)
        key = "".join(self.rng.choice(KEY_ALPHABET) for _ in range(64))
        self.keys[key] = ListenKey(key, api_key, self.clock() + self.key_ttl_ms)
        self.created += 1
        return key

    def extend(self, key: str) -> str:
        """Valid for another 60 minutes from now; an unknown or expired key is 730706 [CHOICE]."""
        self._expire()
        found = self.keys.get(key)
        if found is None or found.state == "dead":
            raise VenueError(730706)
        found.expires_ms = self.clock() + self.key_ttl_ms
        return key

    def delete(self, key: str) -> str:
        """Invalidate `key` and close its sockets."""
        found = self.keys.get(key)
        if found is None or found.state == "dead":
            raise VenueError(730706)
        found.state = "dead"
        self._close_key(key, "deleted")
        return key

    def kill(self, key: str, mode: str = "close") -> None:
        """F15: the key dies now; "close" closes its sockets, "silent" keeps them open and mute,
        "put_fails" keeps them working but the next PUT answers 730706."""
        found = self.keys[key]
        if mode == "silent":
            found.state = "silent"
        elif mode == "put_fails":
            found.state = "dead"
        else:
            found.state = "dead"
            self._close_key(key, "listenKey expired")

    def _expire(self) -> None:
        now = self.clock()
        for found in self.keys.values():
            if found.state == "live" and found.expires_ms <= now:
                if self.expiry == "silent":
                    found.state = "silent"
                else:
                    found.state = "dead"
                    self._close_key(found.key, "listenKey expired")

    def _close_key(self, key: str, reason: str) -> None:
        for live in list(self._live.values()):
            if live.info.key == key:
                self._close(live, reason)

    # ---------------------------------------------------------------- server

    async def start(self) -> None:
        """Bind the WebSocket server on 127.0.0.1 (random port) and start the lifecycle ticker."""
        self._server = await serve(
            self._handle,
            HOST,
            0,
            process_request=self._admit,
            ping_interval=None,
            max_size=1 << 16,
            close_timeout=1.0,
        )
        port = self._server.sockets[0].getsockname()[1] if self._server.sockets else 0
        self.ws_url = f"ws://{HOST}:{port}/ws"
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Close every connection and the server; idempotent."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        for live in list(self._live.values()):
            live.ws.transport.abort()
        await close_server(self._server)
        self._server = None

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        key = urllib.parse.parse_qs(url.query).get("listenKey", [""])[0]
        self._expire()
        found = self.keys.get(key)
        if url.path != "/ws" or found is None or found.state == "dead":
            return connection.respond(401, "listenKey does not exist\n")
        if sum(1 for live in self._live.values() if live.info.key == key) >= self.max_conns_per_key:
            return connection.respond(429, "too many connections for this listenKey\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        key = urllib.parse.parse_qs(urllib.parse.urlsplit(ws.request.path if ws.request else "").query)
        now = time.monotonic()
        info = StreamConn(self._next_conn, key.get("listenKey", [""])[0], now, now)
        self._next_conn += 1
        self.conns[info.conn_id] = info
        live = _Live(info, ws, asyncio.Queue(10_000))
        self._live[info.conn_id] = live
        live.tasks = [asyncio.create_task(self._sender(live))]
        try:
            async for message in ws:
                info.last_traffic_mono = time.monotonic()
                self._on_message(live, message)
        except ConnectionClosed:
            pass
        finally:
            info.closed = True
            self._live.pop(info.conn_id, None)
            for task in live.tasks:
                task.cancel()
            await asyncio.gather(*live.tasks, return_exceptions=True)

    def _on_message(self, live: _Live, message: bytes | str) -> None:
        try:
            request = json.loads(message)
        except ValueError:
            return
        if not isinstance(request, dict):
            return
        method = str(request.get("method", "")).upper()
        req_id = request.get("id", 0) if isinstance(request.get("id", 0), int) else 0
        if method == "PING":
            live.info.pings += 1
            live.queue.put_nowait(frames.spot_pong())
            return
        params = request.get("params")
        names = [p for p in params if isinstance(p, str)] if isinstance(params, list) else []
        if method == "UNSUBSCRIPTION":
            live.info.subs.difference_update(names)
            live.queue.put_nowait(frames.spot_ack(req_id, names))
        elif method == "SUBSCRIPTION":
            good = [n for n in names if n in CHANNELS]
            bad = [n for n in names if n not in CHANNELS]
            live.info.subs.update(good)
            if good:
                live.queue.put_nowait(frames.spot_ack(req_id, good))
            if bad:
                live.queue.put_nowait(frames.spot_reject(req_id, bad, "Invalid channel "))

    async def _sender(self, live: _Live) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await live.ws.send(await live.queue.get())

    def _close(self, live: _Live, reason: str) -> None:
        live.info.close_reason = reason
        self._live.pop(live.info.conn_id, None)
        asyncio.get_running_loop().create_task(self._close_ws(live.ws, reason))

    @staticmethod
    async def _close_ws(ws: ServerConnection, reason: str) -> None:
        with contextlib.suppress(Exception):
            await ws.close(1000, reason)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            self._expire()
            now = time.monotonic()
            for live in list(self._live.values()):
                info = live.info
                if not info.subs and now - info.opened_mono > self.no_sub_close_s:
                    self._close(live, "no valid subscription")
                elif now - info.last_traffic_mono > self.idle_close_s:
                    self._close(live, "idle")
                elif now - info.opened_mono > self.max_conn_s:
                    self._close(live, "connection lifetime")

    # ---------------------------------------------------------------- pushes

    def publish(self, channel: str, frame: bytes, client_id: str) -> None:
        """Send `frame` to every connection subscribed to `channel` whose key is live, through the
        armed push faults (drop, duplicate, reorder)."""
        fault = self.faults.pick(PUSH_KINDS, channel, client_id)
        if fault is not None and fault.kind == "drop_push":
            return
        if fault is not None and fault.kind == "reorder_push":
            self._held.setdefault(channel, []).append(frame)
            return
        outgoing = [frame] * (2 if fault is not None and fault.kind == "duplicate_push" else 1)
        outgoing += self._held.pop(channel, [])
        for out_frame in outgoing:
            for live in list(self._live.values()):
                key = self.keys.get(live.info.key)
                if key is not None and key.state == "live" and channel in live.info.subs:
                    live.info.pushes += 1
                    live.queue.put_nowait(out_frame)

    def open_conns(self) -> list[StreamConn]:
        """Connections open now."""
        return [live.info for live in self._live.values()]
