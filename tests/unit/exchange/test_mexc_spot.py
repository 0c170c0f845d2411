"""MEXC spot v3 adapter: the documented frames decode exactly, hostile frames never raise, versions chain."""

from __future__ import annotations

import base64
import doctest
import json
import random
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from fxcli.exchange import mexc_spot
from fxcli.exchange.adapter import Adapter, Control, ControlKind, Decoded, Endpoints, Kind
from fxcli.exchange.mexc_proto.PublicAggreDealsV3Api_pb2 import PublicAggreDealsV3ApiItem
from fxcli.exchange.mexc_proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from fxcli.exchange.mexc_spot import MexcSpot, ack_confirms
from fxcli.model.events import BookDelta, BookSnapshot, BookTicker, Gap, GapReason, MarketEvent, Trade
from fxcli.model.sync import BookSync
from tests.conftest import FIXTURES, REPO

PROTO_SRC = REPO.parent / "shared" / "mexc" / "proto"
PROTO_OUT = REPO / "fxcli" / "exchange" / "mexc_proto"
DEALS = "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"
DEPTH = "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT"
TOP = "spot@public.limit.depth.v3.api.pb@BTCUSDT@20"
TICKER = "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT"
RECEIVED = 1_800_000_000_000_000_123
SEND_MS = 1_700_000_000_000
MS = 1_000_000

Levels = Sequence[tuple[str, str]]


