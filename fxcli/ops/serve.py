"""`fx stream --serve HOST:PORT`: a WebSocket feed for other programs, and `/status`, `/metrics` beside it.

    engine thread                         server thread (its own asyncio loop)
    Feed.publish / Feed.offer ─► tap ─► inbox (deque) ─► every 20 ms: messages ─► per-client queue ─► socket

The engine only appends to a deque; everything else (JSON, filtering, sockets) happens on the
server's thread. Each client has a bounded queue: a client that falls `max_queue` messages behind
(it stopped reading, or reads too slowly) is disconnected and counted, so it never holds memory or
time. Snapshots are rate-limited per symbol (`--serve-rate`): between two sends, only a symbol's
newest frame is kept. Messages follow `ops.schema` (version 1).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.live.feed import Feed, StatusNote, SymbolFrame
from fxcli.live.latency import percentile_ns
from fxcli.live.symbol import FRAME_EVERY_NS
from fxcli.model.units import NS_PER_S
from fxcli.ops import schema
from fxcli.ops.address import Listen
from fxcli.ops.metrics import metrics_server
from fxcli.ops.stream_metrics import StreamTally, stream_registry

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry
    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response

PUMP_S = 0.02  # how often the server hands new feed items to clients
MAX_RATE = 50.0  # snapshots per second per symbol
MIN_RATE = 0.01
DEFAULT_QUEUE = 1000  # messages a client may fall behind before it is dropped
WRITE_LIMIT = 16 * 1024  # bytes buffered per socket before a send waits (then the client's queue fills)
# The kernel's send buffer per client, fixed (no autotuning up to megabytes): a client that stops
# reading is noticed after ~100 KB in flight, not after the kernel has buffered MBs for it.
SEND_BUFFER = 32 * 1024
NEWS_KEPT = 64  # the latest gap and status messages, sent to a client when it subscribes


@dataclass(frozen=True)
class StreamOps:
    """What `fx stream` serves: the feed (`serve`), metrics on their own port (`metrics`), or neither."""

    serve: Listen | None = None
    metrics: Listen | None = None
    rate_per_s: float = 1.0
    max_queue: int = DEFAULT_QUEUE

    @property
    def frame_every_ns(self) -> int:
        """How often each symbol must publish a frame for snapshots at `rate_per_s`."""
        if self.serve is None:
            return FRAME_EVERY_NS
        return min(FRAME_EVERY_NS, round(NS_PER_S / self.rate_per_s))


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    queue: asyncio.Queue[str]
    symbols: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    is_dropped: bool = False
    sent: int = 0


@dataclass
class ServeStats:
    """What the server did (read by `/status` and the metrics)."""

    connected: int = 0  # clients that ever connected
    dropped: int = 0  # clients disconnected for falling behind
    messages: int = 0  # messages queued for clients
    bad_requests: int = 0
    unencodable: int = 0  # messages with a value JSON cannot hold (never expected; counted, not sent)
    by_type: collections.Counter[str] = field(default_factory=collections.Counter)


class FeedServer:
    """The WebSocket feed of one session, with `/status` and `/metrics` on the same port."""

    def __init__(
        self, listen: Listen, feed: Feed, registry: CollectorRegistry, *, rate_per_s: float, max_queue: int
    ) -> None:
        self.listen = listen
        self.feed = feed
        self.registry = registry
        self.rate_per_s = rate_per_s
        self.max_queue = max_queue
        self.stats = ServeStats()
        self.port = listen.port
        self._inbox: collections.deque[object] = collections.deque()
        self._clients: set[_Client] = set()
        self._pending: dict[str, SymbolFrame] = {}  # newest frame per symbol not sent yet
        self._next_at: dict[str, float] = {}  # monotonic time a symbol's next snapshot may go
        self._latest: dict[str, SymbolFrame] = {}
        # A client that subscribes late still learns of the session's gaps (a replay says them first).
        self._news: collections.deque[tuple[dict[str, Any], str | None]] = collections.deque(maxlen=NEWS_KEPT)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.started = time.time()

    @property
    def url(self) -> str:
        """Where clients connect (with the port actually bound)."""
        return self.listen.url("ws", self.port)

    def tap(self, item: object) -> None:
        """The `Feed` tap: runs on the engine's thread; a deque append and nothing else."""
        self._inbox.append(item)

    def start(self) -> None:
        """Bind and serve on a thread of its own; FxError (exit 2) when the address cannot be used."""
        self._thread = threading.Thread(target=self._run, name="fx-serve", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            err = self._error
            detail = getattr(err, "strerror", None) or err
            raise FxError(f"--serve {self.listen.host}:{self.listen.port}: cannot listen: {detail}")
        self.feed.taps.append(self.tap)

    def close(self) -> None:
        """Send what the session published last, close every client, free the port."""
        with contextlib.suppress(ValueError):
            self.feed.taps.remove(self.tap)
        loop, closing = self._loop, self._closing
        if loop is not None and closing is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(closing.set)
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    # ------------------------------------------------------------------ the server's thread

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # a bind failure before `_ready`: reported by `start`
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                raise

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        server: Server = await serve(
            self._handle,
            self.listen.host,
            self.listen.port,
            process_request=self._http,
            write_limit=WRITE_LIMIT,
            # No permessage-deflate: compressing each message once per client would cost the GIL
            # the engine runs under; a feed on loopback or a LAN does not need it.
            compression=None,
            max_size=64 * 1024,  # a subscribe message is small
            ping_interval=20.0,
            close_timeout=1.0,
        )
        self.port = next(iter(server.sockets)).getsockname()[1]
        self._ready.set()
        try:
            while not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), PUMP_S)
                self._dispatch(final=self._closing.is_set())
            ended = StatusNote(time.time_ns(), "session_ended", "the session ended; the feed closes")
            for doc in schema.messages_of(ended):
                self._broadcast(doc, None)
            await self._drain_clients(timeout_s=2.0)
        finally:
            server.close()
            await server.wait_closed()

    def _dispatch(self, *, final: bool = False) -> None:
        inbox = self._inbox
        while inbox:
            item = inbox.popleft()
            if isinstance(item, SymbolFrame):
                self._pending[item.symbol] = self._latest[item.symbol] = item
                continue
            for doc in schema.messages_of(item):
                symbol = getattr(item, "symbol", None) or doc.get("symbol")
                if doc["type"] in ("gap", "status"):
                    self._news.append((doc, symbol))
                self._broadcast(doc, symbol)
        now = time.monotonic()
        for symbol, frame in list(self._pending.items()):
            if final or now >= self._next_at.get(symbol, 0.0):
                del self._pending[symbol]
                self._next_at[symbol] = now + 1.0 / self.rate_per_s
                self._broadcast(schema.snapshot(frame), symbol)

    def _broadcast(self, doc: dict[str, Any], symbol: str | None) -> None:
        kind = doc["type"]
        text: str | None = None
        for client in list(self._clients):
            if kind not in client.types or (symbol and symbol not in client.symbols):
                continue
            if text is None:
                try:
                    text = schema.encode(doc)
                except (TypeError, ValueError):  # a value JSON cannot hold: counted, the feed goes on
                    self.stats.unencodable += 1
                    return
            self._queue(client, text)
            self.stats.by_type[kind] += 1

    def _queue(self, client: _Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
            self.stats.messages += 1
        except asyncio.QueueFull:
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        """A client that fell `max_queue` messages behind: cut, so it holds neither memory nor time."""
        if client.is_dropped:
            return
        client.is_dropped = True
        self._clients.discard(client)
        self.stats.dropped += 1
        client.ws.transport.abort()  # a close frame would queue behind what it does not read

    async def _handle(self, ws: ServerConnection) -> None:
        client = _Client(ws, asyncio.Queue(self.max_queue))
        self.stats.connected += 1
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        sender = asyncio.create_task(self._send(client))
        from websockets.exceptions import ConnectionClosed

        try:
            await ws.send(schema.encode(schema.hello(self.feed.info, self.rate_per_s)))
            async for message in ws:
                self._on_request(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send(self, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            while True:
                text = await client.queue.get()
                await client.ws.send(text)
                client.sent += 1

    def _on_request(self, client: _Client, message: str | bytes) -> None:
        """`{"type": "subscribe", "symbols": [...], "types": [...]}` (either list omitted: all)."""
        try:
            symbols, types = self._subscription(message)
        except ValueError as exc:
            self.stats.bad_requests += 1
            self._queue(client, schema.encode(schema.error(str(exc))))
            return
        client.symbols, client.types = frozenset(symbols), frozenset(types)
        self._clients.add(client)
        self._queue(client, schema.encode(schema.subscribed(symbols, types)))
        for doc, symbol in list(self._news):
            if doc["type"] in client.types and (not symbol or symbol in client.symbols):
                self._queue(client, schema.encode(doc))
        for symbol in symbols:  # where each symbol stands now, without waiting for its next frame
            frame = self._latest.get(symbol)
            if frame is not None and "snapshot" in client.types:
                self._queue(client, schema.encode(schema.snapshot(frame)))

    def _subscription(self, message: str | bytes) -> tuple[list[str], list[str]]:
        try:
            request = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            raise ValueError(
                'not JSON: send {"type": "subscribe", "symbols": [...], "types": [...]}'
            ) from None
        if not isinstance(request, dict) or request.get("type") != "subscribe":
            raise ValueError('unknown request: send {"type": "subscribe", "symbols": [...], "types": [...]}')
        known = list(self.feed.info.symbols) if self.feed.info is not None else []
        symbols = _names(request, "symbols", known)
        types = _names(request, "types", list(schema.TYPES))
        return symbols, types

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        """`GET /status` and `GET /metrics` are plain HTTP; `/` is the WebSocket feed."""
        path = request.path.split("?", 1)[0]
        if path == "/":
            return None
        if path == "/metrics":
            from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

            response = connection.respond(HTTPStatus.OK, generate_latest(self.registry).decode())
            response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
            return response
        if path == "/status":
            response = connection.respond(HTTPStatus.OK, json.dumps(self.status(), allow_nan=False) + "\n")
            response.headers["Content-Type"] = "application/json"
            return response
        return connection.respond(HTTPStatus.NOT_FOUND, "not found: the feed is /, and /status, /metrics\n")

    def status(self) -> dict[str, Any]:
        """`GET /status`: the session, its counters, and where each symbol stands."""
        feed = self.feed
        hist = feed.latency()
        p50, p99 = percentile_ns(hist, 0.5), percentile_ns(hist, 0.99)
        hello = schema.hello(feed.info, self.rate_per_s)
        return {
            "v": schema.VERSION,
            "type": "status",
            "session": hello["session"],
            "uptime_s": round(time.time() - self.started, 3),
            "frames": feed.stats.frames,
            "events": feed.stats.events,
            "gaps": feed.stats.gaps,
            "connections": feed.stats.connections,
            "clients": len(self._clients),
            "clients_connected": self.stats.connected,
            "clients_dropped": self.stats.dropped,
            "messages": self.stats.messages,
            "tick_to_decision_us": {
                "p50": None if p50 != p50 else p50 / 1000,
                "p99": None if p99 != p99 else p99 / 1000,
            },
            "symbols": {
                s: {k: v for k, v in schema.snapshot(f).items() if k not in ("v", "type", "indicators")}
                for s, f in list(self._latest.items())
            },
        }

    def metrics(self) -> Iterable[Metric]:
        """The server's own numbers, for the session's collector."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield GaugeMetricFamily("fx_serve_clients", "Feed clients subscribed now.", len(self._clients))
        yield CounterMetricFamily(
            "fx_serve_clients_connected", "Feed clients that connected.", self.stats.connected
        )
        yield CounterMetricFamily(
            "fx_serve_clients_dropped", "Feed clients disconnected for falling behind.", self.stats.dropped
        )
        sent = CounterMetricFamily(
            "fx_serve_messages", "Messages queued for feed clients, by type.", labels=["type"]
        )
        for kind, count in list(self.stats.by_type.items()):
            sent.add_metric([kind], count)
        yield sent

    async def _drain_clients(self, timeout_s: float) -> None:
        """At the end: let each client receive what is queued (bounded), then close it."""
        deadline = time.monotonic() + timeout_s
        for client in list(self._clients):
            while not client.queue.empty() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(1001, "the session ended"), 1.0)


def _names(request: dict[str, Any], key: str, known: list[str]) -> list[str]:
    value = request.get(key)
    if value is None:
        return known
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key}: a list of names, e.g. {json.dumps(known[:2])}")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValueError(f"{key}: {', '.join(unknown)} not one of {', '.join(known)}")
    return list(dict.fromkeys(value))


@contextlib.contextmanager
def operating(ops: StreamOps | None, feed: Feed) -> Iterator[FeedServer | None]:
    """`--serve` and `--metrics` for the block: servers bound (FxError if they cannot be), taps on the
    feed; at the end, the last messages sent and the ports freed."""
    if ops is None or (ops.serve is None and ops.metrics is None):
        yield None
        return
    server: FeedServer | None = None

    def served() -> Iterable[Metric]:
        return server.metrics() if server is not None else ()

    registry, tally = stream_registry(feed, served)
    feed.taps.append(tally)
    try:
        with metrics_server(ops.metrics, registry, "--metrics") as metrics:
            if ops.serve is not None:
                server = FeedServer(
                    ops.serve, feed, registry, rate_per_s=ops.rate_per_s, max_queue=ops.max_queue
                )
                server.start()
            # Said where the screen and feed clients hear it (with port 0: which port it got).
            now = time.time_ns()
            if server is not None:
                feed.publish(StatusNote(now, "serving", f"{server.url} (GET /status, /metrics)"))
            if metrics is not None:
                feed.publish(StatusNote(now, "metrics", metrics.url))
            try:
                yield server
            finally:
                if server is not None:
                    server.close()
    finally:
        with contextlib.suppress(ValueError):
            feed.taps.remove(tally)


__all__ = ["DEFAULT_QUEUE", "MAX_RATE", "MIN_RATE", "FeedServer", "StreamOps", "StreamTally", "operating"]
