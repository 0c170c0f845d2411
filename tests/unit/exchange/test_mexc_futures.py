"""MEXC futures adapter: documented frames decode exactly, merged diffs chain, hostile frames never raise."""

from __future__ import annotations

import doctest
import json
import math
import random
import re
from typing import Any

import pytest

from fxcli.exchange import mexc_futures
from fxcli.exchange.adapter import Adapter, Control, ControlKind, Decoded, Endpoints, Kind
from fxcli.exchange.mexc_futures import MexcFutures, ack_confirms
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Gap, GapReason, MarketEvent, Trade
from fxcli.model.sync import BookSync
from tests.unit.exchange.test_mexc_spot import load_frames

FRAMES = load_frames("mexc-futures")
RECEIVED = 1_800_000_000_000_000_456
MS = 1_000_000
TS = 1_789_498_405_588


def frame(channel: str, data: Any, symbol: Any = "BTC_USDT", **extra: Any) -> str:
    """A futures push as the venue writes it: `{"symbol":...,"data":...,"channel":...,"ts":...}`."""
    return json.dumps({"symbol": symbol, "data": data, "channel": channel, "ts": TS, **extra})


def depth(
    begin: int | None, end: int | None, version: int, asks: Any = (), bids: Any = (), **extra: Any
) -> str:
    data: dict[str, Any] = {
        "asks": [list(a) for a in asks],
        "bids": [list(b) for b in bids],
        "version": version,
    }
    if begin is not None:
        data["begin"] = begin
    if end is not None:
        data["end"] = end
    return frame("push.depth", {**data, **extra})


def deal(**fields: Any) -> dict[str, Any]:
    return {"p": 1.5, "v": 10, "T": 1, "O": 1, "M": 2, "t": 1_760_368_563_597, **fields}


def decode(text: str | bytes) -> Decoded:
    return MexcFutures().decode(text, RECEIVED)


def delta_of(text: str | bytes) -> BookDelta:
    (delta,) = decode(text).events
    assert isinstance(delta, BookDelta)
    return delta


# ------------------------------------------------------------------ the documented frames (doc §2, §6.3)

DOGE_BIDS = [(0.08003, 8905.0), (0.08004, 8819.0), (0.07969, 0.0), (0.07979, 6750.0), (0.08006, 5200.0),
             (0.08007, 3878.0), (0.08008, 3453.0), (0.08009, 0.0)]  # fmt: skip
DOGE_ASKS = [(0.0801, 2868.0), (0.08014, 7405.0), (0.08015, 7000.0), (0.08011, 26243.0), (0.08012, 5313.0),
             (0.08039, 64.0), (0.0805, 84.0), (0.08009, 2700.0)]  # fmt: skip