def load_frames(venue: str) -> dict[str, bytes | str]:
    """The sample frames of tests/fixtures/mexc/frames.jsonl for `venue`, as the socket delivers them."""
    frames: dict[str, bytes | str] = {}
    for line in (FIXTURES / "mexc" / "frames.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["venue"] == venue:
            text = row["frame"]
            encoding = row["encoding"]
            if encoding == "base64":
                frames[row["id"]] = base64.b64decode(text)
            elif encoding == "hex":
                frames[row["id"]] = bytes.fromhex(text)
            else:
                frames[row["id"]] = text
    return frames


FRAMES = load_frames("mexc-spot")


def push(channel: str, *, symbol: str = "BTCUSDT", send_ms: int | None = SEND_MS) -> PushDataV3ApiWrapper:
    """An empty push on `channel`; the caller fills one body."""
    wrapper = PushDataV3ApiWrapper(channel=channel)
    if symbol:
        wrapper.symbol = symbol
    if send_ms is not None:
        wrapper.sendTime = send_ms
    return wrapper


def deals_frame(
    deals: Sequence[tuple[str, str, int, int, str]], *, symbol: str = "BTCUSDT", channel: str = DEALS
) -> bytes:
    """An aggre.deals push; each deal is (price, quantity, tradeType, time_ms, tradeId)."""
    wrapper = push(channel, symbol=symbol)
    wrapper.publicAggreDeals.eventType = "spot@public.aggre.deals.v3.api.pb@100ms"
    for price, qty, trade_type, time_ms, trade_id in deals:
        wrapper.publicAggreDeals.deals.add(
            price=price, quantity=qty, tradeType=trade_type, time=time_ms, tradeId=trade_id
        )
    return wrapper.SerializeToString()


def depth_frame(
    from_version: str, to_version: str, bids: Levels = (), asks: Levels = (), *, send_ms: int = SEND_MS
) -> bytes:
    """An aggre.depth push."""
    wrapper = push(DEPTH, send_ms=send_ms)
    body = wrapper.publicAggreDepths
    for price, qty in bids:
        body.bids.add(price=price, quantity=qty)
    for price, qty in asks:
        body.asks.add(price=price, quantity=qty)
    body.fromVersion, body.toVersion = from_version, to_version
    return wrapper.SerializeToString()


def top_frame(
    version: str, bids: Levels, asks: Levels, *, channel: str = TOP, symbol: str = "BTCUSDT"
) -> bytes:
    """A limit.depth push."""
    wrapper = push(channel, symbol=symbol)
    body = wrapper.publicLimitDepths
    for price, qty in bids:
        body.bids.add(price=price, quantity=qty)
    for price, qty in asks:
        body.asks.add(price=price, quantity=qty)
    body.version = version
    return wrapper.SerializeToString()


def ticker_frame(bid: str, bid_qty: str, ask: str, ask_qty: str, version: str = "") -> bytes:
    """An aggre.bookTicker push."""
    wrapper = push(TICKER)
    body = wrapper.publicAggreBookTicker
    body.bidPrice, body.bidQuantity, body.askPrice, body.askQuantity = bid, bid_qty, ask, ask_qty
    body.version = version
    return wrapper.SerializeToString()


def events_of(frame: bytes | str) -> list[MarketEvent]:
    decoded = MexcSpot().decode(frame, RECEIVED)
    assert decoded.problem == ""
    return decoded.events


def delta_of(frame: bytes) -> BookDelta:
    (delta,) = events_of(frame)
    assert isinstance(delta, BookDelta)
    return delta


# ------------------------------------------------------------------ the documented frames (doc §6.1, §6.2)


@pytest.mark.parametrize(
    ("frame_id", "expected"),
    [
        ("spot-deals", Trade(1736409765051 * MS, RECEIVED, "BTCUSDT", 93220.0, 0.04438243, -1, None)),
        (
            "spot-depth-2025",
            BookDelta(
                1736411507002 * MS, RECEIVED, "BTCUSDT", [(92877.58, 0.0)], [], 10589632359, 10589632359
            ),
        ),
        (
            "spot-depth-ccxt",
            BookDelta(
                1754741322152 * MS,
                RECEIVED,
                "BTCUSDT",
                [(117053.41, 1.86837271)],
                [(117145.49, 0.0)],
                43296363236,
                43296363255,
            ),
        ),
        (
            "spot-depth-2026",
            BookDelta(1778075380657 * MS, RECEIVED, "BTCUSDT", [(100.0, 4.0)], [], 10023, 10023),
        ),
        (
            "spot-limit-depth",
            BookSnapshot(
                1736411838730 * MS,
                RECEIVED,
                "BTCUSDT",
                [(93179.98, 2.82651)],
                [(93180.18, 0.21976424)],
                36913565463,
                "ws_top5",
            ),
        ),
        (
            "spot-book-ticker",
            BookTicker(1736412092433 * MS, RECEIVED, "BTCUSDT", 93387.28, 3.73485, 93387.29, 7.669875, None),
        ),
    ],
)
def test_decode_documented_binary_frame_gives_exact_event(frame_id: str, expected: MarketEvent) -> None:
    decoded = MexcSpot().decode(FRAMES[frame_id], RECEIVED)

    assert decoded == Decoded(events=[expected], sent_ts_ns=FIXTURE_SEND_MS[frame_id] * MS)


FIXTURE_SEND_MS = {  # the wrapper's sendTime of each sample push
    "spot-deals": 1736409765052,
    "spot-depth-2025": 1736411507002,
    "spot-depth-ccxt": 1754741322152,
    "spot-depth-2026": 1778075380657,
    "spot-limit-depth": 1736411838730,
    "spot-book-ticker": 1736412092433,
}


@pytest.mark.parametrize(
    ("frame_id", "expected"),
    [
        ("spot-ack", Control(ControlKind.ACK, 0, (DEALS,))),
        (
            "spot-ack-multi",
            Control(
                ControlKind.ACK,
                0,
                ("spot@public.increase.depth.v3.api@BTCUSDT", "spot@public.deals.v3.api@BTCUSDT"),
            ),
        ),
        ("spot-pong", Control(ControlKind.PONG, 0)),
        (
            "spot-reject",
            Control(ControlKind.REJECT, 0, ("spot@public.miniTicker.v3.api@BTCUSDT@UTC+0",), "Blocked!"),
        ),
    ],
)
def test_decode_documented_text_frame_gives_exact_control(frame_id: str, expected: Control) -> None:
    decoded = MexcSpot().decode(FRAMES[frame_id], RECEIVED)

    assert decoded == Decoded(control=expected)


def test_decode_snapshot_of_documented_rest_answer_uses_last_update_id() -> None:
    body = FRAMES["spot-rest-snapshot"]
    assert isinstance(body, str)

    snapshot = MexcSpot().decode_snapshot(body.encode(), "btcusdt", RECEIVED)

    assert snapshot == BookSnapshot(0, RECEIVED, "BTCUSDT", [(15.0, 49999.0)], [(14.0, 1.0)], 1112416, "rest")
    assert snapshot.is_full


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(mexc_spot)

    assert result.attempted >= 8
    assert result.failed == 0


# ------------------------------------------------------------------ acks, rejections, pongs, errors


def test_ack_confirms_only_exactly_the_requested_channels() -> None:
    spot = MexcSpot()
    trades, depth, top = spot.channels("BTCUSDT", frozenset({Kind.TRADES, Kind.DEPTH, Kind.TOP}))
    ack = spot.decode(f'{{"id":4,"code":0,"msg":"{DEALS},{DEPTH}"}}', RECEIVED).control
    assert ack is not None

    assert ack_confirms(ack, [depth, trades])
    assert not ack_confirms(ack, [trades])
    assert not ack_confirms(ack, [trades, depth, top])


def test_rejection_with_code_zero_and_trailing_space_is_not_an_ack() -> None:
    frame = (
        f'{{"id":5,"code":0,"msg":"Not Subscribed successfully! [{DEALS},{DEPTH}].  Reason\uff1a Blocked! "}}'
    )

    control = MexcSpot().decode(frame, RECEIVED).control

    assert control == Control(ControlKind.REJECT, 5, (DEALS, DEPTH), "Blocked!")
    assert not ack_confirms(control, MexcSpot().channels("BTCUSDT", frozenset({Kind.TRADES, Kind.DEPTH})))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"id":0,"code":0,"msg":"pong"}', Control(ControlKind.PONG, 0)),
        ('{"msg":"PONG"}', Control(ControlKind.PONG)),
        (
            '{"id":3,"code":700001,"msg":"Invalid request"}',
            Control(ControlKind.ERROR, 3, reason="code 700001: Invalid request"),
        ),
        ('{"id":0,"code":0,"msg":"Bad request"}', Control(ControlKind.ERROR, 0, reason="Bad request")),
        (b'{"id":9,"code":0,"msg":"PONG"}', Control(ControlKind.PONG, 9)),
    ],
)
def test_text_frames_are_classified_by_msg(frame: bytes | str, expected: Control) -> None:
    decoded = MexcSpot().decode(frame, RECEIVED)

    assert decoded == Decoded(control=expected)


