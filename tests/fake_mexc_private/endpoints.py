"""The private REST API of the fake venue (docs/mexc-orders.md §2.5): routing, rate limits, §2.2
authentication, parameter checks, the REST-side faults of §5, and the documented answer shapes.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tests.fake_mexc_private import views
from tests.fake_mexc_private.auth import ACCOUNT, READ, WRITE, Raw, SignedRequest, authenticate
from tests.fake_mexc_private.book import OPEN, Order
from tests.fake_mexc_private.faults import REST_KINDS, Fault
from tests.fake_mexc_private.limits import RateLimitError
from tests.fake_mexc_private.replies import VenueError, illegal, missing
from tests.fake_mexc_private.symbols import LIMIT_TYPES, ORDER_TYPES, NewOrder, check, text
from tests.fake_mexc_private.wire import Reply

if TYPE_CHECKING:
    from tests.fake_mexc_private.venue import FakePrivateVenue

NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")  # plain decimals only: exponents are 700008 [CHOICE]
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DAY_MS = 86_400_000
HTML = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>Reference #18.{1}</p></body></html>"


@dataclass(frozen=True)
class Call:
    """One authenticated request as the endpoint functions see it."""

    signed: SignedRequest
    fault: Fault | None

    @property
    def params(self) -> dict[str, str]:
        """The request's parameters (query wins over body)."""
        return self.signed.params


Endpoint = Callable[["FakePrivateVenue", Call], Any]


@dataclass(frozen=True)
class Route:
    """An endpoint: the permission its key needs and the rate-limit groups it spends."""

    permission: str
    groups: tuple[str, ...]
    function: Endpoint


async def handle(venue: FakePrivateVenue, raw: Raw) -> Reply:
    """Answer one HTTP request (public, signed or admin), applying any armed REST fault."""
    if raw.path.startswith("/__admin/"):
        return await venue.admin.handle(raw)
    loose = urllib.parse.parse_qs(raw.query + "&" + raw.body)
    client_id = (loose.get("newClientOrderId") or loose.get("origClientOrderId") or [""])[0]
    target = f"{raw.method} {raw.path}"
    fault = venue.faults.pick(REST_KINDS, target, client_id)
    if venue.latency_s:
        await asyncio.sleep(venue.latency_s)
    if fault is not None and fault.kind == "slow":
        await asyncio.sleep(float(fault.params.get("delay_s", 1.0)))
    if fault is not None and fault.kind == "drop_request":
        reply = Reply(0, mode="drop")
    elif fault is not None and not _accepts(fault):
        reply = _fault_reply(fault)
    else:
        reply = _route(venue, raw, fault)
        if fault is not None and fault.kind in ("lost_response", "server_error", "waf", "truncated", "empty"):
            if fault.kind == "lost_response" and fault.params.get("delay_s"):
                await asyncio.sleep(float(fault.params["delay_s"]))
            reply = _fault_reply(fault, reply)
    venue.log_request(raw, reply)
    return reply


def _accepts(fault: Fault) -> bool:
    """Whether the venue processes the request before the fault spoils the answer."""
    if fault.kind in ("lost_response", "truncated", "empty", "fill_before_cancel", "not_found", "slow"):
        return bool(fault.params.get("accept", True))
    if fault.kind in ("server_error", "waf"):
        return bool(fault.params.get("accept", False))
    return False


def _fault_reply(fault: Fault, processed: Reply | None = None) -> Reply:
    kind = fault.kind
    if kind == "lost_response":
        return Reply(0, mode="drop")
    if kind in ("server_error", "waf"):
        status = 403 if kind == "waf" else int(fault.params.get("status", 503))
        title = "403 Forbidden" if kind == "waf" else f"{status} Service Error"
        page = HTML.format(title, fault.rng.randrange(10**8)).encode()
        return Reply(status, page, content_type="text/html")
    if kind in ("truncated", "empty"):
        body = processed.body if processed is not None else b'{"code":0}'
        return Reply(200, body, mode="truncate" if kind == "truncated" else "empty")
    if kind == "rate_limit":
        status = int(fault.params.get("status", 429))
        error: VenueError = RateLimitError(
            status, int(fault.params.get("retry_after", 1 if status == 429 else 120))
        )
        return _error(error)
    if kind == "auth":
        return _error(VenueError(int(fault.params.get("code", 700002))))
    if kind == "reject":
        code = int(fault.params.get("code", 30000))
        return _error(VenueError(code, fault.params.get("msg"), http=int(fault.params.get("http", 400))))
    return _error(VenueError(10203))


