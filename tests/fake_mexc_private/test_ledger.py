"""The ledger is ground truth other tests trust: over a seeded random session of every order type,
tape prints, cancels and transfers, each asset's balance equals start + transfers + the effect of
every trade (fees included), nothing stays locked once nothing is open, and order totals equal the
sums of their trades."""

from __future__ import annotations

import random
from decimal import Decimal

import httpx
import pytest

from tests.fake_mexc_private.harness import call
from tests.fake_mexc_private.test_fake import Venue, run
from tests.fake_mexc_private.test_matching import BOOK, PEPE, place

TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")


async def random_session(venue: Venue, client: httpx.AsyncClient, rng: random.Random, steps: int) -> None:
    """`steps` random actions; rejections (balance, band, notional) are part of the session."""
    for step in range(steps):
        action = rng.random()
        price = Decimal(rng.randint(95, 107)) / Decimal(10**7)
        if action < 0.55:
            side, type_ = rng.choice(("BUY", "SELL")), rng.choice(TYPES)
            qty = str(rng.randint(1, 30) * 100000)
            if type_ == "MARKET" and side == "BUY" and rng.random() < 0.5:
                await place(client, side, type_, f"fxs{step}", quoteOrderQty=str(rng.randint(2, 20)))
            elif type_ == "MARKET":
                await place(client, side, type_, f"fxs{step}", quantity=qty)
            else:
                await place(client, side, type_, f"fxs{step}", quantity=qty, price=str(price))
        elif action < 0.75:
            venue.trade(PEPE, str(price), str(rng.randint(1, 20) * 100000))
        elif action < 0.85:
            venue.set_book(PEPE, BOOK["bids"], BOOK["asks"])
        elif action < 0.95:
            await call(
                client,
                "DELETE",
                "/api/v3/order",
                [("symbol", PEPE), ("origClientOrderId", f"fxs{rng.randrange(step + 1)}")],
            )
        else:
            venue.transfer(rng.choice(("USDT", "PEPE")), str(rng.randint(1, 5) * 1000), "DEPOSIT")
    await call(client, "DELETE", "/api/v3/openOrders", [("symbol", PEPE)])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_balances_equal_start_plus_transfers_plus_trades(seed: int) -> None:
    async def body(venue: Venue, client: httpx.AsyncClient) -> None:
        venue.limits.enabled = False
        venue.set_book(PEPE, BOOK["bids"], BOOK["asks"], last="0.0000101")
        venue.set_symbol(PEPE, order_types=TYPES, maker_fee="0.0002")
        venue.exchange.partial_fills = (1, 3)
        venue.transfer("PEPE", "5000000", "DEPOSIT")

        await random_session(venue, client, random.Random(seed), 150)
        ledger = venue.ledger()

        expected = {"USDT": Decimal(10000), "PEPE": Decimal(0), "BTC": Decimal(0), "MX": Decimal(0)}
        for transfer in ledger["transfers"]:
            expected[transfer["asset"]] += Decimal(transfer["amount"])
        for trade in ledger["trades"].values():
            qty, quote, fee = Decimal(trade["qty"]), Decimal(trade["quoteQty"]), Decimal(trade["commission"])
            sign = 1 if trade["isBuyer"] else -1
            expected["PEPE"] += sign * qty - (fee if trade["commissionAsset"] == "PEPE" else 0)
            expected["USDT"] -= sign * quote + (fee if trade["commissionAsset"] == "USDT" else 0)
        held = {a: Decimal(b["free"]) + Decimal(b["locked"]) for a, b in ledger["balances"].items()}
        assert held == expected
        assert {b["locked"] for b in ledger["balances"].values()} == {"0"}
        assert len(ledger["trades"]) > 10
        for order in ledger["orders"]:
            fills = [ledger["trades"][t] for t in order["tradeIds"]]
            assert sum(Decimal(f["qty"]) for f in fills) == Decimal(order["executedQty"])
            assert sum(Decimal(f["quoteQty"]) for f in fills) == Decimal(order["cummulativeQuoteQty"])
            assert order["status"] in ("FILLED", "CANCELED", "PARTIALLY_CANCELED")

    run(body)