# ------------------------------------------------------------------ declared data and request frames


def test_channels_are_the_documented_pb_channels_for_each_kind() -> None:
    channels = MexcSpot().channels("btcusdt", frozenset(Kind))

    assert [(c.symbol, c.kind, c.name) for c in channels] == [
        ("BTCUSDT", Kind.TRADES, DEALS),
        ("BTCUSDT", Kind.DEPTH, DEPTH),
        ("BTCUSDT", Kind.TOP, TOP),
        ("BTCUSDT", Kind.TICKER, TICKER),
    ]


@pytest.mark.parametrize("symbol", ["", "BTC/USDT", "BTC@USDT", "../x", "BTC,USDT", "Ä" * 3])
def test_channels_refuse_symbols_that_break_the_channel_grammar(symbol: str) -> None:
    with pytest.raises(ValueError, match="not a MEXC spot symbol"):
        MexcSpot().channels(symbol, frozenset({Kind.TRADES}))


def test_subscribe_and_unsubscribe_frames_carry_names_and_request_id() -> None:
    spot = MexcSpot()
    channels = spot.channels("BTCUSDT", frozenset({Kind.TRADES, Kind.DEPTH}))

    subscribe = json.loads(spot.subscribe(channels, 41))
    unsubscribe = json.loads(spot.unsubscribe(channels, 42))

    assert subscribe == {"method": "SUBSCRIPTION", "params": [DEALS, DEPTH], "id": 41}
    assert unsubscribe == {"method": "UNSUBSCRIPTION", "params": [DEALS, DEPTH], "id": 42}
    assert spot.ping() == '{"method":"PING"}'


