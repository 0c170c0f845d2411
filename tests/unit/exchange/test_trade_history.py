"""The REST trade history fx backfills gaps from: MEXC spot aggTrades and futures recent deals, as
decoded by the adapters, and the rule that drops a fetched print already received live."""

from __future__ import annotations

import pytest

from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.live.backfill import without_live_copies
from fxcli.model.events import Trade

SPOT_BODY = (
    b'[{"a":null,"f":null,"l":null,"p":"10.5","q":"2","T":1700000000002,"m":true,"M":true},'
    b'{"a":null,"f":null,"l":null,"p":"10.4","q":"1.5","T":1700000000001,"m":false,"M":true}]'
)


def test_spot_agg_trades_decode_oldest_first_with_the_aggressor_from_the_maker_flag() -> None:
    trades = MexcSpot().decode_agg_trades(SPOT_BODY, "aaausdt", 9)

    assert [(t.exchange_ts_ns, t.price, t.qty, t.side, t.trade_id) for t in trades] == [
        (1_700_000_000_001_000_000, 10.4, 1.5, 1, None),  # the buyer took: a buy
        (1_700_000_000_002_000_000, 10.5, 2.0, -1, None),  # the buyer was the maker: a sell
    ]
    assert {t.symbol for t in trades} == {"AAAUSDT"}


@pytest.mark.parametrize(
    "body", [b"{}", b"[{}]", b'[{"p":"-1","q":"1","T":1,"m":true}]', b"<html>busy</html>"]
)
def test_spot_agg_trades_refuse_a_malformed_answer(body: bytes) -> None:
    with pytest.raises(ValueError, match="bad MEXC spot aggTrades answer"):
        MexcSpot().decode_agg_trades(body, "AAAUSDT", 0)


def test_spot_agg_trades_url_asks_an_inclusive_window_of_at_most_an_hour() -> None:
    spot = MexcSpot()

    url = spot.agg_trades_url("btcusdt", 1000, 3_601_000, 7)

    assert (
        url == "https://api.mexc.com/api/v3/aggTrades?symbol=BTCUSDT&startTime=1000&endTime=3601000&limit=7"
    )
    for start, end, limit in ((0, 3_600_001, 1000), (5, 4, 1000), (0, 1, 1001), (0, 1, 0)):
        with pytest.raises(ValueError, match="out of range"):
            spot.agg_trades_url("BTCUSDT", start, end, limit)


def test_futures_deals_decode_newest_first_answers_in_base_units() -> None:
    body = (
        b'{"success":true,"code":0,"data":[{"p":5.5,"v":3,"T":2,"O":3,"M":2,"t":1700000000009},'
        b'{"p":5.4,"v":20,"T":1,"O":1,"M":2,"t":1700000000008,"i":77}]}'
    )
    futures = MexcFutures(contract_sizes={"A_USDT": 0.1})

    trades = futures.decode_deals(body, "A_USDT", 3)

    assert [(t.exchange_ts_ns // 1_000_000, t.price, t.qty, t.side, t.trade_id) for t in trades] == [
        (1_700_000_000_008, 5.4, 2.0, 1, 77),
        (1_700_000_000_009, 5.5, 0.3, -1, None),
    ]
    with pytest.raises(ValueError, match="B_USDT has no contract size: its deals would stay in contracts"):
        futures.decode_deals(body, "B_USDT", 3)
    with pytest.raises(ValueError, match="MEXC futures deals refused: success=False, code 1002"):
        futures.decode_deals(b'{"success":false,"code":1002,"message":"busy"}', "A_USDT", 3)
    assert futures.deals_url("a_usdt") == "https://api.mexc.com/api/v1/contract/deals/A_USDT?limit=100"


def trade(ms: int, qty: float = 1.0, trade_id: int | None = None) -> Trade:
    return Trade(ms * 1_000_000, 0, "X", 10.0, qty, 1, trade_id)


def test_a_fetched_print_is_dropped_once_per_live_copy_by_id_or_else_by_content() -> None:
    fetched = [trade(1), trade(1), trade(2), trade(3, trade_id=5), trade(3, trade_id=6), trade(4, qty=2.0)]
    live = [trade(1, trade_id=900), trade(3, trade_id=5), trade(4, qty=1.0)]

    kept = without_live_copies(fetched, live)

    # one of two equal prints at ms 1 came live, id 5 came live, ms 4's live print is another size
    assert kept == [trade(1), trade(2), trade(3, trade_id=6), trade(4, qty=2.0)]
