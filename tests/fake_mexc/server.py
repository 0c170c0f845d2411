"""A fake MEXC market-data venue on 127.0.0.1: a real `websockets` server plus a small REST responder.

It speaks the spot v3 protocol (JSON text replies, protobuf binary pushes) or the futures protocol
(all JSON), generates per-symbol trades and depth diffs from a seed while keeping its own books and
trade log (the truth tests compare against), and injects faults on request: server-initiated
disconnects (with or without a close frame), skipped diffs (version jumps), silence (no pongs, no
data), rejected subscriptions (code 0, "Blocked!"), hostile frames, slow reads, refused handshakes,
a short connection lifetime, idle closes, and REST 429 / 500 answers.

Futures contracts have a size (`contract_sizes`, base units per contract, default 1) served by
`GET /api/v1/contract/detail`; the truth (trade log, books) is in base units and the wire in
contracts. Every push carries the venue's clock (`sendTime` / `ts`): local wall time plus
`clock_offset_ms`, so a test can tell venue times from receive times; `last_sent_ms` has the
`sendTime` / `ts` of the last push built per symbol.

Bounded: at most `max_connections` sockets, and the whole server stops itself after
`max_lifetime_s` whatever the test does. Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from fxcli.exchange.adapter import Endpoints
from tests.fake_mexc import frames
from tests.fake_mexc.history import trade_history
from tests.fake_mexc.market import Diff, SymbolMarket, TradeRecord, merge_diffs, now_ms

HOST = "127.0.0.1"
SEND_QUEUE = 5_000  # frames waiting for one slow client before the server drops it


class Venue(StrEnum):
    """Which protocol the fake speaks."""

    SPOT = "spot"
    FUTURES = "futures"


@dataclass
class Client:
    """What the server knows about one connection (tests read these)."""

    conn_id: int
    opened_mono: float
    subs: dict[str, tuple[str, str]] = field(default_factory=dict)  # channel -> (symbol, trades|depth)
    max_subs: int = 0
    sub_requests: list[tuple[float, list[str]]] = field(default_factory=list)
    pings: int = 0
    last_ping_mono: float = 0.0
    silent: bool = False
    closed: bool = False
    close_code: int | None = None


@dataclass(frozen=True)
class Checkpoint:
    """One book of the venue at one version, as floats (what a client parses)."""

    version: int
    at_ms: int
    bids: dict[float, float]
    asks: dict[float, float]


@dataclass
class _Live:
    info: Client
    ws: ServerConnection
    queue: asyncio.Queue[tuple[bytes | str, tuple[TradeRecord, ...], float]]  # frame, trades, due (mono)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    diffs: dict[str, list[Diff]] = field(default_factory=dict)  # per symbol, waiting to be merged


class FakeMexc:
    """The fake venue; `async with FakeMexc(Venue.SPOT, ["AAAUSDT"]) as venue: venue.endpoints`."""

    def __init__(
        self,
        venue: Venue,
        symbols: Iterable[str],
        *,
        seed: int = 1,
        tick_s: float = 0.02,
        max_subs_per_conn: int | None = 30,
        max_connections: int = 64,
        max_lifetime_s: float = 120.0,
        contract_sizes: Mapping[str, str] | None = None,
    ) -> None:
        self.venue = venue
        self.clock_offset_ms = 0  # the venue's clock minus local wall time, in every push and REST time
        rng = random.Random(seed)
        sizes = contract_sizes or {}
        self.contract_sizes: dict[str, Decimal] = (
            {s: Decimal(sizes.get(s, "1")) for s in symbols} if venue is Venue.FUTURES else {}
        )
        self.markets = {
            s: SymbolMarket(
                s,
                random.Random(rng.random()),
                mid_ticks=rng.randint(5_000, 50_000),
                contract_size=self.contract_sizes.get(s),
                clock=self.venue_ms,
            )
            for s in symbols
        }
        self.last_sent_ms: dict[str, int] = {}
        self.tick_s = tick_s
        self.max_subs_per_conn = max_subs_per_conn if venue is Venue.SPOT else None
        self.max_connections = max_connections
        self.max_lifetime_s = max_lifetime_s
        # fault knobs, set by tests at any time
        self.read_delay_s = 0.0
        self.conn_max_age_s: float | None = None
        self.idle_close_s: float | None = None  # no subscription this long: close (spot: 30 s)
        self.no_ping_close_s: float | None = None  # no PING this long: close (spot: 60 s)
        self.silence_new = False
        self.refuse_dials = 0
        self.refuse_status = HTTPStatus.SERVICE_UNAVAILABLE
        self.rest_rate_limited = 0
        self.rest_failures = 0
        self.rest_failure_status = HTTPStatus.INTERNAL_SERVER_ERROR
        self.rest_delay_s = 0.0
        self.trade_history_down = False  # aggTrades / deals answer 503 (the rest of REST works)
        self.snapshot_delay_s = 0.0  # a depth snapshot is taken at request time, answered this much later
        self.cut_bodies = 0  # the next N REST answers are chunked bodies cut short
        self.network_delay_s = 0.0  # one-way: every frame reaches the client this long after its send time
        self.batch_diffs = False  # each connection merges 1 + conn_id % 3 diffs into one push
        self.quiet_books: set[str] = set()  # symbols whose book only changes by what a test sends
        self.paused = False
        # truth and observations
        self.trades: dict[str, list[TradeRecord]] = {s: [] for s in self.markets}
        self.sent_to: dict[tuple[str, int], set[int]] = {}
        self.clients: dict[int, Client] = {}
        self.dials = 0
        self.refused = 0
        self.depth_requests: Counter[str] = Counter()
        self.rest_requests: list[str] = []
        self.checkpoints: dict[str, list[Checkpoint]] = {}
        self._tick_ms: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop it serves on (tests in other threads)
        self._blocked: dict[str, int | None] = {}
        self._skip: Counter[str] = Counter()
        self._cross: set[str] = set()
        self._cross_snapshots: Counter[str] = Counter()
        self._late: dict[str, tuple[float, int | None]] = {}
        self._live: dict[int, _Live] = {}
        self._next_id = 1
        self._ws: Server | None = None
        self._rest: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ws_url = ""
        self.rest_url = ""

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeMexc:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def checkpoint(self) -> None:
        """Note every book as it is now (version, venue time, levels): what a replay must rebuild."""
        at = self.venue_ms()
        for symbol, market in self.markets.items():
            self.checkpoints.setdefault(symbol, []).append(
                Checkpoint(market.version, at, *market.book_floats())
            )

    def venue_ms(self) -> int:
        """The venue's clock, ms: local wall time plus `clock_offset_ms` (one value through a market
        tick, so a tick's diff, trade and pushes share a time and arrive in time order)."""
        if self._tick_ms is not None:
            return self._tick_ms
        return now_ms() + self.clock_offset_ms

    @property
    def endpoints(self) -> Endpoints:
        """Where a client should connect."""
        rest = self.rest_url if self.venue is Venue.SPOT else f"{self.rest_url}/api/v1/contract"
        return Endpoints(ws_url=self.ws_url, rest_url=rest)

    async def start(self) -> None:
        """Bind both servers on 127.0.0.1 (random ports) and start the market."""
        self.loop = asyncio.get_running_loop()
        self._ws = await serve(
            self._handle,
            HOST,
            0,
            process_request=self._process_request,
            ping_interval=None,
            max_size=1 << 20,
            close_timeout=1.0,
        )
        ws_port = self._ws.sockets[0].getsockname()[1] if self._ws.sockets else 0
        self.ws_url = f"ws://{HOST}:{ws_port}/ws"
        self._rest = await asyncio.start_server(self._handle_http, HOST, 0, limit=16_384)
        rest_port = self._rest.sockets[0].getsockname()[1]
        self.rest_url = f"http://{HOST}:{rest_port}"
        self._tasks = [asyncio.create_task(self._market()), asyncio.create_task(self._lifetime())]

    async def stop(self) -> None:
        """Close every connection and both servers; idempotent."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for live in list(self._live.values()):
            live.ws.transport.abort()
        if self._ws is not None:
            self._ws.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.wait_closed(), 3.0)
            self._ws = None
        if self._rest is not None:
            self._rest.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._rest.wait_closed(), 3.0)
            self._rest = None

    # ------------------------------------------------------------------ faults

    def cross_next_snapshots(self, symbol: str, count: int = 1) -> None:
        """The next `count` REST depth answers of `symbol` are crossed (a bid above the best ask)."""
        self._cross_snapshots[symbol] += count

    def ack_late(self, substring: str, delay_s: float, times: int | None = None) -> None:
        """Accept subscriptions to channels containing `substring` only `delay_s` later (the next
        `times` tries, or forever): no ack and no data until then."""
        self._late[substring] = (delay_s, times)

    def block(self, substring: str, times: int | None = None) -> None:
        """Reject subscriptions to channels containing `substring` (the next `times` tries, or forever)."""
        self._blocked[substring] = times

    def skip_next_diff(self, symbol: str, count: int = 1) -> None:
        """Apply the next `count` diffs of `symbol` to the book but never send them: a version jump."""
        self._skip[symbol] += count

    def cross_next_diff(self, symbol: str) -> None:
        """Corrupt the next diff of `symbol` on the wire with a bid above the best ask (the server's
        own book stays right): a client's book crosses and must resync."""
        self._cross.add(symbol)

    def silence(self) -> None:
        """Every open connection stops sending anything (no pongs, no data) but stays open."""
        for live in self._live.values():
            live.info.silent = True

    async def disconnect_all(self, code: int | None = 1001, reason: str = "going away") -> None:
        """Server-initiated disconnect of every connection; `code=None` drops TCP without a close frame."""
        for live in list(self._live.values()):
            if code is None:
                live.ws.transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await live.ws.close(code, reason)

    async def send_raw(self, items: Iterable[bytes | str]) -> int:
        """Send frames as they are to every connection that has a subscription; returns frames sent."""
        sent = 0
        for item in items:
            for live in list(self._live.values()):
                if live.info.subs:
                    self._enqueue(live, item)
                    sent += 1
        return sent

    def pause(self) -> None:
        """Stop generating market data (the books stay as they are)."""
        self.paused = True

    def resume(self) -> None:
        """Generate market data again."""
        self.paused = False

    def trades_sent(self, symbol: str) -> list[TradeRecord]:
        """Trades of `symbol` that were written to at least one connection."""
        return [t for t in self.trades[symbol] if self.sent_to.get((symbol, t.trade_id))]

    def open_clients(self) -> list[Client]:
        """Connections open now."""
        return [live.info for live in self._live.values()]

    # ------------------------------------------------------------------ WebSocket side

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.dials += 1
        if self.refuse_dials > 0 or len(self._live) >= self.max_connections:
            self.refuse_dials = max(0, self.refuse_dials - 1)
            self.refused += 1
            response = connection.respond(self.refuse_status, f"{self.refuse_status.phrase}\n")
            if self.refuse_status == HTTPStatus.TOO_MANY_REQUESTS:
                response.headers["Retry-After"] = "1"
            return response
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        conn_id = self._next_id
        self._next_id += 1
        info = Client(conn_id, time.monotonic(), silent=self.silence_new, last_ping_mono=time.monotonic())
        self.clients[conn_id] = info
        live = _Live(info, ws, asyncio.Queue(SEND_QUEUE))
        self._live[conn_id] = live
        live.tasks = [asyncio.create_task(self._sender(live)), asyncio.create_task(self._watchdog(live))]
        try:
            async for message in ws:
                if self.read_delay_s:
                    await asyncio.sleep(self.read_delay_s)
                self._on_message(live, message)
        except ConnectionClosed:
            pass
        finally:
            info.closed = True
            info.close_code = ws.close_code
            self._live.pop(conn_id, None)
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
        method = str(request.get("method", ""))
        if self.venue is Venue.SPOT:
            self._on_spot(live, method, request)
        else:
            self._on_futures(live, method, request)

    def _on_spot(self, live: _Live, method: str, request: dict[str, object]) -> None:
        req_id = request.get("id", 0)
        req_id = req_id if isinstance(req_id, int) else 0
        if method.upper() == "PING":
            self._pinged(live)
            self._enqueue(live, frames.spot_pong())
            return
        params = request.get("params")
        names = [p for p in params if isinstance(p, str)] if isinstance(params, list) else []
        if method == "UNSUBSCRIPTION":
            for name in names:
                live.info.subs.pop(name, None)
            self._enqueue(live, frames.spot_ack(req_id, names))
            return
        if method != "SUBSCRIPTION" or not names:
            return
        live.info.sub_requests.append((time.monotonic(), names))
        accepted, refused = [], []
        for name in names:
            target = self._spot_target(name)
            full = self.max_subs_per_conn is not None and len(live.info.subs) >= self.max_subs_per_conn
            if target is None or self._is_blocked(name) or (full and name not in live.info.subs):
                refused.append(name)
            elif (late := self._lateness(name)) is not None:
                asyncio.get_running_loop().call_later(late, self._accept_late, live, req_id, name, target)
            else:
                live.info.subs[name] = target
                accepted.append(name)
        live.info.max_subs = max(live.info.max_subs, len(live.info.subs))
        if accepted:
            self._enqueue(live, frames.spot_ack(req_id, accepted))
        if refused:
            self._enqueue(live, frames.spot_reject(req_id, refused))

    def _accept_late(self, live: _Live, req_id: int, name: str, target: tuple[str, str]) -> None:
        if not live.info.closed:
            live.info.subs[name] = target
            self._enqueue(live, frames.spot_ack(req_id, [name]))

    def _lateness(self, name: str) -> float | None:
        for substring, (delay_s, times) in self._late.items():
            if substring in name:
                if times is None:
                    return delay_s
                if times > 0:
                    self._late[substring] = (delay_s, times - 1)
                    return delay_s
        return None

    def _spot_target(self, name: str) -> tuple[str, str] | None:
        for prefix, kind in ((frames.SPOT_DEALS, "trades"), (frames.SPOT_DEPTH, "depth")):
            if name.startswith(prefix) and name[len(prefix) :] in self.markets:
                return name[len(prefix) :], kind
        return None

    def _on_futures(self, live: _Live, method: str, request: dict[str, object]) -> None:
        if method == "ping":
            self._pinged(live)
            self._enqueue(live, frames.futures_pong())
            return
        param = request.get("param")
        symbol = param.get("symbol") if isinstance(param, dict) else None
        topic = method.partition(".")[2]
        kind = {"deal": "trades", "depth": "depth"}.get(topic)
        if not isinstance(symbol, str) or kind is None:
            return  # unknown methods get no reply (§2.1)
        name = f"{topic}@{symbol}"
        if method.startswith("unsub."):
            live.info.subs.pop(name, None)  # no confirmation (§2.1)
            return
        if not method.startswith("sub."):
            return
        live.info.sub_requests.append((time.monotonic(), [name]))
        if symbol not in self.markets:
            self._enqueue(live, frames.futures_error(f"Contract [{symbol}] not exists"))
            return
        if self._is_blocked(name):
            self._enqueue(live, frames.futures_error(f"Contract [{symbol}] Blocked!"))
            return
        live.info.subs[name] = (symbol, kind)
        live.info.max_subs = max(live.info.max_subs, len(live.info.subs))
        self._enqueue(live, frames.futures_ack(method))

    def _is_blocked(self, name: str) -> bool:
        for substring, times in self._blocked.items():
            if substring in name:
                if times is None:
                    return True
                if times > 0:
                    self._blocked[substring] = times - 1
                    return True
        return False

    def _pinged(self, live: _Live) -> None:
        live.info.pings += 1
        live.info.last_ping_mono = time.monotonic()

    def _enqueue(self, live: _Live, frame: bytes | str, trades: tuple[TradeRecord, ...] = ()) -> None:
        if live.info.silent or live.info.closed:
            return
        try:
            live.queue.put_nowait((frame, trades, time.monotonic() + self.network_delay_s))
        except asyncio.QueueFull:
            live.ws.transport.abort()  # a client that does not read is dropped, as a real venue would

    async def _sender(self, live: _Live) -> None:
        while True:
            frame, trades, due = await live.queue.get()
            if live.info.silent:
                continue
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # in flight: frames keep their order, each arrives late
            try:
                await live.ws.send(frame)
            except ConnectionClosed:
                return
            for trade in trades:
                self.sent_to.setdefault((trade.symbol, trade.trade_id), set()).add(live.info.conn_id)

    async def _watchdog(self, live: _Live) -> None:
        info = live.info
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            reason = None
            if self.conn_max_age_s is not None and now - info.opened_mono >= self.conn_max_age_s:
                reason = "connection lifetime reached"
            elif (
                self.idle_close_s is not None
                and not info.subs
                and now - info.opened_mono >= self.idle_close_s
            ):
                reason = "no valid subscription"
            elif self.no_ping_close_s is not None and now - info.last_ping_mono >= self.no_ping_close_s:
                reason = "no ping"
            if reason is not None:
                with contextlib.suppress(Exception):
                    await live.ws.close(1001, reason)
                return

    # ------------------------------------------------------------------ market

    async def _market(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.paused:
                continue
            self._tick_ms = self.venue_ms()
            try:
                self._tick()
            finally:
                self._tick_ms = None

    def _tick(self) -> None:
        """Every market moves once: a diff and a trade each, sent to whoever subscribed."""
        for symbol, market in self.markets.items():
            quiet = symbol in self.quiet_books
            diff = market.next_diff() if not quiet else None
            trade = market.next_trade()
            self.trades[symbol].append(trade)
            skip_diff = quiet
            if self._skip[symbol] > 0 and not quiet:
                self._skip[symbol] -= 1
                skip_diff = True
            if symbol in self._cross and diff is not None:
                self._cross.discard(symbol)
                best_ask = min(market.asks, key=float)
                diff = replace(diff, bids=[*diff.bids, (best_ask, "1.000")])
            targets = [
                (live, {kind for sym, kind in live.info.subs.values() if sym == symbol})
                for live in list(self._live.values())
            ]
            targets = [(live, kinds) for live, kinds in targets if kinds]
            if not targets:
                continue
            # one frame per tick and kind for every connection, stamped with the venue's clock
            sent_ms = self.last_sent_ms[symbol] = self.venue_ms()
            depth_frame: bytes | str = b""
            if self.venue is Venue.SPOT:
                if diff is not None:
                    depth_frame = frames.spot_depth(diff, sent_ms=sent_ms)
                trade_frame: bytes | str = frames.spot_deals([trade], sent_ms=sent_ms)
            else:
                size = market.contract_size or frames.ONE
                if diff is not None:
                    depth_frame = frames.futures_depth(diff, contract_size=size, sent_ms=sent_ms)
                trade_frame = frames.futures_deals([trade], contract_size=size, sent_ms=sent_ms)
            for live, kinds in targets:
                if "depth" in kinds and diff is not None and not skip_diff:
                    self._send_diff(live, diff, depth_frame, sent_ms)
                if "trades" in kinds:
                    self._enqueue(live, trade_frame, (trade,))

    def _send_diff(self, live: _Live, diff: Diff, frame: bytes | str, sent_ms: int) -> None:
        """The diff as it is, or (`batch_diffs`) merged with the next ones, as many as this connection
        merges: two connections then deliver overlapping version ranges, as MEXC's may at a rotation."""
        if not self.batch_diffs:
            self._enqueue(live, frame)
            return
        waiting = live.diffs.setdefault(diff.symbol, [])
        waiting.append(diff)
        if len(waiting) < 1 + live.info.conn_id % 3:
            return
        live.diffs[diff.symbol] = []
        merged = merge_diffs(waiting)
        if self.venue is Venue.SPOT:
            self._enqueue(live, frames.spot_depth(merged, sent_ms=sent_ms))
        else:
            size = self.markets[diff.symbol].contract_size or frames.ONE
            self._enqueue(live, frames.futures_depth(merged, contract_size=size, sent_ms=sent_ms))

    async def _lifetime(self) -> None:
        await asyncio.sleep(self.max_lifetime_s)
        for live in list(self._live.values()):
            live.ws.transport.abort()
        if self._ws is not None:
            self._ws.close()

    # ------------------------------------------------------------------ REST side

    async def _handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)).strip():
                pass
            parts = request_line.decode("latin-1").split()
            target = parts[1] if len(parts) >= 2 else "/"
            status, headers, body = await self._route(target)
            if self.cut_bodies > 0:  # a chunked body that ends in the middle of its first chunk
                self.cut_bodies -= 1
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                writer.write(head.encode() + f"{len(body) + 100:x}\r\n".encode() + body[: len(body) // 2])
                await writer.drain()
                return
            head = f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(head.encode() + b"\r\n" + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, target: str) -> tuple[HTTPStatus, dict[str, str], bytes]:
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.rest_requests.append(target)
        if self.rest_delay_s:
            await asyncio.sleep(self.rest_delay_s)
        if self.rest_rate_limited > 0:
            self.rest_rate_limited -= 1
            return (
                HTTPStatus.TOO_MANY_REQUESTS,
                {"Retry-After": "1"},
                b'{"code":429,"msg":"Too many requests"}',
            )
        if self.rest_failures > 0:
            self.rest_failures -= 1
            status = self.rest_failure_status
            return status, {}, f'{{"code":{status.value},"msg":"{status.phrase}"}}'.encode()
        path = url.path
        if path == "/api/v3/time":
            return HTTPStatus.OK, {}, json.dumps({"serverTime": self.venue_ms()}).encode()
        if path == "/api/v3/ping":
            return HTTPStatus.OK, {}, b"{}"
        if path.endswith("/api/v1/contract/ping"):
            return (
                HTTPStatus.OK,
                {},
                json.dumps({"success": True, "code": 0, "data": self.venue_ms()}).encode(),
            )
        if path.endswith("/api/v1/contract/detail") and self.venue is Venue.FUTURES:
            return HTTPStatus.OK, {}, frames.futures_contract_detail(self.contract_sizes, query.get("symbol"))
        if path == "/api/v3/aggTrades" or "/api/v1/contract/deals/" in path:
            return trade_history(self, path, query)
        if path == "/api/v3/depth" or "/api/v1/contract/depth/" in path:
            spot = path == "/api/v3/depth"
            symbol = query.get("symbol", "") if spot else path.rpartition("/")[2]
            market = self.markets.get(symbol)
            if market is None:
                return HTTPStatus.BAD_REQUEST, {}, b'{"code":-1121,"msg":"Invalid symbol."}'
            self.depth_requests[symbol] += 1
            limit = int(query.get("limit", "100")) if query.get("limit", "").isdigit() else 100
            version, bids, asks = market.snapshot(limit)  # taken now...
            if self._cross_snapshots[symbol] > 0:
                self._cross_snapshots[symbol] -= 1
                bids = [(asks[0][0], "1"), *bids]  # a bid at the best ask: crossed
            if self.snapshot_delay_s:
                await asyncio.sleep(self.snapshot_delay_s)  # ...answered later, while diffs flow on
            if spot:
                return HTTPStatus.OK, {}, frames.spot_rest_depth(version, bids, asks)
            size = market.contract_size or frames.ONE
            body = frames.futures_rest_depth(
                version, bids, asks, contract_size=size, timestamp_ms=self.venue_ms()
            )
            return HTTPStatus.OK, {}, body
        return HTTPStatus.NOT_FOUND, {}, b'{"code":404,"msg":"not found"}'
