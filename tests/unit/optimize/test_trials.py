"""TrialData: the cached-indicator trial runner gives `fx backtest`'s results, shares one folder
between processes, and the columnar store reader gives `store.replay`'s rows in its order.

Stores are real Parquet stores written by StoreWriter: synthetic pumped streams (trades and book
tickers: the columnar form; with L2 snapshots and deltas: the event form) and the shipped Binance
excerpt imported by `fx import`. Results are compared field by field (float bits, dict key order)
with `fast.run` over `store.replay`'s events, which `fx backtest` ran before the columnar path, and
with `run_symbol` (what `fx backtest` runs now).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, cast

import pytest

from fxcli.backtest import fast
from fxcli.backtest.fills import Costs
from fxcli.model.events import MarketEvent
from fxcli.optimize.space import strategy_text
from fxcli.optimize.trials import TrialData
from fxcli.store.columns import open_window, read_columns
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.rows import TableRows
from fxcli.store.writer import StoreWriter, WriteBatch
from fxcli.strategy.spec import StrategySpec, load_strategy
from fxcli.tasks.backtest import MARKET_TABLES, Options, resolve_indicators, run_symbol
from fxcli.tasks.import_ import import_binance
from tests.conftest import FIXTURES, REPO
from tests.unit.backtest.test_fast_parity import assert_same, pumped

VARIANTS = REPO / "variants"
PUMP_RIDER = REPO / "strategies" / "pump_rider.toml"
COSTS = Costs(latency_ms=50.0, taker_fee_bps=10.0, slippage_bps=5.0)


def write_store(root: Path, events: list[Any], symbol: str = "S") -> Path:
    """`events` stored as the recorder stores them (one batch per table)."""
    rows = TableRows()
    for event in events:
        rows.add(event)
    with StoreWriter(root) as writer:
        for table, frame in rows.take():
            writer.submit(WriteBatch("ex", symbol, table, frame), block=True)
    return root


@pytest.fixture(scope="module")
def tickers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("tickers") / "data", pumped(7, "ticker"))


@pytest.fixture(scope="module")
def l2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("l2") / "data", pumped(11, "l2"))


@pytest.fixture(scope="module")
def binance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("binance") / "data"
    import_binance([FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"], root)
    return root


def stored_events(root: Path, exchange: str, symbol: str) -> list[MarketEvent]:
    """What `fx backtest` replayed before the columnar path (no gap rows: market events only)."""
    return cast(list[MarketEvent], list(replay(StoreReader(root), exchange, symbol, MARKET_TABLES)))


# --- the columnar store reader ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "exchange", "symbol"),
    [("tickers", "ex", "S"), ("l2", "ex", "S"), ("binance", "binance", "BTCUSDT")],
)
def test_columns_give_replays_rows_in_replays_order(
    store: str, exchange: str, symbol: str, request: pytest.FixtureRequest
) -> None:
    root: Path = request.getfixturevalue(store)
    reader = StoreReader(root)
    columns = read_columns(
        reader, open_window(reader, symbol, exchange, None, None, allow_gaps=False), full=True
    )
    assert columns is not None
    expected = stored_events(root, exchange, symbol)
    assert columns.events() == expected
    assert columns.ts_ns.tolist() == [e.exchange_ts_ns for e in expected]
    trades = [e for e in expected if type(e).__name__ == "Trade"]
    assert columns.is_trade.sum() == len(trades)
    assert columns.trade("price").tolist() == [t.price for t in trades]  # type: ignore[union-attr]


def test_columns_order_same_time_tickers_before_trades_by_receive_time(tmp_path: Path) -> None:
    """Ties on exchange time: receive time first, then the table (book tickers before trades)."""
    from fxcli.model.events import BookTicker, Trade

    t = 1_700_000_000_000_000_000
    events = [
        Trade(t, t + 5, "S", 10.0, 1.0, 1, 1),
        BookTicker(t, t + 5, "S", 9.0, 1.0, 11.0, 1.0, 1),
        Trade(t, t + 3, "S", 10.5, 1.0, -1, 2),
        BookTicker(t, t + 9, "S", 9.5, 1.0, 11.5, 1.0, 2),
        Trade(t + 1, t + 1, "S", 10.2, 1.0, 1, 3),
    ]
    root = write_store(tmp_path / "data", events)
    reader = StoreReader(root)
    columns = read_columns(reader, open_window(reader, "S", "ex", None, None, allow_gaps=False), full=True)
    assert columns is not None
    assert columns.events() == stored_events(root, "ex", "S")
    assert columns.is_trade.tolist() == [True, False, True, False, True]


# --- trials equal fx backtest ----------------------------------------------------------------------


def variant_of(base: Path, tmp: Path, name: str, change: dict[str, Any]) -> tuple[Path, StrategySpec]:
    """pump_rider with `change` applied (dotted keys: 'exits.tp_pct', 's1.0.value', 'cooldown_s')."""
    document = tomllib.loads(base.read_text(encoding="utf-8"))
    for key, value in change.items():
        *parts, last = key.split(".")
        node: Any = document
        for part in parts:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    path = tmp / f"{name}.toml"
    path.write_text(strategy_text(document), encoding="utf-8")
    return path, load_strategy(path)


VARIATIONS: list[tuple[str, dict[str, Any], int]] = [
    ("shipped", {}, 0),
    ("thresholds", {"s1.0.value": 2.0, "s1.1.value": 3.0}, 0),
    ("exits", {"exits.tp_pct": 4.0, "exits.sl_buffer_pct": 2.0}, 0),
    ("cooldown", {"cooldown_s": 5, "signal_timeout_s": 40}, 0),
    ("clock", {"s1.0.value": 2.0}, 250),
]


@pytest.mark.parametrize("store", ["tickers", "l2"])
def test_trials_equal_a_fresh_backtest_for_sampled_changes(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    root: Path = request.getfixturevalue(store)
    data = TrialData.prepare(root, ["S"], None, None, None, tmp_path / "trials", allow_gaps=False)
    assert data.symbols == ("S",)
    assert data.exchanges == {"S": "ex"}
    events = stored_events(root, "ex", "S")
    trades = 0
    for name, change, clock_ms in VARIATIONS:
        path, spec = variant_of(PUMP_RIDER, tmp_path, name, change)
        indicators = resolve_indicators(spec, VARIANTS, path)
        (final,) = data.stages(spec, indicators, COSTS, 10_000.0, clock_ms)
        fresh = fast.run(spec, "S", indicators, events, COSTS, 10_000.0, clock_ms=clock_ms)
        assert_same(fresh, final["S"])
        options = Options(clock_ms=clock_ms)
        backtest = run_symbol(path, "S", None, root, VARIANTS, options)
        assert_same(backtest.result, final["S"])
        assert backtest.data_sha == data.data_sha["S"]
        trades += len(final["S"].trades)
    assert trades > 0  # the variations trade: the comparison covers fills


@pytest.mark.parametrize("store", ["tickers", "l2"])
def test_a_window_with_a_hole_replays_exactly_the_rows_outside_it(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    root: Path = request.getfixturevalue(store)
    events = stored_events(root, "ex", "S")
    first, last = events[0].exchange_ts_ns, events[-1].exchange_ts_ns
    hole = (first + (last - first) // 3, first + 2 * (last - first) // 3)

    data = TrialData.prepare(root, ["S"], None, None, None, tmp_path / "trials", allow_gaps=False, hole=hole)

    outside = [e for e in events if not hole[0] <= e.exchange_ts_ns < hole[1]]
    assert len(outside) < len(events)
    spec = load_strategy(PUMP_RIDER)
    indicators = resolve_indicators(spec, VARIANTS, PUMP_RIDER)
    (final,) = data.stages(spec, indicators, COSTS, 10_000.0, 0)
    assert_same(fast.run(spec, "S", indicators, outside, COSTS, 10_000.0), final["S"])
    assert final["S"].trades  # the comparison covers fills
    assert not [t for t in final["S"].trades if hole[0] <= t.entry_ts_ns < hole[1]]


def test_a_variant_parameter_gets_its_own_indicator_column(tickers: Path, tmp_path: Path) -> None:
    """A changed variant parameter computes a new column; an unchanged one is reused."""
    data = TrialData.prepare(tickers, ["S"], None, None, None, tmp_path / "trials", allow_gaps=False)
    spec = load_strategy(PUMP_RIDER)
    indicators = resolve_indicators(spec, VARIANTS, PUMP_RIDER)
    list(data.stages(spec, indicators, COSTS, 10_000.0, 0))
    before = data.indicators.computed
    assert before == len(indicators)
    name, kind, params = next(i for i in indicators if i[0] == "pump_10s")
    changed = type(params).model_validate({**params.model_dump(), "recent": (20, 0)})
    assert changed != params
    others = [i for i in indicators if i[0] != name]
    (final,) = data.stages(spec, [*others, (name, kind, changed)], COSTS, 10_000.0, 0)
    assert data.indicators.computed == before + 1
    events = stored_events(tickers, "ex", "S")
    fresh = fast.run(spec, "S", [*others, (name, kind, changed)], events, COSTS, 10_000.0)
    assert_same(fresh, final["S"])


def test_stages_end_with_the_one_stage_result(tickers: Path, tmp_path: Path) -> None:
    data = TrialData.prepare(tickers, ["S"], None, None, None, tmp_path / "trials", allow_gaps=False)
    spec = load_strategy(PUMP_RIDER)
    indicators = resolve_indicators(spec, VARIANTS, PUMP_RIDER)
    (one,) = data.stages(spec, indicators, COSTS, 10_000.0, 0)
    staged = list(data.stages(spec, indicators, COSTS, 10_000.0, 0, n_stages=4))
    assert len(staged) == 4
    assert_same(one["S"], staged[-1]["S"])
    ends = [s["S"].last_ts_ns for s in staged]
    assert ends == sorted(ends)
    assert len(set(ends)) == 4
    counts = [len(s["S"].equity) for s in staged[:-1]]
    assert counts == sorted(counts)
    final = one["S"]
    for partial in staged[:-1]:  # a prefix of the final run
        r = partial["S"]
        assert [t.exit_ts_ns for t in r.trades] == [t.exit_ts_ns for t in final.trades[: len(r.trades)]]
        assert r.equity == final.equity[: len(r.equity)]


SECOND_WORKER = """
import json, sys
from pathlib import Path
from fxcli.backtest.fills import Costs
from fxcli.optimize.trials import TrialData
from fxcli.strategy.spec import load_strategy
from fxcli.tasks.backtest import resolve_indicators
folder, strategy, variants = map(Path, sys.argv[1:4])
data = TrialData.open(folder)
spec = load_strategy(strategy)
indicators = resolve_indicators(spec, variants, strategy)
costs = Costs(latency_ms=50.0, taker_fee_bps=10.0, slippage_bps=5.0)
(final,) = data.stages(spec, indicators, costs, 10_000.0, 0)
r = final["S"]
print(json.dumps({"computed": data.computed, "trades": len(r.trades), "pnl": [t.pnl for t in r.trades],
                  "mapped": type(data.tape("S", 0, indicators).ticks.price).__name__}))
