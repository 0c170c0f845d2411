"""The MEXC spot user-data stream: a listenKey kept alive, one WebSocket on it, pushes to callbacks.

docs/mexc-orders.md §2.5 and §3.1. A listenKey lives 60 minutes after its creation or last PUT; the
stream PUTs it every `keepalive_s` (30 min as MEXC recommends). MEXC announces no expiry in-band, and a
dead key shows either as a closed socket or as a socket that still answers PINGs but pushes nothing
(§5 F15), so every end of a connection — close, silence, a failed PUT (730706), a canary trip — is
answered the same way: a NEW key, a new connection subscribed to the three private channels, then a
DELETE of the old key (make before break; never more than two keys alive, so a reconnect storm
cannot eat the venue's 60-key quota), then `on_reconnect(since_ms)` so the owner backfills
`myTrades` over the gap. Pushes reach the callbacks in the order the socket delivered them.

A key that goes silent while PONGs keep coming cannot be seen from the socket: the owner calls
`canary(open_orders)` with `GET /openOrders` now and then, and an order the venue shows but the stream
never pushed proves the key dead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fxcli.exchange.mexc_private.pushes import CHANNELS, decode
from fxcli.exchange.mexc_spot import MAX_FRAME_BYTES, BadFrameError
from fxcli.exchange.pacing import Backoff
from fxcli.exchange.slot import wait_any
from fxcli.model.orders import AccountPush, OrderPush, VenueOrder, VenueTrade

log = logging.getLogger(__name__)

LISTEN_KEY_GONE: Final = 730706  # PUT/DELETE of a key the venue no longer knows (§2.5)
KEY_LIFETIME_S: Final = 3600.0  # "valid for 60 minutes after creation" or after the last PUT
MAX_KEYS: Final = 2  # the one in use and the one being replaced
MAX_TRACKED_ORDERS: Final = 10_000  # the canary's memory; oldest forgotten first
PING: Final = '{"method":"PING"}'


class ListenKeyClient(Protocol):
    """The three REST calls the stream needs (`PrivateClient` of exchange/mexc_private/client.py).

    A failure raises; an exception whose `code` is 730706 means the venue has forgotten the key, one
    with `retry_after_s` (429/418) says how long to wait. The client paces these calls (its budget's
    "listen_key" group): a reconnect storm must not earn the 418 that would stop the key's orders.
    """

    async def listen_key_create(self) -> str: ...

    async def listen_key_extend(self, key: str) -> None: ...

    async def listen_key_delete(self, key: str) -> None: ...


@dataclass
class StreamStats:
    """What the stream has done, for the live table and the tests."""

    connects: int = 0  # connections that got all three subscriptions acknowledged
    keys_created: int = 0
    keys_deleted: int = 0
    peak_keys: int = 0  # most keys this stream held alive at once (never above MAX_KEYS)
    pushes: int = 0
    bad_frames: int = 0
    callback_errors: int = 0
    canary_trips: int = 0
    last_reason: str = ""  # why the last connection ended other than by `stop`


class UserStream:
    """One user-data stream for one account; `await run(stop)` until `stop` is set.

    `on_order`, `on_trade`, `on_account` run on the event loop for each push, in arrival order, and
    must not block; `on_reconnect(since_ms)` runs as its own task after every reconnect (not the
    first connect: start-up reconciliation covers that) and should fetch `myTrades` from `since_ms`.
    With `canary_source` (e.g. the open orders of every traded symbol by REST) the stream runs its
    own canary every `canary_s`; without it the owner calls `canary` itself.
    """

    def __init__(
        self,
        client: ListenKeyClient,
        ws_url: str,
        *,
        on_order: Callable[[OrderPush], object],
        on_trade: Callable[[VenueTrade], object],
        on_account: Callable[[AccountPush], object],
        on_reconnect: Callable[[int], Awaitable[object]] | None = None,
        keepalive_s: float = 1800.0,
        ping_s: float = 20.0,
        silence_s: float = 60.0,
        ack_timeout_s: float = 10.0,
        stable_s: float = 30.0,
        backoff: Backoff | None = None,
        backfill_margin_ms: int = 5000,
        canary_grace_ms: int = 5000,
        clock_ms: Callable[[], int] | None = None,
        canary_source: Callable[[], Awaitable[Iterable[VenueOrder]]] | None = None,
        canary_s: float = 30.0,
    ) -> None:
        if not 0 < ping_s < silence_s:
            raise ValueError(f"the stream needs 0 < ping_s < silence_s, got {ping_s} and {silence_s}")
        self._client = client
        self._ws_url = ws_url
        self._on_order = on_order
        self._on_trade = on_trade
        self._on_account = on_account
        self._on_reconnect = on_reconnect
        self.keepalive_s = keepalive_s
        self.ping_s = ping_s
        self.silence_s = silence_s
        self.ack_timeout_s = ack_timeout_s
        self.stable_s = stable_s
        self._backoff = backoff or Backoff(0.5, 30.0)
        self._canary_source = canary_source
        self.canary_s = canary_s
        self._margin_ms = backfill_margin_ms
        self._grace_ms = canary_grace_ms
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.stats = StreamStats()
        self._keys: dict[str, float] = {}  # alive key -> monotonic time of its creation or last PUT
        self._current: str | None = None  # the key of the subscribed connection
        self._subscribed_ms = 0  # wall ms the current connection was subscribed
        self._acked: set[str] = set()
        self._last_frame = 0.0  # monotonic time of the last frame of any kind (PONGs too)
        self._last_push_ms: int | None = None  # venue ms of the newest push seen
        self._orders: dict[str, Decimal] = {}  # order id -> cumulative qty pushed (for the canary)
        self._replace_now = asyncio.Event()
        self._replace_reason = ""
        self._tasks: set[asyncio.Task[object]] = set()
        self._retry_after = 0.0  # Retry-After of the last failed DELETE
        self._expected: dict[str, float] = {}  # order id -> monotonic deadline for its first push
        self._dial_failed = False  # the last connection never opened, and not for the key's sake

    @property
    def alive_keys(self) -> int:
        """listenKeys this stream has created and not yet deleted (or seen expire)."""
        return len(self._keys)

    @property
    def subscribed_ms(self) -> int:
        """Wall-clock ms the current connection got its subscriptions (0 before the first)."""
        return self._subscribed_ms

    @property
    def connected(self) -> bool:
        """A connection is up and subscribed to the three channels."""
        return self._current is not None

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, keep connected, deliver pushes; on return every key this stream made is deleted."""
        key: str | None = None
        try:
            while not stop.is_set():
                if key is None or not self._reusable(key):
                    key = await self._new_key(stop)
                    if key is None:
                        break
                reason = await self._serve(key, stop)
                if stop.is_set():
                    break
                self.stats.last_reason = reason
                again = "the same" if self._reusable(key) else "a new"
                log.warning("user stream: %s; reconnecting with %s listenKey", reason, again)
                await wait_any([stop], self._backoff.next_delay())
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for key in list(self._keys):
                await self._delete(key)

    def replace(self, reason: str) -> None:
        """End the current connection and continue on a new key (the owner suspects the stream)."""
        if self._current is not None and not self._replace_now.is_set():
            self._replace_reason = reason
            self._replace_now.set()

    def expect(self, order_id: str) -> None:
        """The venue accepted `order_id` (an Ack): its order push must come within `canary_grace_ms`,
        else the key is presumed silent and replaced. Catches what `canary` cannot: an order that
        filled or expired at once (MARKET, IOC) never shows in the open orders."""
        if self._current is not None and order_id not in self._orders:
            self._expected[order_id] = time.monotonic() + self._grace_ms / 1000

    def canary(self, open_orders: Iterable[VenueOrder], *, now_ms: int | None = None) -> list[str]:
        """Compare `GET /openOrders` with what the stream pushed; returns the ids that prove it silent.

        An order counts when it was created or changed while this connection was subscribed, at least
        `canary_grace_ms` ago (its push may still be in flight), and the stream never pushed it or
        pushed less filled quantity. Any such order replaces the key; the orders are then taken as
        known, so the same evidence does not trip the canary again (the reconnect backfill covers it).
        """
        orders = list(open_orders)
        if self._current is None:  # a reconnect is under way and backfills anyway
            return []
        now = self._clock_ms() if now_ms is None else now_ms
        missed = []
        for order in orders:
            stamp = max(order.time_ms, order.update_ms)
            seen = self._orders.get(order.order_id)
            if seen is not None and seen >= order.executed_qty:
                continue
            if stamp >= self._subscribed_ms and now - stamp >= self._grace_ms:
                missed.append(order.order_id)
            elif stamp < self._subscribed_ms:  # changed before this connection: the backfill's job
                self._remember(order.order_id, order.executed_qty)
        if missed:
            for order in orders:
                self._remember(order.order_id, order.executed_qty)
            self.stats.canary_trips += 1
            self.replace(f"canary: the venue shows {len(missed)} open order change(s) never pushed")
        return missed

    async def _new_key(self, stop: asyncio.Event) -> str | None:
        """A fresh key, after deleting the oldest ones so that at most MAX_KEYS exist with it."""
        while not stop.is_set():
            self._forget_expired()
            if len(self._keys) >= MAX_KEYS:
                oldest = min(self._keys, key=self._keys.__getitem__)
                if not await self._delete(oldest):
                    await wait_any([stop], self._backoff.next_delay(at_least_s=self._retry_after))
                continue
            try:
                key = await self._client.listen_key_create()
            except Exception as exc:  # REST down, quota (730003), auth, 429: wait and try again
                log.warning("user stream: creating a listenKey failed (%s)", _describe(exc))
                await wait_any([stop], self._backoff.next_delay(at_least_s=_retry_after_s(exc)))
                continue
            self._keys[key] = time.monotonic()
            self.stats.keys_created += 1
            self.stats.peak_keys = max(self.stats.peak_keys, len(self._keys))
            return key
        return None

    async def _delete(self, key: str) -> bool:
        """DELETE `key`; True once the venue no longer has it (deleted now, or already gone)."""
        self._retry_after = 0.0
        try:
            await self._client.listen_key_delete(key)
        except Exception as exc:
            if getattr(exc, "code", None) != LISTEN_KEY_GONE:
                self._retry_after = _retry_after_s(exc)
                log.warning(
                    "user stream: deleting listenKey %s failed (%s)", _short(key), _describe(exc, key)
                )
                return False
        self._keys.pop(key, None)
        self.stats.keys_deleted += 1
        return True

    def _reusable(self, key: str) -> bool:
        """Dial `key` again: the last dial failed for a reason that was not the key, and the key is
        well inside its lifetime (it is PUT only while connected)."""
        extended = self._keys.get(key)
        return self._dial_failed and extended is not None and time.monotonic() - extended < self.keepalive_s

    def _forget_expired(self) -> None:
        # A key not extended for its whole lifetime (plus a minute for clocks) is gone at the venue.
        now = time.monotonic()
        for key, extended in list(self._keys.items()):
            if now - extended > KEY_LIFETIME_S + 60.0:
                del self._keys[key]

    async def _serve(self, key: str, stop: asyncio.Event) -> str:
        """One connection on `key`, until it ends; returns why it ended."""
        url = f"{self._ws_url}{'&' if '?' in self._ws_url else '?'}listenKey={quote(key, safe='')}"
        try:
            ws = await connect(
                url,
                ping_interval=None,  # MEXC's keep-alive is the application PING below
                max_size=MAX_FRAME_BYTES,
                open_timeout=self.ack_timeout_s,
                close_timeout=1.0,
                user_agent_header="fx/0.1",
                proxy=None,
            )
        except Exception as exc:  # refused, reset, HTTP error, timeout: all mean "not connected"
            # The socket never opened: only a 4xx answer says anything about the key. A network or
            # server failure keeps it (no key churn through an outage; it is reused while fresh).
            self._dial_failed = not (isinstance(exc, InvalidStatus) and exc.response.status_code < 500)
            return f"connecting failed ({_describe(exc, key)})"
        self._dial_failed = False
        closed = asyncio.Event()
        reader = asyncio.create_task(self._read(ws, closed), name="fx-userstream-read")
        opened = time.monotonic()
        try:
            return await self._keep(ws, key, closed, stop)
        except (ConnectionClosed, OSError) as exc:  # a send on a socket that just died
            return f"connection lost ({_describe(exc, key)})"
        finally:
            self._current = None
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await ws.close()
            if time.monotonic() - opened >= self.stable_s:
                self._backoff.reset()

    async def _keep(self, ws: ClientConnection, key: str, closed: asyncio.Event, stop: asyncio.Event) -> str:
        """Subscribe, then PING, PUT and watch for silence until something ends the connection."""
        self._acked = set()
        self._last_frame = time.monotonic()
        for req_id, channel in enumerate(CHANNELS, start=1):
            await ws.send(json.dumps({"method": "SUBSCRIPTION", "params": [channel], "id": req_id}))
        deadline = time.monotonic() + self.ack_timeout_s
        while len(self._acked) < len(CHANNELS):
            left = deadline - time.monotonic()
            if closed.is_set() or stop.is_set() or left <= 0:
                return f"subscriptions not acknowledged ({len(self._acked)} of {len(CHANNELS)})"
            await wait_any([closed, stop], min(left, 0.05))
        reconnect = self.stats.connects > 0
        self.stats.connects += 1
        self._current = key
        # The old connection vouched for nothing after its last push, nor (if it pushed nothing) after
        # it was subscribed: the backfill starts at the later of the two, less a margin for clocks.
        vouched_ms = max(self._last_push_ms or 0, self._subscribed_ms)
        since_ms = vouched_ms - self._margin_ms
        self._subscribed_ms = self._clock_ms()
        self._replace_now.clear()
        self._expected.clear()  # pushes missed before now are the backfill's, not this key's fault
        if reconnect and self._on_reconnect is not None:
            self._spawn(self._on_reconnect(since_ms))
        for old in [k for k in self._keys if k != key]:  # paced: the backfill above goes first
            await self._delete(old)
        next_ping = time.monotonic() + self.ping_s
        next_canary = time.monotonic() + self.canary_s
        while True:
            now = time.monotonic()
            if closed.is_set():
                return f"closed by the venue (code {ws.close_code}, reason {ws.close_reason!r})"
            if stop.is_set():
                return "stopped"
            if self._replace_now.is_set():
                return self._replace_reason
            overdue = [o for o, deadline in self._expected.items() if deadline <= now]
            if overdue:
                self._expected.clear()  # the backfill after the reconnect covers these orders
                self.stats.canary_trips += 1
                return f"canary: no push for accepted order {overdue[0]} in {self._grace_ms} ms"
            if now - self._last_frame >= self.silence_s:
                return f"no frame for {self.silence_s:g} s (not even a PONG)"
            if now >= next_ping:
                await ws.send(PING)
                next_ping = now + self.ping_s
            if self._canary_source is not None and now >= next_canary:
                self._spawn(self._run_canary(self._canary_source))
                next_canary = now + self.canary_s
            if now - self._keys.get(key, now) >= self.keepalive_s:
                try:
                    await self._client.listen_key_extend(key)
                except Exception as exc:
                    if getattr(exc, "code", None) == LISTEN_KEY_GONE:
                        self._keys.pop(key, None)  # nothing left to DELETE
                    return f"listenKey keep-alive failed ({_describe(exc, key)})"
                self._keys[key] = time.monotonic()
            put_at = self._keys.get(key, now) + self.keepalive_s
            wake = min(next_ping, self._last_frame + self.silence_s, put_at, *self._expected.values())
            if self._canary_source is not None:
                wake = min(wake, next_canary)
            await wait_any([closed, stop, self._replace_now], max(0.005, wake - time.monotonic()))

    async def _read(self, ws: ClientConnection, closed: asyncio.Event) -> None:
        try:
            async for data in ws:
                self._last_frame = time.monotonic()
                if isinstance(data, str):
                    self._on_text(data)
                else:
                    self._on_push(data)
        except ConnectionClosed:
            pass
        finally:
            closed.set()

    def _on_text(self, text: str) -> None:
        # Acks and PONGs: {"id":1,"code":0,"msg":"spot@private.orders.v3.api.pb"}, {..."msg":"PONG"}.
        try:
            msg = json.loads(text).get("msg")
        except (ValueError, AttributeError):
            log.warning("user stream: unreadable text frame %r", text[:200])
            return
        if msg in CHANNELS:
            self._acked.add(msg)
        elif msg != "PONG":
            log.warning("user stream: venue says %r", str(msg)[:200])

    def _on_push(self, frame: bytes) -> None:
        try:
            push = decode(frame)
        except BadFrameError as exc:
            self.stats.bad_frames += 1
            log.warning("user stream: bad push (%s)", exc)
            return
        if push is None:
            return
        self.stats.pushes += 1
        try:
            if isinstance(push, OrderPush):
                self._last_push_ms = max(self._last_push_ms or 0, push.send_ms)
                # Terminal ones too: openOrders may list an order a moment after its last push.
                self._remember(push.order_id, push.cum_qty)
                self._expected.pop(push.order_id, None)
                self._on_order(push)
            elif isinstance(push, VenueTrade):
                self._last_push_ms = max(self._last_push_ms or 0, push.time_ms)
                self._on_trade(push)
            else:
                self._last_push_ms = max(self._last_push_ms or 0, push.time_ms)
                self._on_account(push)
        except Exception:  # the owner's bug must not stop the fills behind it
            self.stats.callback_errors += 1
            log.exception("user stream: a push callback failed")

    def _remember(self, order_id: str, cum_qty: Decimal) -> None:
        seen = self._orders.pop(order_id, None)
        self._orders[order_id] = cum_qty if seen is None else max(seen, cum_qty)
        if len(self._orders) > MAX_TRACKED_ORDERS:
            del self._orders[next(iter(self._orders))]

    async def _run_canary(self, source: Callable[[], Awaitable[Iterable[VenueOrder]]]) -> None:
        self.canary(await source())

    def _spawn(self, work: Awaitable[object]) -> None:
        """Run the owner's backfill or the canary's REST call beside the socket (PINGs must go on)."""

        async def guarded() -> object:
            try:
                return await work
            except Exception:
                log.exception("user stream: %s failed", getattr(work, "__qualname__", "a task"))
                return None

        task = asyncio.create_task(guarded(), name="fx-userstream-task")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _short(key: str) -> str:
    """A listenKey as logs show it: it grants reading the account's orders and fills."""
    return key[:6] + "…"


def _retry_after_s(exc: BaseException) -> float:
    # VenueError of a 429/418 carries the venue's Retry-After; waiting less only earns a ban.
    wait = getattr(exc, "retry_after_s", None)
    return float(wait) if isinstance(wait, int | float) else 0.0


def _describe(exc: BaseException, key: str = "") -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text.replace(key, _short(key)) if key else text