def test_subscribe_refuses_more_channels_than_one_request_may_carry() -> None:
    spot = MexcSpot()
    channels = [c for s in ("A1", "B1", "C1", "D1") for c in spot.channels(s, frozenset(Kind))]

    with pytest.raises(ValueError, match="at most 15"):
        spot.subscribe(channels, 1)
    with pytest.raises(ValueError, match="at least one"):
        spot.subscribe([], 1)


def test_endpoints_limits_and_snapshot_url() -> None:
    default = MexcSpot()
    local = MexcSpot(Endpoints("ws://127.0.0.1:9/ws", "http://127.0.0.1:9/"))

    assert default.venue == "mexc-spot"
    assert default.endpoints == Endpoints("wss://wbs-api.mexc.com/ws", "https://api.mexc.com")
    assert default.limits.max_subs_per_conn == 30
    assert default.snapshot_url("btcusdt") == "https://api.mexc.com/api/v3/depth?symbol=BTCUSDT&limit=5000"
    assert local.snapshot_url("ETHUSDT") == "http://127.0.0.1:9/api/v3/depth?symbol=ETHUSDT&limit=5000"


def test_mexc_spot_satisfies_the_adapter_protocol() -> None:
    adapter: Adapter = MexcSpot()

    assert adapter.decode(FRAMES["spot-pong"], 0).control == Control(ControlKind.PONG, 0)


# ------------------------------------------------------------------ field semantics


def test_deals_give_one_trade_each_with_side_and_numeric_trade_id() -> None:
    frame = deals_frame(
        [("1.5", "2", 1, 1_700_000_000_001, "123456789"), ("1.4", "3", 2, 1_700_000_000_002, "a-1")]
    )

    trades = events_of(frame)

    assert trades == [
        Trade(1_700_000_000_001 * MS, RECEIVED, "BTCUSDT", 1.5, 2.0, 1, 123456789),
        Trade(1_700_000_000_002 * MS, RECEIVED, "BTCUSDT", 1.4, 3.0, -1, None),
    ]


def test_deal_without_time_takes_the_push_send_time() -> None:
    trades = events_of(deals_frame([("1", "1", 1, 0, "")]))

    assert [t.exchange_ts_ns for t in trades] == [SEND_MS * MS]


def test_push_without_send_time_uses_create_time_else_zero() -> None:
    wrapper = push(DEPTH, send_ms=None)
    wrapper.publicAggreDepths.fromVersion = wrapper.publicAggreDepths.toVersion = "7"
    without_both = wrapper.SerializeToString()
    wrapper.createTime = 1_600_000_000_000
    with_create = wrapper.SerializeToString()

    assert [e.exchange_ts_ns for e in events_of(with_create)] == [1_600_000_000_000 * MS]
    assert [e.exchange_ts_ns for e in events_of(without_both)] == [0]


def test_push_time_is_the_send_time_else_create_time_else_zero() -> None:
    wrapper = push(DEPTH, send_ms=None)
    wrapper.publicAggreDepths.fromVersion = wrapper.publicAggreDepths.toVersion = "7"
    without_both = wrapper.SerializeToString()
    wrapper.createTime = 1_600_000_000_000
    with_create = wrapper.SerializeToString()
    wrapper.sendTime = 1_600_000_000_009
    with_both = wrapper.SerializeToString()
    spot = MexcSpot()

    sent = [spot.decode(f, RECEIVED).sent_ts_ns for f in (with_both, with_create, without_both)]

    assert sent == [1_600_000_000_009 * MS, 1_600_000_000_000 * MS, 0]


