"""`fx stream --live`, `fx orders`, `fx flatten`, `fx doctor --live`: refusals before anything is sent
(one `fx: error:` line, exit 2), and keys that never reach any output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, error_line, run_fx
from tests.live.private_venue import ROUND_TRIP

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
KEY, SECRET = "mx0vglTESTKEYabcdef", "0123456789abcdef0123456789abcdef"
LIMITS = ("--max-order", "25", "--max-total", "100", "--max-positions", "1", "--max-daily-loss", "10")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("live-inputs") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    strategies = root.parent / "strategies"
    strategies.mkdir()
    (strategies / "buy.toml").write_text(ROUND_TRIP)
    (strategies / "short.toml").write_text(ROUND_TRIP.replace("schema = 1\n", 'schema = 1\nside = "short"\n'))
    return root


def stream(store: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Run a --live replay that must be refused; its error line and its whole output."""
    result = run_fx(
        *("stream", "buy", "--replay", str(store), "--live", "--journal", str(store.parent / "j.sqlite")),
        *("--strategies-dir", str(store.parent / "strategies"), "--variants-dir", str(REPO / "variants")),
        *extra,
        env=env,
        unset=("FX_",),
    )
    return error_line(result), result.stdout + result.stderr


def test_stream_live_without_limits_names_every_missing_one(store: Path) -> None:
    message, _ = stream(
        store, "--max-order", "25", env={"FX_MEXC_API_KEY": KEY, "FX_MEXC_API_SECRET": SECRET}
    )

    assert message.startswith(
        "--live needs explicit risk limits; missing --max-total, --max-positions, --max-daily-loss"
    )


def test_stream_live_without_keys_is_refused(store: Path) -> None:
    message, _ = stream(store, *LIMITS)

    assert "no MEXC API keys" in message


def test_stream_live_key_file_readable_by_others_is_refused_without_showing_it(
    store: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "mexc.key"
    key_file.write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    key_file.chmod(0o644)

    message, everything = stream(store, *LIMITS, "--key-file", str(key_file))

    assert str(key_file) in message
    assert "0644" in message or "644" in message
    assert KEY not in everything
    assert SECRET not in everything


def test_stream_live_short_strategy_is_refused(store: Path) -> None:
    env = {"FX_MEXC_API_KEY": KEY, "FX_MEXC_API_SECRET": SECRET}
    result = run_fx(
        *("stream", "short", "--replay", str(store), "--live", *LIMITS),
        *("--strategies-dir", str(store.parent / "strategies"), "--variants-dir", str(REPO / "variants")),
        env=env,
        unset=("FX_",),
    )

    assert "cannot sell short" in error_line(result)


@pytest.mark.parametrize("option", [("--max-order", "25"), ("--dry-run-orders",), ("--key-file", "k")])
def test_stream_live_options_without_live_are_refused(store: Path, option: tuple[str, ...]) -> None:
    result = run_fx(
        *("stream", "buy", "--replay", str(store), *option),
        *("--strategies-dir", str(store.parent / "strategies"), "--variants-dir", str(REPO / "variants")),
        unset=("FX_",),
    )

    assert error_line(result).endswith("only with --live (this stream trades on paper)")
    assert option[0] in error_line(result)


def test_stream_live_limit_from_fx_toml_is_checked_naming_the_key(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "fx.toml"
    config.write_text("[live]\nmax_order_notional = -5\n")

    result = run_fx(
        "stream", "buy", "--replay", str(store), "--live", env={"FX_CONFIG": str(config)}, unset=("FX_",)
    )

    assert error_line(result).startswith(f"{config}: live.max_order_notional: ")


def test_orders_list_without_a_journal_names_it(tmp_path: Path) -> None:
    result = run_fx("orders", "list", "--journal", str(tmp_path / "none.sqlite"), unset=("FX_",))

    assert (
        error_line(result)
        == f"--journal {tmp_path / 'none.sqlite'}: no order journal there (fx stream --live writes it)"
    )


@pytest.mark.parametrize(
    "command", [("flatten",), ("orders", "cancel", "--symbol", "BTCUSDT"), ("orders", "reconcile")]
)
def test_venue_commands_without_keys_are_refused(command: tuple[str, ...], tmp_path: Path) -> None:
    result = run_fx(*command, "--journal", str(tmp_path / "j.sqlite"), unset=("FX_",))

    assert "no MEXC API keys" in error_line(result)


def test_doctor_live_needs_symbols() -> None:
    env = {"FX_MEXC_API_KEY": KEY, "FX_MEXC_API_SECRET": SECRET}

    result = run_fx("doctor", "--live", env=env, unset=("FX_",))

    assert error_line(result) == "--live needs --symbols: the symbols to send a test order for"


def test_doctor_symbols_without_live_are_refused() -> None:
    result = run_fx("doctor", "--symbols", "BTCUSDT", unset=("FX_",))

    assert error_line(result) == "--symbols, --notional and --key-file are for fx doctor --live"


def test_keys_from_the_environment_never_appear_in_a_refusal(store: Path) -> None:
    env = {"FX_MEXC_API_KEY": KEY, "FX_MEXC_API_SECRET": SECRET, "PATH": os.environ["PATH"]}

    _, everything = stream(store, "--max-order", "25", env=env)

    assert KEY not in everything
    assert SECRET not in everything
