"""Binance frame decoding: the real frame shapes from the captures, and bad frames."""

from __future__ import annotations

import pytest

from fxcli.exchange.binance import (
    DecodeError,
    IgnoredStreamError,
    Market,
    decode_snapshot,
    decode_stream,
    detect_market,
)
from fxcli.model.events import BookDelta, BookTicker, Trade

SPOT_TRADE = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
    '"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}'
)
USDM_DEPTH = (
    '{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,'
    '"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,'
    '"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","1.5"]]}}'
)
SPOT_TICKER = (
    '{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",'
    '"B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}'
)
AGG = (
    '{"stream":"ctkusdt@aggTrade","data":{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"CTKUSDT",'
    '"p":"1.01100","q":"10","f":23961322,"l":23961322,"T":1626992741421,"m":false}}'
)


def test_decode_spot_trade_uses_trade_time_and_aggressor_side() -> None:
    trade = decode_stream(SPOT_TRADE, 7, Market.SPOT)

    assert trade == Trade(1_723_161_255_342_000_000, 7, "BTCUSDT", 61837.63, 0.02, -1, 3735683259)


def test_decode_agg_trade_keeps_agg_id_and_buy_side() -> None:
    trade = decode_stream(AGG, 7, Market.USDM)

    assert isinstance(trade, Trade)
    assert (trade.trade_id, trade.side, trade.price, trade.qty) == (16599292, 1, 1.011, 10.0)


def test_decode_usdm_depth_normalises_from_version_to_pu_plus_one() -> None:
    delta = decode_stream(USDM_DEPTH, 7, Market.USDM)

    assert isinstance(delta, BookDelta)
    assert (delta.from_version, delta.to_version) == (5123107831938, 5123107837557)
    assert delta.exchange_ts_ns == 1_723_161_256_298_000_000
    assert delta.bids == [(58710.2, 0.014), (61510.9, 0.0)]


def test_decode_spot_ticker_without_time_leaves_it_to_caller() -> None:
    ticker = decode_stream(SPOT_TICKER, 7, Market.SPOT)

    assert isinstance(ticker, BookTicker)
    assert ticker.exchange_ts_ns == 0
    assert (ticker.bid_price, ticker.ask_qty, ticker.update_id) == (61837.63, 1.54698, 50093239212)


def test_decode_snapshot_has_version_and_rest_source() -> None:
    snap = decode_snapshot(
        '{"lastUpdateId":5,"bids":[["1.5","2"]],"asks":[["1.6","3"]]}', 9, "X", Market.SPOT
    )

    assert (snap.version, snap.bids, snap.asks, snap.source, snap.exchange_ts_ns) == (
        5,
        [(1.5, 2.0)],
        [(1.6, 3.0)],
        "rest",
        0,
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{not json", "bad frame"),
        ('{"stream":"btcusdt@trade","data":{"e":"trade"}}', "bad frame"),
        (SPOT_TRADE.replace('"61837.63000000"', '"NaN"'), r"Expected `float` > 0.0 - at `\$.p`"),
        (SPOT_TRADE.replace('"61837.63000000"', '"0"'), r"Expected `float` > 0.0 - at `\$.p`"),
        (SPOT_TRADE.replace('"t":3735683259', '"t":-1'), r"Expected `int` >= 0 - at `\$.t`"),
        (SPOT_TRADE.replace('"t":3735683259', '"t":9223372036854775808'), r"\(int64\) - at `\$.t`"),
        (SPOT_TRADE.replace('"T":1723161255342', '"T":1723161255'), r"\(2000-01-01 in ms\) - at `\$.T`"),
        (SPOT_TRADE.replace('"0.02000000"', '"-1"'), r"Expected `float` >= 0.0 - at `\$.q`"),
        (SPOT_TRADE.replace('"61837.63000000"', '"1e999"'), r"Number out of range - at `\$.p`"),
        (SPOT_TRADE.replace('"61837.63000000"', '"inf"'), r"Expected `float` <= 1e\+300"),
        (SPOT_TRADE.replace('"61837.63000000"', '"abc"'), r"Expected `float`, got `str` - at `\$.p`"),
        (SPOT_TRADE.replace('"m":true', '"m":"yes"'), r"Expected `bool`, got `str` - at `\$.m`"),
        (USDM_DEPTH.replace('["61800.30","1.5"]', '["61800.30"]'), r"at `\$.a\[0\]`"),
        ('{"stream":"btcusdt@forceOrder","data":{}}', "unknown stream type 'btcusdt@forceOrder'"),
        (USDM_DEPTH.replace(',"pu":5123107831937', ""), "without 'pu'"),
    ],
)
def test_decode_bad_frames_raise_decode_error_saying_why(frame: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_stream(frame, 0, Market.USDM)


def test_decode_futures_snapshot_version_lets_event_ending_at_last_update_id_bridge() -> None:
    snap = decode_snapshot('{"lastUpdateId":100,"T":1723161256298,"bids":[],"asks":[]}', 9, "X", Market.USDM)

    assert snap.version == 99
    assert snap.exchange_ts_ns == 1_723_161_256_298_000_000


def test_decode_accepts_numbers_as_well_as_decimal_strings() -> None:
    trade = decode_stream(SPOT_TRADE.replace('"61837.63000000"', "61837.63"), 0, Market.SPOT)

    assert isinstance(trade, Trade)
    assert trade.price == 61837.63


def test_decode_deeply_nested_frame_is_a_decode_error_not_a_crash() -> None:
    nested = '{"stream":"btcusdt@trade","data":' + "[" * 100_000 + "]" * 100_000 + "}"

    with pytest.raises(DecodeError, match="nested too deeply"):
        decode_stream(nested, 0, Market.SPOT)


def test_decode_kline_is_ignored_not_an_error() -> None:
    with pytest.raises(IgnoredStreamError):
        decode_stream('{"stream":"x@kline_1m","data":{}}', 0, Market.SPOT)


def test_detect_market_tells_spot_from_futures() -> None:
    assert detect_market(SPOT_TRADE) is Market.SPOT
    assert detect_market(USDM_DEPTH) is Market.USDM
    assert detect_market(USDM_DEPTH.replace("BTCUSDT", "BCHUSD_PERP")) is Market.COINM
    assert detect_market(SPOT_TICKER) is None
