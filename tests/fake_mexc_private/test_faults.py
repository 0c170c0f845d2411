"""Each fault of docs/mexc-orders.md §5 observable with plain httpx/websockets: what the client
sees, and what the venue's ledger says really happened."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest

from tests.fake_mexc_private.harness import call, code_of
from tests.fake_mexc_private.test_fake import Venue, run
from tests.fake_mexc_private.test_matching import BOOK, PEPE, place, query
from tests.fake_mexc_private.test_stream import frames_until_quiet, open_stream

LIMIT = {"quantity": "1000000", "price": "0.0000101"}


def setup(venue: Venue) -> None:
    """The scripted PEPE book; no rate limits (faults are the subject here)."""
    venue.set_book(PEPE, BOOK["bids"], BOOK["asks"], last="0.0000101")
    venue.limits.enabled = False


def test_f1_lost_response_after_accept_leaves_the_order_at_the_venue() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault("lost_response", when="POST /api/v3/order$", client_id="fxf1")

        with pytest.raises(httpx.RemoteProtocolError):
            await place(client, "BUY", "LIMIT", "fxf1", **LIMIT)
        found = await query(client, "fxf1")

        assert found["status"] == "NEW"
        assert venue.ledger()["orders_per_client_id"] == {"fxf1": 1}

    run(body)


def test_f2_request_dropped_before_the_venue_creates_nothing() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault("drop_request", when=1)

        with pytest.raises(httpx.RemoteProtocolError):
            await place(client, "BUY", "LIMIT", "fxf2", **LIMIT)
        missing = await call(
            client, "GET", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxf2")]
        )

        assert (missing.status_code, code_of(missing)) == (400, -2013)
        assert missing.json() == {"msg": "Order does not exist.", "code": -2013, "_extend": None}
        assert venue.ledger()["orders"] == []

    run(body)


def test_f3_read_after_write_lag_answers_not_found_then_the_order() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.read_lag_ms = 300

        await place(client, "BUY", "LIMIT", "fxf3", **LIMIT)
        early = await call(client, "GET", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxf3")])
        listed = (await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)])).json()
        await asyncio.sleep(0.35)
        late = await query(client, "fxf3")

        assert code_of(early) == -2013
        assert [o["clientOrderId"] for o in listed] == ["fxf3"]
        assert late["status"] == "NEW"

    run(body)


@pytest.mark.parametrize("status", [500, 503, 504])
@pytest.mark.parametrize("accept", [True, False])
def test_f4_server_error_with_html_body_accepted_or_not(status: int, accept: bool) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault("server_error", when="POST /api/v3/order", status=status, accept=accept)

        answer = await place(client, "BUY", "LIMIT", "fxf4", **LIMIT)

        assert answer.status_code == status
        assert answer.headers["content-type"] == "text/html"
        assert answer.text.startswith("<html>")
        assert len(venue.ledger()["orders"]) == (1 if accept else 0)

    run(body)


@pytest.mark.parametrize(
    ("mode", "code", "orders", "same_id"),
    [("reject", 700008, 1, None), ("accept", None, 2, False), ("return_existing", None, 1, True)],
)
def test_f5_duplicate_client_id_modes(mode: str, code: int | None, orders: int, same_id: bool | None) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.duplicate_client_ids = mode

        first = await place(client, "BUY", "LIMIT", "fxf5", **LIMIT)
        second = await place(client, "BUY", "LIMIT", "fxf5", **LIMIT)

        if code is not None:
            assert (second.status_code, code_of(second)) == (400, code)
        else:
            assert (second.json()["orderId"] == first.json()["orderId"]) is same_id
        assert venue.ledger()["orders_per_client_id"] == {"fxf5": orders}

    run(body)


@pytest.mark.parametrize(("status", "retry_after"), [(429, "1"), (418, "120")])
def test_f6_forced_rate_limit_is_not_executed(status: int, retry_after: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault("rate_limit", when="POST", status=status)

        answer = await place(client, "BUY", "LIMIT", "fxf6", **LIMIT)
        after = await place(client, "BUY", "LIMIT", "fxf6b", **LIMIT)

        assert (answer.status_code, answer.headers["Retry-After"], code_of(answer)) == (
            status,
            retry_after,
            status,
        )
        assert after.status_code == 200
        assert venue.ledger()["orders_per_client_id"] == {"fxf6b": 1}

    run(body)


@pytest.mark.parametrize("skew_ms", [-1500, 6000])
def test_f7_clock_skew_gives_700003_and_server_time_shows_it(skew_ms: int) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.skew(skew_ms)

        skewed = await place(client, "BUY", "LIMIT", "fxf7", **LIMIT)
        server = (await client.get("/api/v3/time")).json()["serverTime"]
        fixed = await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)], timestamp_ms=server)

        assert (skewed.status_code, code_of(skewed)) == (400, 700003)
        assert fixed.status_code == 200
        assert venue.ledger()["orders"] == []

    run(body)


@pytest.mark.parametrize("code", [700002, 10072, 700006, 700007])
def test_f8_auth_fault_mid_session(code: int) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        before = await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)])
        venue.fault("auth", when="/api/v3/", code=code, times=None)

        during = await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)])

        assert before.status_code == 200
        assert (during.status_code, code_of(during)) == (400, code)

    run(body)


def test_f8_revoked_key_answers_10072() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.revoke_key(next(iter(venue.keys)))

        answer = await call(client, "GET", "/api/v3/account")

        assert (answer.status_code, code_of(answer)) == (400, 10072)

    run(body)


@pytest.mark.parametrize("code", [30002, 30004, 30005, 10101, 30016, 30029, 30041, 30087])
def test_f9_business_reject_creates_nothing(code: int) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault("reject", client_id="fxf9", code=code)

        answer = await place(client, "BUY", "LIMIT", "fxf9", **LIMIT)

        assert (answer.status_code, code_of(answer)) == (400, code)
        assert venue.ledger()["orders"] == []

    run(body)


def test_f10_partial_fills_are_seeded_and_sum_to_the_order() -> None:
    async def ids(seed: int) -> list[tuple[str, str]]:
        venue = Venue(seed=seed, symbols={PEPE: {}}, max_lifetime_s=30)
        async with venue, httpx.AsyncClient(base_url=venue.rest_url) as client:
            setup(venue)
            venue.exchange.partial_fills = (2, 5)
            await place(client, "BUY", "LIMIT", "fxf10", quantity="3000000", price="0.0000101")
            venue.advance(PEPE, "0.0000100")
            trades = (await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE)])).json()
            order = await query(client, "fxf10")
        assert sum(Decimal(t["qty"]) for t in trades) == Decimal(order["executedQty"]) == 3000000
        return [(t["id"], t["qty"]) for t in trades]

    async def body() -> None:
        first, again, other = await ids(3), await ids(3), await ids(4)

        assert len(first) >= 2
        assert first == again
        assert first != other

    asyncio.run(body())


@pytest.mark.parametrize(
    ("fraction", "code", "status"), [("1", -2011, "FILLED"), ("0.5", None, "PARTIALLY_CANCELED")]
)
def test_f11_fill_lands_before_the_cancel(fraction: str, code: int | None, status: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        await place(client, "BUY", "LIMIT", "fxf11", **LIMIT)
        venue.fault("fill_before_cancel", when="DELETE /api/v3/order", fraction=fraction)

        answer = await call(
            client, "DELETE", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxf11")]
        )
        final = await query(client, "fxf11")

        if code is not None:
            assert (answer.status_code, code_of(answer)) == (400, code)
        else:
            assert (answer.json()["status"], answer.json()["executedQty"]) == ("PARTIALLY_FILLED", "500000")
        assert final["status"] == status
        assert len(venue.ledger()["trades"]) >= 1

    run(body)


@pytest.mark.parametrize("delay_s", [0.3, None])
def test_f12_cancel_answered_new_and_terminal_push_late_or_never(delay_s: float | None) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        _, ws = await open_stream(venue, client, ("spot@private.orders.v3.api.pb",))
        await place(client, "BUY", "LIMIT", "fxf12", **LIMIT)
        await frames_until_quiet(ws, 0.1)
        venue.cancel_push_delay_s = delay_s

        answer = await call(
            client, "DELETE", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxf12")]
        )
        soon = await frames_until_quiet(ws, 0.1)
        later = await frames_until_quiet(ws, 0.5)
        rest = await query(client, "fxf12")
        await ws.close()

        assert answer.json()["status"] == "NEW"
        assert rest["status"] == "CANCELED"
        assert soon == []
        assert [f.privateOrders.status for f in later] == ([4] if delay_s else [])

    run(body)


@pytest.mark.parametrize("kind", ["drop_push", "duplicate_push", "reorder_push"])
def test_f13_f14_push_faults(kind: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        _, ws = await open_stream(
            venue, client, ("spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb")
        )
        venue.fault(kind, when="deals", client_id="fxf13")

        await place(client, "BUY", "LIMIT", "fxf13", quantity="1500000", price="0.0000102")
        got = await frames_until_quiet(ws)
        await ws.close()

        channels = [f.channel.split("@")[1].split(".")[1] for f in got]
        expected = {
            "drop_push": ["orders", "orders"],
            "duplicate_push": ["orders", "orders", "deals", "deals"],
            "reorder_push": ["orders", "orders"],
        }[kind]
        assert channels == expected
        assert len(venue.ledger()["trades"]) == 1

    run(body)


def test_f14_reordered_push_arrives_after_the_next_one() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        _, ws = await open_stream(venue, client, ("spot@private.orders.v3.api.pb",))
        venue.fault("reorder_push", when="orders", client_id="fxf14")

        await place(client, "BUY", "LIMIT", "fxf14", **LIMIT)
        venue.advance(PEPE, "0.0000100")
        got = await frames_until_quiet(ws)
        await ws.close()

        assert [f.privateOrders.status for f in got] == [2, 1]  # the NEW snapshot after the FILLED one

    run(body)


@pytest.mark.parametrize("mode", ["close", "silent", "put_fails"])
def test_f15_listen_key_death(mode: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        key, ws = await open_stream(venue, client)
        venue.kill_listen_key(key, mode)

        put = await call(client, "PUT", "/api/v3/userDataStream", [("listenKey", key)])
        if mode == "close":
            await asyncio.sleep(0.1)
            assert ws.close_code == 1000
        else:
            await place(client, "BUY", "LIMIT", "fxf15", quantity="1500000", price="0.0000102")
            assert await frames_until_quiet(ws) == []
            await ws.send('{"method":"PING"}')
            assert json.loads(await ws.recv())["msg"] == "PONG"
            await ws.close()

        assert (put.status_code == 200) is (mode == "silent")

    run(body)


def test_f19_external_order_has_no_client_id_and_is_in_the_ledger() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        order_id = venue.place_external(PEPE, "BUY", "LIMIT", "500000", "0.0000100")

        listed = (await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)])).json()

        assert [(o["orderId"], o["clientOrderId"]) for o in listed] == [(order_id, "")]
        assert venue.ledger()["orders"][0]["external"] is True
        assert venue.open_orders_of("fx") == []

    run(body)


def test_f21_external_balance_change_is_pushed_and_recorded() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        _, ws = await open_stream(venue, client, ("spot@private.account.v3.api.pb",))

        venue.transfer("USDT", "-100", "WITHDRAW")
        venue.transfer("PEPE", "7", "SUGAR")
        got = await frames_until_quiet(ws)
        await ws.close()

        assert [
            (f.privateAccount.vcoinName, f.privateAccount.type, f.privateAccount.balanceAmountChange)
            for f in got
        ] == [
            ("USDT", "WITHDRAW", "-100"),
            ("PEPE", "SUGAR", "7"),
        ]
        assert venue.ledger()["balances"]["USDT"]["free"] == "9900"
        assert [t["kind"] for t in venue.ledger()["transfers"]] == ["WITHDRAW", "SUGAR"]

    run(body)


def test_f24_slow_answer_times_out_a_client_yet_executes() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault("slow", when="POST /api/v3/order", delay_s=0.6)

        with pytest.raises(httpx.ReadTimeout):
            await call(
                client.__class__(base_url=venue.rest_url, timeout=0.2),
                "POST",
                "/api/v3/order",
                [
                    ("symbol", PEPE),
                    ("side", "BUY"),
                    ("type", "LIMIT"),
                    ("quantity", "1000000"),
                    ("price", "0.0000101"),
                    ("newClientOrderId", "fxf24"),
                ],
            )
        await asyncio.sleep(0.6)

        assert venue.ledger()["orders_per_client_id"] == {"fxf24": 1}

    run(body)


@pytest.mark.parametrize("kind", ["waf", "truncated", "empty"])
def test_f25_edge_errors(kind: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.fault(kind, when="POST /api/v3/order")

        if kind == "truncated":
            with pytest.raises(httpx.RemoteProtocolError):
                await place(client, "BUY", "LIMIT", "fxf25", **LIMIT)
        else:
            answer = await place(client, "BUY", "LIMIT", "fxf25", **LIMIT)
            assert answer.status_code == (403 if kind == "waf" else 200)
            assert (answer.content == b"") is (kind == "empty")

        assert len(venue.ledger()["orders"]) == (0 if kind == "waf" else 1)

    run(body)


def test_f14_deal_push_before_its_order_push() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.deal_before_order = True
        _, ws = await open_stream(
            venue, client, ("spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb")
        )

        await place(client, "BUY", "LIMIT", "fxf14d", quantity="1500000", price="0.0000102")
        got = await frames_until_quiet(ws)
        await ws.close()

        pushed = [(f.HasField("privateDeals"), f.privateOrders.status) for f in got]
        assert pushed == [(False, 1), (True, 0), (False, 3)]  # NEW, the deal, then its PARTIALLY_FILLED

    run(body)


def test_fault_probability_is_replayed_exactly_from_its_seed() -> None:
    async def hits(seed: int) -> list[int]:
        venue = Venue(symbols={PEPE: {}}, max_lifetime_s=30)
        async with venue, httpx.AsyncClient(base_url=venue.rest_url) as client:
            setup(venue)
            venue.fault(
                "reject", when="GET /api/v3/openOrders", times=None, probability=0.5, seed=seed, code=10203
            )
            answers = [await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)]) for _ in range(20)]
        return [i for i, a in enumerate(answers) if a.status_code == 400]

    async def body() -> None:
        first, again, other = await hits(7), await hits(7), await hits(8)

        assert 3 <= len(first) <= 17
        assert first == again
        assert first != other

    asyncio.run(body())
