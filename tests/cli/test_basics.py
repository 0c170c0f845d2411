"""The command line as a whole: help, version, settings precedence, README coverage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fxcli import __version__
from tests.conftest import FIXTURES, REPO, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
COMMANDS = [
    "import binance",
    "import tardis",
    "import binance-vision",
    "download binance-vision",
    "inspect",
    "inspect coverage",
    "inspect quality",
    "inspect trades",
    "inspect book",
    "inspect indicators",
    "variants list",
    "variants show",
    "variants create",
    "variants edit",
    "variants delete",
    "variants validate",
    "variants compute",
    "backtest",
    "record",
    "doctor",
    "stream",
    "orders list",
    "orders cancel",
    "orders reconcile",
    "flatten",
    "optimize run",
    "optimize list",
    "optimize show",
    "optimize export",
    "optimize walk-forward",
    "optimize report",
    "optimize robustness",
    "optimize unlock",
]


def test_help_lists_only_working_commands() -> None:
    result = run_fx("--help")

    assert result.returncode == 0
    listed = set(re.findall(r"^\s*│?\s*(\w+)\s{2,}", result.stdout, flags=re.MULTILINE))
    assert {"import", "inspect", "variants", "backtest", "record", "doctor", "stream", "optimize"} <= listed


def test_version_prints_version() -> None:
    result = run_fx("--version")

    assert (result.returncode, result.stdout.strip()) == (0, f"fx {__version__}")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_a_readme_entry(command: str) -> None:
    result = run_fx(*command.split(), "--help")
    readme = (REPO / "README.md").read_text(encoding="utf-8")

    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert f"fx {command}" in readme


def test_unknown_command_is_a_usage_error() -> None:
    assert run_fx("nonsense").returncode == 2


def import_sample(data_dir: Path, cwd: Path, env: dict[str, str] | None = None, *extra: str) -> str:
    result = run_fx("import", "binance", str(SAMPLE), *extra, "--json", cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["rows_added"])


def test_settings_precedence_cli_over_env_over_toml_over_default(tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text('data_dir = "from_toml"\n')

    import_sample(tmp_path, tmp_path)
    import_sample(tmp_path, tmp_path, {"FX_DATA_DIR": str(tmp_path / "from_env")})
    import_sample(tmp_path, tmp_path, {"FX_DATA_DIR": str(tmp_path / "from_env2")}, "--data-dir", "from_cli")
    (tmp_path / "fx.toml").unlink()
    import_sample(tmp_path, tmp_path)

    made = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert made == ["data", "from_cli", "from_env", "from_toml"]


def test_bad_config_key_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text('data_dri = "x"\n')

    result = run_fx("inspect", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == "fx: error: fx.toml: data_dri: Extra inputs are not permitted"


def test_broken_config_file_is_one_line_with_position(tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text("data_dir = \n")

    result = run_fx("inspect", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("fx: error: fx.toml: ")
    assert "line 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