@pytest.mark.parametrize(
    ("frame_id", "sent_ms", "expected"),
    [
        (
            "futures-depth-merged",
            1789498405534,
            BookDelta(
                1789498405531 * MS, RECEIVED, "DOGE_USDT", DOGE_BIDS, DOGE_ASKS, 8752807948, 8752808003
            ),
        ),
        (
            "futures-depth-merged-quiet",
            1789498405588,
            BookDelta(
                1789498405579 * MS,
                RECEIVED,
                "SKHYNIXSTOCK_USDT",
                [(1233.04, 0.0)],
                [(1235.06, 606.0)],
                1111084806,
                1111084807,
            ),
        ),
        (
            "futures-depth-unmerged-1",
            1789498321801,
            BookDelta(
                1789498321765 * MS, RECEIVED, "ETH_USDT", [], [(2384.59, 42.0)], 37723308980, 37723308980
            ),
        ),
        (
            "futures-depth-unmerged-2",
            1789498321801,
            BookDelta(
                1789498321765 * MS, RECEIVED, "ETH_USDT", [], [(2384.60, 2666.0)], 37723308981, 37723308981
            ),
        ),
        (
            "futures-depth-doc",  # no cts: the push time ts
            1587442022003,
            BookDelta(1587442022003 * MS, RECEIVED, "BTC_USDT", [], [(6859.5, 3251.0)], 96801927, 96801927),
        ),
        (
            "futures-depth-full",
            1789498322169,
            BookSnapshot(
                1789498322165 * MS,
                RECEIVED,
                "RIF_USDT",
                [(0.08049, 46.0), (0.08048, 489.0), (0.08047, 420.0)],
                [(0.08055, 48.0), (0.08056, 347.0), (0.08057, 149.0)],
                5220571685,
                "ws_top20",
            ),
        ),
        (
            "futures-deal-object",
            1587442022003,
            Trade(1587442049632 * MS, RECEIVED, "BTC_USDT", 6866.5, 2096.0, 1, None),
        ),
        (
            "futures-deal-array",
            1680055941870,
            Trade(1760368563597 * MS, RECEIVED, "BTC_USDT", 114350.4, 4.0, -1, None),
        ),
    ],
)
def test_decode_documented_push_gives_exact_event_and_push_time(
    frame_id: str, sent_ms: int, expected: MarketEvent
) -> None:
    decoded = MexcFutures().decode(FRAMES[frame_id], RECEIVED)

    assert decoded == Decoded(events=[expected], sent_ts_ns=sent_ms * MS)


@pytest.mark.parametrize(
    ("frame_id", "expected"),
    [
        ("futures-ack", Control(ControlKind.ACK, channels=("depth",))),
        ("futures-ack-doc", Control(ControlKind.ACK, channels=("deal",))),
        ("futures-error", Control(ControlKind.ERROR, reason="Contract [NOPE_USDT] not exists")),
        ("futures-error-doc", Control(ControlKind.ERROR, reason="Contract doesn't exist!")),
        ("futures-pong", Control(ControlKind.PONG)),
    ],
)
def test_decode_documented_control_frame_gives_exact_control(frame_id: str, expected: Control) -> None:
    decoded = MexcFutures().decode(FRAMES[frame_id], RECEIVED)

    assert decoded == Decoded(control=expected)


def test_ticker_has_best_prices_and_unknown_sizes() -> None:
    (ticker,) = decode(FRAMES["futures-ticker"]).events

    assert isinstance(ticker, BookTicker)
    assert (ticker.exchange_ts_ns, ticker.symbol, ticker.bid_price, ticker.ask_price, ticker.update_id) == (
        1587442022003 * MS,
        "BTC_USDT",
        6865.0,
        6866.5,
        None,
    )
    assert math.isnan(ticker.bid_qty)
    assert math.isnan(ticker.ask_qty)


def test_decode_snapshot_unwraps_the_rest_answer_and_keeps_contracts() -> None:
    body = FRAMES["futures-rest-snapshot"]
    assert isinstance(body, str)

    snapshot = MexcFutures().decode_snapshot(body.encode(), "btc_usdt", RECEIVED)

    assert snapshot == BookSnapshot(
        1587442022003 * MS,
        RECEIVED,
        "BTC_USDT",
        [(6859.0, 120.0), (6858.5, 4000.0)],
        [(6859.5, 3251.0)],
        96801927,
        "rest",
    )


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(mexc_futures)

    assert result.attempted >= 8
    assert result.failed == 0


# ------------------------------------------------------------------ field semantics


def test_deal_array_gives_one_trade_per_deal_with_numeric_trade_ids() -> None:
    text = frame("push.deal", [deal(T=1, i=987654321), deal(T=2, p=1.4, v=3, t=1_760_368_563_598, i="x-1")])

    decoded = decode(text)

    assert decoded.events == [
        Trade(1_760_368_563_597 * MS, RECEIVED, "BTC_USDT", 1.5, 10.0, 1, 987654321),
        Trade(1_760_368_563_598 * MS, RECEIVED, "BTC_USDT", 1.4, 3.0, -1, None),
    ]


