"""The fake's user-data stream (docs/mexc-orders.md §3): the §3.5 example frames byte for byte,
pushes for a real order's life, listen keys (validity, extend, delete, 60-key quota) and the socket
lifecycle (30 s without subscription, 60 s idle, PING/PONG), with plain websockets."""

from __future__ import annotations

import asyncio
import base64
import json
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from tests.fake_mexc_private import pushes
from tests.fake_mexc_private.book import AccountEvent, Order, OrderEvent, Trade
from tests.fake_mexc_private.harness import call, code_of
from tests.fake_mexc_private.test_fake import Venue, run
from tests.fake_mexc_private.test_matching import BOOK, PEPE, place

D = Decimal
SPEC_FRAMES = {  # §3.5, base64 of the binary frames
    1: (
        "Ch1zcG90QHByaXZhdGUub3JkZXJzLnYzLmFwaS5wYhoIUEVQRVVTRFQw3ubKka8zghNsChdDMDJfXzYwMDAwMDAwMDAwMDAw"
        "MDAwMRIRZnhrN3EybTllMDAwMDAwMDEaCTAuMDAwMDEwMSIHMTAwMDAwMCoEMTAuMTIBMDgBQAFSBDEwLjFaBzEwMDAwMDBq"
        "ATByATB4AYABrObKka8z"
    ),
    2: (
        "Ch1zcG90QHByaXZhdGUub3JkZXJzLnYzLmFwaS5wYhoIUEVQRVVTRFQwpOfKka8zghODAQoXQzAyX182MDAwMDAwMDAwMDAw"
        "MDAwMDESEWZ4azdxMm05ZTAwMDAwMDAxGgkwLjAwMDAxMDEiBzEwMDAwMDAqBDEwLjEyCTAuMDAwMDEwMTgBQAFSBDYuMDZa"
        "BjYwMDAwMGIGNDAwMDAwagY0MDAwMDByBDQuMDR4A4ABrObKka8z"
    ),
    3: (
        "ChxzcG90QHByaXZhdGUuZGVhbHMudjMuYXBpLnBiGghQRVBFVVNEVDCl58qRrzOSE28KCTAuMDAwMDEwMRIGNDAwMDAwGgQ0"
        "LjA0IAE6FDYwMDAwMDAwMDAwMDAwMDc3N1gxQhFmeGs3cTJtOWUwMDAwMDAwMUoXQzAyX182MDAwMDAwMDAwMDAwMDAwMDFS"
        "AzIwMFoEUEVQRWCa58qRrzM="
    ),
    4: (
        "Ch5zcG90QHByaXZhdGUuYWNjb3VudC52My5hcGkucGIopufKka8zMKfnypGvM5oTTgoEVVNEVBIgMTI4ZjU4OTI3MWNiNDk1"
        "MWIwM2U3MWU2MzIzZWI3YmUaBDg5LjkiATAqBDYuMDYyBS00LjA0OgdFTlRSVVNUQJrnypGvMw=="
    ),
    5: (
        "Ch1zcG90QHByaXZhdGUub3JkZXJzLnYzLmFwaS5wYhoIUEVQRVVTRFQw4OfKka8zghN8ChdDMDJfXzYwMDAwMDAwMDAwMDAw"
        "MDAwMRIRZnhrN3EybTllMDAwMDAwMDEaCTAuMDAwMDEwMSIHMTAwMDAwMCoEMTAuMTIJMC4wMDAwMTAxOAFAAVIBMFoBMGIG"
        "NjAwMDAwagcxMDAwMDAwcgQxMC4xeAKAAazmypGvMw=="
    ),
    6: (
        "Ch1zcG90QHByaXZhdGUub3JkZXJzLnYzLmFwaS5wYhoIUEVQRVVTRFQwhOvKka8zghN7ChdDMDJfXzYwMDAwMDAwMDAwMDAw"
        "MDAwMRIRZnhrN3EybTllMDAwMDAwMDEaCTAuMDAwMDEwMSIHMTAwMDAwMCoEMTAuMTIJMC4wMDAwMTAxOAFAAVIENi4wNloG"
        "NjAwMDAwagY0MDAwMDByBDQuMDR4BYABrObKka8z"
    ),
    7: (
        "Ch1zcG90QHByaXZhdGUub3JkZXJzLnYzLmFwaS5wYhoGTVhVU0RUMKmAldTEMoITVAoaQzAyX181MDU5NzkwMTc0MzkwMDI2"
        "MjQxMTUaBjMuNTEyMSIBMSoBMDIGMy42OTYyOAVAAlIBMFoBMGIBMWoBMXIGMy42OTYyeAKAAZOAldTEMg=="
    ),
}
SPEC_ORDER = Order(
    "C02__600000000000000001",
    "fxk7q2m9e00000001",
    PEPE,
    "BUY",
    "LIMIT",
    D("0.0000101"),
    D(1000000),
    D("10.1"),
    1765000000300,
)


