"""The fake MEXC private venue: `async with FakePrivateVenue(seed=1, symbols=["PEPEUSDT"]) as venue:`
then `venue.rest_url` (signed REST, docs/mexc-orders.md §2) and `venue.ws_url` (user stream, §3).

It is the ground truth issue-15 tests compare against: `ledger()` holds every order, trade, balance
and external transfer. Faults of §5 are armed with `fault(kind, when=…)` or set as knobs below. Only
127.0.0.1 is bound, and the venue stops itself after `max_lifetime_s` whatever the test does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.fake_mexc_private import endpoints, pushes, views
from tests.fake_mexc_private.admin import Admin
from tests.fake_mexc_private.auth import ApiKey, Raw
from tests.fake_mexc_private.book import (
    AccountEvent,
    DealEvent,
    Event,
    Exchange,
    Order,
    OrderEvent,
)
from tests.fake_mexc_private.faults import Fault, Faults, make_fault
from tests.fake_mexc_private.limits import RateLimits
from tests.fake_mexc_private.symbols import NewOrder, SymbolSpec, decimals, default_spec, text
from tests.fake_mexc_private.userstream import UserStreams
from tests.fake_mexc_private.wire import Reply, close_server, serve_connection

HOST = "127.0.0.1"
# the key and secret of MEXC's documentation (§2.2 vectors are signed with them)
DOC_KEY = "mx0aBYs33eIilxBWC5"
DOC_SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"
DEFAULT_LAST = {"PEPEUSDT": "0.0000101", "BTCUSDT": "11", "MXUSDT": "3.5121"}


@dataclass(frozen=True)
class RequestLog:
    """One REST request as the venue saw and answered it (rate-limit tests read these)."""

    mono_s: float
    method: str
    path: str
    status: int
    code: int | None


class FakePrivateVenue:
    """MEXC spot private REST and user stream on 127.0.0.1, with the §5 faults as knobs."""

    def __init__(
        self,
        *,
        seed: int = 1,
        symbols: Iterable[str] | Mapping[str, Mapping[str, Any]] = ("PEPEUSDT",),
        keys: Mapping[str, str | ApiKey] | None = None,
        balances: Mapping[str, str] | None = None,
        max_lifetime_s: float = 300.0,
    ) -> None:
        self.seed = seed
        rng = random.Random(seed)
        overrides = dict(symbols) if isinstance(symbols, Mapping) else {s: {} for s in symbols}
        specs = {name: _spec(name, dict(fields), rng) for name, fields in overrides.items()}
        given = keys if keys is not None else {DOC_KEY: DOC_SECRET}
        self.keys: dict[str, ApiKey] = {
            k: v if isinstance(v, ApiKey) else ApiKey(v) for k, v in given.items()
        }
        start = {a: Decimal(v) for a, v in (balances or {"USDT": "10000"}).items()}
        for spec in specs.values():
            start.setdefault(spec.base, Decimal(0))
            start.setdefault(spec.quote, Decimal(0))
        self.clock_offset_ms = 0  # F7: the venue's clock minus local wall time
        self.frozen_ms: int | None = None  # a fixed venue clock (signature vectors use 2025 timestamps)
        self.faults = Faults()
        self.limits = RateLimits()
        self.exchange = Exchange(specs, start, seed=seed, clock=self.now_ms, emit=self._on_event)
        for name, spec in specs.items():
            self.exchange.set_book(name, *_default_book(spec, rng))
        self.streams = UserStreams(seed=seed, clock=self.now_ms, faults=self.faults)
        self.admin = Admin(self)
        # venue-wide knobs (§5)
        self.latency_s = 0.0  # F24: every REST answer this much later
        self.read_lag_ms = 0  # F3: GET /order answers -2013 for this long after an order is accepted
        self.duplicate_client_ids = "reject"  # F5: "reject" | "accept" (two orders) | "return_existing"
        self.cancel_status = "NEW"  # F12: the cancel answer's status: "NEW" (pre-cancel) | "CANCELED"
        self.cancel_push_delay_s: float | None = 0.0  # F12: terminal push after a cancel; None: never
        self.ack_superset = False  # new-order answer with status/executedQty/clientOrderId
        self.trades_null_client_id = False  # myTrades rows with "clientOrderId": null
        self.deal_before_order = False  # §3.6: a fill's deal push goes out before its order push
        self.max_lifetime_s = max_lifetime_s
        self.requests: list[RequestLog] = []
        self.rest_url = ""
        self._rest: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._cancelling = False
        self._cancel_seq = 0
        self._order_after_deal: tuple[bytes, str] | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakePrivateVenue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        """The user stream's URL; connect to `ws_url + "?listenKey=" + key`."""
        return self.streams.ws_url

    async def start(self) -> None:
        """Bind REST and the user stream on 127.0.0.1 (random ports)."""
        self._rest = await asyncio.start_server(self._connection, HOST, 0, limit=16_384)
        self.rest_url = f"http://{HOST}:{self._rest.sockets[0].getsockname()[1]}"
        await self.streams.start()
        self._tasks = [asyncio.create_task(self._lifetime())]

    async def stop(self) -> None:
        """Close every connection and both servers; idempotent."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.streams.stop()
        for writer in list(self._writers):  # keep-alive connections outlive a closed listener
            writer.transport.abort()
        await close_server(self._rest)
        self._rest = None

    async def _lifetime(self) -> None:
        await asyncio.sleep(self.max_lifetime_s)
        self._tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        await self.stop()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await serve_connection(reader, writer, self._answer)
        finally:
            self._writers.discard(writer)

    async def _answer(self, raw: Raw) -> Reply:
        return await endpoints.handle(self, raw)

    def now_ms(self) -> int:
        """The venue's clock in ms (wall time plus `clock_offset_ms`, or `frozen_ms`)."""
        if self.frozen_ms is not None:
            return self.frozen_ms
        return time.time_ns() // 1_000_000 + self.clock_offset_ms

    def log_request(self, raw: Raw, reply: Reply) -> None:
        """Record one answered request."""
        code = None
        if reply.status >= 400 and reply.content_type == "application/json":
            with contextlib.suppress(ValueError, KeyError):
                code = int(_json_code(reply.body))
        self.requests.append(RequestLog(time.monotonic(), raw.method, raw.path, reply.status, code))

    # ------------------------------------------------------------------ faults and knobs

    def fault(self, kind: str, *, when: str | int | None = None, **options: Any) -> Fault:
        """Arm a §5 fault (see `faults.KINDS`): `when` a regex over "METHOD /path" (or a push
        channel) or the nth matching request; options `client_id`, `times`, `probability`, `seed`
        and the kind's own parameters."""
        return self.faults.add(make_fault(kind, when=when, **options))

    def skew(self, offset_ms: int) -> None:
        """F7: the venue's clock runs `offset_ms` ahead of local time (negative: behind)."""
        self.clock_offset_ms = offset_ms

    def set_symbol(self, symbol: str, **fields: Any) -> None:
        """F20/F23: change a symbol's rules mid-run (`status="2"`, `trade_side_type=3`, precisions …)."""
        spec = self.exchange.specs[symbol]
        for name, value in fields.items():
            if not hasattr(spec, name):
                raise ValueError(f"{symbol}: no rule named {name!r}")
            setattr(spec, name, Decimal(str(value)) if isinstance(getattr(spec, name), Decimal) else value)

    def set_book(
        self, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], last: str | None = None
    ) -> None:
        """Script the other participants' levels of `symbol` (what taker orders consume)."""
        self.exchange.set_book(symbol, bids, asks, last)

    def trade(self, symbol: str, price: str, qty: str | None = None) -> list[str]:
        """A tape print that crosses resting orders (maker fills); returns the new trade ids."""
        return [
            t.trade_id
            for t in self.exchange.trade(symbol, Decimal(price), None if qty is None else Decimal(qty))
        ]

    def advance(self, symbol: str, price: str) -> list[str]:
        """The market moves to `price`: every resting order it crosses fills completely."""
        return self.trade(symbol, price)

    def transfer(self, asset: str, amount: str, kind: str = "DEPOSIT") -> None:
        """F21: a deposit (positive), withdrawal (negative) or airdrop (`kind="SUGAR"`)."""
        self.exchange.transfer(asset, Decimal(amount), kind)

    def place_external(
        self, symbol: str, side: str, type_: str, quantity: str, price: str | None = None, client_id: str = ""
    ) -> str:
        """F19: an order placed outside fx (web/app) on the same account; returns its order id."""
        req = NewOrder(
            symbol, side, type_, Decimal(quantity), None, None if price is None else Decimal(price), client_id
        )
        return self.exchange.place(req, external=True).order_id

    def revoke_key(self, api_key: str) -> None:
        """F8: the key is revoked (every request answers 10072 from now)."""
        self.keys[api_key].revoked = True

    def kill_listen_key(self, key: str, mode: str = "close") -> None:
        """F15: the key dies: "close" (sockets closed), "silent" (open, no pushes), "put_fails"."""
        self.streams.kill(key, mode)

    def fill_part(self, order: Order, fraction: Decimal) -> None:
        """Fill `fraction` of `order`'s remainder at its price as a maker (F11's racing fill)."""
        spec = self.exchange.specs[order.symbol]
        quantum = Decimal(1).scaleb(-spec.base_precision)
        qty = (order.remaining() * fraction).quantize(quantum)
        if qty > 0:
            self.exchange.trade(order.symbol, order.price, qty)

    def cancel(self, order: Order, cancel_id: str, *, list_id: bool = False) -> dict[str, Any]:
        """Cancel `order` and answer as the venue does: the pre-cancel status by default (F12)."""
        before = (order.status, text(order.executed_qty), text(order.cum_quote))
        self._cancelling = True
        try:
            self.exchange.cancel(order)
        finally:
            self._cancelling = False
        status, executed, cum_quote = (
            before
            if self.cancel_status == "NEW"
            else (order.status, text(order.executed_qty), text(order.cum_quote))
        )
        self._cancel_seq += 1
        cid = cancel_id or f"cx{self._cancel_seq:014d}"
        return views.cancel(
            order, status=status, executed=executed, cum_quote=cum_quote, cancel_id=cid, list_id=list_id
        )

    # ------------------------------------------------------------------ ground truth

    def ledger(self) -> dict[str, Any]:
        """Orders (with client ids), trades by id, balances per asset, external transfers, and the
        number of venue orders per client id (for "≤ 1 order per intent")."""
        return views.ledger(self.exchange)

    def open_orders_of(self, prefix: str) -> list[dict[str, Any]]:
        """Open orders whose client id starts with `prefix` (a run's orphans after it stopped)."""
        return [
            views.ledger_order(o)
            for o in self.exchange.orders.values()
            if o.is_open and o.client_id.startswith(prefix)
        ]

    # ------------------------------------------------------------------ pushes

    def _on_event(self, event: Event) -> None:
        now = self.now_ms()
        if isinstance(event, OrderEvent):
            decimals_ = self.exchange.specs[event.order.symbol].quote_precision
            frame = pushes.order_frame(event, send_ms=now, price_decimals=decimals_)
            if self._cancelling and event.status in ("CANCELED", "PARTIALLY_CANCELED"):
                self._publish_later(self.cancel_push_delay_s, pushes.ORDERS, frame, event.order.client_id)
                return
            if self.deal_before_order and event.last_deal_qty is not None:
                self._order_after_deal = (frame, event.order.client_id)  # the deal event comes next
                return
            self.streams.publish(pushes.ORDERS, frame, event.order.client_id)
        elif isinstance(event, DealEvent):
            self.streams.publish(
                pushes.DEALS, pushes.deal_frame(event.trade, send_ms=now), event.trade.client_id
            )
            if self._order_after_deal is not None:
                self.streams.publish(pushes.ORDERS, *self._order_after_deal)
                self._order_after_deal = None
        elif isinstance(event, AccountEvent):
            self.streams.publish(pushes.ACCOUNT, pushes.account_frame(event, create_ms=now, send_ms=now), "")

    def _publish_later(self, delay_s: float | None, channel: str, frame: bytes, client_id: str) -> None:
        if delay_s is None:
            return  # F12: the terminal push never comes; only REST shows the cancel
        if delay_s <= 0:
            self.streams.publish(channel, frame, client_id)
            return
        asyncio.get_running_loop().call_later(delay_s, self.streams.publish, channel, frame, client_id)


