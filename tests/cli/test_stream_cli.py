"""`fx stream` and `fx backtest --compare-stream` as a user meets them: help, bad inputs, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fxcli.cli import app
from fxcli.tasks import stream as stream_task
from fxcli.tasks.stream import Comparison
from tests.conftest import FIXTURES, REPO, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
DIRS = ("--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream-cli") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    return root


def test_stream_help_names_modes_and_exit_codes() -> None:
    result = run_fx("stream", "--help")

    assert result.returncode == 0
    for option in ("--symbols", "--exchange", "--headless", "--record", "--ws-url", "--replay", "--speed"):
        assert option in result.stdout
    assert "Exit codes" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch", "--symbols", "BTCUSDT"), "strategy 'nosuch': no such file or name"),
        (("momentum_scalper",), "give --symbol or --symbols"),
        (("momentum_scalper", "--symbols", "BTCUSDT", "-e", "binance"), "--exchange 'binance' is not one of"),
        (("momentum_scalper", "--symbols", "BTC/USDT"), "not a MEXC spot symbol: 'BTC/USDT'"),
        (
            ("momentum_scalper", "-s", "BTCUSDT", "--ws-url", "http://x"),
            "--ws-url: 'http://x' is not a ws://",
        ),
        (("momentum_scalper", "-s", "BTCUSDT", "--speed", "10"), "--speed paces a --replay"),
        (("momentum_scalper", "-s", "BTCUSDT", "--from", "2024-08-08"), "--from / --to select a window"),
        (("momentum_scalper", "--replay", "nowhere"), "--replay nowhere: no such folder"),
        (("momentum_scalper", "--replay", "{store}", "--record"), "--record records a live stream"),
        (("momentum_scalper", "--replay", "{store}", "-s", "ETHUSDT"), "no data for symbol ETHUSDT"),
        (("momentum_scalper", "--replay", "{store}", "--ws-url", "ws://x"), "--ws-url is for a live stream"),
        (
            ("momentum_scalper", "--replay", "{store}", "--from", "yesterday"),
            "--from: not a time: 'yesterday'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    store: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    argv = [a.replace("{store}", str(store)) for a in args]

    result = run_fx("stream", *argv, *DIRS, "--headless", "--out", str(tmp_path), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("fx: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_compare_stream_json_carries_the_verdict(store: Path, tmp_path: Path) -> None:
    result = run_fx(
        "backtest",
        "momentum_scalper",
        *DIRS,
        "-s",
        "BTCUSDT",
        "--data-dir",
        str(store),
        "--out",
        str(tmp_path),
        "--no-chart",
        "--compare-stream",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    import json

    verdict = json.loads(result.stdout)["compare_stream"]
    assert verdict["agree"] is True
    assert verdict["message"] == (
        f"stream and backtest agree: {verdict['transitions']} transitions, {verdict['trades']} trade"
        + ("s" if verdict["trades"] != 1 else "")
    )


def test_compare_stream_divergence_prints_it_and_exits_1(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "stream and backtest diverge at 2024-08-08T23:55:00.000Z on BTCUSDT, transition 3: x; y"
    monkeypatch.setattr(
        stream_task, "compare_with_backtest", lambda *a, **k: Comparison(False, 2, 0, message)
    )
    argv = ["backtest", "momentum_scalper", *DIRS, "-s", "BTCUSDT", "--data-dir", str(store)]

    result = CliRunner().invoke(app, [*argv, "--out", str(tmp_path), "--no-chart", "--compare-stream"])

    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == message
