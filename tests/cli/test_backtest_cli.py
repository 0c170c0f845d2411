"""`fx backtest` as a user runs it: outputs, determinism, gaps, bad inputs, several symbols."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import FIXTURES, REPO, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
DEMO = (
    "momentum_scalper",
    "--strategies-dir",
    str(REPO / "strategies"),
    "--variants-dir",
    str(REPO / "variants"),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bt") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    return root


def backtest(store: Path, out: Path, *extra: str) -> dict[str, object]:
    result = run_fx(
        "backtest",
        *DEMO,
        "--symbol",
        "BTCUSDT",
        "--data-dir",
        str(store),
        "--out",
        str(out),
        *extra,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_backtest_writes_every_output_and_trades(store: Path, tmp_path: Path) -> None:
    report = backtest(store, tmp_path / "results")

    folder = Path(str(report["out_dir"]))
    for name in ("summary.json", "trades.parquet", "transitions.parquet", "equity.parquet", "chart.png"):
        assert (folder / name).is_file(), name
    trades = pl.read_parquet(folder / "trades.parquet")
    transitions = pl.read_parquet(folder / "transitions.parquet")
    equity = pl.read_parquet(folder / "equity.parquet")
    metrics = report["symbols"]["BTCUSDT"]["metrics"]  # type: ignore[index]
    assert trades.height == metrics["Trades"] >= 1
    assert {"entry_spread_bps", "entry_latency_bps", "entry_slippage_bps", "exit_source"} <= set(
        trades.columns
    )
    assert set(transitions["to"]) >= {
        "MONITORING",
        "SIGNAL_DETECTED",
        "ENTRY_EVALUATION",
        "POSITION_ACTIVE",
        "EXITED",
    }
    assert equity.select(pl.col("drawdown_pct").max()).item() <= 0.0
    decided = transitions.filter(pl.col("group") == "s1")["values"][0]
    assert set(json.loads(decided)) == {"momentum_10s", "velocity_cascade_10_60"}
    assert pytest.approx(trades["pnl"].sum()) == metrics["Absolute profit"]


def test_backtest_same_inputs_give_byte_identical_summary(store: Path, tmp_path: Path) -> None:
    first = backtest(store, tmp_path / "a")
    second = backtest(store, tmp_path / "b")

    assert first["run_id"] == second["run_id"]
    a = (Path(str(first["out_dir"])) / "summary.json").read_bytes()
    b = (Path(str(second["out_dir"])) / "summary.json").read_bytes()
    assert a == b


def test_backtest_options_change_the_run_id_and_costs(store: Path, tmp_path: Path) -> None:
    cheap = backtest(store, tmp_path / "a", "--fee-bps", "0")
    dear = backtest(store, tmp_path / "b", "--fee-bps", "20")

    assert cheap["run_id"] != dear["run_id"]
    profit = [r["symbols"]["BTCUSDT"]["metrics"]["Absolute profit"] for r in (cheap, dear)]  # type: ignore[index]
    assert profit[0] > profit[1]


@pytest.mark.parametrize(("compat", "key"), [("freqtrade", "Sortino"), ("backtesting.py", "SQN")])
def test_backtest_metrics_compat_switches_the_formulas(
    store: Path, tmp_path: Path, compat: str, key: str
) -> None:
    report = backtest(store, tmp_path / compat, "--metrics-compat", compat)

    metrics = report["symbols"]["BTCUSDT"]["metrics"]  # type: ignore[index]
    assert key in metrics
    other = "SQN" if compat == "freqtrade" else "Sortino"
    assert other not in metrics


def one_line(result: object) -> str:
    stderr = str(result.stderr)  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    return stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--symbol", "ETHUSDT"), "no data for symbol ETHUSDT"),
        (("--symbol", "BTCUSDT", "--from", "2030-01-01"), "no trades for BTCUSDT"),
        (
            ("--symbol", "BTCUSDT", "--metrics-compat", "vectorbt"),
            "--metrics-compat 'vectorbt' is not one of",
        ),
        ((), "give --symbol or --symbols"),
    ],
)
def test_backtest_bad_inputs_are_one_line_exit_2(
    store: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_fx("backtest", *DEMO, *args, "--data-dir", str(store), "--out", str(tmp_path))

    assert result.returncode == 2
    assert message in one_line(result)


def edited_strategy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The demo strategy saved as `name`, with its first `old` replaced by `new`."""
    path = tmp_path / name
    path.write_text((REPO / "strategies" / "momentum_scalper.toml").read_text().replace(old, new, 1))
    return path