def test_numbers_as_strings_and_exponents_are_accepted() -> None:
    text = depth(5, 6, 6, asks=[("7.548E+4", "12", 1)], bids=[(75470, 0, 0)])

    (delta,) = decode(text).events

    assert isinstance(delta, BookDelta)
    assert (delta.asks, delta.bids) == ([(75480.0, 12.0)], [(75470.0, 0.0)])


def test_depth_time_is_the_matching_engine_cts_else_the_push_ts() -> None:
    with_cts = decode(depth(1, 2, 2, cts=1_789_498_405_500)).events
    without = decode(depth(1, 2, 2)).events

    assert [e.exchange_ts_ns for e in with_cts] == [1_789_498_405_500 * MS]
    assert [e.exchange_ts_ns for e in without] == [TS * MS]


def test_unknown_fields_are_ignored() -> None:
    text = frame("push.deal", [deal(X=[1, {"y": 2}])], zzz={"a": [1]})

    decoded = decode(text)

    assert decoded.problem == ""
    assert len(decoded.events) == 1


@pytest.mark.parametrize(
    "text",
    [
        frame("push.deal", [deal()]),
        frame("push.deal", deal()),
        depth(1, 2, 2, cts=TS - 7),
        frame("push.depth.full", {"asks": [], "bids": [[1, 2, 1]], "version": 5}),
        frame("push.ticker", {"bid1": 1, "ask1": 2, "timestamp": TS - 9}),
    ],
)
def test_every_push_carries_its_push_time_ts(text: str) -> None:
    decoded = decode(text)

    assert decoded.events
    assert decoded.sent_ts_ns == TS * MS


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"symbol": "BTC_USDT", "data": [deal()], "channel": "push.deal"}),
        '{"channel":"rs.sub.deal","data":"success","ts":1587442022003}',
        '{"channel":"pong","data":1789498336785,"ts":1789498336785}',
        '{"channel":"rs.error","data":"Contract [NOPE_USDT] not exists","ts":1789498321790}',
    ],
)
def test_push_time_is_zero_when_absent_and_for_control_frames(text: str) -> None:
    assert decode(text).sent_ts_ns == 0


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (deal(T=3), "Invalid enum value 3 - at `$.T`"),
        (deal(T=None), "Expected `int`, got `null` - at `$.T`"),
        (deal(p=-1), "Expected `float` >= 0.0 - at `$.p`"),
        (deal(v="1e400"), "Number out of range"),
        (deal(t=-1), "Expected `int` >= 0 - at `$.t`"),
        (deal(t=2**63), "at `$.t`"),
        ("x", "Expected `object`, got `str`"),
    ],
)
def test_a_bad_deal_is_skipped_and_counted_and_the_others_are_kept(bad: Any, reason: str) -> None:
    text = frame("push.deal", [deal(i=1), bad, deal(i=3, T=2), bad])

    decoded = decode(text)

    assert [(t.trade_id, t.side) for t in decoded.events if isinstance(t, Trade)] == [(1, 1), (3, -1)]
    assert decoded.skipped == 2
    assert decoded.problem.startswith("push.deal BTC_USDT: skipped 2 of 4 deals (first: deal 1: ")
    assert reason in decoded.problem
    assert decoded.sent_ts_ns == TS * MS


def test_a_single_bad_deal_object_is_skipped_and_counted() -> None:
    decoded = decode(frame("push.deal", deal(T=0)))

    assert (decoded.events, decoded.skipped) == ([], 1)
    assert "Invalid enum value 0" in decoded.problem