def _json_code(body: bytes) -> int:
    value = json.loads(body)["code"]
    return int(value)


def _spec(name: str, fields: dict[str, Any], rng: random.Random) -> SymbolSpec:
    last = Decimal(str(fields.pop("last", DEFAULT_LAST.get(name) or f"{rng.randint(100, 99_999) / 100:.2f}")))
    spec = default_spec(name, last)
    for key, value in fields.items():
        if not hasattr(spec, key):
            raise ValueError(f"{name}: no rule named {key!r}")
        setattr(spec, key, Decimal(str(value)) if isinstance(getattr(spec, key), Decimal) else value)
    return spec


def _default_book(
    spec: SymbolSpec, rng: random.Random
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Five levels a side around the last price, 0.1 % apart, each worth about 50-500 USDT."""
    price_q = Decimal(1).scaleb(-max(spec.quote_precision, decimals(spec.last)))
    qty_q = Decimal(1).scaleb(-spec.base_precision)
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []
    for step in range(1, 6):
        for side, sign in ((bids, -1), (asks, 1)):
            price = (spec.last * (1 + sign * Decimal(step) / 1000)).quantize(price_q)
            qty = (Decimal(rng.randint(50, 500)) / price).quantize(qty_q)
            side.append((text(price), text(qty)))
    return bids, asks
