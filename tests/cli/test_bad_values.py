"""Option values that parse but make no sense are one `fx: error:` line naming the option, exit 2
(issue 11: D14, D17, D18, D20, D21). Case ids are those of docs/reliability-probe.md."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FIXTURES, REPO, error_line, run_fx
from tests.other_user import run_fx_as_other

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
SAMPLE_TRADES = 2744
DIRS = ("--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("values") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    return root


def refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    line = error_line(result)
    for text in expected:
        assert text in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("trades", "--limit", "-5"), "--limit must be in [1, ", id="C27"),
        # --limit 0 is refused rather than answered with nothing: no rows is never what was asked.
        pytest.param(("trades", "--limit", "0"), "--limit must be in [1, ", id="C28"),
        pytest.param(("trades", "--limit", str(10**30)), "--limit must be in [1, ", id="C30"),
        pytest.param(
            ("quality", "--outlier-pct", "-1"), "--outlier-pct must be in (0, 1000], got -1", id="C44"
        ),
        pytest.param(
            ("quality", "--outlier-pct", "nan"), "--outlier-pct must be in (0, 1000], got nan", id="C45"
        ),
        pytest.param(("quality", "--silence-s", "-5"), "--silence-s must be in (0, 1e+09], got -5", id="C46"),
        pytest.param(
            ("quality", "--silence-s", "inf"), "--silence-s must be in (0, 1e+09], got inf", id="C47"
        ),
        pytest.param(
            ("quality", "--silence-s", "nan"), "--silence-s must be in (0, 1e+09], got nan", id="C48"
        ),
    ],
)
def test_inspect_values_out_of_range_are_refused(store: Path, args: tuple[str, ...], expected: str) -> None:
    command, *options = args

    result = run_fx("inspect", command, "BTCUSDT", *options, "--data-dir", str(store))

    refused(result, expected)


def test_inspect_trades_limit_beyond_the_rows_returns_them_all(store: Path, tmp_path: Path) -> None:  # C29
    out = tmp_path / "big.csv"

    result = run_fx(
        "inspect", "trades", "BTCUSDT", "--limit", str(10**18), "--format", "csv", "--out", str(out),
        "--data-dir", str(store),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert pl.read_csv(out).height == SAMPLE_TRADES


def test_inspect_quality_on_an_empty_window_finds_nothing(store: Path) -> None:  # C52
    result = run_fx("inspect", "quality", "BTCUSDT", "--from", "2099-01-01", "--data-dir", str(store))

    assert error_line(result, 1) == "no data for BTCUSDT on binance in the window"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("--jobs", "0"), "--jobs must be in [1, ", id="BT3"),
        pytest.param(("--jobs", "-1"), "--jobs must be in [1, ", id="BT4"),
        pytest.param(("--latency-ms", "nan"), "--latency-ms must be in [0, 1e+12], got nan", id="BT7"),
        pytest.param(("--latency-ms", "inf"), "--latency-ms must be in [0, 1e+12], got inf", id="BT8"),
        pytest.param(("--latency-ms", "-5"), "--latency-ms must be in [0, 1e+12], got -5", id="BT9"),
        pytest.param(("--fee-bps", "nan"), "--fee-bps must be in [0, 10000], got nan", id="BT10"),
        pytest.param(("--fee-bps", "1e308"), "--fee-bps must be in [0, 10000], got 1e+308", id="BT11"),
        pytest.param(("--fee-bps", "inf"), "--fee-bps must be in [0, 10000], got inf", id="BT12"),
        pytest.param(("--balance", "0"), "--balance must be in (0, 1e+12], got 0", id="BT13"),
        pytest.param(("--balance", "nan"), "--balance must be in (0, 1e+12], got nan", id="BT14"),
        pytest.param(("--balance", "inf"), "--balance must be in (0, 1e+12], got inf", id="BT15"),
        pytest.param(("--slippage-bps", "inf"), "--slippage-bps must be in [0, 10000], got inf", id="BT16"),
        pytest.param(("--slippage-bps", "nan"), "--slippage-bps must be in [0, 10000], got nan", id="BT17"),
        pytest.param(("--speed", "0"), "--speed must be in [0.001, 1e+09], got 0", id="BT18"),
        pytest.param(("--speed", "nan"), "--speed must be in [0.001, 1e+09], got nan", id="BT19"),
    ],
)
def test_backtest_values_out_of_range_are_refused(
    store: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = run_fx(
        "backtest", "momentum_scalper", "-s", "BTCUSDT", *args, *DIRS, "--data-dir", str(store),
        "--out", str(tmp_path), "--no-chart",
    )  # fmt: skip

    refused(result, expected)


def test_backtest_event_horizon_nan_is_refused(store: Path, tmp_path: Path) -> None:  # BT21
    events = tmp_path / "events.csv"
    events.write_text("symbol,time\nBTCUSDT,2024-08-08T23:55:00Z\n")

    result = run_fx(
        "backtest", "momentum_scalper", "-s", "BTCUSDT", "--event-horizon-s", "nan", "--events", str(events),
        *DIRS, "--data-dir", str(store), "--out", str(tmp_path), "--no-chart",
    )  # fmt: skip

    refused(result, "--event-horizon-s must be in [1, 1e+09], got nan")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("--every", "0.01"), "--every must be in [0.05, 1e+09], got 0.01", id="LS12"),
        pytest.param(("--latency-ms", "inf"), "--latency-ms must be in [0, 1e+12], got inf", id="LS15"),
        pytest.param(("--balance", "0"), "--balance must be in (0, 1e+12], got 0", id="LS16"),
    ],
)
def test_stream_values_out_of_range_are_refused(
    store: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = run_fx(
        "stream", "momentum_scalper", "--replay", str(store), "--symbols", "BTCUSDT", *args, *DIRS,
        "--headless", "--out", str(tmp_path),
    )  # fmt: skip

    refused(result, expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("inspect", "trades", "BTCUSDT", "--format", "xml"), "--format: 'xml' is not one of", id="C32"
        ),
        pytest.param(
            ("inspect", "book", "BTCUSDT", "--depth", "0"), "--depth must be in [1, 50], got 0", id="C37"
        ),
        pytest.param(
            ("inspect", "book", "BTCUSDT", "--depth", "51"), "--depth must be in [1, 50], got 51", id="C38"
        ),
        pytest.param(
            ("inspect", "book", "BTCUSDT", "--depth", "-3"), "--depth must be in [1, 50], got -3", id="C39"
        ),
        pytest.param(
            ("inspect", "quality", "BTCUSDT", "--outlier-pct", "abc"),
            "--outlier-pct: Input should be a valid number",
            id="C49",
        ),
        pytest.param(("inspect", "indicators", "BTCUSDT"), "Missing option '--variant'", id="C54"),
        pytest.param(("variants", "compute", "spread"), "Missing option '--symbol'", id="C60"),
        pytest.param(
            ("variants", "compute", "spread", "-s", "BTCUSDT", "--format", "xml"),
            "--format: 'xml' is not one of",
            id="C63",
        ),
        pytest.param(
            ("inspect", "trades", "BTCUSDT", "--bogus"), "No such option: --bogus", id="unknown-option"
        ),
        pytest.param(("inspect", "trades"), "Missing argument 'symbol'", id="missing-argument"),
    ],
)
def test_command_line_errors_are_one_line_not_a_usage_block(
    store: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = run_fx(*args, "--data-dir", str(store), cwd=tmp_path)

    refused(result, expected)
    assert "Usage:" not in result.stderr
    assert "Try " not in result.stderr


def test_unreadable_capture_file_is_one_line(tmp_path: Path) -> None:  # I36
    capture = tmp_path / "noperm.gz"
    capture.write_bytes(SAMPLE.read_bytes())
    capture.chmod(0)

    result = run_fx_as_other("import", "binance", str(capture), "--data-dir", str(tmp_path / "data"))

    refused(result, f"{capture}", "is not readable")


def test_backtest_order_due_after_the_data_is_not_filled(store: Path, tmp_path: Path) -> None:  # BT6 (D21)
    result = run_fx(
        "backtest", "momentum_scalper", "-s", "BTCUSDT", "--latency-ms", "1e12", *DIRS,
        "--data-dir", str(store), "--out", str(tmp_path), "--no-chart", "--compare-stream", "--json",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr  # --compare-stream: fx stream's replay agrees
    report = json.loads(result.stdout)
    assert report["symbols"]["BTCUSDT"]["metrics"]["Trades"] == 0
    assert report["compare_stream"]["agree"] is True
    trades = pl.read_parquet(Path(report["out_dir"]) / "trades.parquet")
    assert trades.height == 0


def test_backtest_numpy_warnings_never_reach_stderr(store: Path, tmp_path: Path) -> None:  # D18 (BT11, BT15)
    # All in with a 100 % fee: the account goes below zero and a CAGR of a negative ratio is NaN,
    # which numpy warns about; a user can do nothing with that warning.
    strategy = tmp_path / "all_in.toml"
    text = (REPO / "strategies" / "momentum_scalper.toml").read_text()
    strategy.write_text(
        text.replace(
            "base_position_pct = 0.5", "base_position_pct = 100\nmax_leverage = 2.0\nmax_notional = 1e9"
        )
    )

    args = (
        "backtest", str(strategy), "-s", "BTCUSDT", "--fee-bps", "10000", *DIRS, "--data-dir", str(store),
        "--out", str(tmp_path), "--no-chart", "--json",
    )  # fmt: skip

    debugged = run_fx(*args, env={"FX_DEBUG": "1"})
    result = run_fx(*args)

    assert "RuntimeWarning" in debugged.stderr  # the run does make numpy warn (shown with FX_DEBUG=1)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