@pytest.mark.parametrize(
    "frame",
    [
        deals_frame([("1", "1", 1, SEND_MS - 5, "")]),
        depth_frame("1", "2"),
        top_frame("3", [("1", "1")], []),
        ticker_frame("1", "1", "2", "1"),
    ],
)
def test_every_push_carries_its_send_time(frame: bytes) -> None:
    assert MexcSpot().decode(frame, RECEIVED).sent_ts_ns == SEND_MS * MS


def test_control_frames_have_no_send_time() -> None:
    assert [MexcSpot().decode(FRAMES[f], RECEIVED).sent_ts_ns for f in ("spot-ack", "spot-pong")] == [0, 0]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("1", "1", 3, SEND_MS, "9"), "tradeType 3 is neither 1 (buy) nor 2 (sell)"),
        (("1", "1", 0, SEND_MS, "9"), "tradeType 0 is neither"),
        (("1", "1", 1, -5, "9"), "deal time -5 is not a time in ms"),
        (("1", "1", 1, 2**62, "9"), "is not a time in ms"),
        (("NaN", "1", 1, SEND_MS, "9"), "price or quantity is not a decimal in range: JSON is malformed"),
        (
            ("1", "-1", 2, SEND_MS, "9"),
            "price or quantity is not a decimal in range: Expected `float` >= 0.0",
        ),
        (("1", "1e400", 2, SEND_MS, "9"), "Number out of range"),
    ],
)
def test_a_bad_deal_is_skipped_and_counted_and_the_others_are_kept(
    bad: tuple[str, str, int, int, str], reason: str
) -> None:
    frame = deals_frame([("1.5", "2", 1, SEND_MS, "1"), bad, ("1.4", "3", 2, SEND_MS, "3"), bad])

    decoded = MexcSpot().decode(frame, RECEIVED)

    assert decoded.events == [
        Trade(SEND_MS * MS, RECEIVED, "BTCUSDT", 1.5, 2.0, 1, 1),
        Trade(SEND_MS * MS, RECEIVED, "BTCUSDT", 1.4, 3.0, -1, 3),
    ]
    assert decoded.skipped == 2
    assert decoded.problem.startswith("publicAggreDeals: skipped 2 of 4 deals (first: deal 1: ")
    assert reason in decoded.problem
    assert decoded.sent_ts_ns == SEND_MS * MS


@pytest.mark.parametrize(
    "frame",
    [
        deals_frame([("1", "1", 1, SEND_MS, ""), ("1", "1", 3, SEND_MS, "")], symbol="../x"),
        deals_frame([("1", "1", 1, SEND_MS, "")], symbol="", channel=""),
    ],
)
def test_a_deals_push_broken_as_a_whole_stays_a_problem(frame: bytes) -> None:
    decoded = MexcSpot().decode(frame, RECEIVED)

    assert decoded.problem
    assert (decoded.events, decoded.skipped) == ([], 0)


def test_a_deals_push_with_a_bad_send_time_stays_a_problem() -> None:
    wrapper = push(DEALS, send_ms=-1)
    wrapper.publicAggreDeals.deals.add(price="1", quantity="1", tradeType=1, time=SEND_MS)

    decoded = MexcSpot().decode(wrapper.SerializeToString(), RECEIVED)

    assert "sendTime/createTime -1 is not a time in ms" in decoded.problem
    assert (decoded.events, decoded.skipped) == ([], 0)


@pytest.mark.parametrize(
    ("frame", "symbol"),
    [
        (
            deals_frame([("1", "1", 1, 1, "")], symbol="", channel=DEALS.replace("BTCUSDT", "PEPEUSDT")),
            "PEPEUSDT",
        ),
        (top_frame("5", [("1", "1")], [], channel=TOP.replace("BTCUSDT", "PEPEUSDT"), symbol=""), "PEPEUSDT"),
    ],
)
def test_push_without_symbol_takes_it_from_the_channel(frame: bytes, symbol: str) -> None:
    events = events_of(frame)

    assert [e.symbol for e in events] == [symbol]


