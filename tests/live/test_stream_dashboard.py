"""What `fx stream` shows: the live table as exact text, and its JSON lines (NaN never leaks out)."""

from __future__ import annotations

import io
import json
import math
import os
import threading
import time
from pathlib import Path

from rich.console import Console

from fxcli.backtest.fills import Fill
from fxcli.live.feed import Feed, FillNote, OrderNote, SessionInfo, StatusNote, SymbolFrame
from fxcli.live.latency import bin_ceiling_ns, latency_bin, percentile_ns
from fxcli.strategy.machine import State, Transition
from fxcli.ui.dashboard import DashboardView, dashboard, dumps, frame_line, note_line, screen

T0 = 1_723_161_300_000_000_000  # 2024-08-08T23:55:00Z
INFO = SessionInfo(
    "live",
    "momentum_scalper",
    "mexc-spot",
    ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    ["momentum_10s", "rush_orders_10s", "book_imbalance_5"],
    "wss://wbs-api.mexc.com/ws",
    T0,
    10_000.0,
)
BTC = SymbolFrame(
    "BTCUSDT",
    T0 + 2_345_000_000,
    1234,
    61765.99,
    61765.98,
    61766.0,
    "POSITION_ACTIVE",
    1,
    0.000809,
    61766.0,
    10_000.12,
    0.12,
    0,
    {"momentum_10s": 0.00071, "rush_orders_10s": 3.0, "book_imbalance_5": 0.41234},
)
ETH = SymbolFrame(
    "ETHUSDT",
    T0 + 2_300_000_000,
    321,
    2610.5,
    math.nan,
    math.nan,
    "MONITORING",
    0,
    0.0,
    math.nan,
    9_998.5,
    -1.5,
    1,
    {"momentum_10s": math.nan, "rush_orders_10s": 0.0, "book_imbalance_5": math.nan},
)
SIGNAL = Transition(
    T0 + 1_500_000_000,
    "BTCUSDT",
    State.MONITORING,
    State.SIGNAL_DETECTED,
    "s1",
    {"momentum_10s": 0.00071, "velocity_cascade_10_60": 0.0002},
)
ENTRY = Transition(
    T0 + 1_600_000_000,
    "BTCUSDT",
    State.SIGNAL_DETECTED,
    State.ENTRY_EVALUATION,
    "z1",
    {"rush_orders_10s": 3.0, "book_imbalance_5": 0.4, "notional": 50.0},
)
GAP = StatusNote(T0 + 2_000_000_000, "gap", "version_jump from x to y", "ETHUSDT")

GOLDEN = Path(__file__).with_suffix(".txt")  # rewrite with FX_UPDATE_GOLDEN=1, review the diff


