"""The MEXC spot private REST client: signed calls that return `fxcli.model.orders` values and fail
with a typed `VenueError` whose retry class tells the order path what it may do.

Every parameter travels in the query string, signed as sent, with an empty body (spec §2.1). The
client never resends a request on its own, with one exception: a 700003 (timestamp outside the
receive window) is definitive non-execution, so the clock offset is re-measured and the request is
sent once more with a fresh timestamp. A POST or DELETE whose answer is lost or unreadable raises
`OutcomeUnknown`: the order may exist, and only the venue's records can say.

    async with PrivateClient("https://api.mexc.com", keys) as client:
        ack = await client.new_order(OrderRequest("PEPEUSDT", BUY, "LIMIT", cid, quantity=q, price=p))

The key travels only in the `X-MEXC-APIKEY` header; the secret never leaves this process. Neither
appears in a repr, an exception or a log line (venue text is scrubbed of both).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from fxcli.errors import FxError
from fxcli.exchange.mexc_private.answers import (
    parse_ack,
    parse_balances,
    parse_order,
    parse_trade,
)
from fxcli.exchange.mexc_private.budget import Group, OrderBudget
from fxcli.exchange.mexc_private.errors import RetryClass, VenueError, classify, unreadable
from fxcli.exchange.mexc_private.keys import ApiKeys, redact
from fxcli.exchange.mexc_private.rules import SymbolRules, parse_exchange_info
from fxcli.exchange.mexc_private.signing import decimal_text, encode, signed_query
from fxcli.exchange.rest import parse_server_time_ms
from fxcli.model.orders import Ack, Balance, OrderRequest, VenueOrder, VenueTrade

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024  # exchangeInfo of every symbol is a few MB
MAX_RECV_WINDOW_MS = 60_000  # the venue's maximum
T = TypeVar("T")


class PrivateClient:
    """Signed MEXC spot calls over one pooled `httpx.AsyncClient`; use it on one event loop."""

    def __init__(
        self,
        base_url: str,
        keys: ApiKeys,
        *,
        recv_window_ms: int = 5000,
        timeout_s: float = 5.0,
        budget: OrderBudget | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # These come from settings and options: a bad one is the user's to fix (exit 2), not a traceback.
        if not base_url.startswith(("http://", "https://")):
            raise FxError(f"the MEXC REST URL must start with http:// or https://, got {base_url!r}")
        if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise FxError(f"the receive window must be 1..{MAX_RECV_WINDOW_MS} ms, got {recv_window_ms}")
        if timeout_s <= 0:
            raise FxError(f"the MEXC REST timeout must be > 0 s, got {timeout_s:g}")
        self.base_url = base_url.rstrip("/")
        self._keys = keys
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self.budget = budget or OrderBudget()
        self.offset_ms: int | None = None  # venue clock minus ours; None until measured
        self.requests = 0  # requests that left (for tests and metrics)
        self._syncs = 0  # clock measurements so far
        self._sync_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            headers={"Accept": "application/json", "User-Agent": "fx/0.1"},
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=15.0),
            trust_env=False,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"PrivateClient({self.base_url!r}, keys=***)"

    async def __aenter__(self) -> PrivateClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    # ------------------------------------------------------------------ clock and public data

    async def server_time(self) -> int:
        """The venue's clock in ms (`GET /api/v3/time`)."""
        server_ms, _ = await self._time_sample()
        return server_ms

    async def sync_clock(self) -> int:
        """Measure the venue's clock against ours at the midpoint of the round trip; the offset (ms)
        every later timestamp carries."""
        server_ms, local_mid_ms = await self._time_sample()
        self.offset_ms = server_ms - local_mid_ms
        self._syncs += 1
        return self.offset_ms

    async def exchange_info(self, symbols: list[str] | None = None) -> dict[str, SymbolRules]:
        """Trading rules per symbol (all symbols when `symbols` is None)."""
        params = [("symbols", ",".join(symbols))] if symbols else []
        doc = await self._call("GET", "/api/v3/exchangeInfo", params, signed=False)
        return self._decode("GET", "exchangeInfo", lambda: parse_exchange_info(doc))

    async def api_symbols(self) -> set[str]:
        """The symbols this key may trade through the API (`selfSymbols`)."""
        doc = await self._call("GET", "/api/v3/selfSymbols", [])
        return self._decode("GET", "selfSymbols", lambda: {str(s) for s in _list(doc["data"])})

    # ------------------------------------------------------------------ orders

    async def new_order(self, req: OrderRequest) -> Ack:
        """Place an order. The answer has no status and no fills; a lost answer is `OutcomeUnknown`."""
        doc = await self._call("POST", "/api/v3/order", order_params(req), group="order")
        return self._decode("POST", "new order", lambda: parse_ack(doc, req.symbol))

    async def test_order(self, req: OrderRequest) -> None:
        """Validate an order fully at the venue (`order/test`) without placing it."""
        await self._call("POST", "/api/v3/order/test", order_params(req), group="order")

    async def cancel_order(
        self, symbol: str, *, client_id: str | None = None, order_id: str | None = None
    ) -> VenueOrder:
        """Ask to cancel one order. The answer may carry the status from before the cancel (NEW):
        the terminal state arrives by push or query."""
        params = [("symbol", symbol), *_order_ref(client_id, order_id)]
        doc = await self._call("DELETE", "/api/v3/order", params, group="order")
        return self._decode("DELETE", "cancel", lambda: parse_order(doc))

    async def cancel_open_orders(self, symbol: str) -> list[VenueOrder]:
        """Ask to cancel every open order of `symbol` (ours and foreign ones alike)."""
        doc = await self._call("DELETE", "/api/v3/openOrders", [("symbol", symbol)], group="order")
        return self._decode("DELETE", "cancel all", lambda: [parse_order(o) for o in _list(doc)])

    async def query_order(
        self, symbol: str, *, client_id: str | None = None, order_id: str | None = None
    ) -> VenueOrder:
        """One order by client id or order id; unknown → `VenueError` with retry NOT_FOUND (-2013),
        which right after a send may be the venue's read-after-write lag."""
        params = [("symbol", symbol), *_order_ref(client_id, order_id)]
        doc = await self._call("GET", "/api/v3/order", params)
        return self._decode("GET", "order", lambda: parse_order(doc))

    async def open_orders(self, symbol: str) -> list[VenueOrder]:
        """Open orders of `symbol`."""
        doc = await self._call("GET", "/api/v3/openOrders", [("symbol", symbol)])
        return self._decode("GET", "openOrders", lambda: [parse_order(o) for o in _list(doc)])

    async def all_orders(
        self, symbol: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[VenueOrder]:
        """Recent orders of `symbol` (the venue looks back at most 7 days; 24 h by default)."""
        params = [("symbol", symbol), *_window(start_ms, end_ms), ("limit", str(limit))]
        doc = await self._call("GET", "/api/v3/allOrders", params)
        return self._decode("GET", "allOrders", lambda: [parse_order(o) for o in _list(doc)])

    async def my_trades(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[VenueTrade]:
        """Fills of `symbol` (at most 100 per call, one month back)."""
        params = [("symbol", symbol)]
        if order_id is not None:
            params.append(("orderId", order_id))
        params += [*_window(start_ms, end_ms), ("limit", str(limit))]
        doc = await self._call("GET", "/api/v3/myTrades", params)
        return self._decode("GET", "myTrades", lambda: [parse_trade(t) for t in _list(doc)])

    async def account(self) -> dict[str, Balance]:
        """Balances by asset (free and locked by open orders)."""
        doc = await self._call("GET", "/api/v3/account", [], group="account")
        return self._decode("GET", "account", lambda: parse_balances(doc))

    # ------------------------------------------------------------------ user-data stream keys

    async def listen_key_create(self) -> str:
        """A new listenKey for the user-data stream (valid 60 minutes unless extended)."""
        doc = await self._call("POST", "/api/v3/userDataStream", [], group="listen_key")
        return self._decode("POST", "userDataStream", lambda: _text(doc["listenKey"]))

    async def listen_key_extend(self, key: str) -> None:
        """Extend `key` to 60 minutes from now; a dead key raises retry NOT_FOUND (730706)."""
        await self._call("PUT", "/api/v3/userDataStream", [("listenKey", key)], group="listen_key")

    async def listen_key_delete(self, key: str) -> None:
        """Close `key`."""
        await self._call("DELETE", "/api/v3/userDataStream", [("listenKey", key)], group="listen_key")

    async def listen_keys(self) -> list[str]:
        """Every valid listenKey of this account."""
        doc = await self._call("GET", "/api/v3/userDataStream", [], group="listen_key")
        return self._decode("GET", "userDataStream", lambda: [_text(k) for k in _list(doc["listenKey"])])

    # ------------------------------------------------------------------ internals

    async def _time_sample(self) -> tuple[int, int]:
        """The venue's clock (ms) and ours at the midpoint of the round trip (ms); the round trip
        starts when the request leaves, after any wait for the budget."""
        answer = await self._send("GET", "/api/v3/time", [], signed=False, group="other")
        mid_ms = (answer.sent_ns + answer.received_ns) // 2_000_000
        return self._decode("GET", "time", lambda: parse_server_time_ms(answer.body)), mid_ms

    async def _call(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        signed: bool = True,
        group: Group = "other",
    ) -> Any:
        """The JSON document of a 2xx answer. On 700003 re-measure the clock and send once more
        with a fresh timestamp (the venue did not act on the refused request)."""
        if signed and self.offset_ms is None:
            await self._resync(self._syncs)
        syncs = self._syncs
        try:
            answer: _Answer | None = await self._send(method, path, params, signed=signed, group=group)
        except VenueError as exc:
            if exc.retry is not RetryClass.RESYNC_ONCE:
                raise
            log.warning(
                "%s %s: timestamp refused (700003); re-measuring the clock, sending once more", method, path
            )
            answer = None
        if answer is None:  # outside the handler: a second failure is not chained to the first
            await self._resync(syncs)
            answer = await self._send(method, path, params, signed=signed, group=group)
        try:
            return json.loads(answer.body)
        except ValueError:
            what = "empty answer" if not answer.body else "answer is not complete JSON"
            raise unreadable(
                method, "unreadable_answer", f"{method} {path}: {what}", http=answer.status
            ) from None

    async def _resync(self, seen_syncs: int) -> None:
        """Measure the clock unless another call did since `seen_syncs`: thirty orders refused at
        once need one measurement, not thirty."""
        async with self._sync_lock:
            if self._syncs == seen_syncs or self.offset_ms is None:
                await self.sync_clock()

    async def _send(
        self, method: str, path: str, params: list[tuple[str, str]], *, signed: bool, group: Group
    ) -> _Answer:
        """One request and its 2xx answer: wait for the budget, then stamp and sign (a timestamp
        taken before a wait in line would be stale on arrival), send, and turn every failure into a
        `VenueError`."""
        await self.budget.acquire(group)
        headers: dict[str, str] = {}
        if signed:
            now_ms = time.time_ns() // 1_000_000 + (self.offset_ms or 0)
            stamped = [*params, ("recvWindow", str(self.recv_window_ms)), ("timestamp", str(now_ms))]
            query = signed_query(self._keys.secret, stamped)
            headers["X-MEXC-APIKEY"] = self._keys.key
        else:
            query = encode(params)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        self.requests += 1
        sent_ns = time.time_ns()
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._http.request(method, url, headers=headers)
                body = await _read(response)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was made: the request certainly never reached the venue.
            raise VenueError(
                "not_sent", RetryClass.RETRY_GET, self._scrub(f"{method} {path}: {exc}")
            ) from None
        except TimeoutError:
            raise unreadable(
                method, "timeout", f"{method} {path}: no answer within {self.timeout_s:g} s"
            ) from None
        except (httpx.HTTPError, httpx.StreamError, OSError) as exc:
            detail = self._scrub(f"{method} {path}: {type(exc).__name__}: {exc}")
            raise unreadable(method, "transport_error", detail) from None
        received_ns = time.time_ns()
        status = response.status_code
        if not 200 <= status < 300:
            error = classify(method, status, body, response.headers, scrub=self._scrub)
            if error.retry_after_s is not None:
                self.budget.block(error.retry_after_s)
            log.info("%s %s: %s", method, path, error)
            raise error
        return _Answer(status, body, sent_ns, received_ns)

    def _decode(self, method: str, what: str, build: Callable[[], T]) -> T:
        """Decode a 2xx answer; one we cannot read fails closed like a lost answer."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            detail = self._scrub(f"{what}: unexpected answer ({type(exc).__name__}: {exc})")
            raise unreadable(method, "unexpected_answer", detail, http=200) from None

    def _scrub(self, text: str) -> str:
        return redact(text, self._keys)


@dataclass(frozen=True)
class _Answer:
    """A 2xx answer, and when its request left and its body arrived (wall clock, ns)."""

    status: int
    body: bytes
    sent_ns: int
    received_ns: int


async def _read(response: httpx.Response) -> bytes:
    """The body, refused past `MAX_BODY_BYTES` (a venue answer is never that big)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise httpx.DecodingError(f"answer larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def order_params(req: OrderRequest) -> list[tuple[str, str]]:
    """The new-order parameters in the order they are signed and sent (numbers as plain decimals)."""
    params = [("symbol", req.symbol), ("side", req.side), ("type", req.type)]
    for name, value in (("quantity", req.quantity), ("quoteOrderQty", req.quote_qty), ("price", req.price)):
        if value is not None:
            params.append((name, decimal_text(value)))
    params.append(("newClientOrderId", req.client_id))
    return params


def _order_ref(client_id: str | None, order_id: str | None) -> list[tuple[str, str]]:
    if (client_id is None) == (order_id is None):
        raise ValueError("name the order by exactly one of client_id and order_id")
    return [("orderId", order_id)] if order_id is not None else [("origClientOrderId", client_id or "")]


def _window(start_ms: int | None, end_ms: int | None) -> list[tuple[str, str]]:
    params = []
    if start_ms is not None:
        params.append(("startTime", str(start_ms)))
    if end_ms is not None:
        params.append(("endTime", str(end_ms)))
    return params


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a non-empty string, got {value!r}")
    return value