def test_top_snapshot_is_a_partial_view_named_by_its_level_count() -> None:
    (snapshot,) = events_of(top_frame("900", [("10", "1"), ("9", "2")], [("11", "3")]))

    assert snapshot == BookSnapshot(
        SEND_MS * MS, RECEIVED, "BTCUSDT", [(10.0, 1.0), (9.0, 2.0)], [(11.0, 3.0)], 900, "ws_top20"
    )
    assert not snapshot.is_full


def test_book_ticker_keeps_the_2026_version_as_update_id() -> None:
    (ticker,) = events_of(ticker_frame("1.0", "2", "1.1", "3", version="777"))

    assert ticker == BookTicker(SEND_MS * MS, RECEIVED, "BTCUSDT", 1.0, 2.0, 1.1, 3.0, 777)


def test_unknown_fields_are_ignored_at_every_level() -> None:
    item = PublicAggreDealsV3ApiItem(price="2.5", quantity="4", tradeType=1, time=SEND_MS)
    item_with_unknown = PublicAggreDealsV3ApiItem.FromString(
        item.SerializeToString() + b"\x30\x07"
    )  # field 6
    wrapper = push(DEALS)
    wrapper.publicAggreDeals.deals.append(item_with_unknown)
    frame = wrapper.SerializeToString() + b"\x38\x01" + b"\xe2\x13\x00"  # field 7 varint, field 316 empty

    trades = events_of(frame)

    assert trades == [Trade(SEND_MS * MS, RECEIVED, "BTCUSDT", 2.5, 4.0, 1, None)]


# ------------------------------------------------------------------ problems: named, never raised

BAD_NUMBERS = ["NaN", "inf", "-inf", "Infinity", "-1", "-0.5", "1e400", "1e301", "abc", "", " ", "1_000",
               "0x10", "1,5", "\u0661\u0662", "+1", "1e", ".", "null", "true", "[1]", "{}"]  # fmt: skip
BAD_VERSIONS = ["", "abc", "-1", "1.5", "1e3", "9223372036854775808", "99999999999999999999", " ", "0x10",
                "\u0661\u0662"]  # fmt: skip
BAD_SYMBOLS = ["../../etc", "BTC/USDT", "BTC USDT", "X" * 41, "BTC\x00USDT", "\u00c4BC"]


def hostile_value_frames() -> list[bytes]:
    """Well-formed protobuf with values fx must refuse."""
    frames: list[bytes] = []
    for bad in BAD_NUMBERS:
        frames += [
            deals_frame([(bad, "1", 1, SEND_MS, "")]),
            deals_frame([("1", bad, 2, SEND_MS, "")]),
            depth_frame("1", "2", bids=[(bad, "1")]),
            depth_frame("1", "2", asks=[("1", bad)]),
            top_frame("3", [("1", bad)], []),
            top_frame("3", [], [(bad, "1")]),
            ticker_frame(bad, "1", "2", "1"),
            ticker_frame("1", "1", "2", bad),
        ]
    for bad in BAD_VERSIONS:
        frames += [depth_frame(bad, "5"), depth_frame("5", bad), top_frame(bad, [], [])]
        if bad:
            frames.append(ticker_frame("1", "1", "2", "1", version=bad))
    frames.append(depth_frame("9", "8"))  # fromVersion > toVersion
    for trade_type in (0, 3, -1, 2**31 - 1):
        frames.append(deals_frame([("1", "1", trade_type, SEND_MS, "")]))
    frames.append(deals_frame([("1", "1", 1, -5, "")]))  # negative deal time
    for send_ms in (-1, 2**63 - 1):
        frames.append(depth_frame("1", "2", send_ms=send_ms))
    for symbol in BAD_SYMBOLS:
        frames.append(deals_frame([("1", "1", 1, SEND_MS, "")], symbol=symbol))
    frames.append(deals_frame([("1", "1", 1, SEND_MS, "")], symbol="", channel=""))
    for body in (
        "publicSpotKline",
        "publicDeals",
        "publicIncreaseDepths",
        "publicBookTicker",
        "privateOrders",
    ):
        wrapper = push(DEALS)
        getattr(wrapper, body).SetInParent()
        frames.append(wrapper.SerializeToString())
    frames.append(push(DEALS).SerializeToString())  # no body at all
    return frames


