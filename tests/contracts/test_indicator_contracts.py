"""Contracts every registered indicator keeps (parametrised over the registry, no hand-written list):
stream == batch, no look-ahead, exact warm-up, reset, chunking invariance."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from fxcli.engine.clock import NEVER, next_tick_ns
from fxcli.engine.params import IndicatorParams
from fxcli.engine.pipeline import Pipeline
from fxcli.engine.registry import Spec, load_all
from fxcli.engine.ticks import Ticks
from fxcli.model.events import MarketEvent, Trade
from tests.contracts.streams import real_sample, synthetic

SPECS = load_all()
NAMES = sorted(SPECS)


def params_of(spec: Spec) -> IndicatorParams:
    return spec.params()


def run_stream(spec: Spec, params: IndicatorParams, events: list[MarketEvent]) -> np.ndarray:
    pipeline = Pipeline("S", [("x", spec.name, params)])
    return np.array([pipeline.on_event(e)["x"] for e in events])


def run_batch(spec: Spec, params: IndicatorParams, events: list[MarketEvent]) -> np.ndarray:
    return spec.batch(Ticks.from_events(events, spec.depth_levels(params)), params)


@pytest.fixture(scope="module")
def gappy() -> list[MarketEvent]:
    return synthetic(8_000, seed=11)


@pytest.fixture(scope="module")
def real(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[MarketEvent]:
    # The full 346 s spot capture: longer than the seed's 5-minute baselines, so every default warms up.
    capture = shared_data / "hftbacktest" / "spot" / "btcusdt_20240808.gz"
    return real_sample(capture, tmp_path_factory.mktemp("real") / "data")


@pytest.mark.parametrize("name", NAMES)
def test_contract_stream_equals_batch_on_synthetic_ties_bursts_gaps(
    name: str, gappy: list[MarketEvent]
) -> None:
    spec = SPECS[name]

    stream, batch = run_stream(spec, params_of(spec), gappy), run_batch(spec, params_of(spec), gappy)

    assert len(stream) == len(batch) == len(gappy)
    assert np.isfinite(stream).sum() > len(gappy) // 4, "too few warm values to prove anything"
    np.testing.assert_allclose(stream, batch, rtol=1e-9, atol=0, equal_nan=True)


@pytest.mark.data
@pytest.mark.parametrize("name", NAMES)
def test_contract_stream_equals_batch_on_real_capture(name: str, real: list[MarketEvent]) -> None:
    spec = SPECS[name]

    stream, batch = run_stream(spec, params_of(spec), real), run_batch(spec, params_of(spec), real)

    assert np.isfinite(stream).sum() > 0
    np.testing.assert_allclose(stream, batch, rtol=1e-9, atol=0, equal_nan=True)


def run_stream_clocked(
    spec: Spec, params: IndicatorParams, events: list[MarketEvent], clock_ns: int
) -> tuple[np.ndarray, int]:
    """The streaming values with a clock tick at every grid point the next event's time reaches (the
    rule `Runner` follows), one value per row; and how many ticks there were."""
    pipeline = Pipeline("S", [("x", spec.name, params)])
    out: list[float] = []
    next_tick = NEVER
    ticks = 0
    for event in events:
        while next_tick <= event.exchange_ts_ns:
            out.append(pipeline.on_clock(next_tick)["x"])
            next_tick += clock_ns
            ticks += 1
        out.append(pipeline.on_event(event)["x"])
        next_tick = next_tick_ns(pipeline.state.now_ns, clock_ns)
    return np.array(out), ticks


def run_batch_clocked(
    spec: Spec, params: IndicatorParams, events: list[MarketEvent], clock_ns: int
) -> np.ndarray:
    ticks, _ = Ticks.from_events(events, spec.depth_levels(params)).with_clock(clock_ns)
    return spec.batch(ticks, params)


@pytest.mark.parametrize("clock_ms", [1_000, 70])
@pytest.mark.parametrize("name", NAMES)
def test_contract_stream_equals_batch_with_clock_rows(
    name: str, clock_ms: int, gappy: list[MarketEvent]
) -> None:
    spec = SPECS[name]
    events = gappy[:3_000]
    clock_ns = clock_ms * 1_000_000

    stream, ticks = run_stream_clocked(spec, params_of(spec), events, clock_ns)
    batch = run_batch_clocked(spec, params_of(spec), events, clock_ns)

    assert ticks > len(events) // 2, "the tape's silences must give many clock rows"
    assert len(stream) == len(batch) == len(events) + ticks
    np.testing.assert_allclose(stream, batch, rtol=1e-9, atol=0, equal_nan=True)


def cuts_inside_tie_groups(events: list[MarketEvent], count: int) -> list[int]:
    ts = [e.exchange_ts_ns for e in events]
    inside = [i for i in range(1, len(ts) - 1) if ts[i] == ts[i - 1] == ts[i + 1]]
    step = max(1, len(inside) // count)
    return inside[::step][:count]


@pytest.mark.parametrize("name", NAMES)
def test_contract_batch_has_no_look_ahead_even_inside_same_timestamp_groups(
    name: str, gappy: list[MarketEvent]
) -> None:
    spec = SPECS[name]
    full = run_batch(spec, params_of(spec), gappy)
    cuts = cuts_inside_tie_groups(gappy, 6)

    assert len(cuts) == 6
    for cut in cuts:
        prefix = run_batch(spec, params_of(spec), gappy[:cut])
        np.testing.assert_array_equal(prefix, full[:cut], err_msg=f"cut at {cut}")


@pytest.mark.parametrize("name", NAMES)
def test_contract_warmup_is_exact_on_dense_data(name: str) -> None:
    spec = SPECS[name]
    params = params_of(spec)
    events = synthetic(12_000, seed=3, dense=True)  # ~430 s: longer than any default window
    warm = spec.warmup(params)

    values = run_stream(spec, params, events)

    first_trade_ts: int | None = None
    trades = 0
    book = False
    expected = None
    for i, event in enumerate(events):
        if isinstance(event, Trade):
            trades += 1
            first_trade_ts = first_trade_ts if first_trade_ts is not None else event.exchange_ts_ns
        else:
            book = True
        old_enough = warm.seconds == 0 or (
            first_trade_ts is not None and event.exchange_ts_ns - first_trade_ts > round(warm.seconds * 1e9)
        )
        if trades >= warm.trades and old_enough and (book or not warm.needs_book):
            expected = i
            break
    assert expected is not None, "dense data too short for this warm-up"
    first_value = int(np.flatnonzero(~np.isnan(values))[0])
    assert first_value == expected
    assert not np.isnan(values[expected:]).any(), "dense data must give no NaN once warm"


@pytest.mark.parametrize("name", NAMES)
def test_contract_reset_gives_a_fresh_identical_run(name: str, gappy: list[MarketEvent]) -> None:
    spec = SPECS[name]
    pipeline = Pipeline("S", [("x", spec.name, params_of(spec))])
    first = [pipeline.on_event(e)["x"] for e in gappy[:2_000]]

    pipeline.reset()
    second = [pipeline.on_event(e)["x"] for e in gappy[:2_000]]

    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", NAMES)
def test_contract_chunked_stream_with_checkpoints_equals_one_pass(
    name: str, gappy: list[MarketEvent]
) -> None:
    spec = SPECS[name]
    one_pass = run_stream(spec, params_of(spec), gappy)
    pipeline = Pipeline("S", [("x", spec.name, params_of(spec))])
    chunked: list[float] = []

    for lo in range(0, len(gappy), 1_500):
        pipeline = copy.deepcopy(pipeline)  # state must be self-contained: a checkpoint resumes exactly
        chunked.extend(pipeline.on_event(e)["x"] for e in gappy[lo : lo + 1_500])

    np.testing.assert_array_equal(np.array(chunked), one_pass)


def test_contract_registry_has_every_seed_indicator() -> None:
    seed = {
        "PRICE",
        "VOLUME",
        "BEST_BID",
        "BEST_ASK",
        "BID_QTY",
        "ASK_QTY",
        "TWPA",
        "TWPA_RATIO",
        "VWAP",
        "MAX_PRICE",
        "MIN_PRICE",
        "FIRST_PRICE",
        "LAST_PRICE",
        "EMA",
        "RSI",
        "PRICE_MOMENTUM",
        "VELOCITY_CASCADE",
        "PUMP_MAGNITUDE_PCT",
        "VOLUME_SURGE_RATIO",
        "SPREAD_PCT",
        "BOOK_IMBALANCE",
        "TRADE_RATE",
        "RUSH_ORDERS",
    }

    assert seed <= set(SPECS), f"missing: {sorted(seed - set(SPECS))}"


@pytest.mark.parametrize("name", NAMES)
def test_contract_params_have_defaults_and_descriptions(name: str) -> None:
    spec = SPECS[name]

    for field_name, info in spec.params.model_fields.items():
        assert info.description, f"{name}.{field_name} has no description"
        assert not info.is_required(), f"{name}.{field_name} has no default"
    assert spec.doc, f"{name} has no docstring"
