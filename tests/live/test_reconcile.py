"""Reconciliation with the real PrivateClient against the fake MEXC private venue on 127.0.0.1: the
start-up case of issue 15 (50 open, 10 unknown, 3 foreign), read-after-write lag, proof of absence,
a watched tombstone, an unreachable venue, and the balance invariant."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.keys import ApiKeys
from fxcli.execution.journal import Journal
from fxcli.execution.orders import OrderState, evidence
from fxcli.execution.reconcile import reconcile_startup, resolve_unknown
from fxcli.model.orders import BUY, Ack
from tests.fake_mexc_private import DOC_KEY, DOC_SECRET, FakePrivateVenue
from tests.fake_mexc_private.symbols import NewOrder
from tests.live.crashed_run import (
    QTY,
    SYMBOL,
    client_of,
    crash_with_50_open_10_unknown_3_foreign,
    intent,
    placed_earlier,
    sent_into,
)
from tests.live.support import run

S = OrderState
ASSETS = {SYMBOL: ("PEPE", "USDT")}


def test_startup_50_open_10_unknown_3_foreign_gives_a_consistent_report(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"

    async def scenario() -> None:
        async with FakePrivateVenue(seed=3, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            venue.read_lag_ms = 1500  # F3: GET /order says -2013 for 1.5 s after an accept
            crash = await crash_with_50_open_10_unknown_3_foreign(venue, client, path)
            own, lost, dropped, never_sent = crash.own, crash.lost, crash.dropped, crash.never_sent
            fill_ids, foreign_ids = crash.fill_ids, crash.foreign_ids
            requests_before = len(venue.requests)

            with Journal.open(path) as journal:
                report = await reconcile_startup(client, journal, [SYMBOL], lag_s=3.0)
                states = {o.client_id: o.state for o in journal.orders()}
                ledger_fills = {t.trade_id for t in journal.fills()}
            truth = venue.ledger()

            assert report.consistent, report.to_json()
            assert {o.client_id for o in report.own_open} == {o.client_id for o in own + lost}
            assert {o.client_id for o in report.resolved} == {
                o.client_id for o in lost + dropped + never_sent
            }
            assert report.still_unknown == []
            assert {o.order_id for o in report.foreign} == foreign_ids
            assert all(states[o.client_id] == S.TOMBSTONED for o in dropped + never_sent)
            assert states[lost[0].client_id] == S.PARTIALLY_FILLED
            assert ledger_fills == set(fill_ids) == set(truth["trades"])
            assert report.fills_backfilled == len(fill_ids)
            assert not any(r.method == "DELETE" for r in venue.requests[requests_before:])
            assert foreign_ids <= {o["orderId"] for o in truth["orders"] if o["status"] == "NEW"}
            assert all(truth["orders_per_client_id"].get(o.client_id) is None for o in dropped + never_sent)

    run(scenario(), timeout_s=30)


def test_not_found_within_lag_is_not_proof_of_absence(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=4, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            venue.read_lag_ms = 1000
            with Journal.open(tmp_path / "orders.db") as journal:
                order = await sent_into("lost_response", venue, client, journal)

                resolved = await resolve_unknown(client, journal, order, lag_s=2.0)
                history = [state for state, _, _ in journal.history(order.client_id)]
                adopted_by = journal.history(order.client_id)[-1][1]["source"]

            codes = [r.code for r in venue.requests if r.method == "GET" and r.path == "/api/v3/order"]
            assert codes[0] == -2013  # the venue denied the order at first ...
            assert resolved.state == S.ACCEPTED  # ... and it was adopted, not tombstoned
            assert resolved.order_id == venue.ledger()["orders"][0]["orderId"]
            assert history == [S.SUBMITTING, S.UNKNOWN, S.ACCEPTED]
            assert adopted_by == "query"  # the lag was waited out, not cut short by two quick not-founds

    run(scenario())


def test_two_not_founds_do_not_tombstone_an_order_the_lists_show(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=8, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            with Journal.open(tmp_path / "orders.db") as journal:
                order = await sent_into("lost_response", venue, client, journal)
                venue.fault("not_found", when="GET /api/v3/order", times=None)  # F3 that never ends

                resolved = await resolve_unknown(client, journal, order, lag_s=0.5)
                adopted_by = journal.history(order.client_id)[-1][1]["source"]

            assert resolved.state == S.ACCEPTED
            assert adopted_by == "lists"

    run(scenario())


def test_dropped_request_tombstoned_only_after_lag_and_still_watched(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=5, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            with Journal.open(tmp_path / "orders.db") as journal:
                order = await sent_into("drop_request", venue, client, journal)

                gone = (await resolve_unknown(client, journal, order, lag_s=1.0)).state
                proof = journal.history(order.client_id)[-1][1]
                watched = [o.client_id for o in journal.orders(open_only=True)]
                # The id turns up after all (an engine that answered late): it is adopted.
                venue.exchange.place(
                    NewOrder(SYMBOL, BUY, "LIMIT", Decimal(QTY), None, Decimal("0.0000095"), order.client_id)
                )
                back = await resolve_unknown(client, journal, order, lag_s=1.0)

            assert gone == S.TOMBSTONED
            not_found_ms = proof["not_found_ms"]
            assert isinstance(not_found_ms, list)
            assert len(not_found_ms) == 2
            assert min(not_found_ms) >= order.intent.created_ms + 1000
            assert order.client_id in watched
            assert back.state == S.ACCEPTED
            assert "tombstoned" in back.incident

    run(scenario())


def test_unreachable_venue_leaves_the_order_unknown(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=6, symbols=[SYMBOL]) as venue:
            url = venue.rest_url
        async with PrivateClient(url, ApiKeys(DOC_KEY, DOC_SECRET), timeout_s=0.3) as client:
            with Journal.open(tmp_path / "orders.db") as journal:
                order = intent(journal, "0.0000095")
                order.on_unknown()
                journal.record(order, {"kind": "OutcomeUnknown"})

                report = await reconcile_startup(client, journal, [SYMBOL], lag_s=0.2)
                after = journal.order(order.client_id)

            assert after is not None
            assert after.state == S.UNKNOWN
            assert [o.client_id for o in report.still_unknown] == [order.client_id]
            assert not report.consistent
            assert report.errors
            assert report.errors[0].startswith(f"{SYMBOL}: ")

    run(scenario())


def test_balance_invariant_holds_over_fills_and_names_an_unexplained_deposit(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=7, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            with Journal.open(tmp_path / "orders.db") as journal:
                journal.record_balances(await client.account(), await client.server_time())
                order = intent(journal, "0.0000095")
                ack = await client.new_order(order.intent.request())
                order.on_ack(ack)
                journal.record(order, evidence(ack))
                venue.trade(SYMBOL, "0.0000095", "400000")
                venue.trade(SYMBOL, "0.0000094", "600000")

                clean = await reconcile_startup(client, journal, [SYMBOL], assets=ASSETS)
                venue.transfer("USDT", "25")
                unexplained = await reconcile_startup(client, journal, [SYMBOL], assets=ASSETS)
                explained = await reconcile_startup(
                    client, journal, [SYMBOL], assets=ASSETS, external={"USDT": Decimal(25)}
                )
                filled = journal.order(order.client_id)

            assert filled is not None
            assert filled.state == S.FILLED
            assert len(filled.fills) == 2
            assert clean.balance_mismatch == {}
            assert clean.consistent
            assert unexplained.balance_mismatch == {"USDT": Decimal(25)}
            assert not unexplained.consistent
            assert explained.balance_mismatch == {}

    run(scenario())


def test_order_filled_while_down_is_brought_up_to_date_and_a_vanished_one_is_missing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=9, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            path = tmp_path / "orders.db"
            with Journal.open(path, "bbbbbb") as crashed:
                filled = placed_earlier(venue, crashed, "0.0000095")
                vanished = intent(crashed, "0.0000095")
                ack = Ack(SYMBOL, "C02__999999999999999999", 1)  # an id the venue never issued
                vanished.on_ack(ack)
                crashed.record(vanished, evidence(ack))
            trade_ids = venue.advance(SYMBOL, "0.0000094")

            with Journal.open(path) as journal:
                report = await reconcile_startup(client, journal, [SYMBOL], lag_s=0.3)
                done = journal.order(filled.client_id)

            assert done is not None
            assert done.state == S.FILLED
            assert sorted(done.fills) == sorted(trade_ids)
            assert report.fills_backfilled == len(trade_ids)
            assert report.own_open == []
            assert [o.client_id for o in report.missing] == [vanished.client_id]
            assert not report.consistent

    run(scenario())


def test_backfill_pages_through_more_than_100_trades_with_null_client_ids(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakePrivateVenue(seed=10, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            venue.trades_null_client_id = True  # myTrades rows join their order by order id
            path = tmp_path / "orders.db"
            with Journal.open(path, "cccccc") as crashed:
                order = placed_earlier(venue, crashed, "0.0000095")
            for _ in range(130):
                venue.trade(SYMBOL, "0.0000095", "5000")
                await asyncio.sleep(0.002)  # pages restart at the last ms: spread the fills over ms

            with Journal.open(path) as journal:
                report = await reconcile_startup(client, journal, [SYMBOL])
                after = journal.order(order.client_id)
            pages = [r for r in venue.requests if r.path == "/api/v3/myTrades"]

            assert after is not None
            assert report.fills_backfilled == 130
            assert len(after.fills) == 130
            assert after.cum_qty == Decimal(650000)
            assert after.state == S.PARTIALLY_FILLED
            assert len(pages) >= 2

    run(scenario())
