"""The fake private venue's REST side against docs/mexc-orders.md §2: signatures (every vector of
§2.2 accepted, any change rejected), the time window, errors and their codes, the endpoints' shapes,
and the matching/account model of §2.6. Plain httpx; no fx code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.fake_mexc_private import ApiKey, FakePrivateVenue
from tests.fake_mexc_private.auth import hmac_hex, split_signature
from tests.fake_mexc_private.harness import call, code_of
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET

# (message, signature, method, path) from §2.2, all [VER]
VECTORS = {
    "D2": (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
        "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a",
    ),
    "F1": (
        "symbol=PEPEUSDT&side=BUY&type=LIMIT&quantity=1000000&price=0.0000101"
        "&newClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp=1765000000000",
        "dfb71cdca26f6890051dbde5adb42fadb351628ff48a62b3c30aa31bae744b0b",
    ),
    "F2": (
        "symbol=PEPEUSDT&side=BUY&type=MARKET&quoteOrderQty=25&newClientOrderId=fxk7q2m9e00000002"
        "&recvWindow=5000&timestamp=1765000000100",
        "9929e3ad2e7c4da81faba5833f8b63171db231a50c429a7039b1259ebd90f252",
    ),
    "F3": (
        "symbol=PEPEUSDT&origClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp=1765000001000",
        "d391a1f436fddf8b06b8c0d37d5ea99ee9a799c962ad0782ecdbc944706ca220",
    ),
    "F4": (
        "symbol=PEPEUSDT&origClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp=1765000002000",
        "a302f983a8a9be9705a4ed7d021bacf2eac1ad9b3d21048c8911e4ebdc27c42c",
    ),
    "F5": (
        "symbol=PEPEUSDT&recvWindow=5000&timestamp=1765000003000",
        "b5856a8ae66c3f10fddfd0dea7e07843fc6603c86a9c1e4a51623e1861bf9f71",
    ),
    "F6": (
        "symbol=PEPEUSDT&recvWindow=5000&timestamp=1765000004000",
        "312c3d02f830b81380a085529916e1403b3ca5246ca22c29bdff0c0ccc389640",
    ),
    "F7": (
        "symbol=PEPEUSDT&orderId=C02__600000000000000001&recvWindow=5000&timestamp=1765000005000",
        "f9474517252c5a5b409ce5afc77cd99f542c553a4ba4f7304de40179f769d995",
    ),
    "F8": (
        "recvWindow=5000&timestamp=1765000006000",
        "fc24a0d099ce14f2f284dac7785c561e57b932e0675a9a98e9def59d563da7e9",
    ),
    "F9": ("timestamp=1765000007000", "1f5cbb28d5b9688b220633d653e0abe1012937ac631abd63a07a43f1a242f2c6"),
    "F11": (
        "symbol=BTCUSDT%2CMXUSDT&timestamp=1765000009000",
        "08ee596040de34d812a2bcaff87e50ed3931dc97c1984b3e0b754f66c45e91b9",
    ),
    "F11raw": (
        "symbol=BTCUSDT,MXUSDT&timestamp=1765000009000",
        "2dd710f907d4f141288320558198ba76b29fb35d9e550952683db41a6f50a9e0",
    ),
}
D3 = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT",
    "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
    "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592",
)
# the vector, where it is sent (the F-vectors in order: each request meets the state the previous made)
SENT = [
    ("F1", "POST", "/api/v3/order"),
    ("F3", "DELETE", "/api/v3/order"),
    ("F4", "GET", "/api/v3/order"),
    ("F5", "GET", "/api/v3/openOrders"),
    ("F6", "DELETE", "/api/v3/openOrders"),
    ("F2", "POST", "/api/v3/order"),
    ("F7", "GET", "/api/v3/myTrades"),
    ("F8", "GET", "/api/v3/account"),
    ("F9", "POST", "/api/v3/userDataStream"),
    ("F11", "DELETE", "/api/v3/openOrders"),
    ("F11raw", "DELETE", "/api/v3/openOrders"),
]
SYMBOLS = {"PEPEUSDT": {}, "BTCUSDT": {"last": "11"}, "MXUSDT": {}}
Venue = FakePrivateVenue


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[FakePrivateVenue, httpx.AsyncClient]]:
    """A venue and an httpx client pointed at it."""
    options.setdefault("symbols", SYMBOLS)
    venue = FakePrivateVenue(max_lifetime_s=30, **options)
    async with venue, httpx.AsyncClient(base_url=venue.rest_url, timeout=5.0) as client:
        yield venue, client


def run(test: Callable[..., Awaitable[None]], **options: Any) -> None:
    """Run `test(venue, client)` against a fresh venue."""

    async def body() -> None:
        async with running(**options) as (venue, client):
            await test(venue, client)

    asyncio.run(body())


def stamp(message: str) -> int:
    """The `timestamp` parameter of a vector's message."""
    return int(message.rpartition("timestamp=")[2].partition("&")[0])