@pytest.mark.parametrize(
    "text",
    [
        frame("push.deal", [deal(), deal(T=3)], symbol="../x"),
        frame("push.deal", [deal(), deal(T=3)], symbol=5),
        frame("push.deal", [deal(), deal(T=3)], ts=-1),
        json.dumps({"channel": "push.deal", "data": [deal(), deal(T=3)]}),
        frame("push.deal", None),
    ],
)
def test_a_deal_push_broken_as_a_whole_stays_a_problem(text: str) -> None:
    decoded = decode(text)

    assert decoded.problem
    assert (decoded.events, decoded.skipped) == ([], 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"channel":"rs.sub.depth.full","data":"success","ts":1}',
            Control(ControlKind.ACK, channels=("depth.full",)),
        ),
        (
            '{"channel":"rs.sub.ticker","data":"fail"}',
            Control(ControlKind.REJECT, channels=("ticker",), reason="fail"),
        ),
        ('{"channel":"rs.unsub.deal","data":"success"}', Control(ControlKind.ACK, channels=("deal",))),
        ('{"channel":"rs.error"}', Control(ControlKind.ERROR, reason="rs.error without a message")),
        ('{"channel":"pong","data":"not a number"}', Control(ControlKind.PONG)),
        (b'{"channel":"pong","data":1}', Control(ControlKind.PONG)),
    ],
)
def test_control_frames(text: str | bytes, expected: Control) -> None:
    decoded = decode(text)

    assert decoded == Decoded(control=expected)


def test_ack_confirms_the_topic_of_the_requested_channel() -> None:
    futures = MexcFutures()
    depth_channels = futures.channels("BTC_USDT", frozenset({Kind.DEPTH}))
    deal_channels = futures.channels("BTC_USDT", frozenset({Kind.TRADES}))
    ack = decode(FRAMES["futures-ack"]).control
    assert ack is not None

    assert ack_confirms(ack, depth_channels)
    assert not ack_confirms(ack, deal_channels)
    assert not ack_confirms(Control(ControlKind.REJECT, channels=("depth",)), depth_channels)


# ------------------------------------------------------------------ declared data and request frames


def test_channels_subscribe_and_unsubscribe_frames_follow_the_doc() -> None:
    futures = MexcFutures()
    channels = futures.channels("btc_usdt", frozenset(Kind))

    subscribes = [json.loads(futures.subscribe([c], 1)) for c in channels]
    unsubscribes = [json.loads(futures.unsubscribe([c], 2)) for c in channels]

    assert [(c.symbol, c.kind, c.name) for c in channels] == [
        ("BTC_USDT", Kind.TRADES, "deal@BTC_USDT"),
        ("BTC_USDT", Kind.DEPTH, "depth@BTC_USDT"),
        ("BTC_USDT", Kind.TOP, "depth.full@BTC_USDT"),
        ("BTC_USDT", Kind.TICKER, "ticker@BTC_USDT"),
    ]
    assert subscribes == [
        {"method": "sub.deal", "param": {"symbol": "BTC_USDT"}},
        {"method": "sub.depth", "param": {"symbol": "BTC_USDT", "compress": True}},
        {"method": "sub.depth.full", "param": {"symbol": "BTC_USDT", "limit": 20}},
        {"method": "sub.ticker", "param": {"symbol": "BTC_USDT"}},
    ]
    assert unsubscribes == [
        {"method": f"unsub.{topic}", "param": {"symbol": "BTC_USDT"}}
        for topic in ("deal", "depth", "depth.full", "ticker")
    ]
    assert futures.ping() == '{"method":"ping"}'


def test_requests_carry_exactly_one_channel() -> None:
    futures = MexcFutures()
    channels = futures.channels("BTC_USDT", frozenset({Kind.TRADES, Kind.DEPTH}))

    with pytest.raises(ValueError, match="one channel per request, got 2"):
        futures.subscribe(channels, 1)
    with pytest.raises(ValueError, match="got 0"):
        futures.unsubscribe([], 1)