def text_of(view: DashboardView) -> str:
    console = Console(width=150, record=True, color_system=None, file=io.StringIO())
    console.print(dashboard(view))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def test_dashboard_renders_symbols_transitions_and_vital_signs_as_exact_text() -> None:
    view = DashboardView(info=INFO)
    view.apply([SIGNAL, ENTRY, GAP], [BTC, ETH])
    view.now_ns = T0 + 83_000_000_000
    view.frames_per_s, view.events_per_s = 412.0, 398.0
    view.p50_us, view.p99_us = 86.0, 180.0
    view.connections, view.gaps, view.dropped_frames = 1, 1, 0

    actual = text_of(view)
    if os.environ.get("FX_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
    assert actual == GOLDEN.read_text(encoding="utf-8")


def test_json_lines_turn_nan_into_null_and_keep_the_fill_quality() -> None:
    fill = Fill(T0, T0 + 50_000_000, 1, 0.5, 0.5, 100.2, 50.1, 0.0501, "l2", 2, 100.0, 100.1, 10.0, 5.0, 5.0)

    snapshot = json.loads(dumps(frame_line(ETH)))
    filled = json.loads(dumps(note_line(FillNote("BTCUSDT", "open", fill))))
    moved = json.loads(dumps(note_line(SIGNAL)))

    assert snapshot["bid"] is None
    assert snapshot["indicators"] == {"momentum_10s": None, "rush_orders_10s": 0.0, "book_imbalance_5": None}
    assert snapshot["position"] is None
    assert filled["source"] == "l2"
    assert (filled["levels"], filled["partial"], filled["action"]) == (2, False, "open")
    assert filled["time"] == "2024-08-08T23:55:00.050Z"
    assert moved == {
        "type": "transition",
        "time": "2024-08-08T23:55:01.500Z",
        "ts_ns": T0 + 1_500_000_000,
        "symbol": "BTCUSDT",
        "from": "MONITORING",
        "to": "SIGNAL_DETECTED",
        "group": "s1",
        "values": {"momentum_10s": 0.00071, "velocity_cascade_10_60": 0.0002},
    }


def test_latency_histogram_bins_are_ordered_and_percentiles_conservative() -> None:
    samples = [10, 31, 32, 100, 1_000, 25_000, 80_000, 99_999, 10**9]

    bins = [latency_bin(ns) for ns in samples]
    hist = [0] * (max(bins) + 1)
    for b in bins:
        hist[b] += 1

    assert bins == sorted(bins)
    assert all(bin_ceiling_ns(b) > ns >= bin_ceiling_ns(b - 1) for b, ns in zip(bins, samples, strict=True))
    assert all(bin_ceiling_ns(b) <= ns * 1.07 + 1 for b, ns in zip(bins, samples, strict=True))
    assert percentile_ns(hist, 0.5) == bin_ceiling_ns(latency_bin(1_000))
    assert math.isnan(percentile_ns([0, 0], 0.5))


def test_a_slow_screen_loses_frames_never_notes() -> None:
    feed = Feed(max_frames=2)

    for _ in range(5):
        feed.offer(BTC)
    for _ in range(100):
        feed.publish(SIGNAL)
    notes, frames = feed.drain()

    assert (len(frames), feed.dropped_frames, len(notes)) == (2, 3, 100)


def test_headless_screen_prints_nothing_for_a_session_that_never_started() -> None:
    out = io.StringIO()

    with screen(Feed(), headless=True, out=out):
        time.sleep(0.1)

    assert out.getvalue() == ""


def test_headless_screen_writes_notes_in_order_then_snapshots_and_stats() -> None:
    feed, out = Feed(), io.StringIO()
    feed.info = INFO

    with screen(feed, headless=True, every_s=0.05, out=out):
        feed.publish(SIGNAL)
        feed.publish(ENTRY)
        feed.offer(ETH)
        feed.offer(BTC)
        time.sleep(0.3)

    kinds = [json.loads(line)["type"] for line in out.getvalue().splitlines()]
    assert kinds[:3] == ["start", "transition", "transition"]
    assert kinds.count("snapshot") == 2
    assert "stats" in kinds
    assert not [t for t in threading.enumerate() if t.name == "fx-stream-screen"]


def test_dashboard_of_a_live_run_shows_its_latest_orders_and_headless_says_them() -> None:
    sent = OrderNote(
        T0 + 1_700_000_000, "BTCUSDT", "fxk7q2m9e00000001", "entry", "BUY", "SUBMITTING", "0", "", "sending"
    )
    filled = OrderNote(
        T0 + 1_800_000_000,
        "BTCUSDT",
        "fxk7q2m9e00000001",
        "entry",
        "BUY",
        "FILLED",
        "0.000809",
        "61766.01",
        "1 fill(s)",
    )
    view = DashboardView(info=INFO)
    view.apply([SIGNAL, ENTRY, sent, filled], [BTC, ETH])

    text = text_of(view)

    assert "latest orders" in text
    rows = [line for line in text.splitlines() if "fxk7q2m9e00000001" in line]
    assert [row.split()[5] for row in rows] == ["FILLED", "SUBMITTING"]  # newest first
    assert "61766.01" in rows[0]
    assert note_line(filled) == {
        "type": "order",
        "time": "2024-08-08T23:55:01.800Z",
        "symbol": "BTCUSDT",
        "client_id": "fxk7q2m9e00000001",
        "role": "entry",
        "side": "BUY",
        "state": "FILLED",
        "executed_qty": "0.000809",
        "avg_price": "61766.01",
        "detail": "1 fill(s)",
    }


def test_dashboard_of_a_paper_run_has_no_orders_panel() -> None:
    view = DashboardView(info=INFO)
    view.apply([SIGNAL, ENTRY], [BTC, ETH])

    assert "latest orders" not in text_of(view)