def hostile_text_frames() -> list[str | bytes]:
    deep = "[" * 100_000 + "]" * 100_000
    return [
        "", " ", "null", "[]", '"PONG"', "{", '{"msg":"x"', '{"msg":5}', '{"msg":null}', '{"id":0}',
        '{"id":"x","msg":"PONG"}', '{"code":"0","msg":"PONG"}', '{"id":1.5,"msg":"x"}', '{"msg":["PONG"]}',
        '{"id":' + "9" * 400 + ',"msg":"x"}', '{"msg":"x","a":' + deep + "}", deep, "{" * 50_000,
        '{"msg":"' + "a" * (2 << 20) + '"}', b'{"msg":"\xff\xfe"}', b"{" + bytes(100), "\ud800",
    ]  # fmt: skip


def hostile_frames() -> list[bytes | str]:
    """At least 1,000 frames that must all come back as a problem."""
    rng = random.Random(20261124)
    binary = [f for f in FRAMES.values() if isinstance(f, bytes)]
    frames: list[bytes | str] = []
    frames += [rng.randbytes(rng.randrange(0, 400)) for _ in range(300)]
    frames += [frame[:cut] for frame in binary for cut in range(len(frame))]  # every truncation
    frames += [
        bytes([rng.randrange(256)]) + b"\xca\x13" + rng.randbytes(rng.randrange(1, 60)) for _ in range(100)
    ]
    frames += hostile_value_frames()
    frames += hostile_text_frames()
    frames.append(bytes(2 << 20))  # oversized binary
    frames.append(binary[0] + bytes(mexc_spot.MAX_FRAME_BYTES))
    return frames


def test_a_thousand_hostile_frames_give_a_problem_and_never_raise() -> None:
    frames = hostile_frames()
    spot = MexcSpot()

    results = [spot.decode(frame, RECEIVED) for frame in frames]

    assert len(frames) >= 1000
    unexplained = [(i, r) for i, r in enumerate(results) if not r.problem or r.events or r.control]
    assert unexplained == []


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            deals_frame([("NaN", "1", 1, SEND_MS, "")]),
            "publicAggreDeals: .* not a decimal in range: JSON is malformed",
        ),
        (deals_frame([("1e400", "1", 1, SEND_MS, "")]), "Number out of range"),
        (deals_frame([("1", "-1", 1, SEND_MS, "")]), r"Expected `float` >= 0.0"),
        (deals_frame([("1", "1", 3, SEND_MS, "")]), "tradeType 3 is neither 1 .buy. nor 2 .sell."),
        (depth_frame("9", "8"), "fromVersion 9 > toVersion 8"),
        (depth_frame("1", "2", send_ms=-1), "sendTime/createTime -1 is not a time in ms"),
        (deals_frame([("1", "1", 1, SEND_MS, "")], symbol="../x"), "bad symbol '../x'"),
        (b"\x00\x01\x02", "not a PushDataV3ApiWrapper"),
        (bytes(2 << 20), "larger than 1048576"),
    ],
)
def test_problem_says_what_is_wrong(frame: bytes, message: str) -> None:
    decoded = MexcSpot().decode(frame, RECEIVED)

    assert re.search(message, decoded.problem), decoded.problem
    assert decoded.events == []