def _error(error: VenueError) -> Reply:
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, RateLimitError) else {}
    return Reply(error.http, error.body(), headers)


def _route(venue: FakePrivateVenue, raw: Raw, fault: Fault | None) -> Reply:
    try:
        public = PUBLIC.get((raw.method, raw.path))
        if public is not None:
            return Reply(200, json.dumps(public(venue, urllib.parse.parse_qs(raw.query))).encode())
        route = ROUTES.get((raw.method, raw.path))
        if route is None:
            return Reply(404, b'{"code":404,"msg":"Not Found"}')
        venue.limits.check(raw.headers.get("x-mexc-apikey", raw.peer), route.groups)
        signed = authenticate(raw, venue.keys, venue.now_ms(), permission=route.permission)
        if fault is not None and fault.kind == "not_found" and raw.method == "GET":
            raise VenueError(-2013)
        result = route.function(venue, Call(signed, fault))
        return Reply(200, json.dumps(result, ensure_ascii=False).encode())
    except VenueError as error:
        return _error(error)


# ------------------------------------------------------------------------------------ public


def _time(venue: FakePrivateVenue, _: dict[str, list[str]]) -> Any:
    return {"serverTime": venue.now_ms()}


def _ping(venue: FakePrivateVenue, _: dict[str, list[str]]) -> Any:
    return {}


def _exchange_info(venue: FakePrivateVenue, query: dict[str, list[str]]) -> Any:
    wanted = set(query.get("symbol", [])) | {s for v in query.get("symbols", []) for s in v.split(",")}
    specs = [s for name, s in venue.exchange.specs.items() if not wanted or name in wanted]
    if wanted and not specs:
        raise VenueError(-1121, "Invalid symbol.")
    return {
        "timezone": "CST",
        "serverTime": venue.now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [s.info() for s in specs],
    }


def _default_symbols(venue: FakePrivateVenue, _: dict[str, list[str]]) -> Any:
    names = [n for n, s in venue.exchange.specs.items() if s.spot_allowed]
    return {"code": 200, "data": names, "msg": None}


PUBLIC: dict[tuple[str, str], Callable[[FakePrivateVenue, dict[str, list[str]]], Any]] = {
    ("GET", "/api/v3/time"): _time,
    ("GET", "/api/v3/ping"): _ping,
    ("GET", "/api/v3/exchangeInfo"): _exchange_info,
    ("GET", "/api/v3/defaultSymbols"): _default_symbols,
}


# ------------------------------------------------------------------------------------ orders


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not NUMBER.match(value) or Decimal(value) <= 0:
        raise illegal(name)
    return Decimal(value)


def parse_order(venue: FakePrivateVenue, params: dict[str, str]) -> NewOrder:
    """A new-order request's parameters, checked as the venue checks them (700004/700008/-1128)."""
    for name in ("symbol", "side", "type"):
        if not params.get(name):
            raise missing(name)
    symbol, side, kind = params["symbol"], params["side"].upper(), params["type"].upper()
    if symbol not in venue.exchange.specs:
        raise VenueError(10007, "bad symbol")
    if side not in ("BUY", "SELL"):
        raise illegal("side")
    if kind not in ORDER_TYPES:
        raise illegal("type")
    client_id = params.get("newClientOrderId", "")
    if client_id and not CLIENT_ID.match(client_id):
        raise illegal("newClientOrderId")
    quantity, quote_qty, price = (_decimal(params, n) for n in ("quantity", "quoteOrderQty", "price"))
    if kind in LIMIT_TYPES:
        if quantity is None:
            raise missing("quantity")
        if price is None:
            raise missing("price")
        quote_qty = None
    elif quantity is None and quote_qty is None:
        raise missing("quantity")
    elif quantity is not None and quote_qty is not None:
        raise VenueError(-1128)
    else:
        price = None
    return NewOrder(symbol, side, kind, quantity, quote_qty, price, client_id)


