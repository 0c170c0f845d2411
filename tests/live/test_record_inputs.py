"""`fx record` refuses bad input before it connects anywhere: one `fx: error:` line and exit 2."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from tests.conftest import run_fx

SPOT = ("--exchange", "mexc-spot")
LOOPBACK = ("--ws-url", "ws://127.0.0.1:9/ws", "--rest-url", "http://127.0.0.1:9")


def one_error_line(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `fx record ...` in `tmp_path`; assert exit 2 with one stderr line; return it."""
    result = run_fx("record", *args, cwd=tmp_path, env=env)

    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("fx: error: ")
    assert result.stdout == ""
    return result.stderr.strip().removeprefix("fx: error: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--symbols", "BTCUSDT"), "--exchange is required: mexc-spot or mexc-futures"),
        (
            ("--exchange", "binance", "--symbols", "BTCUSDT"),
            "--exchange 'binance' is not one of mexc-spot, mexc-futures",
        ),
        (SPOT, "no symbols: give --symbols A,B or --symbols-file FILE (one symbol per line)"),
        (
            (*SPOT, "--symbols", " , "),
            "no symbols: give --symbols A,B or --symbols-file FILE (one symbol per line)",
        ),
        (
            (*SPOT, "--symbols", "BTCUSDT,ETH/USDT"),
            "--symbols: not a MEXC spot symbol: 'ETH/USDT' (letters and digits, e.g. BTCUSDT)",
        ),
        (
            ("--exchange", "mexc-futures", "--symbols", "BTC-USDT"),
            "--symbols: not a MEXC futures symbol: 'BTC-USDT' (letters, digits and _, e.g. BTC_USDT)",
        ),
        (
            (*SPOT, "--symbols", "BTCUSDT", "--ws-url", "http://127.0.0.1:9/ws"),
            "--ws-url: 'http://127.0.0.1:9/ws' is not a ws:// or wss:// URL with a host",
        ),
        (
            (*SPOT, "--symbols", "BTCUSDT", "--ws-url", "wbs-api.mexc.com"),
            "--ws-url: 'wbs-api.mexc.com' is not a ws:// or wss:// URL with a host",
        ),
        (
            (*SPOT, "--symbols", "BTCUSDT", "--ws-url", "ws://127.0.0.1:99999/ws"),
            "--ws-url: 'ws://127.0.0.1:99999/ws' is not a ws:// or wss:// URL with a host",
        ),
        (
            (*SPOT, "--symbols", "BTCUSDT", "--rest-url", "ftp://api.mexc.com"),
            "--rest-url: 'ftp://api.mexc.com' is not a http:// or https:// URL with a host",
        ),
        ((*SPOT, "--symbols", "BTCUSDT", "--connections", "0"), "--connections must be in [1, 1000], got 0"),
        (
            (*SPOT, "--symbols", ",".join(f"S{i}USDT" for i in range(16)), "--connections", "1"),
            "--connections: 32 channels do not fit in 1 connections of 30 subscriptions each",
        ),
        (
            (*SPOT, "--symbols", "BTCUSDT", "--channels", "trades,klines"),
            "--channels: 'klines' is not one of trades, depth, top, ticker",
        ),
        ((*SPOT, "--symbols", "BTCUSDT", "--flush-s", "0"), "--flush-s must be in (0, 60], got 0"),
        (
            (*SPOT, "--symbols", "BTCUSDT", "--flush-s", "2", "--table-flush-s", "1"),
            "--table-flush-s must be in [2 (--flush-s), 60], got 1",
        ),
    ],
)
def test_record_bad_option_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    extra = [f"--{w}-url" for w in ("ws", "rest") if f"--{w}-url" not in args]
    loopback = [a for opt in extra for a in (opt, LOOPBACK[LOOPBACK.index(opt) + 1])]

    assert one_error_line(tmp_path, *args, *loopback) == message
    assert not (tmp_path / "data").exists()


def test_record_bad_symbols_file_line_names_file_and_line(tmp_path: Path) -> None:
    listing = tmp_path / "symbols.txt"
    listing.write_text("# watch list\nBTCUSDT\n\nethusdt  # lower case is fine\nETH USDT\n")

    message = one_error_line(tmp_path, *SPOT, "--symbols-file", str(listing), *LOOPBACK)

    assert message == f"{listing}:5: not a MEXC spot symbol: 'ETH USDT' (letters and digits, e.g. BTCUSDT)"


def test_record_missing_symbols_file_is_named(tmp_path: Path) -> None:
    message = one_error_line(tmp_path, *SPOT, "--symbols-file", "nope.txt", *LOOPBACK)

    assert message == "nope.txt: no such file"


def test_record_unwritable_data_dir_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    message = one_error_line(
        tmp_path, *SPOT, "--symbols", "BTCUSDT", "--data-dir", str(blocker / "data"), *LOOPBACK
    )

    assert message.startswith(f"data dir {blocker / 'data'} is not writable: ")


def test_record_bad_url_in_config_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text('mexc_spot_ws_url = "localhost:8765"\n')

    message = one_error_line(tmp_path, *SPOT, "--symbols", "BTCUSDT")

    assert message == "fx.toml: mexc_spot_ws_url: 'localhost:8765' is not a ws:// or wss:// URL with a host"


def test_record_second_recorder_on_the_same_store_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "data" / "mexc-spot" / "raw"
    raw.mkdir(parents=True)

    with (raw / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running recorder holds
        message = one_error_line(tmp_path, *SPOT, "--symbols", "BTCUSDT", *LOOPBACK)

    assert message.startswith(f"another fx record is writing {Path('data') / 'mexc-spot' / 'raw'}")