@pytest.mark.parametrize("symbol", ["", "BTC/USDT", "BTC@USDT", "../x", "BTC-USDT", "X" * 41])
def test_channels_refuse_symbols_that_are_not_contracts(symbol: str) -> None:
    with pytest.raises(ValueError, match="not a MEXC futures symbol"):
        MexcFutures().channels(symbol, frozenset({Kind.TRADES}))


def test_endpoints_limits_and_snapshot_url() -> None:
    default = MexcFutures()
    local = MexcFutures(Endpoints("ws://127.0.0.1:9/edge", "http://127.0.0.1:9/api/v1/contract/"))

    assert default.venue == "mexc-futures"
    assert default.endpoints == Endpoints(
        "wss://contract.mexc.com/edge", "https://api.mexc.com/api/v1/contract"
    )
    assert (default.limits.max_subs_per_conn, default.limits.channels_per_request) == (50, 1)
    assert (default.limits.sub_burst, default.limits.sub_rate_per_s) == (20, 10.0)
    assert (
        default.snapshot_url("btc_usdt") == "https://api.mexc.com/api/v1/contract/depth/BTC_USDT?limit=1000"
    )
    assert local.snapshot_url("ETH_USDT") == "http://127.0.0.1:9/api/v1/contract/depth/ETH_USDT?limit=1000"


def test_mexc_futures_satisfies_the_adapter_protocol() -> None:
    adapter: Adapter = MexcFutures()

    assert adapter.decode(FRAMES["futures-pong"], 0).control == Control(ControlKind.PONG)


# ------------------------------------------------------------------ versions chain into BookSync


def test_merged_diffs_normalise_to_a_continuous_chain_and_a_jump_becomes_a_gap() -> None:
    futures = MexcFutures()
    sync = BookSync("SKHYNIXSTOCK_USDT")
    symbol = {"symbol": "SKHYNIXSTOCK_USDT"}
    texts = [
        frame("push.depth", {"asks": [[1235.5, 10, 1]], "bids": [], "begin": 1111084795, "end": 1111084803,
                             "version": 1111084803, "cts": TS - 3}, **symbol),  # straddles the snapshot
        frame("push.depth", {"asks": [], "bids": [[1233.04, 7, 1]], "begin": 1111084804, "end": 1111084805,
                             "version": 1111084805, "cts": TS - 2}, **symbol),
        FRAMES["futures-depth-merged-quiet"],  # begin 1111084806, end 1111084807
    ]  # fmt: skip
    deltas = [delta_of(text) for text in texts]
    snapshot = futures.decode_snapshot(
        b'{"success":true,"code":0,"data":{"asks":[[1235.06,1,1]],"bids":[[1233.04,5,1],[1232,2,1]],'
        b'"version":1111084800,"timestamp":1789498405000}}',
        "SKHYNIXSTOCK_USDT",
        RECEIVED,
    )
    jump = frame(
        "push.depth",
        {"asks": [], "bids": [], "begin": 1111084809, "end": 1111084810, "version": 1111084810},
        **symbol,
    )

    buffered = sync.on_delta(deltas[0])
    on_snapshot = sync.on_snapshot(snapshot)
    after = [event for delta in deltas[1:] for event in sync.on_delta(delta)]
    on_jump = sync.on_delta(delta_of(jump))
    gaps = sync.finish(TS * MS)

    assert buffered == []
    assert on_snapshot == [snapshot, deltas[0]]
    assert after == deltas[1:]
    assert not any(isinstance(event, Gap) for event in on_snapshot + after)
    assert sync.book.version == 1111084807
    assert sync.book.top(3) == ([(1232.0, 2.0)], [(1235.06, 606.0), (1235.5, 10.0)])
    assert on_jump == []
    detail = "expected from_version 1111084808, got 1111084809..1111084810"
    assert [(g.reason, detail in g.detail) for g in gaps if isinstance(g, Gap)] == [
        (GapReason.VERSION_JUMP, True)
    ]
    assert len(gaps) == 1