def test_kline_push_is_a_problem_naming_the_body() -> None:
    wrapper = push("spot@public.kline.v3.api.pb@BTCUSDT@Min1")
    wrapper.publicSpotKline.interval = "Min1"

    decoded = MexcSpot().decode(wrapper.SerializeToString(), RECEIVED)

    assert "publicSpotKline" in decoded.problem


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"lastUpdateId":-1,"bids":[],"asks":[]}',
        b'{"lastUpdateId":1,"bids":[["NaN","1"]],"asks":[]}',
        b'{"lastUpdateId":1,"bids":[["1"]],"asks":[]}',
        b'{"bids":[],"asks":[]}',
        b'{"lastUpdateId":1,"bids":' + b"[" * 100_000 + b"]" * 100_000 + b',"asks":[]}',
    ],
)
def test_decode_snapshot_raises_value_error_on_a_bad_answer(body: bytes) -> None:
    with pytest.raises(ValueError, match="bad MEXC spot depth snapshot"):
        MexcSpot().decode_snapshot(body, "BTCUSDT", RECEIVED)


# ------------------------------------------------------------------ versions chain into BookSync


def test_decoded_deltas_chain_in_book_sync_and_a_jump_becomes_a_gap() -> None:
    sync = BookSync("BTCUSDT")
    spot = MexcSpot()
    frames = [
        depth_frame("101", "110", bids=[("99", "1")], send_ms=SEND_MS + 1),  # straddles the snapshot
        depth_frame("111", "111", asks=[("101", "2")], send_ms=SEND_MS + 2),
        depth_frame("112", "120", bids=[("99", "0"), ("98", "5")], send_ms=SEND_MS + 3),
    ]
    deltas = [delta_of(f) for f in frames]
    snapshot = spot.decode_snapshot(
        b'{"lastUpdateId":105,"bids":[["99","3"],["97","1"]],"asks":[["100","1"]]}', "BTCUSDT", RECEIVED
    )

    before = sync.on_delta(deltas[0])
    on_snapshot = sync.on_snapshot(snapshot)
    after = [event for delta in deltas[1:] for event in sync.on_delta(delta)]
    jump = sync.on_delta(delta_of(depth_frame("122", "125")))
    gaps = sync.finish((SEND_MS + 9) * MS)

    assert before == []
    assert on_snapshot == [snapshot, deltas[0]]
    assert after == deltas[1:]
    assert sync.applied == 3
    assert sync.book.version == 120
    assert sync.book.top(5) == ([(98.0, 5.0), (97.0, 1.0)], [(100.0, 1.0), (101.0, 2.0)])
    assert jump == []
    assert not sync.is_synced
    assert [
        (g.reason, "expected from_version 121, got 122..125" in g.detail) for g in gaps if isinstance(g, Gap)
    ] == [(GapReason.VERSION_JUMP, True)]
    assert len(gaps) == 1


# ------------------------------------------------------------------ import cost and generated code


def test_importing_the_adapters_does_not_load_protobuf() -> None:
    code = (
        "import sys\n"
        "from fxcli.exchange.mexc_spot import MexcSpot\n"
        "from fxcli.exchange.mexc_futures import MexcFutures\n"
        'MexcSpot().decode(\'{"id":0,"code":0,"msg":"PONG"}\', 0)\n'
        "print('google.protobuf' in sys.modules)\n"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert out.strip() == "False"


def test_checked_in_gencode_is_what_make_proto_generates(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a dev dependency) regenerates the classes")
    protos = sorted(PROTO_SRC.glob("*.proto"))
    assert len(protos) == 16, f"{PROTO_SRC} should hold MEXC's 16 .proto files"

    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_SRC}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", *map(str, protos)],
        check=True,
        capture_output=True,
    )  # fmt: skip

    generated = {
        p.name: re.sub(r"^import (\w+_pb2) as ", r"from . import \1 as ", p.read_text(), flags=re.MULTILINE)
        for p in tmp_path.iterdir()
    }
    checked_in = {
        p.name: p.read_text() for p in PROTO_OUT.iterdir() if p.name.endswith(("_pb2.py", "_pb2.pyi"))
    }
    assert sorted(generated) == sorted(checked_in)
    assert [name for name in generated if generated[name] != checked_in[name]] == []
    assert (PROTO_OUT / "LICENSE").read_bytes() == (PROTO_SRC / "LICENSE").read_bytes()