async def raw(
    client: httpx.AsyncClient, method: str, target: str, body: str = "", key: str = DOC_KEY
) -> httpx.Response:
    """Send `target` and `body` byte for byte (httpx would re-encode a params dict)."""
    headers = {"X-MEXC-APIKEY": key, "Content-Type": "application/json"}
    return await client.request(method, target, content=body.encode(), headers=headers)


# ------------------------------------------------------------------------------------ §2.2 signatures


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_signature_vector_matches_the_spec(name: str) -> None:
    message, signature = VECTORS[name]

    rest, found = split_signature(f"{message}&signature={signature}")

    assert (rest, found) == (message, signature)
    assert hmac_hex(DOC_SECRET, message) == signature


def test_doc_example_1_value_is_rejected_for_the_d2_message() -> None:
    message, _ = VECTORS["D2"]

    assert not hmac_hex(DOC_SECRET, message).startswith("323c96ab")


def test_every_spec_vector_request_is_accepted_in_sequence() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.transfer("PEPE", "1")  # so F8's account lists PEPE too
        answers = {}
        for name, method, path in SENT:
            message, signature = VECTORS[name]
            venue.frozen_ms = stamp(message) + 5
            answers[name] = await raw(client, method, f"{path}?{message}&signature={signature}")

        assert answers["F1"].status_code == 200, answers["F1"].text
        order_id = answers["F1"].json()["orderId"]
        assert order_id.startswith("C02__")
        assert answers["F3"].json()["origClientOrderId"] == "fxk7q2m9e00000001"
        assert answers["F4"].json()["status"] == "CANCELED"
        assert answers["F5"].json() == []
        assert answers["F6"].json() == []
        assert answers["F2"].status_code == 200, answers["F2"].text
        assert answers["F7"].json() == []  # F7's order id is the spec's, not this venue's
        assert {b["asset"] for b in answers["F8"].json()["balances"]} >= {"USDT", "PEPE"}
        assert len(answers["F9"].json()["listenKey"]) == 64
        for name in ("F11", "F11raw"):
            assert answers[name].status_code == 200, answers[name].text

    run(body)


def test_d2_d3_accepted_in_query_body_and_mixed() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        message, signature = VECTORS["D2"]
        first, second, mixed_sig = D3
        venue.frozen_ms = stamp(message) + 1

        in_query = await raw(client, "POST", f"/api/v3/order/test?{message}&signature={signature}")
        in_body = await raw(client, "POST", "/api/v3/order/test", f"{message}&signature={signature}")
        mixed = await raw(client, "POST", f"/api/v3/order/test?{first}", f"{second}&signature={mixed_sig}")

        assert [r.status_code for r in (in_query, in_body, mixed)] == [200, 200, 200], mixed.text
        assert in_query.json() == {}
        assert venue.ledger()["orders"] == []  # order/test creates nothing

    run(body)