def test_unmerged_diffs_chain_one_version_at_a_time() -> None:
    futures = MexcFutures()
    sync = BookSync("ETH_USDT")
    snapshot = futures.decode_snapshot(
        b'{"success":true,"code":0,"data":{"asks":[],"bids":[],"version":37723308979}}', "ETH_USDT", RECEIVED
    )
    deltas = [delta_of(FRAMES[f"futures-depth-unmerged-{n}"]) for n in (1, 2)]

    sync.on_snapshot(snapshot)
    applied = [event for delta in deltas for event in sync.on_delta(delta)]

    assert applied == deltas
    assert sync.book.top(2) == ([], [(2384.59, 42.0), (2384.60, 2666.0)])


# ------------------------------------------------------------------ problems: named, never raised

BAD_NUMBERS: list[Any] = [
    -1,
    -0.5,
    "1e400",
    "NaN",
    "inf",
    "-inf",
    "abc",
    "",
    None,
    [],
    {},
    True,
    "1_0",
    "0x10",
]
BAD_VERSIONS: list[Any] = [-1, 1.5, "x", 2**63, 2**70, None, [], True, "9223372036854775808"]
BAD_TIMES: list[Any] = [-1, 2**63, 10**20, "x", 1.5, []]  # null is fine where a time is optional
BAD_SYMBOLS: list[Any] = ["", "../x", "BTC/USDT", "A B", "X" * 41, 5, None, [], "\u00c4_USDT"]


def hostile_value_frames() -> list[str]:
    """Well-formed JSON with values or shapes fx must refuse."""
    out: list[str] = []
    good_book = {"asks": [[1, 1, 1]], "bids": [], "version": 5}
    for bad in BAD_NUMBERS:
        out += [
            frame("push.deal", [deal(p=bad)]),
            frame("push.deal", deal(v=bad)),
            depth(1, 2, 2, asks=[(bad, 1, 1)]),
            depth(1, 2, 2, bids=[(1, bad, 1)]),
            frame("push.depth.full", {**good_book, "bids": [[bad, 1, 1]]}),
            frame("push.ticker", {"bid1": bad, "ask1": 2}),
            frame("push.ticker", {"bid1": 1, "ask1": bad}),
        ]
    for bad in BAD_VERSIONS:
        out += [
            depth(bad, 2, 2),
            depth(1, bad, 2),
            depth(None, None, bad),
            frame("push.depth.full", {**good_book, "version": bad}),
        ]
    for bad in BAD_TIMES:
        out += [
            frame("push.deal", [deal(t=bad)]),
            depth(1, 2, 2, cts=bad),
            frame("push.ticker", {"bid1": 1, "ask1": 2, "timestamp": bad}),
        ]
    for bad in BAD_SYMBOLS:
        out += [
            frame("push.deal", [deal()], symbol=bad),
            depth(1, 2, 2).replace('"BTC_USDT"', json.dumps(bad)),
        ]
    out.append(frame("push.deal", [deal(t=None)]))
    for side in (0, 3, -1, "buy", None, 1.5):
        out.append(frame("push.deal", [deal(T=side)]))
    out += [
        depth(3, 2, 3),  # begin > end
        depth(1, None, 2),  # begin without end
        depth(None, 2, 2),
        frame("push.deal", [deal(), "x"]),
        frame("push.deal", "x"),
        frame("push.deal", None),
        frame("push.depth", []),
        frame("push.depth", {"asks": [[1]], "bids": [], "version": 1}),  # a level without a size
        frame("push.depth", {"asks": [], "version": 1}),
        frame("push.depth.full", "x"),
        frame("push.ticker", [1, 2]),
        json.dumps({"channel": "push.deal", "data": [deal()]}),  # no symbol
        json.dumps({"channel": "push.deal", "data": [deal()], "symbol": "BTC_USDT", "ts": -5}),
    ]
    for channel in ("push.kline", "push.tickers", "push.funding.rate", "push.depth.step", "", "x", "rs"):
        out.append(frame(channel, {}))
    return out


