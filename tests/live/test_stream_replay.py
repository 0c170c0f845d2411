"""`fx stream --replay` against `fx backtest` on the shipped sample: the same transitions and trades."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from fxcli.engine.registry import load_all
from fxcli.exchange.adapter import Decoded
from fxcli.exchange.connection import Status
from fxcli.exchange.playback import Playback, merged
from fxcli.live.compare import compare_runs
from fxcli.live.feed import Feed
from fxcli.model.events import Gap, MarketEvent, Trade
from fxcli.model.frames import RawFrame
from fxcli.strategy.machine import State
from fxcli.strategy.spec import StrategySpec
from fxcli.tasks.backtest import BacktestReport, Options, backtest
from fxcli.tasks.stream import compare_with_backtest, run_events
from tests.conftest import FIXTURES, REPO, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
DEMO = ("--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream") / "data"
    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root))
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def scalper(store: Path, tmp_path_factory: pytest.TempPathFactory) -> BacktestReport:
    """fx backtest's run of the demo strategy on the sample."""
    return backtest(
        "momentum_scalper",
        ["BTCUSDT"],
        exchange=None,
        data_dir=store,
        variants_dir=REPO / "variants",
        strategies_dir=REPO / "strategies",
        out_dir=tmp_path_factory.mktemp("bt"),
        options=Options(),
    )


def test_stream_replay_and_backtest_make_identical_transitions_and_trades(
    store: Path, scalper: BacktestReport
) -> None:
    result = scalper.runs[0].result

    parity = compare_with_backtest(scalper, data_dir=store, variants_dir=REPO / "variants")

    assert parity.agree, parity.message
    assert parity.transitions == len(result.transitions) >= 5
    assert parity.trades == len(result.trades) >= 1
    assert parity.message == (
        f"stream and backtest agree: {parity.transitions} transitions, "
        f"{parity.trades} trade{'s' if parity.trades != 1 else ''}"
    )


def test_compare_names_the_first_divergence_with_time_and_both_sides(scalper: BacktestReport) -> None:
    run = scalper.runs[0]
    doctored = copy.deepcopy(run)
    third = doctored.result.transitions[2]
    doctored.result.transitions[2] = replace(third, group="o1", to_state=State.SIGNAL_CANCELLED)

    parity = compare_runs([run.result], [doctored.result])

    assert not parity.agree
    assert parity.transitions == 2
    assert parity.message.startswith("stream and backtest diverge at 2024-08-08T")
    assert f"on BTCUSDT, transition 3: backtest {third.from_state.value} -> {third.to_state.value}" in (
        parity.message
    )
    assert "; stream SIGNAL_DETECTED -> SIGNAL_CANCELLED (o1)" in parity.message


def test_compare_counts_a_missing_trade_as_a_divergence(scalper: BacktestReport) -> None:
    run = scalper.runs[0]
    doctored = copy.deepcopy(run)
    doctored.result.trades.pop()

    parity = compare_runs([run.result], [doctored.result])

    assert not parity.agree
    assert "; stream nothing" in parity.message


def test_fx_stream_replay_headless_prints_the_backtests_transitions_and_trades(
    store: Path, scalper: BacktestReport, tmp_path: Path
) -> None:
    result = run_fx(
        "stream", "momentum_scalper", "--replay", str(store), "--headless", *DEMO, "--out", str(tmp_path)
    )

    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    streamed = [(d["ts_ns"], d["from"], d["to"], d["group"]) for d in docs if d["type"] == "transition"]
    stored = pl.read_parquet(scalper.out_dir / "transitions.parquet")
    assert streamed == list(stored.select("ts_ns", "from", "to", "group").iter_rows())
    trades = [d for d in docs if d["type"] == "trade"]
    stored_trades = pl.read_parquet(scalper.out_dir / "trades.parquet")
    assert [(t["entry_ts_ns"], t["exit_ts_ns"], t["pnl"]) for t in trades] == list(
        stored_trades.select("entry_ts_ns", "exit_ts_ns", "pnl").iter_rows()
    )
    summary = docs[-1]
    assert (summary["type"], summary["ended"], summary["mode"]) == ("summary", "end_of_data", "replay")
    assert summary["events"] == scalper.runs[0].result.events
    assert summary["tick_to_decision_us"] == {"p50": None, "p99": None}  # unpaced: not a latency