def _api_symbols(venue: FakePrivateVenue, call: Call) -> set[str] | None:
    return venue.keys[call.signed.api_key].symbols


def _new_order(venue: FakePrivateVenue, call: Call) -> Any:
    req = parse_order(venue, call.params)
    check(venue.exchange.specs[req.symbol], req, api_symbols=_api_symbols(venue, call))
    if req.client_id:
        first = venue.exchange.find(req.symbol, order_id=None, client_id=req.client_id)
        if first is not None and venue.duplicate_client_ids == "reject":
            raise VenueError(700008, "Duplicate newClientOrderId")
        if first is not None and venue.duplicate_client_ids == "return_existing":
            return views.ack(first, superset=venue.ack_superset)
    order = venue.exchange.place(req)
    return views.ack(order, superset=venue.ack_superset)


def _test_order(venue: FakePrivateVenue, call: Call) -> Any:
    req = parse_order(venue, call.params)
    check(venue.exchange.specs[req.symbol], req, api_symbols=_api_symbols(venue, call))
    venue.exchange.validate(req)  # the full validation, nothing created (§2.5)
    return {}


def _find(venue: FakePrivateVenue, params: dict[str, str]) -> Order | None:
    if not params.get("symbol"):
        raise missing("symbol")
    order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
    if not order_id and not client_id:
        raise VenueError(
            700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null"
        )
    return venue.exchange.find(params["symbol"], order_id=order_id, client_id=client_id)


def _query_order(venue: FakePrivateVenue, call: Call) -> Any:
    order = _find(venue, call.params)
    if order is None or venue.now_ms() - order.time_ms < venue.read_lag_ms:
        raise VenueError(-2013)  # F3: a just-accepted order is not readable yet
    return views.order(order)


def _cancel_order(venue: FakePrivateVenue, call: Call) -> Any:
    order = _find(venue, call.params)
    if order is None or not order.is_open:
        raise VenueError(-2011)
    if call.fault is not None and call.fault.kind == "fill_before_cancel":
        fraction = Decimal(str(call.fault.params.get("fraction", 1)))
        venue.fill_part(order, fraction)  # F11: the fill lands before the cancel is processed
    return venue.cancel(order, call.params.get("newClientOrderId", ""))


def _cancel_open(venue: FakePrivateVenue, call: Call) -> Any:
    names = [s for s in call.params.get("symbol", "").split(",") if s]
    if not names:
        raise missing("symbol")
    if len(names) > 5 or any(n not in venue.exchange.specs for n in names):
        raise VenueError(10007, "bad symbol")
    targets = [o for o in venue.exchange.orders.values() if o.symbol in names and o.is_open]
    return [venue.cancel(o, "", list_id=True) for o in targets]


def _symbol_orders(venue: FakePrivateVenue, params: dict[str, str]) -> list[Order]:
    symbol = params.get("symbol")
    if not symbol:
        raise missing("symbol")
    if symbol not in venue.exchange.specs:
        raise VenueError(10007, "bad symbol")
    return [o for o in venue.exchange.orders.values() if o.symbol == symbol]


def _open_orders(venue: FakePrivateVenue, call: Call) -> Any:
    return [views.open_order(o) for o in _symbol_orders(venue, call.params) if o.status in OPEN]


def _window(
    venue: FakePrivateVenue, params: dict[str, str], *, default_ms: int, max_back_ms: int
) -> tuple[int, int]:
    now = venue.now_ms()
    end = int(params["endTime"]) if params.get("endTime", "").isdigit() else now
    start = int(params["startTime"]) if params.get("startTime", "").isdigit() else end - default_ms
    return max(start, now - max_back_ms), end


def _limit(params: dict[str, str], default: int, maximum: int) -> int:
    text_value = params.get("limit", "")
    return min(int(text_value), maximum) if text_value.isdigit() and int(text_value) > 0 else default


