"""The fake venue's REST trade history: MEXC spot `aggTrades` and futures recent `deals`, served from
the same trade tape the venue streams (every trade it made, whether a client received it or not)."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from tests.fake_mexc import frames

if TYPE_CHECKING:
    from tests.fake_mexc.server import FakeMexc

Answer = tuple[HTTPStatus, dict[str, str], bytes]


def trade_history(venue: FakeMexc, path: str, query: dict[str, str]) -> Answer:
    """The trade tape the venue made (sent or not): spot aggTrades by inclusive time range, oldest
    first and at most `limit`; futures the newest `limit` (at most 100) deals."""
    if venue.trade_history_down:
        return HTTPStatus.SERVICE_UNAVAILABLE, {}, b'{"code":503,"msg":"Service Unavailable"}'
    spot = path == "/api/v3/aggTrades"
    symbol = query.get("symbol", "") if spot else path.rpartition("/")[2]
    market = venue.markets.get(symbol)
    if market is None:
        return HTTPStatus.BAD_REQUEST, {}, b'{"code":-1121,"msg":"Invalid symbol."}'
    tape = venue.trades[symbol]
    if not spot:
        limit = min(100, int(query["limit"])) if query.get("limit", "").isdigit() else 100
        body = frames.futures_rest_deals(tape[-limit:], contract_size=market.contract_size or frames.ONE)
        return HTTPStatus.OK, {}, body
    start, end = query.get("startTime", ""), query.get("endTime", "")
    if not (start.isdigit() and end.isdigit()) or int(end) - int(start) > 3_600_000:
        refused = b'{"code":-1128,"msg":"startTime and endTime, at most 1 h apart"}'
        return HTTPStatus.BAD_REQUEST, {}, refused
    limit = int(query["limit"]) if query.get("limit", "").isdigit() else 500
    window = [t for t in tape if int(start) <= t.time_ms <= int(end)]
    return HTTPStatus.OK, {}, frames.spot_agg_trades(window[: min(limit, 1000)])