def test_replay_through_a_recorded_gap_says_so_first(tmp_path: Path) -> None:
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    depth = [i for i, line in enumerate(lines) if b"@depth" in line]
    del lines[depth[len(depth) // 2]]  # a version jump: the import records a gap
    capture = tmp_path / "cut.gz"
    capture.write_bytes(gzip.compress(b"".join(lines)))
    assert run_fx("import", "binance", str(capture), "--data-dir", str(tmp_path / "data")).returncode == 0

    result = run_fx(
        "stream",
        "momentum_scalper",
        "--replay",
        str(tmp_path / "data"),
        "--headless",
        *DEMO,
        "--out",
        str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    (gap,) = [d for d in docs if d["type"] == "status" and d["kind"] == "gap"]
    assert gap["symbol"] == "BTCUSDT"
    assert gap["detail"].startswith("recorded version_jump from 2024-08-08T")
    assert docs.index(gap) < next(i for i, d in enumerate(docs) if d["type"] == "transition")


def test_backtest_compare_stream_prints_agreement(store: Path, tmp_path: Path) -> None:
    result = run_fx(
        "backtest",
        "momentum_scalper",
        *DEMO,
        "--symbol",
        "BTCUSDT",
        "--data-dir",
        str(store),
        "--out",
        str(tmp_path),
        "--no-chart",
        "--compare-stream",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("stream and backtest agree: ")


# ---------------------------------------------------------------------------------------- playback


class Sink:
    """A consumer that keeps what a playback delivers, with the wall time of each batch."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, list[MarketEvent]]] = []
        self.frames = 0

    def on_frame(self, frame: RawFrame) -> None:
        self.frames += 1

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        self.batches.append((time.monotonic(), list(decoded.events)))

    def on_status(self, status: Status) -> None:
        raise AssertionError("a playback has no connection news")

    def on_gap(self, gap: Gap) -> None:
        self.batches.append((time.monotonic(), [gap]))  # type: ignore[list-item]

    def events(self) -> list[MarketEvent]:
        return [e for _, batch in self.batches for e in batch]


NEVER = {"indicator": "PRICE", "op": "lt", "value": 0}


def trades(symbol: str, times_ms: list[int], received_offset_ns: int = 0) -> list[MarketEvent]:
    return [
        Trade(t * 1_000_000, t * 1_000_000 + received_offset_ns, symbol, 1.0 + i, 1.0, 1, i)
        for i, t in enumerate(times_ms)
    ]


def test_merged_orders_by_time_and_keeps_each_symbols_order() -> None:
    a = trades("A", [1, 2, 2, 5])
    b = trades("B", [0, 2, 3])

    out = list(merged({"A": a, "B": b}))

    assert [e.exchange_ts_ns // 1_000_000 for e in out if not isinstance(e, Gap)] == [0, 1, 2, 2, 2, 3, 5]
    assert [e for e in out if e.symbol == "A"] == a
    assert [e for e in out if e.symbol == "B"] == b


def test_playback_paces_at_speed_and_delivers_everything_in_order() -> None:
    events = trades("A", [0, 100, 200, 300, 400])
    sink = Sink()

    start = time.monotonic()
    stats = asyncio.run(Playback({"A": events}, sink, speed=4.0).run())
    took = time.monotonic() - start

    assert sink.events() == events
    assert stats.is_complete
    assert stats.events == 5
    assert took >= 0.4 / 4.0
    times = [t for t, _ in sink.batches]
    assert times[-1] - times[0] >= 0.3 / 4.0


def test_playback_stops_when_asked_and_says_it_is_incomplete() -> None:
    events = trades("A", list(range(0, 10_000, 10)))
    sink = Sink()

    async def scenario() -> bool:
        stop = asyncio.Event()
        playback = Playback({"A": events}, sink, speed=1.0)
        task = asyncio.create_task(playback.run(stop))
        await asyncio.sleep(0.2)
        stop.set()
        stats = await asyncio.wait_for(task, 2.0)
        return stats.is_complete

    assert asyncio.run(scenario()) is False
    assert 0 < len(sink.events()) < len(events)


def test_a_replay_of_interleaved_symbols_routes_every_event_to_its_symbol() -> None:
    a = trades("A", list(range(0, 600, 2)))
    b = trades("B", list(range(1, 600, 2)))  # every batch alternates between the two symbols
    spec = StrategySpec.model_validate({"schema": 1, "side": "long", "s1": [NEVER], "z1": [NEVER]})
    indicators = [("PRICE", "PRICE", load_all()["PRICE"].params())]

    report = run_events(spec, indicators, {"A": a, "B": b}, Options(), Feed())

    assert {r.symbol: r.result.events for r in report.runs} == {"A": len(a), "B": len(b)}