def _all_orders(venue: FakePrivateVenue, call: Call) -> Any:
    start, end = _window(venue, call.params, default_ms=DAY_MS, max_back_ms=7 * DAY_MS)
    rows = [o for o in _symbol_orders(venue, call.params) if start <= o.time_ms <= end]
    return [views.order(o) for o in rows[: _limit(call.params, 500, 1000)]]


def _my_trades(venue: FakePrivateVenue, call: Call) -> Any:
    symbol = call.params.get("symbol")
    if not symbol:
        raise missing("symbol")
    start, end = _window(venue, call.params, default_ms=30 * DAY_MS, max_back_ms=30 * DAY_MS)
    order_id = call.params.get("orderId")
    rows = [
        t
        for t in venue.exchange.trades.values()
        if t.symbol == symbol and start <= t.time_ms <= end and (not order_id or t.order_id == order_id)
    ]
    rows = rows[: _limit(call.params, 100, 100)]
    return [views.trade(t, null_client_id=venue.trades_null_client_id) for t in rows]


def _account(venue: FakePrivateVenue, call: Call) -> Any:
    ex = venue.exchange
    assets = sorted(a for a in ex.free if ex.free[a] or ex.locked.get(a))
    return {
        "makerCommission": None,
        "takerCommission": None,
        "buyerCommission": None,
        "sellerCommission": None,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "updateTime": None,
        "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": text(ex.free[a]), "locked": text(ex.locked.get(a, Decimal(0)))}
            for a in assets
        ],
        "permissions": ["SPOT"],
    }


def _self_symbols(venue: FakePrivateVenue, call: Call) -> Any:
    own = _api_symbols(venue, call)
    names = [n for n, s in venue.exchange.specs.items() if s.spot_allowed and (own is None or n in own)]
    return {"code": 200, "data": names, "msg": None}


# ------------------------------------------------------------------------------------ listen keys


def _key_param(call: Call) -> str:
    key = call.params.get("listenKey", "")
    if not key:
        raise missing("listenKey")
    return key


def _listen_create(venue: FakePrivateVenue, call: Call) -> Any:
    return {"listenKey": venue.streams.create(call.signed.api_key)}


def _listen_extend(venue: FakePrivateVenue, call: Call) -> Any:
    return {"listenKey": venue.streams.extend(_key_param(call))}


def _listen_delete(venue: FakePrivateVenue, call: Call) -> Any:
    return {"listenKey": venue.streams.delete(_key_param(call))}


def _listen_keys(venue: FakePrivateVenue, call: Call) -> Any:
    return {"listenKey": venue.streams.valid_keys()}


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/v3/order"): Route(WRITE, ("order",), _new_order),
    ("POST", "/api/v3/order/test"): Route(WRITE, ("order",), _test_order),
    ("DELETE", "/api/v3/order"): Route(WRITE, ("order",), _cancel_order),
    ("GET", "/api/v3/order"): Route(READ, (), _query_order),
    ("GET", "/api/v3/openOrders"): Route(READ, (), _open_orders),
    ("DELETE", "/api/v3/openOrders"): Route(WRITE, ("order",), _cancel_open),
    ("GET", "/api/v3/allOrders"): Route(READ, (), _all_orders),
    ("GET", "/api/v3/myTrades"): Route(READ, (), _my_trades),
    ("GET", "/api/v3/account"): Route(ACCOUNT, ("account",), _account),
    ("GET", "/api/v3/selfSymbols"): Route(READ, (), _self_symbols),
    ("POST", "/api/v3/userDataStream"): Route(ACCOUNT, ("listen_key",), _listen_create),
    ("PUT", "/api/v3/userDataStream"): Route(ACCOUNT, ("listen_key",), _listen_extend),
    ("DELETE", "/api/v3/userDataStream"): Route(ACCOUNT, ("listen_key",), _listen_delete),
    ("GET", "/api/v3/userDataStream"): Route(ACCOUNT, ("listen_key",), _listen_keys),
}
