"""The fake's matching and account model (docs/mexc-orders.md §2.6) and endpoint shapes (§2.5),
driven over real HTTP: freeze/unfreeze, fees (buy in base, sell in quote), partial fills, every
order type, rule rejections, rate limits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fake_mexc_private.harness import call, code_of
from tests.fake_mexc_private.test_fake import Venue, run

PEPE = "PEPEUSDT"
BOOK = {
    "bids": [("0.0000100", "1000000"), ("0.0000099", "2000000")],
    "asks": [("0.0000102", "1000000"), ("0.0000103", "2000000")],
}


def order_params(side: str, type_: str, cid: str = "", **fields: str) -> list[tuple[str, str]]:
    """New-order parameters for PEPEUSDT."""
    params = [("symbol", PEPE), ("side", side), ("type", type_)]
    params += list(fields.items())
    if cid:
        params.append(("newClientOrderId", cid))
    return params


async def place(
    client: httpx.AsyncClient, side: str, type_: str, cid: str = "", **fields: str
) -> httpx.Response:
    """POST /api/v3/order."""
    return await call(client, "POST", "/api/v3/order", order_params(side, type_, cid, **fields))


async def query(client: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    """GET /api/v3/order by client id."""
    answer = await call(client, "GET", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", cid)])
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def balances(client: httpx.AsyncClient) -> dict[str, tuple[Decimal, Decimal]]:
    """GET /api/v3/account as {asset: (free, locked)}."""
    answer = await call(client, "GET", "/api/v3/account")
    return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in answer.json()["balances"]}


def setup(venue: Venue) -> None:
    """The scripted PEPE book."""
    venue.set_book(PEPE, BOOK["bids"], BOOK["asks"], last="0.0000101")


def test_limit_buy_rests_freezes_quote_and_fills_on_the_tape_with_fee_in_base() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)

        ack = await place(client, "BUY", "LIMIT", "fxa1", quantity="1000000", price="0.0000101")
        resting = await query(client, "fxa1")
        frozen = await balances(client)
        venue.trade(PEPE, "0.0000101", "400000")
        partial = await query(client, "fxa1")
        venue.advance(PEPE, "0.0000100")
        filled = await query(client, "fxa1")
        trades = (await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE)])).json()
        after = await balances(client)

        assert set(ack.json()) == {
            "symbol",
            "orderId",
            "orderListId",
            "price",
            "origQty",
            "type",
            "side",
            "transactTime",
        }
        assert (resting["status"], resting["updateTime"], resting["isWorking"]) == ("NEW", None, True)
        assert frozen["USDT"] == (Decimal("9989.9"), Decimal("10.1"))
        assert (partial["status"], partial["executedQty"], partial["cummulativeQuoteQty"]) == (
            "PARTIALLY_FILLED",
            "400000",
            "4.04",
        )
        assert (filled["status"], filled["executedQty"], filled["cummulativeQuoteQty"]) == (
            "FILLED",
            "1000000",
            "10.1",
        )
        assert [
            (t["qty"], t["commission"], t["commissionAsset"], t["isMaker"], t["isBuyer"]) for t in trades
        ] == [
            ("400000", "0", "PEPE", True, True),
            ("600000", "0", "PEPE", True, True),
        ]  # maker fee 0 on PEPEUSDT
        assert after["USDT"] == (Decimal("9989.9"), Decimal(0))
        assert after["PEPE"] == (Decimal(1000000), Decimal(0))

    run(body)


def test_taker_buy_pays_fee_in_base_and_the_sell_of_the_bought_qty_is_oversold_30005() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)

        await place(client, "BUY", "LIMIT", "fxb1", quantity="1000000", price="0.0000102")
        trades = (await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE)])).json()
        oversold = await place(client, "SELL", "LIMIT", "fxb2", quantity="1000000", price="0.0000102")
        held = await balances(client)
        sold = await place(client, "SELL", "MARKET", "fxb3", quantity=str(held["PEPE"][0]))
        sell_trade = (await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE)])).json()[-1]

        assert [
            (t["price"], t["qty"], t["commission"], t["commissionAsset"], t["isMaker"]) for t in trades
        ] == [("0.0000102", "1000000", "500", "PEPE", False)]
        assert (oversold.status_code, code_of(oversold)) == (400, 30005)
        assert held["PEPE"] == (Decimal(999500), Decimal(0))
        assert sold.status_code == 200
        assert (sell_trade["commissionAsset"], sell_trade["price"], sell_trade["qty"]) == (
            "USDT",
            "0.00001",
            "999500",
        )
        assert Decimal(sell_trade["commission"]) == Decimal("9.995") * Decimal("0.0005")
        assert venue.ledger()["balances"]["PEPE"] == {"free": "0", "locked": "0"}

    run(body)


def test_cancel_answers_the_pre_cancel_status_and_unfreezes() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        await place(client, "BUY", "LIMIT", "fxc1", quantity="1000000", price="0.0000101")
        venue.trade(PEPE, "0.0000101", "400000")

        cancel = await call(
            client, "DELETE", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxc1")]
        )
        again = await call(
            client, "DELETE", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxc1")]
        )
        final = await query(client, "fxc1")
        venue.cancel_status = "CANCELED"
        await place(client, "BUY", "LIMIT", "fxc2", quantity="1000000", price="0.0000101")
        cancel2 = await call(
            client, "DELETE", "/api/v3/order", [("symbol", PEPE), ("origClientOrderId", "fxc2")]
        )

        assert (cancel.json()["status"], cancel.json()["executedQty"]) == ("PARTIALLY_FILLED", "400000")
        assert cancel.json()["origClientOrderId"] == "fxc1"
        assert (again.status_code, code_of(again)) == (400, -2011)
        assert (final["status"], final["executedQty"]) == ("PARTIALLY_CANCELED", "400000")
        assert cancel2.json()["status"] == "CANCELED"
        assert (await balances(client))["USDT"] == (Decimal("10000") - Decimal("4.04"), Decimal(0))

    run(body)


def test_market_buy_by_quote_walks_the_book_and_market_sell_remainder_is_cancelled() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.transfer("PEPE", "5000000")

        buy = await place(client, "BUY", "MARKET", "fxm1", quoteOrderQty="25")
        sell = await place(client, "SELL", "MARKET", "fxm2", quantity="4000000")
        bought, sold = await query(client, "fxm1"), await query(client, "fxm2")

        assert buy.status_code == 200
        assert (bought["status"], bought["origQuoteOrderQty"]) == ("FILLED", "25")
        assert Decimal(bought["executedQty"]) == Decimal(1000000) + (
            Decimal("14.8") / Decimal("0.0000103")
        ).quantize(Decimal("0.01"), "ROUND_DOWN")
        assert sell.status_code == 200
        assert (sold["status"], sold["executedQty"]) == ("PARTIALLY_CANCELED", "3000000")
        assert venue.ledger()["balances"]["PEPE"]["locked"] == "0"

    run(body)


@pytest.mark.parametrize(
    ("type_", "price", "status", "executed"),
    [
        ("IMMEDIATE_OR_CANCEL", "0.0000102", "PARTIALLY_CANCELED", "1000000"),
        ("IMMEDIATE_OR_CANCEL", "0.0000101", "CANCELED", "0"),
        ("FILL_OR_KILL", "0.0000102", "CANCELED", "0"),
        ("FILL_OR_KILL", "0.0000103", "FILLED", "1500000"),
        ("LIMIT_MAKER", "0.0000102", "CANCELED", "0"),
        ("LIMIT_MAKER", "0.0000101", "NEW", "0"),
    ],
)
def test_order_types_fill_as_documented(type_: str, price: str, status: str, executed: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.set_symbol(
            PEPE, order_types=("LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
        )

        answer = await place(client, "BUY", type_, "fxt1", quantity="1500000", price=price)
        got = await query(client, "fxt1")

        assert answer.status_code == 200, answer.text
        assert (got["status"], got["executedQty"]) == (status, executed)
        locked = venue.ledger()["balances"]["USDT"]["locked"]
        assert (locked != "0") == (status == "NEW")

    run(body)


@pytest.mark.parametrize(
    ("fields", "code", "msg"),
    [
        ({"quantity": "1000000.001", "price": "0.0000101"}, 400, "quantity scale is invalid"),
        ({"quantity": "1000000", "price": "0.00001011111"}, 400, "price scale is invalid"),
        ({"quantity": "1000000", "price": "0.0000200"}, 30087, None),
        ({"quantity": "10", "price": "0.0000101"}, 30002, None),
        ({"quantity": "1e6", "price": "0.0000101"}, 700008, None),
        ({"quantity": "1500000000", "price": "0.0000101"}, 10101, None),
        ({"quantity": "1000000000000", "price": "0.0000101"}, 30003, None),
        (
            {"price": "0.0000101"},
            700004,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        ),
    ],
)
def test_rule_breaks_are_rejected_with_documented_codes(
    fields: dict[str, str], code: int, msg: str | None
) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)

        answer = await place(client, "BUY", "LIMIT", "fxr1", **fields)

        assert (answer.status_code, code_of(answer)) == (400, code)
        if msg is not None:
            assert answer.json()["msg"].strip() == msg
        assert venue.ledger()["orders"] == []

    run(body)


@pytest.mark.parametrize(
    ("change", "side", "code"),
    [
        ({"status": "2"}, "BUY", 30000),
        ({"trade_side_type": 3}, "BUY", 30001),
        ({"spot_allowed": False}, "BUY", 10007),
        ({"order_types": ("LIMIT",)}, "MARKET", 30019),
    ],
)
def test_symbol_state_changes_reject_orders(change: dict[str, Any], side: str, code: int) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.set_symbol(PEPE, **change)

        if side == "MARKET":
            answer = await place(client, "BUY", "MARKET", "fxs1", quoteOrderQty="5")
        else:
            answer = await place(client, side, "LIMIT", "fxs1", quantity="1000000", price="0.0000101")
        info = (await client.get("/api/v3/exchangeInfo", params={"symbol": PEPE})).json()["symbols"][0]

        assert (answer.status_code, code_of(answer)) == (400, code)
        assert info["orderTypes"] == list(venue.exchange.specs[PEPE].order_types)

    run(body)


def test_public_endpoints_and_open_all_orders_have_documented_shapes() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        await place(client, "BUY", "LIMIT", "fxo1", quantity="1000000", price="0.0000101")
        await place(client, "BUY", "LIMIT", "fxo2", quantity="1000000", price="0.0000100")

        ping = (await client.get("/api/v3/ping")).json()
        server = (await client.get("/api/v3/time")).json()
        info = (await client.get("/api/v3/exchangeInfo")).json()
        opened = (await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)])).json()
        cancelled = (await call(client, "DELETE", "/api/v3/openOrders", [("symbol", PEPE)])).json()
        every = (await call(client, "GET", "/api/v3/allOrders", [("symbol", PEPE)])).json()
        mine = (await call(client, "GET", "/api/v3/selfSymbols")).json()

        assert ping == {}
        assert abs(server["serverTime"] - venue.now_ms()) < 1000
        pepe = next(s for s in info["symbols"] if s["symbol"] == PEPE)
        assert (pepe["baseAssetPrecision"], pepe["quotePrecision"], pepe["baseSizePrecision"]) == (2, 10, "0")
        assert pepe["filters"][0]["filterType"] == "PERCENT_PRICE_BY_SIDE"
        assert [o["clientOrderId"] for o in opened] == ["fxo1", "fxo2"]
        assert all(o["icebergQty"] == "0" for o in opened)
        assert [(c["origClientOrderId"], c["orderListId"]) for c in cancelled] == [("fxo1", -1), ("fxo2", -1)]
        assert [o["status"] for o in every] == ["CANCELED", "CANCELED"]
        assert mine == {"code": 200, "data": list(venue.exchange.specs), "msg": None}

    run(body)


def test_order_burst_over_12_per_s_gets_429_then_418_with_retry_after() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.limits.clock = lambda: 100.0  # the burst takes no time, however slow this machine is

        answers = [
            await place(client, "BUY", "LIMIT", f"fxl{i}", quantity="100000", price="0.0000101")
            for i in range(16)
        ]
        codes = [a.status_code for a in answers]
        after_ban = await call(client, "GET", "/api/v3/openOrders", [("symbol", PEPE)])

        assert codes[:12] == [200] * 12
        assert codes[12:15] == [429, 429, 418]
        assert answers[12].headers["Retry-After"] == "1"
        assert answers[14].headers["Retry-After"] == "120"
        assert after_ban.status_code == 418
        assert len(venue.ledger()["orders"]) == 12

    run(body)


def test_my_trades_pages_by_limit_and_order_and_knobs_change_shapes() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        venue.exchange.partial_fills = (4, 4)
        venue.ack_superset = True
        venue.trades_null_client_id = True

        ack = (await place(client, "BUY", "LIMIT", "fxk1", quantity="1000000", price="0.0000102")).json()
        await place(client, "BUY", "LIMIT", "fxk2", quantity="500000", price="0.0000101")
        venue.advance(PEPE, "0.0000101")
        every = (await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE), ("limit", "500")])).json()
        first = (await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE), ("limit", "3")])).json()
        own = (
            await call(client, "GET", "/api/v3/myTrades", [("symbol", PEPE), ("orderId", ack["orderId"])])
        ).json()
        one = (await call(client, "GET", "/api/v3/allOrders", [("symbol", PEPE), ("limit", "1")])).json()

        assert (ack["clientOrderId"], ack["status"], ack["executedQty"]) == ("fxk1", "FILLED", "1000000")
        assert len(every) == 8
        assert [t["id"] for t in first] == [t["id"] for t in every[:3]]
        assert {t["orderId"] for t in own} == {ack["orderId"]}
        assert len(own) == 4
        assert {t["clientOrderId"] for t in every} == {None}
        assert [o["clientOrderId"] for o in one] == ["fxk1"]

    run(body)


def test_order_test_validates_fully_and_creates_nothing() -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)
        params = order_params("BUY", "LIMIT", "fxq1", quantity="1000000", price="0.0000101")
        too_big = order_params("BUY", "LIMIT", "fxq2", quantity="1500000000", price="0.0000101")
        band = order_params("BUY", "LIMIT", "fxq3", quantity="1000000", price="0.0000200")

        good = await call(client, "POST", "/api/v3/order/test", params)
        poor = await call(client, "POST", "/api/v3/order/test", too_big)
        priced = await call(client, "POST", "/api/v3/order/test", band)

        assert (good.status_code, good.json()) == (200, {})
        assert (code_of(poor), code_of(priced)) == (10101, 30087)
        assert venue.ledger()["orders"] == []
        assert venue.ledger()["balances"]["USDT"] == {"free": "10000", "locked": "0"}

    run(body)


@pytest.mark.parametrize("client_id", ["x" * 33, "fx.bad", "fx bad"])
def test_client_id_longer_than_32_or_with_other_characters_is_700008(client_id: str) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        setup(venue)

        answer = await place(client, "BUY", "LIMIT", client_id, quantity="1000000", price="0.0000101")
        longest = await place(client, "BUY", "LIMIT", "A_-" + "9" * 29, quantity="1000000", price="0.0000101")

        assert (answer.status_code, code_of(answer)) == (400, 700008)
        assert "newClientOrderId" in answer.json()["msg"]
        assert longest.status_code == 200

    run(body)