@pytest.mark.parametrize(
    "change",
    ["upper-case hex", "one digit", "reordered", "re-encoded comma", "json body", "other secret"],
)
def test_changed_request_fails_signature_check_700002(change: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        message, signature = VECTORS["F5"]
        venue.frozen_ms = stamp(message) + 1
        target, payload = f"/api/v3/openOrders?{message}&signature={signature}", ""
        if change == "upper-case hex":
            target = target.replace(signature, signature.upper())
        elif change == "one digit":
            target = target.replace("recvWindow=5000", "recvWindow=5001")
        elif change == "reordered":
            target = target.replace("symbol=PEPEUSDT&recvWindow=5000", "recvWindow=5000&symbol=PEPEUSDT")
        elif change == "re-encoded comma":
            m11, s11 = VECTORS["F11raw"]
            venue.frozen_ms = stamp(m11) + 1
            target = f"/api/v3/openOrders?{m11.replace(',', '%2C')}&signature={s11}"
        elif change == "json body":
            target, payload = "/api/v3/openOrders", '{"symbol":"PEPEUSDT","signature":"' + signature + '"}'
        else:
            target = target.replace(signature, hmac_hex("0" * 32, message))

        answer = await raw(client, "DELETE" if "comma" in change else "GET", target, payload)

        assert (answer.status_code, code_of(answer)) == (400, 700002)

    run(body)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("no key header", 400),
        ("unknown key", 10072),
        ("revoked key", 10072),
        ("no signature", 700004),
        ("recvWindow 60001", 700005),
        ("timestamp 1 s ahead", 700003),
        ("timestamp older than recvWindow", 700003),
        ("no read permission", 700007),
        ("ip not whitelisted", 700006),
    ],
)
def test_authentication_failures_have_documented_codes(case: str, code: int) -> None:
    keys = {
        DOC_KEY: ApiKey(DOC_SECRET),
        "writeonly": ApiKey("s1", permissions=frozenset({"SPOT_DEAL_WRITE"})),
        "walled": ApiKey("s2", ip_whitelist=frozenset({"10.1.2.3"})),
        "gone": ApiKey("s3", revoked=True),
    }

    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.frozen_ms = now = 1_765_000_000_000
        params = [("symbol", "PEPEUSDT")]
        if case == "no key header":
            answer = await client.get("/api/v3/openOrders?symbol=PEPEUSDT&timestamp=1&signature=ab")
        elif case == "unknown key":
            answer = await call(client, "GET", "/api/v3/openOrders", params, key="nobody", timestamp_ms=now)
        elif case == "revoked key":
            answer = await call(
                client, "GET", "/api/v3/openOrders", params, key="gone", secret="s3", timestamp_ms=now
            )
        elif case == "no signature":
            answer = await raw(client, "GET", f"/api/v3/openOrders?symbol=PEPEUSDT&timestamp={now}")
        elif case == "recvWindow 60001":
            answer = await call(
                client, "GET", "/api/v3/openOrders", [*params, ("recvWindow", "60001")], timestamp_ms=now
            )
        elif case == "timestamp 1 s ahead":
            answer = await call(client, "GET", "/api/v3/openOrders", params, timestamp_ms=now + 1000)
        elif case == "timestamp older than recvWindow":
            answer = await call(client, "GET", "/api/v3/openOrders", params, timestamp_ms=now - 5001)
        elif case == "no read permission":
            answer = await call(
                client, "GET", "/api/v3/openOrders", params, key="writeonly", secret="s1", timestamp_ms=now
            )
        else:
            answer = await call(
                client, "GET", "/api/v3/openOrders", params, key="walled", secret="s2", timestamp_ms=now
            )

        assert (answer.status_code, code_of(answer)) == (400, code)

    run(body, keys=keys)


def test_time_window_edges_follow_the_documented_rule() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.frozen_ms = now = 1_765_000_000_000
        params = [("symbol", "PEPEUSDT")]

        just_ahead = await call(client, "GET", "/api/v3/openOrders", params, timestamp_ms=now + 999)
        oldest = await call(client, "GET", "/api/v3/openOrders", params, timestamp_ms=now - 5000)
        wide = await call(
            client, "GET", "/api/v3/openOrders", [*params, ("recvWindow", "60000")], timestamp_ms=now - 60000
        )

        assert [r.status_code for r in (just_ahead, oldest, wide)] == [200, 200, 200]

    run(body)


def test_venue_stops_itself_after_its_max_lifetime() -> None:
    async def body() -> None:
        venue = FakePrivateVenue(max_lifetime_s=0.3)
        async with venue, httpx.AsyncClient(base_url=venue.rest_url) as client:
            alive = await client.get("/api/v3/ping")
            await asyncio.sleep(0.5)

            with pytest.raises(httpx.ConnectError):
                await client.get("/api/v3/ping")

            assert alive.status_code == 200
            assert venue.rest_url.startswith("http://127.0.0.1:")

    asyncio.run(body())
