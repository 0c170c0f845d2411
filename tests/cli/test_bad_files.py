"""Files and folders that are not what they must be are one `fx: error:` line, exit 2 (issue 11:
D10, D16, D17, D19): nonsense values in strategy and variant files (file:line: key), a variant of the
wrong type in a strategy's role, files that are not UTF-8 text, folders that are files or empty.
Case ids are those of docs/reliability-probe.md."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, error_line, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
STRATEGY = REPO / "strategies" / "momentum_scalper.toml"
VARIANTS = ("--variants-dir", str(REPO / "variants"))
NOT_UTF8 = b"\x8f\xa0schema = 1\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    return root


def strategy_with(tmp_path: Path, old: str, new: str) -> Path:
    """The demo strategy with its first `old` replaced by `new`."""
    text = STRATEGY.read_text()
    assert old in text
    path = tmp_path / "strategy.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def backtest(store: Path, tmp_path: Path, strategy: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_fx(
        "backtest", str(strategy), "-s", "BTCUSDT", *VARIANTS, "--data-dir", str(store),
        "--out", str(tmp_path), "--no-chart", *extra,
    )  # fmt: skip


# --- strategy files ----------------------------------------------------------------------------------

FIRST_S1 = 'indicator = "momentum_10s"\nop = "gte"\nvalue = 0.0005'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "value = 0.0005", "value = nan", ":21: s1[0].value: Input should be a finite number", id="S9"
        ),
        pytest.param(
            "value = 0.0005", "value = inf", ":21: s1[0].value: Input should be a finite number", id="S10"
        ),
        pytest.param(
            "value = 0.0005", "value = -inf", ":21: s1[0].value: Input should be a finite number", id="S11"
        ),
        pytest.param(
            FIRST_S1,
            'indicator = "momentum_10s"\nop = "between"\nmin = nan\nmax = 1.0',
            ":21: s1[0].min: Input should be a finite number",
            id="S27",
        ),
        pytest.param(
            FIRST_S1,
            'indicator = "momentum_10s"\nop = "allowed"\nvalues = [1.0, nan]',
            ":21: s1[0].values[1]: Input should be a finite number",
            id="S27-allowed",
        ),
        pytest.param(
            'risk_variant = "risk_rsi"',
            'risk_variant = "risk_rsi"\nrisk_points = [[20, 1.2], [nan, 1.0]]',
            ":11: sizing.risk_points[1][0]: Input should be a finite number",
            id="S30",
        ),
        pytest.param(
            "cooldown_s = 20",
            "cooldown_s = inf",
            ":5: cooldown_s: Input should be less than or equal to",
            id="cooldown-inf",
        ),
    ],
)
def test_strategy_nonsense_values_name_file_line_and_key(
    store: Path, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    strategy = strategy_with(tmp_path, old, new)

    line = error_line(backtest(store, tmp_path, strategy))

    assert line.startswith(f"{strategy}{expected}")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'risk_variant = "risk_rsi"',
            'risk_variant = "pump_10s"',
            ":10: sizing.risk_variant: 'pump_10s' is a GENERAL variant; risk_variant takes a RISK variant",
            id="S31",
        ),
        pytest.param(
            "sl_buffer_pct = 0.05",
            'sl_buffer_pct = 0.05\nstop_loss_variant = "risk_rsi"',
            ":15: exits.stop_loss_variant: 'risk_rsi' is a RISK variant; "
            "stop_loss_variant takes a STOP_LOSS variant",
            id="D10-stop-loss",
        ),
        pytest.param(
            "tp_pct = 0.08",
            'tp_pct = 0.08\ntake_profit_variant = "stop_min_60s"',
            ":16: exits.take_profit_variant: 'stop_min_60s' is a STOP_LOSS variant; "
            "take_profit_variant takes a TAKE_PROFIT variant",
            id="D10-take-profit",
        ),
    ],
)
def test_strategy_role_needs_a_variant_of_its_type(
    store: Path, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    strategy = strategy_with(tmp_path, old, new)

    streamed = run_fx(
        "stream", str(strategy), "--replay", str(store), "--symbols", "BTCUSDT", *VARIANTS, "--headless",
        "--out", str(tmp_path),
    )  # fmt: skip

    for result in (backtest(store, tmp_path, strategy), streamed):
        assert error_line(result) == f"{strategy}{expected}"


def test_strategy_roles_of_the_right_type_run(store: Path, tmp_path: Path) -> None:
    strategy = strategy_with(
        tmp_path,
        "tp_pct = 0.08",
        'tp_pct = 0.08\nstop_loss_variant = "stop_min_60s"\ntake_profit_variant = "target_max_60s"',
    )

    result = backtest(store, tmp_path, strategy)

    assert result.returncode == 0, result.stderr


# --- files that are not UTF-8 text ---------------------------------------------------------------------


def test_backtest_binary_strategy_file(store: Path, tmp_path: Path) -> None:  # S2
    strategy = tmp_path / "binary.toml"
    strategy.write_bytes(NOT_UTF8)

    line = error_line(backtest(store, tmp_path, strategy))

    assert line == f"{strategy}: not UTF-8 text (byte 0x8f cannot be decoded)"


def test_stream_binary_strategy_file(store: Path, tmp_path: Path) -> None:  # LS14
    strategy = tmp_path / "binary.toml"
    strategy.write_bytes(NOT_UTF8)

    result = run_fx(
        "stream", str(strategy), "--replay", str(store), "--symbols", "BTCUSDT", *VARIANTS, "--headless",
        "--out", str(tmp_path),
    )  # fmt: skip

    assert error_line(result) == f"{strategy}: not UTF-8 text (byte 0x8f cannot be decoded)"


def test_backtest_binary_events_file(store: Path, tmp_path: Path) -> None:  # BT29
    events = tmp_path / "events_bad.csv"
    events.write_bytes(b"symbol,time\n\xff\xfe\x00garbage\n")

    result = backtest(store, tmp_path, STRATEGY, "--events", str(events))

    assert error_line(result) == f"{events}: not UTF-8 text (byte 0xff cannot be decoded)"


def test_binary_fx_config_file(tmp_path: Path) -> None:  # CF4
    config = tmp_path / "binary.toml"
    config.write_bytes(b"\x9f" + NOT_UTF8)

    result = run_fx("inspect", cwd=tmp_path, env={"FX_CONFIG": str(config)})

    assert error_line(result) == f"{config}: not UTF-8 text (byte 0x9f cannot be decoded)"


def test_binary_fx_toml_in_the_working_folder(tmp_path: Path) -> None:  # CF15
    (tmp_path / "fx.toml").write_bytes(b"\x9f" + NOT_UTF8)

    result = run_fx("variants", "list", cwd=tmp_path)

    assert error_line(result) == "fx.toml: not UTF-8 text (byte 0x9f cannot be decoded)"


# --- folders -----------------------------------------------------------------------------------------------


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:  # C2
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")

    result = run_fx("inspect", "--data-dir", str(afile))

    assert error_line(result) == f"--data-dir {afile}: not a directory"


def test_data_dir_empty_in_fx_config(tmp_path: Path) -> None:  # CF8
    config = tmp_path / "cfg.toml"
    config.write_text('data_dir = ""\n')

    result = run_fx("inspect", cwd=tmp_path, env={"FX_CONFIG": str(config)})

    assert error_line(result) == f"{config}: data_dir: is empty (leave it unset for the default)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", "FX_DATA_DIR: data_dir: is empty (leave it unset for the default)", id="CF17"),
        pytest.param(
            "\x1b[31mred\x07",
            r"FX_DATA_DIR: data_dir: '\x1b[31mred\x07': control characters in a folder name",
            id="CF19",
        ),
    ],
)
def test_data_dir_from_the_environment_empty_or_with_control_characters(
    tmp_path: Path, value: str, expected: str
) -> None:
    result = run_fx("inspect", cwd=tmp_path, env={"FX_DATA_DIR": value})

    assert error_line(result) == f"{expected}"


def test_data_dir_option_empty(tmp_path: Path) -> None:
    result = run_fx("inspect", "--data-dir", "", cwd=tmp_path)

    assert error_line(result) == "--data-dir is empty (leave it unset for the default)"


def test_variants_dir_that_is_a_file(tmp_path: Path) -> None:  # V30
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")

    result = run_fx("variants", "list", "--variants-dir", str(afile))

    assert error_line(result) == f"--variants-dir {afile}: not a directory"


def test_variants_dir_from_the_environment_that_is_a_file(tmp_path: Path) -> None:  # CF24
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")

    result = run_fx("variants", "list", cwd=tmp_path, env={"FX_VARIANTS_DIR": str(afile)})

    assert error_line(result) == f"FX_VARIANTS_DIR: variants_dir: {afile}: not a directory"


def test_variants_list_that_finds_nothing_exits_1(tmp_path: Path) -> None:
    result = run_fx("variants", "list", "--type", "CLOSE_ORDER", "--indicator", "EMA", *VARIANTS)

    assert (
        error_line(result, 1)
        == f"no variants match --indicator EMA --type CLOSE_ORDER in {REPO / 'variants'}"
    )


# --- variant files and parameters --------------------------------------------------------------------------

BIG = """schema = 1

