"""Futures contract sizes end to end against the fake venue: sizes from `/detail`, contracts on the wire,
base units out of the decoder, equal to the venue's truth; every push carries the venue's send time."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from fxcli.exchange.adapter import Kind
from fxcli.exchange.connection import ConnectionManager, plan_channels
from fxcli.exchange.mexc_futures import MexcFutures, decode_contract_sizes
from fxcli.exchange.rest import RestClient
from fxcli.model.units import NS_PER_MS
from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import FAST, Keeper, run, until

SYMBOLS = ["BTC_USDT", "PEPE_USDT", "ONE_USDT"]
SIZES = {"BTC_USDT": "0.0001", "PEPE_USDT": "10"}  # ONE_USDT: the default, 1


def test_contract_list_gives_every_contracts_size_and_one_on_a_symbol_query() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.FUTURES, SYMBOLS, contract_sizes=SIZES) as venue:
            venue.pause()
            url = MexcFutures(venue.endpoints).contract_detail_url()
            rest = RestClient(timeout_s=2.0)

            every, _ = await rest.get(url)
            one, _ = await rest.get(f"{url}?symbol=PEPE_USDT")
            unknown, _ = await rest.get(f"{url}?symbol=NOPE_USDT")

            assert decode_contract_sizes(every) == {"BTC_USDT": 0.0001, "PEPE_USDT": 10.0, "ONE_USDT": 1.0}
            assert decode_contract_sizes(one) == {"PEPE_USDT": 10.0}
            with pytest.raises(ValueError, match="code 1001, contract not exists"):
                decode_contract_sizes(unknown)

    run(scenario())


def test_trades_and_books_arrive_in_base_units_equal_to_the_venues_truth() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.FUTURES, SYMBOLS, contract_sizes=SIZES, tick_s=0.01) as venue:
            venue.clock_offset_ms = -5_000  # the venue's clock runs 5 s behind ours
            rest = RestClient(timeout_s=2.0)
            plain = MexcFutures(venue.endpoints)
            body, _ = await rest.get(plain.contract_detail_url())
            futures = plain.with_contract_sizes(decode_contract_sizes(body))
            keeper = Keeper()
            channels = plan_channels(futures, SYMBOLS, [Kind.TRADES])

            async with ConnectionManager(futures, channels, keeper, config=FAST):
                await until(lambda: {t.symbol for _, t in keeper.trades()} == set(SYMBOLS), 10.0, "trades")
                venue.pause()
                snapshots = {s: await rest.fetch_snapshot(futures, s) for s in SYMBOLS}

            truth = {(t.symbol, t.trade_id): t for s in SYMBOLS for t in venue.trades[s]}
            got = keeper.trades()
            assert got
            for frame, trade in got:
                made = truth[(trade.symbol, trade.trade_id or 0)]
                contracts = json.loads(frame.data)["data"][0]["v"]
                assert (trade.price, trade.qty) == (float(made.price), float(made.qty))
                assert isinstance(
                    contracts, int
                )  # whole contracts on the wire, base units out of the decoder
                assert Decimal(contracts) * Decimal(SIZES.get(trade.symbol, "1")) == Decimal(made.qty)
            for symbol, snapshot in snapshots.items():
                assert (dict(snapshot.bids), dict(snapshot.asks)) == venue.markets[symbol].book_floats()
            pushes = [(f, d) for f, d in keeper.decoded if d.events]
            assert all(d.sent_ts_ns % NS_PER_MS == 0 for _, d in pushes)
            assert all(f.received_ts_ns - d.sent_ts_ns > 4_000 * NS_PER_MS for f, d in pushes)  # venue clock
            assert keeper.problems() == 0

    run(scenario())