def backtest_file(store: Path, out: Path, strategy: Path) -> subprocess.CompletedProcess[str]:
    return run_fx(
        "backtest",
        str(strategy),
        "--symbol",
        "BTCUSDT",
        "--variants-dir",
        str(REPO / "variants"),
        "--data-dir",
        str(store),
        "--out",
        str(out),
    )


def test_backtest_bad_strategy_file_names_file_key_and_line(store: Path, tmp_path: Path) -> None:
    bad = edited_strategy(tmp_path, "bad.toml", 'op = "gte"', 'op = "gtee"')

    result = backtest_file(store, tmp_path, bad)

    assert result.returncode == 2
    assert "bad.toml:" in one_line(result)
    assert "s1[0].op: 'gtee' is not one of" in result.stderr


def test_backtest_unknown_variant_in_strategy_is_bad_input(store: Path, tmp_path: Path) -> None:
    bad = edited_strategy(tmp_path, "typo.toml", '"momentum_10s"', '"momentm_10s"')

    result = backtest_file(store, tmp_path, bad)

    assert result.returncode == 2
    assert "momentm_10s" in one_line(result)


@pytest.fixture(scope="module")
def gapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with one depth diff cut out of the middle: the import records a version_jump gap."""
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    depth = [i for i, line in enumerate(lines) if b"@depth" in line]
    del lines[depth[len(depth) // 2]]
    capture = tmp_path_factory.mktemp("gap") / "cut.gz"
    capture.write_bytes(gzip.compress(b"".join(lines)))
    root = capture.parent / "data"
    assert run_fx("import", "binance", str(capture), "--data-dir", str(root)).returncode == 0
    return root


def test_backtest_refuses_a_window_that_overlaps_a_gap(gapped: Path, tmp_path: Path) -> None:
    result = run_fx(
        "backtest", *DEMO, "--symbol", "BTCUSDT", "--data-dir", str(gapped), "--out", str(tmp_path)
    )

    assert result.returncode == 2
    assert "overlaps 1 recorded gap(s)" in one_line(result)
    assert "version_jump" in result.stderr
    assert "--allow-gaps" in result.stderr


def test_backtest_allow_gaps_runs_and_flags_them(gapped: Path, tmp_path: Path) -> None:
    report = backtest(gapped, tmp_path, "--allow-gaps")

    flagged = report["symbols"]["BTCUSDT"]["gaps_flagged"]  # type: ignore[index]
    assert [g["reason"] for g in flagged] == ["version_jump"]


def import_binance(root: Path, capture: Path, *extra: str) -> None:
    run_fx("import", "binance", str(capture), "--data-dir", str(root), *extra)


@pytest.mark.data
def test_backtest_several_symbols_in_parallel_with_correlation(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    import_binance(root, shared_data / "hftbacktest" / "spot" / "btcusdt_20240808.gz")
    import_binance(
        root, shared_data / "hftbacktest" / "usdm" / "btcusdt_20240808.gz", "--exchange", "binance-usdm"
    )
    import_binance(root, shared_data / "cryptofeed" / "BINANCE_FUTURES.ws.1.0")

    result = run_fx(
        "backtest",
        *DEMO,
        "--symbols",
        "SUSHIUSDT,CTKUSDT",
        "--exchange",
        "binance-usdm",
        "--jobs",
        "2",
        "--data-dir",
        str(root),
        "--out",
        str(tmp_path / "r"),
        "--json",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["symbols"]) == {"SUSHIUSDT", "CTKUSDT"}
    assert report["combined"]["symbols"] == 2
    assert set(report["correlation"]) == {"SUSHIUSDT", "CTKUSDT"}
    out = Path(report["out_dir"])
    assert (out / "SUSHIUSDT" / "trades.parquet").is_file()
    assert (out / "CTKUSDT" / "chart.png").is_file()


@pytest.mark.data
def test_backtest_full_real_capture_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    import_binance(root, shared_data / "hftbacktest" / "spot" / "btcusdt_20240808.gz")

    report = backtest(root, tmp_path / "r")
    rider = run_fx(
        "backtest",
        "pump_rider",
        *DEMO[1:],
        "--symbol",
        "BTCUSDT",
        "--data-dir",
        str(root),
        "--out",
        str(tmp_path / "p"),
        "--json",
    )

    events = report["symbols"]["BTCUSDT"]["events"]  # type: ignore[index]
    assert events == 9_757 + 28_040 + 3_449 + 1  # trades + tickers + applied diffs + the snapshot
    assert rider.returncode == 0, rider.stderr
    assert json.loads(rider.stdout)["symbols"]["BTCUSDT"]["metrics"]["Trades"] == 0  # no pump in 6 min of BTC


def test_backtest_events_report_lag_capture_and_false_alarms(store: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "symbol,time\nBTCUSDT,2024-08-08T23:55:00Z\nbtcusdt,1723161600\n"
    )  # 2nd: after the data

    report = backtest(store, tmp_path / "r", "--events", str(events), "--event-horizon-s", "30")

    summary: dict[str, Any] = report["events"]  # type: ignore[assignment]
    assert (summary["events"], summary["covered"]) == (2, 1)
    first = summary["per_event"][0]
    assert first["onset"] == "2024-08-08T23:55:00.000Z"
    assert set(first) >= {
        "detected",
        "detection_lag_s",
        "move_pct",
        "captured_pct",
        "share_captured",
        "max_adverse_pct",
    }
    transitions = pl.read_parquet(Path(str(report["out_dir"])) / "transitions.parquet")
    onset = 1_723_161_300_000_000_000
    signals = transitions.filter(pl.col("to") == "SIGNAL_DETECTED")["ts_ns"].to_list()
    outside = [s for s in signals if not onset - 60_000_000_000 <= s <= onset + 30_000_000_000]
    assert summary["false_alarms"]["BTCUSDT"] == len(outside) > 0
    assert first["detected"] == any(onset - 60_000_000_000 <= s <= onset + 30_000_000_000 for s in signals)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("BTCUSDT,2024-08-08T23:56:00Z\n", "events.csv:1: expected a header with columns symbol,time"),
        (
            "symbol,time\nBTCUSDT,2024-08-08T23:56:00Z\nBTCUSDT,yesterday\n",
            "events.csv:3: time: not a time: 'yesterday'",
        ),
    ],
)
def test_backtest_bad_events_file_names_file_and_line(
    store: Path, tmp_path: Path, content: str, message: str
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(content)

    result = run_fx(
        "backtest",
        *DEMO,
        "--symbol",
        "BTCUSDT",
        "--events",
        str(events),
        "--data-dir",
        str(store),
        "--out",
        str(tmp_path),
    )

    assert result.returncode == 2
    assert message in one_line(result)


def test_backtest_table_has_one_row_per_concept_and_json_says_why_a_value_is_undefined(
    store: Path, tmp_path: Path
) -> None:
    # The sample's momentum_scalper run makes one trade in a few minutes: freqtrade's Sharpe of it is
    # -100 (no spread of returns), backtesting.py's needs two calendar days.
    report = backtest(store, tmp_path / "json")
    symbol = report["symbols"]["BTCUSDT"]  # type: ignore[index]
    assert symbol["metrics"]["Trades"] == 1
    assert symbol["metrics"]["Sharpe"] is None
    assert "Sharpe" in symbol["metrics"]
    assert "two calendar days" in symbol["undefined"]["Sharpe Ratio"]
    assert "standard deviation" in symbol["undefined"]["Sharpe"]
    trades = pl.read_parquet(Path(str(report["out_dir"])) / "trades.parquet")
    spread = (trades["entry_spread_bps"] + trades["exit_spread_bps"]).mean()
    assert symbol["metrics"]["Spread cost bps"] == pytest.approx(spread)

    table = run_fx(
        "backtest", *DEMO, "--symbol", "BTCUSDT", "--data-dir", str(store), "--out", str(tmp_path / "t")
    )
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    for gone in ("# Trades", "Profit Factor", "Sharpe Ratio", "-100"):
        assert gone not in table.stdout
    for group in ("returns", "risk", "trades", "costs and fill quality"):
        assert any(line.split()[:1] == [group.split()[0]] for line in lines), group
    sharpe = [line.split() for line in lines if " Sharpe " in f" {line} "]
    assert len(sharpe) == 1
    assert sharpe[0][-1] == "—"

    ft = backtest(store, tmp_path / "ft", "--metrics-compat", "freqtrade")
    assert ft["symbols"]["BTCUSDT"]["metrics"]["Sharpe"] == -100.0  # type: ignore[index]
