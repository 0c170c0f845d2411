"""MEXC futures contract sizes and pacing: base units exactly, unknown contracts refused, channels spread."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from fxcli.exchange.adapter import Endpoints, Kind
from fxcli.exchange.connection import assign, plan_channels
from fxcli.exchange.mexc_futures import MexcFutures, decode_contract_sizes
from fxcli.model.events import BookDelta, BookSnapshot, Trade
from tests.unit.exchange.test_mexc_futures import RECEIVED, deal, depth, frame

SIZES = {"BTC_USDT": 0.0001, "PEPE_USDT": 10.0, "ETH_USDT": 0.01, "ONE_USDT": 1.0, "Q_USDT": 0.25}


def detail(*entries: Any, success: bool = True) -> bytes:
    """A `GET /api/v1/contract/detail` answer, wrapped as on the wire."""
    return json.dumps({"success": success, "code": 0, "data": list(entries)}).encode()


def contract(symbol: str, size: Any, **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "contractSize": size, "priceUnit": 0.1, "volUnit": 1, "state": 0, **extra}


def base(contracts: int | str, size: str) -> float:
    """The exact decimal product, rounded once to a float: what a base-unit qty must be."""
    return float(Decimal(contracts) * Decimal(size))


# ------------------------------------------------------------------ the contract list


def test_contract_detail_url_is_under_the_rest_base() -> None:
    local = MexcFutures(Endpoints("ws://127.0.0.1:9/edge", "http://127.0.0.1:9/api/v1/contract/"))

    assert MexcFutures().contract_detail_url() == "https://api.mexc.com/api/v1/contract/detail"
    assert local.contract_detail_url() == "http://127.0.0.1:9/api/v1/contract/detail"


def test_decode_contract_sizes_reads_every_contract_and_skips_those_without_a_size() -> None:
    body = detail(
        contract("BTC_USDT", 0.0001),
        contract("PEPE_USDT", 10000000),
        contract("ETH_USDT", "0.01"),  # a number as a string
        contract("ZERO_USDT", 0),
        contract("NEG_USDT", -1),
        contract("NULL_USDT", None),
        contract("TEXT_USDT", "abc"),
        contract("INF_USDT", "inf"),
        contract("NAN_USDT", "nan"),
        contract("../x", 1),
        {"symbol": "NOSIZE_USDT"},
        {"contractSize": 1},
        "not an object",
        contract("low_usdt", 2),
    )

    sizes = decode_contract_sizes(body)

    assert sizes == {"BTC_USDT": 0.0001, "PEPE_USDT": 10000000.0, "ETH_USDT": 0.01, "LOW_USDT": 2.0}


def test_decode_contract_sizes_takes_the_single_contract_of_a_symbol_query() -> None:
    body = json.dumps({"success": True, "code": 0, "data": contract("BTC_USDT", 0.0001)}).encode()

    assert decode_contract_sizes(body) == {"BTC_USDT": 0.0001}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "bad MEXC futures contract list"),
        (b"[]", "bad MEXC futures contract list"),
        (detail(contract("BTC_USDT", 0.0001), success=False), "refused: success=False"),
        (b'{"success":false,"code":1001,"message":"busy"}', "code 1001, busy"),
        (b'{"success":true,"code":0}', "data is not a list of contracts"),
        (b'{"success":true,"code":0,"data":"x"}', "data is not a list of contracts"),
        (detail(), "none of 0 entries has a positive contractSize"),
        (detail(contract("A_USDT", 0), contract("B_USDT", None)), "none of 2 entries"),
        (detail(contract("A_USDT", 1), contract("A_USDT", 2)), "gives A_USDT two sizes: 1.0 and 2.0"),
    ],
)
def test_decode_contract_sizes_raises_value_error_naming_the_fault(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_contract_sizes(body)


# ------------------------------------------------------------------ quantities in base units


def test_without_sizes_quantities_stay_contracts_and_say_so() -> None:
    futures = MexcFutures()

    (trade,) = futures.decode(frame("push.deal", [deal(v=3)]), RECEIVED).events

    assert (futures.qty_unit, futures.contract_sizes, futures.contract_size("BTC_USDT")) == (
        "contracts",
        None,
        None,
    )
    assert isinstance(trade, Trade)
    assert trade.qty == 3.0


def test_trades_are_in_base_units_exactly() -> None:
    futures = MexcFutures(contract_sizes=SIZES)
    text = frame("push.deal", [deal(v=3), deal(v=7, T=2), deal(v=1)])

    decoded = futures.decode(text, RECEIVED)

    assert futures.qty_unit == "base"
    assert [t.qty for t in decoded.events if isinstance(t, Trade)] == [0.0003, 0.0007, 0.0001]
    assert 3 * 0.0001 != 0.0003  # what a plain multiplication would have stored


@pytest.mark.parametrize(
    ("symbol", "size"),
    [
        ("BTC_USDT", "0.0001"),
        ("PEPE_USDT", "10"),
        ("ETH_USDT", "0.01"),
        ("ONE_USDT", "1"),
        ("Q_USDT", "0.25"),
    ],
)
def test_book_levels_of_diffs_top_books_and_snapshots_are_in_base_units(symbol: str, size: str) -> None:
    futures = MexcFutures(contract_sizes=SIZES)
    asks, bids = [(100.5, 3, 1), (100.6, 0, 0)], [(100.4, 12345, 2)]
    book = {"asks": [list(a) for a in asks], "bids": [list(b) for b in bids], "version": 9}
    rest = json.dumps({"success": True, "code": 0, "data": book}).encode()

    (delta,) = futures.decode(
        depth(8, 9, 9, asks=asks, bids=bids).replace("BTC_USDT", symbol), RECEIVED
    ).events
    (top,) = futures.decode(frame("push.depth.full", book, symbol=symbol), RECEIVED).events
    snapshot = futures.decode_snapshot(rest, symbol, RECEIVED)

    expected = ([(100.4, base(12345, size))], [(100.5, base(3, size)), (100.6, 0.0)])
    assert isinstance(delta, BookDelta)
    assert isinstance(top, BookSnapshot)
    assert (delta.bids, delta.asks) == expected
    assert (top.bids, top.asks) == expected
    assert (snapshot.bids, snapshot.asks) == expected


@pytest.mark.parametrize("size", ["0.0001", "0.001", "0.01", "0.1", "0.25", "0.3", "1e-05", "7", "10", "100"])
def test_every_contract_count_lands_on_the_float_nearest_the_exact_product(size: str) -> None:
    futures = MexcFutures(contract_sizes={"BTC_USDT": float(size)})
    counts = [*range(20_000), 123_456_789, 10**9 + 7]
    levels = [[1.0, n, 1] for n in counts]
    rest = json.dumps(
        {"success": True, "code": 0, "data": {"asks": levels, "bids": [], "version": 1}}
    ).encode()

    snapshot = futures.decode_snapshot(rest, "BTC_USDT", RECEIVED)

    wrong = [n for n, (_, qty) in zip(counts, snapshot.asks, strict=True) if qty != base(n, size)]
    assert wrong == []


def test_contract_size_is_known_per_symbol_and_read_only() -> None:
    futures = MexcFutures(contract_sizes={"btc_usdt": 0.0001})

    assert futures.contract_size("BTC_USDT") == 0.0001
    assert futures.contract_size("btc_usdt") == 0.0001
    assert futures.contract_size("ETH_USDT") is None
    assert futures.contract_sizes == {"BTC_USDT": 0.0001}
    with pytest.raises(TypeError):
        futures.contract_sizes["ETH_USDT"] = 1.0  # type: ignore[index]


def test_with_contract_sizes_gives_a_new_adapter_on_the_same_endpoints() -> None:
    plain = MexcFutures(Endpoints("ws://127.0.0.1:9/edge", "http://127.0.0.1:9/api/v1/contract"))

    sized = plain.with_contract_sizes({"BTC_USDT": 0.0001})

    assert (sized.endpoints, sized.qty_unit, plain.qty_unit) == (plain.endpoints, "base", "contracts")


@pytest.mark.parametrize(
    ("size", "message"), [(0.0, "got 0.0"), (-1.0, "got -1.0"), (float("inf"), "got inf")]
)
def test_bad_contract_sizes_are_refused_naming_the_symbol(size: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"contract size of BTC_USDT must be a positive number, {message}"):
        MexcFutures(contract_sizes={"BTC_USDT": size})


# ------------------------------------------ unknown contracts are never stored in contracts


def test_channels_refuse_a_symbol_without_a_contract_size() -> None:
    futures = MexcFutures(contract_sizes=SIZES)

    assert [c.name for c in futures.channels("btc_usdt", frozenset({Kind.TRADES}))] == ["deal@BTC_USDT"]
    with pytest.raises(
        ValueError, match="DOGE_USDT has no contract size: it is not in the venue's contract list"
    ):
        futures.channels("doge_usdt", frozenset({Kind.TRADES}))


@pytest.mark.parametrize(
    "text",
    [
        frame("push.deal", [deal()], symbol="DOGE_USDT"),
        frame("push.deal", [deal(), deal(T=3)], symbol="DOGE_USDT"),  # through the skipping path too
        depth(1, 2, 2, asks=[(1, 1, 1)]).replace("BTC_USDT", "DOGE_USDT"),
        frame("push.depth.full", {"asks": [], "bids": [[1, 2, 1]], "version": 5}, symbol="DOGE_USDT"),
        frame("push.ticker", {"bid1": 1, "ask1": 2}, symbol="DOGE_USDT"),
    ],
)
def test_a_push_of_a_contract_without_a_size_is_a_problem(text: str) -> None:
    decoded = MexcFutures(contract_sizes=SIZES).decode(text, RECEIVED)

    assert decoded.events == []
    assert decoded.problem == "DOGE_USDT has no contract size: its quantities would stay in contracts"


def test_a_snapshot_of_a_contract_without_a_size_raises() -> None:
    body = b'{"success":true,"code":0,"data":{"asks":[[1,1,1]],"bids":[],"version":1}}'

    with pytest.raises(ValueError, match="DOGE_USDT has no contract size"):
        MexcFutures(contract_sizes=SIZES).decode_snapshot(body, "DOGE_USDT", RECEIVED)


# ------------------------------------------ pacing: many contracts over several sockets


def test_150_contracts_spread_over_sockets_that_each_resubscribe_within_seconds() -> None:
    futures = MexcFutures()
    symbols = [f"C{i:03d}_USDT" for i in range(150)]
    limits = futures.limits

    slots = assign(plan_channels(futures, symbols, (Kind.TRADES, Kind.DEPTH)), limits.max_subs_per_conn)

    assert [len(slot) for slot in slots] == [50] * 6
    assert all(len({c.symbol for c in slot}) == 25 for slot in slots)  # a contract's channels together
    requests = max(len(slot) for slot in slots) / limits.channels_per_request
    assert requests / limits.sub_rate_per_s <= 5.0  # from an empty bucket
    assert (requests - limits.sub_burst) / limits.sub_rate_per_s <= 3.0  # from a full one