def spec_frame(number: int) -> bytes:
    """Frame `number` of §3.5 built by the fake's encoders from the example's values."""
    if number in (1, 2, 5, 6):
        status, cum, quote, last, sent = {
            1: ("NEW", D(0), D(0), None, 1765000000350),
            2: ("PARTIALLY_FILLED", D(400000), D("4.04"), D(400000), 1765000000420),
            5: ("FILLED", D(1000000), D("10.1"), D(600000), 1765000000480),
            6: ("PARTIALLY_CANCELED", D(400000), D("4.04"), None, 1765000000900),
        }[number]
        event = OrderEvent(SPEC_ORDER, status, cum, quote, last, 0)
        return pushes.order_frame(event, send_ms=sent)
    if number == 3:
        trade = Trade(
            symbol=PEPE,
            trade_id="600000000000000777X1",
            order_id=SPEC_ORDER.order_id,
            client_id=SPEC_ORDER.client_id,
            side="BUY",
            price=D("0.0000101"),
            qty=D(400000),
            quote_qty=D("4.04"),
            fee=D(200),
            fee_asset="PEPE",
            time_ms=1765000000410,
            is_maker=False,
        )
        return pushes.deal_frame(trade, send_ms=1765000000421)
    if number == 4:
        change = AccountEvent("USDT", D("89.9"), D(0), D("6.06"), D("-4.04"), "ENTRUST", 1765000000410)
        return pushes.account_frame(change, create_ms=1765000000422, send_ms=1765000000423)
    market = Order(
        "C02__505979017439002624115", "", "MXUSDT", "SELL", "MARKET", D("3.5121"), D(1), D(0), 1736417034259
    )
    event = OrderEvent(market, "FILLED", D(1), D("3.6962"), D(1), 0)
    return pushes.order_frame(event, send_ms=1736417034281, price_decimals=4)


@pytest.mark.parametrize("number", sorted(SPEC_FRAMES))
def test_encoder_reproduces_spec_frame_byte_for_byte(number: int) -> None:
    expected = base64.b64decode(SPEC_FRAMES[number])

    built = spec_frame(number)

    assert built == expected


async def open_stream(
    venue: Venue, client: httpx.AsyncClient, channels: tuple[str, ...] = pushes.CHANNELS
) -> tuple[str, ClientConnection]:
    """A new listen key and a socket subscribed to `channels` (acks consumed)."""
    key = (await call(client, "POST", "/api/v3/userDataStream")).json()["listenKey"]
    ws = await connect(f"{venue.ws_url}?listenKey={key}")
    for number, channel in enumerate(channels, 1):
        await ws.send(json.dumps({"method": "SUBSCRIPTION", "params": [channel], "id": number}))
        assert json.loads(await ws.recv()) == {"id": number, "code": 0, "msg": channel}
    return key, ws


async def frames_until_quiet(ws: ClientConnection, quiet_s: float = 0.2) -> list[PushDataV3ApiWrapper]:
    """Binary pushes received until none arrives for `quiet_s`."""
    got: list[PushDataV3ApiWrapper] = []
    while True:
        try:
            message = await asyncio.wait_for(ws.recv(), quiet_s)
        except TimeoutError:
            return got
        if isinstance(message, bytes):
            got.append(PushDataV3ApiWrapper.FromString(message))


def test_order_life_pushes_orders_deals_and_account_with_fee_in_base() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.set_book(PEPE, BOOK["bids"], BOOK["asks"], last="0.0000101")
        _, ws = await open_stream(venue, client)

        await place(client, "BUY", "LIMIT", "fxp1", quantity="1500000", price="0.0000102")
        got = await frames_until_quiet(ws)
        await ws.close()

        orders = [f.privateOrders for f in got if f.HasField("privateOrders")]
        deals = [f.privateDeals for f in got if f.HasField("privateDeals")]
        accounts = [f.privateAccount for f in got if f.HasField("privateAccount")]
        assert [(o.status, o.cumulativeQuantity, o.clientId) for o in orders] == [
            (1, "0", "fxp1"),
            (3, "1000000", "fxp1"),
        ]
        assert orders[1].lastDealQuantity == "1000000"
        assert [(d.quantity, d.price, d.feeAmount, d.feeCurrency, d.isMaker) for d in deals] == [
            ("1000000", "0.0000102", "500", "PEPE", False)
        ]
        assert deals[0].tradeId in venue.ledger()["trades"]
        assert [(a.vcoinName, a.type) for a in accounts] == [
            ("USDT", "ENTRUST_PLACE"),
            ("USDT", "ENTRUST"),
            ("PEPE", "ENTRUST"),
        ]
        assert accounts[-1].balanceAmountChange == "999500"
        assert all(f.symbol == PEPE for f in got if not f.HasField("privateAccount"))

    run(body)