[vol_inf]
indicator = "VOLUME"
type = "GENERAL"
params = { window = [60, 0] }

[vol_inf2]
indicator = "VOLUME"
type = "GENERAL"
params = { window = [inf, 0] }

[vol_big]
indicator = "VOLUME"
type = "GENERAL"
params = { window = [1e12, 0] }
"""


def variants_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "variants"
    folder.mkdir()
    (folder / "big.toml").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            BIG + "\n[vc_inf]\nindicator = 'VELOCITY_CASCADE'\ntype = 'GENERAL'\nparams = { long_s = inf }\n",
            "big.toml:21: vc_inf.params.long_s: Input should be less than or equal to 1000000000",
            id="V7",
        ),
        pytest.param(
            BIG + "\n[ema_big]\nindicator = 'EMA'\ntype = 'PRICE'\nparams = { span = 1e12 }\n",
            "big.toml:21: ema_big.params.span: Input should be less than or equal to 1000000000",
            id="V11",
        ),
        pytest.param(
            BIG, "big.toml:16: vol_big.params.window: window (1e+12, 0) reaches back more than", id="V12"
        ),
    ],
)
def test_variants_validate_refuses_windows_and_spans_the_engine_cannot_hold(
    tmp_path: Path, text: str, expected: str
) -> None:
    folder = variants_dir(tmp_path, text)

    result = run_fx("variants", "validate", "--variants-dir", str(folder))

    assert result.returncode == 2
    assert expected in result.stdout
    assert (
        "big.toml:11: vol_inf2.params.window: window (inf, 0) reaches back more than 1e+09 s" in result.stdout
    )


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        pytest.param("[inf,0]", "window (inf, 0) reaches back more than 1e+09 s", id="VC11"),
        pytest.param("[1e300,0]", "window (1e+300, 0) reaches back more than 1e+09 s", id="VC32"),
    ],
)
def test_variants_create_refuses_windows_the_engine_cannot_hold(
    tmp_path: Path, window: str, expected: str
) -> None:
    folder = tmp_path / "variants"

    result = run_fx(
        "variants",
        "create",
        "v1",
        "-i",
        "VOLUME",
        "-t",
        "GENERAL",
        "-p",
        f"window={window}",
        "--variants-dir",
        str(folder),
    )

    assert error_line(result) == f"--param window: {expected} (~31 years)"
    assert not (folder / "custom.toml").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("variants", "compute", "vol_inf2", "-s", "BTCUSDT"),
            ":11: vol_inf2.params.window",
            id="VB_vol_inf2",
        ),
        pytest.param(
            ("variants", "compute", "vol_inf", "vol_inf2", "-s", "BTCUSDT", "--check"),
            ":11: vol_inf2.params.window",
            id="VB_vol_inf",
        ),
        pytest.param(
            ("variants", "compute", "vol_big", "-s", "BTCUSDT"), ":16: vol_big.params.window", id="VB_vol_big"
        ),
        pytest.param(
            ("inspect", "indicators", "BTCUSDT", "-v", "vol_inf2"),
            ":11: vol_inf2.params.window",
            id="VB_ind_inf",
        ),
    ],
)
def test_commands_that_load_a_variant_refuse_its_impossible_window(
    store: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    folder = variants_dir(tmp_path, BIG)

    result = run_fx(
        *args, "--data-dir", str(store), "--variants-dir", str(folder), "--out", str(tmp_path / "out")
    )

    assert error_line(result).startswith(f"{folder / 'big.toml'}{expected}: window (")
