"""One key, two clients on two threads (the session's and the dead-man switch's): one request budget
keeps their combined rate within the venue's limits. The fake venue runs as its own process and
counts the requests of the key itself, so a 429 there is what MEXC would answer."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path

from fxcli.exchange.mexc_private.budget import OrderBudget
from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.model.orders import BUY, OrderRequest
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET
from tests.live.private_venue import btc_like, venue_process

KEYS = ApiKeys(DOC_KEY, DOC_SECRET)
PER_THREAD = 18  # two threads: 36 orders, 3x the venue's 12 orders/s


def resting_buy(thread: int, n: int) -> OrderRequest:
    return OrderRequest(
        "BTCUSDT", BUY, "LIMIT", f"fxt{thread}q2m9e{n:08d}", quantity=Decimal("0.001"), price=Decimal("30000")
    )


def test_two_clients_on_two_threads_sharing_one_budget_get_no_429(tmp_path: Path) -> None:
    budget = OrderBudget()
    failures: list[BaseException] = []

    def hammer(rest_url: str, thread: int) -> None:
        async def run() -> None:
            async with PrivateClient(rest_url, KEYS, budget=budget) as client:
                await asyncio.gather(*(client.new_order(resting_buy(thread, n)) for n in range(PER_THREAD)))

        try:
            asyncio.run(run())
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    with venue_process(tmp_path) as venue:
        btc_like(venue)
        threads = [threading.Thread(target=hammer, args=(venue.rest_url, t), daemon=True) for t in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        stuck = [thread.name for thread in threads if thread.is_alive()]
        statuses = [r["status"] for r in venue.admin("requests")]
        placed = venue.fx_orders("fxt")

    assert stuck == []  # a budget bound to one event loop deadlocks the other thread's client
    assert failures == []
    assert 429 not in statuses
    assert 418 not in statuses
    assert len(placed) == 2 * PER_THREAD