"""


def test_a_second_process_maps_what_the_first_computed(tickers: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trials"
    data = TrialData.prepare(tickers, ["S"], None, None, None, folder, allow_gaps=False)
    spec = load_strategy(PUMP_RIDER)
    indicators = resolve_indicators(spec, VARIANTS, PUMP_RIDER)
    (final,) = data.stages(spec, indicators, COSTS, 10_000.0, 0)
    assert data.computed == 1 + len(indicators)  # the tape and each indicator column
    files = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    done = subprocess.run(
        [sys.executable, "-c", SECOND_WORKER, str(folder), str(PUMP_RIDER), str(VARIANTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)
    assert second["computed"] == 0
    assert second["mapped"] == "memmap"
    assert second["pnl"] == [t.pnl for t in final["S"].trades]
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == files


def test_prepare_refuses_what_fx_backtest_refuses(tickers: Path, tmp_path: Path) -> None:
    from fxcli.errors import FxError

    with pytest.raises(FxError, match="no data for symbol NOPE"):
        TrialData.prepare(tickers, ["NOPE"], None, None, None, tmp_path / "t", allow_gaps=False)
    with pytest.raises(FxError, match="no trades for S on ex in the window"):
        TrialData.prepare(tickers, ["S"], None, "2001-01-01", "2001-01-02", tmp_path / "t", allow_gaps=False)
    with pytest.raises(FxError, match="not a prepared trial folder"):
        TrialData.open(tmp_path / "nothing")