def test_ping_is_answered_pong_and_unknown_channel_is_rejected() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        _, ws = await open_stream(venue, client, ())

        await ws.send('{"method":"PING"}')
        pong = json.loads(await ws.recv())
        await ws.send('{"method":"SUBSCRIPTION","params":["spot@private.nothing"],"id":9}')
        refused = json.loads(await ws.recv())
        await ws.close()

        assert pong == {"id": 0, "code": 0, "msg": "PONG"}
        assert refused["id"] == 9
        assert "Not Subscribed successfully" in refused["msg"]

    run(body)


def test_listen_key_quota_extend_delete_and_list() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.limits.enabled = False
        keys = [(await call(client, "POST", "/api/v3/userDataStream")).json()["listenKey"] for _ in range(60)]

        sixty_first = await call(client, "POST", "/api/v3/userDataStream")
        extended = await call(client, "PUT", "/api/v3/userDataStream", [("listenKey", keys[0])])
        deleted = await call(client, "DELETE", "/api/v3/userDataStream", [("listenKey", keys[0])])
        again = await call(client, "PUT", "/api/v3/userDataStream", [("listenKey", keys[0])])
        listed = (await call(client, "GET", "/api/v3/userDataStream")).json()["listenKey"]
        replacement = await call(client, "POST", "/api/v3/userDataStream")

        assert (sixty_first.status_code, code_of(sixty_first)) == (400, 730003)
        assert extended.json() == {"listenKey": keys[0]}
        assert deleted.json() == {"listenKey": keys[0]}
        assert (again.status_code, code_of(again)) == (400, 730706)
        assert len(listed) == 59
        assert keys[0] not in listed
        assert replacement.status_code == 200

    run(body)


def test_key_expires_after_ttl_unless_extended_and_its_socket_closes() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.limits.enabled = False
        venue.streams.key_ttl_ms = 600
        kept, ws_kept = await open_stream(venue, client)
        lost, ws_lost = await open_stream(venue, client)

        for _ in range(4):
            await asyncio.sleep(0.2)
            await call(client, "PUT", "/api/v3/userDataStream", [("listenKey", kept)])
        put_dead = await call(client, "PUT", "/api/v3/userDataStream", [("listenKey", lost)])
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws_lost.recv(), 1.0)
        await ws_kept.send('{"method":"PING"}')
        pong = json.loads(await ws_kept.recv())
        with pytest.raises(InvalidStatus):
            await connect(f"{venue.ws_url}?listenKey={lost}")
        await ws_kept.close()

        assert (put_dead.status_code, code_of(put_dead)) == (400, 730706)
        assert pong["msg"] == "PONG"

    run(body)


@pytest.mark.parametrize("rule", ["no subscription", "no traffic"])
def test_socket_closes_without_subscription_or_traffic(rule: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.limits.enabled = False
        venue.streams.no_sub_close_s = 0.3 if rule == "no subscription" else 60
        venue.streams.idle_close_s = 0.3 if rule == "no traffic" else 60
        channels = () if rule == "no subscription" else pushes.CHANNELS
        _, ws = await open_stream(venue, client, channels)
        _, pinged = await open_stream(venue, client)

        for _ in range(5):
            await pinged.send('{"method":"PING"}')
            await pinged.recv()
            await asyncio.sleep(0.1)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 1.0)

        reasons = {c.close_reason for c in venue.streams.conns.values()}
        if rule == "no subscription":
            assert "no valid subscription" in reasons
        else:
            assert "idle" in reasons
            assert not pinged.close_code
        await pinged.close()

    run(body)


def test_connection_lifetime_closes_and_a_key_takes_at_most_5_sockets() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.limits.enabled = False
        venue.streams.max_conn_s = 0.4
        key, first = await open_stream(venue, client)
        others = [await connect(f"{venue.ws_url}?listenKey={key}") for _ in range(4)]

        with pytest.raises(InvalidStatus):
            await connect(f"{venue.ws_url}?listenKey={key}")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(first.recv(), 2.0)
        for ws in others:
            await ws.close()

        assert "connection lifetime" in {c.close_reason for c in venue.streams.conns.values()}

    run(body)
