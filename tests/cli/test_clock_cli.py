"""The clock as a user meets it: `--clock-ms` and `clock_ms`, bad values as one line (exit 2), and
`fx backtest --compare-stream` parity with clock rows on the Binance sample and on a thin tape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, error_line, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
DIRS = ("--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"))
S = 1_000_000_000
T0 = 1_723_161_600 * S + 123_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clock") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    return root


@pytest.fixture(scope="module")
def thin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A thin trade-only tape (tardis trades CSV): a print every few seconds, pump bursts followed by
    silences of up to a minute, so most rows of a clocked run are clock rows."""
    folder = tmp_path_factory.mktemp("thin")
    rows = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    ts, price, n = T0 // 1000, 100.0, 0
    for minute in range(12):
        for k in range(10):
            ts += 4_000_000 + 137_000 * k
            price *= 1.0 + (0.0004 if k % 2 else -0.0004)
            rows.append(f"binance,THINUSDT,{ts},{ts + 3_000},{n},sell,{price:.6f},1.0")
            n += 1
        if minute % 3 == 1:  # a pump: a burst of buys, then silence
            for j in range(6):
                price *= 1.01
                rows.append(
                    f"binance,THINUSDT,{ts + 1_000 * j},{ts + 1_000 * j + 3_000},{n},buy,{price:.6f},5.0"
                )
                n += 1
            ts += 45_000_000
    csv = folder / "tardis_binance_trades_THINUSDT.csv"
    csv.write_text("\n".join(rows) + "\n")
    root = folder / "data"
    result = run_fx("import", "tardis", str(csv), "--data-dir", str(root))
    assert result.returncode == 0, result.stderr
    return root


def backtest_json(store: Path, out: Path, symbol: str, strategy: str, *extra: str) -> dict[str, object]:
    result = run_fx(
        "backtest", strategy, "-s", symbol, *DIRS, "--data-dir", str(store), "--out", str(out),
        "--no-chart", "--json", "--compare-stream", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("clock", [(), ("--clock-ms", "250")])
def test_compare_stream_agrees_with_clock_rows_on_the_binance_sample(
    store: Path, tmp_path: Path, clock: tuple[str, ...]
) -> None:
    report = backtest_json(store, tmp_path, "BTCUSDT", "momentum_scalper", *clock)

    symbol = report["symbols"]["BTCUSDT"]  # type: ignore[index]
    assert report["options"]["clock_ms"] == (250 if clock else 1000)  # type: ignore[index]
    assert symbol["clock_ticks"] > 0
    assert report["compare_stream"]["agree"], report["compare_stream"]["message"]  # type: ignore[index]


def test_compare_stream_agrees_with_clock_rows_on_a_thin_tape(thin: Path, tmp_path: Path) -> None:
    strategy = tmp_path / "thin.toml"
    strategy.write_text(
        "schema = 1\nclock_ms = 500\nsignal_timeout_s = 5\ncooldown_s = 10\n"
        '[[s1]]\nindicator = "PUMP_MAGNITUDE_PCT"\nop = "gte"\nvalue = 0.3\n'
        '[[z1]]\nindicator = "PUMP_MAGNITUDE_PCT"\nop = "gte"\nvalue = 1.0\n'
        '[[ze1]]\nindicator = "PUMP_MAGNITUDE_PCT"\nop = "lte"\nvalue = 0.5\n'
    )

    report = backtest_json(thin, tmp_path, "THINUSDT", str(strategy))
    off = backtest_json(thin, tmp_path, "THINUSDT", str(strategy), "--clock-ms", "0")

    symbol = report["symbols"]["THINUSDT"]  # type: ignore[index]
    assert symbol["clock_ticks"] > symbol["events"], "a thin tape: mostly clock rows"
    assert report["compare_stream"]["agree"], report["compare_stream"]["message"]  # type: ignore[index]
    assert report["compare_stream"]["transitions"] > 4  # type: ignore[index]
    assert off["symbols"]["THINUSDT"]["clock_ticks"] == 0  # type: ignore[index]
    assert off["compare_stream"]["agree"], off["compare_stream"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("command", ["backtest", "stream"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-1", "--clock-ms must be 0 (off) or between 10 and 3600000 ms (an hour), got -1"),
        ("5", "--clock-ms must be 0 (off) or between 10 and 3600000 ms (an hour), got 5"),
        (str(10**30), "--clock-ms must be 0 (off) or between 10 and 3600000 ms (an hour), got 1000000"),
        ("1.5", "--clock-ms: Input should be a valid integer"),
        ("soon", "--clock-ms: Input should be a valid integer"),
    ],
)
def test_bad_clock_ms_option_is_one_line_exit_2(
    store: Path, tmp_path: Path, command: str, value: str, expected: str
) -> None:
    where = ("--replay", str(store), "--headless") if command == "stream" else ("--data-dir", str(store))

    result = run_fx(command, "momentum_scalper", "-s", "BTCUSDT", "--clock-ms", value, *DIRS, *where,
                    "--out", str(tmp_path))  # fmt: skip

    assert expected in error_line(result)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-100", "clock_ms: must be 0 (off) or between 10 and 3600000 ms (an hour), got -100"),
        ("2.5", "clock_ms: must be a whole number of milliseconds (0 turns the clock off), got 2.5"),
        ("true", "clock_ms: must be a whole number of milliseconds (0 turns the clock off), got True"),
        ('"1s"', "clock_ms: must be a whole number of milliseconds (0 turns the clock off), got '1s'"),
        ("99999999999999", "clock_ms: must be 0 (off) or between 10 and 3600000 ms"),
    ],
)
def test_bad_clock_ms_in_strategy_file_names_file_key_and_line(
    store: Path, tmp_path: Path, value: str, expected: str
) -> None:
    strategy = tmp_path / "bad.toml"
    strategy.write_text(
        f'schema = 1\nside = "long"\nclock_ms = {value}\n'
        '[[s1]]\nindicator = "PRICE"\nop = "gt"\nvalue = 0\n'
        '[[z1]]\nindicator = "PRICE"\nop = "gt"\nvalue = 0\n'
    )

    result = run_fx("backtest", str(strategy), "-s", "BTCUSDT", *DIRS, "--data-dir", str(store),
                    "--out", str(tmp_path))  # fmt: skip

    assert error_line(result).startswith(f"{strategy}:3: {expected}")
