"""A small user-data venue on 127.0.0.1 for `UserStream` tests: a real `websockets` server on
`/ws?listenKey=…` and the listenKey registry behind `POST/PUT/DELETE /api/v3/userDataStream`.

The registry's three calls are plain async methods (the `ListenKeyClient` protocol), so the tests hold
the venue's truth (alive keys, their peak, every connection) in one object. The socket side follows
docs/mexc-orders.md §3.1: SUBSCRIPTION acked by channel name, PING → PONG, binary pushes; an unknown
key is refused at the handshake. Faults: a key expiring with its sockets closed or left silent (PONGs
but no pushes, §5 F15 a/b), the next PUT answering 730706 (F15 c), every socket closed right after
its subscriptions are acknowledged (a reconnect storm).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

HOST = "127.0.0.1"


class TooManyRequestsError(Exception):
    """The registry's 429 with Retry-After, as `VenueError` carries it."""

    code = 429

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many requests: retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class ListenKeyGoneError(Exception):
    """The registry's 400 `{"code":730706,"msg":"listenKey does not exist"}` (spec §2.5 [CHOICE])."""

    code = 730706

    def __init__(self, key: str) -> None:
        super().__init__(f"listenKey does not exist: {key[:6]}…")


@dataclass
class Socket:
    """One accepted connection, as the venue sees it."""

    key: str
    ws: ServerConnection
    channels: set[str] = field(default_factory=set)
    silent: bool = False  # the key died quietly: PONGs continue, pushes do not
    pings: int = 0


class StreamVenue:
    """`async with StreamVenue() as venue:` → `venue.ws_url`; the venue is also the key client."""

    def __init__(self) -> None:
        self.alive: set[str] = set()
        self.peak_alive = 0
        self.created: list[str] = []
        self.extended: list[str] = []
        self.deleted: list[str] = []
        self.sockets: list[Socket] = []
        self.put_fails = 0  # the next N PUTs answer 730706 and the key dies
        self.delete_fails = 0  # the next N DELETEs are lost on the way (the key stays alive)
        self.create_429_s: float | None = None  # the next POST answers 429 with this Retry-After
        self.create_calls: list[float] = []  # monotonic time of every POST
        self.refuse_dials = 0  # the next N handshakes are answered `refuse_status`
        self.refuse_status = HTTPStatus.SERVICE_UNAVAILABLE  # 503: the socket side is down
        self.dials = 0
        self.close_after_subscribe = False  # storm: every socket is closed once fully subscribed
        self.answer_pings = True  # False: a dead path where nothing comes back at all
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self.ws_url = ""

    async def __aenter__(self) -> StreamVenue:
        self._server = await serve(self._handle, HOST, 0, process_request=self._check_key)
        port = self._server.sockets[0].getsockname()[1]
        self.ws_url = f"ws://{HOST}:{port}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # ---------------------------------------------------------------- REST: the listenKey registry

    async def listen_key_create(self) -> str:
        await asyncio.sleep(0)  # a network call yields to the loop
        self.create_calls.append(time.monotonic())
        if self.create_429_s is not None:
            retry_after_s, self.create_429_s = self.create_429_s, None
            raise TooManyRequestsError(retry_after_s)
        key = f"pqia91ma{next(self._ids):08d}{'x' * 48}"
        self.alive.add(key)
        self.created.append(key)
        self.peak_alive = max(self.peak_alive, len(self.alive))
        return key

    async def listen_key_extend(self, key: str) -> None:
        await asyncio.sleep(0)
        if self.put_fails > 0:
            self.put_fails -= 1
            self.alive.discard(key)
        if key not in self.alive:
            raise ListenKeyGoneError(key)
        self.extended.append(key)

    async def listen_key_delete(self, key: str) -> None:
        await asyncio.sleep(0)
        if self.delete_fails > 0:
            self.delete_fails -= 1
            raise ConnectionResetError("connection reset by peer")
        if key not in self.alive:
            raise ListenKeyGoneError(key)
        self.alive.discard(key)
        self.deleted.append(key)

    # ---------------------------------------------------------------- faults and pushes

    async def expire(self, key: str, *, silent: bool) -> None:
        """The key dies at the venue: its sockets are closed, or (`silent`) kept but starved."""
        self.alive.discard(key)
        for sock in self.sockets:
            if sock.key == key:
                if silent:
                    sock.silent = True
                else:
                    await sock.ws.close(1000, "listenKey expired")

    async def drop_sockets(self) -> None:
        """Close every open socket; the keys stay valid (a network blip, a 24 h close)."""
        for sock in self.open_sockets():
            await sock.ws.close(1001, "going away")

    async def storm(self) -> None:
        """From now on every socket is closed as soon as it is fully subscribed (the open ones now)."""
        self.close_after_subscribe = True
        for sock in self.open_sockets():
            await sock.ws.close(1001, "storm")

    async def push(self, frames: list[bytes]) -> int:
        """Send `frames`, in order, to every open, subscribed, non-silent socket; how many got them."""
        reached = 0
        for sock in self.sockets:
            if sock.silent or len(sock.channels) < 3 or sock.ws.state.name != "OPEN":
                continue
            for frame in frames:
                await sock.ws.send(frame)
            reached += 1
        return reached

    def open_sockets(self) -> list[Socket]:
        """Sockets still open."""
        return [s for s in self.sockets if s.ws.state.name == "OPEN"]

    # ---------------------------------------------------------------- the socket

    def _check_key(self, connection: ServerConnection, request: Request) -> Response | None:
        self.dials += 1
        if self.refuse_dials > 0:
            self.refuse_dials -= 1
            return connection.respond(self.refuse_status, f"{self.refuse_status.phrase}\n")
        key = request.path.partition("listenKey=")[2]
        if not request.path.startswith("/ws?") or key not in self.alive:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "listenKey does not exist\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        sock = Socket(ws.request.path.partition("listenKey=")[2], ws)
        self.sockets.append(sock)
        try:
            async for message in ws:
                request = json.loads(message)
                if request.get("method") == "PING":
                    sock.pings += 1
                    if self.answer_pings:
                        await ws.send('{"id":0,"code":0,"msg":"PONG"}')
                elif request.get("method") == "SUBSCRIPTION":
                    for channel in request["params"]:
                        sock.channels.add(channel)
                        await ws.send(json.dumps({"id": request.get("id", 0), "code": 0, "msg": channel}))
                    if self.close_after_subscribe and len(sock.channels) == 3:
                        await ws.close(1001, "storm")
        except ConnectionClosed:
            pass