def hostile_text_frames() -> list[str | bytes]:
    deep = "[" * 100_000 + "]" * 100_000
    return [
        "", " ", "null", "[]", "5", '"push.deal"', "{", '{"channel":"push.deal"', '{"data":1}',
        '{"channel":5}', '{"channel":null}', '{"channel":["pong"]}', deep,
        '{"channel":"push.deal","data":' + deep + "}",
        '{"channel":"x","data":' + deep + "}", "{" * 50_000, '{"channel":"bad","data":' + "9" * 5000 + "}",
        '{"channel":"rs.error","data":"' + "x" * (2 << 20) + '"}', b"\x1f\x8b\x08\x00", b'{"channel":"\xff"}',
        "\ud800", b"\x00" * 10,
    ]  # fmt: skip


def hostile_frames() -> list[str | bytes]:
    """At least 1,000 frames that must all come back as a problem."""
    rng = random.Random(20261124)
    texts = [f for f in FRAMES.values() if isinstance(f, str)]
    frames: list[str | bytes] = []
    frames += [rng.randbytes(rng.randrange(0, 400)) for _ in range(300)]
    frames += [text[:cut] for text in texts for cut in range(0, len(text), 2)]  # truncated JSON
    frames += hostile_value_frames()
    frames += hostile_text_frames()
    return frames


def test_a_thousand_hostile_frames_give_a_problem_and_never_raise() -> None:
    frames = hostile_frames()
    futures = MexcFutures()

    results = [futures.decode(text, RECEIVED) for text in frames]

    assert len(frames) >= 1000
    unexplained = [  # events only beside skipped deals (a push of good and bad deals keeps the good)
        (i, frames[i][:200], r)
        for i, r in enumerate(results)
        if not r.problem or r.control or (r.events and not r.skipped)
    ]
    assert unexplained == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            frame("push.deal", [deal(p=-1)]),
            r"skipped 1 of 1 deals \(first: deal 0: Expected `float` >= 0.0 - at `\$.p`",
        ),
        (
            frame("push.deal", [deal(T=3)]),
            r"push.deal BTC_USDT: skipped 1 of 1 deals \(first: deal 0: Invalid enum value 3",
        ),
        (frame("push.deal", "x"), r"bad push.deal: Expected `object \| array`, got `str` - at `\$.data`"),
        (frame("push.deal", [deal()], ts=-5), r"bad push.deal: Expected `int` >= 0 - at `\$.ts`"),
        (depth(3, 2, 3), "begin 3 > end 2"),
        (depth(1, None, 2), "needs both begin and end"),
        (frame("push.depth", {"asks": [], "bids": [], "version": 2**64}), r"bad push.depth: .*version"),
        (frame("push.kline", {}), "channel 'push.kline' is not one fx decodes"),
        (frame("push.deal", [deal()], symbol="../x"), "bad symbol '../x'"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        ('{"channel":"rs.error","data":"' + "x" * (2 << 20) + '"}', "larger than 1048576"),
    ],
)
def test_problem_says_what_is_wrong(text: str | bytes, message: str) -> None:
    decoded = decode(text)

    assert re.search(message, decoded.problem), decoded.problem


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "bad MEXC futures depth snapshot"),
        (b'{"success":false,"code":1001,"message":"contract not exists"}', "code 1001, contract not exists"),
        (b'{"success":true,"code":0}', "no data"),
        (b'{"success":true,"code":0,"data":{"asks":[[1,-1,1]],"bids":[],"version":1}}', "bad MEXC futures"),
        (b'{"success":true,"code":0,"data":{"asks":[],"bids":[],"version":-1}}', "bad MEXC futures"),
    ],
)
def test_decode_snapshot_raises_value_error_naming_the_fault(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MexcFutures().decode_snapshot(body, "BTC_USDT", RECEIVED)
