"""Settings: command-line options > `FX_*` environment > `fx.toml` > defaults.

# fx.toml (in the working directory, or the file named by FX_CONFIG)
data_dir = "/srv/fx/data"
variants_dir = "/srv/fx/variants"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fxcli.errors import FxError

CONFIG_ENV = "FX_CONFIG"
DEFAULT_CONFIG = Path("fx.toml")


class Settings(BaseModel):
    """Everything fx reads from the environment or a config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(Path("data"), description="Root of the Parquet store.")
    variants_dir: Path = Field(Path("variants"), description="Folder of the variant files (*.toml).")
    strategies_dir: Path = Field(Path("strategies"), description="Folder of the strategy files (*.toml).")


def _config_path() -> Path | None:
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise FxError(f"{CONFIG_ENV}={named}: no such file")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FxError(f"{path}: {exc}") from None
    except OSError as exc:
        raise FxError(f"{path}: {exc.strerror}") from None


def load_settings(**cli: Any) -> Settings:
    """Merge the four sources; `cli` values that are None do not override."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = _config_path()
    if path is not None:
        for key, value in _read_toml(path).items():
            merged[key], sources[key] = value, str(path)
    for name in Settings.model_fields:
        env = f"FX_{name.upper()}"
        if env in os.environ:
            merged[name], sources[name] = os.environ[env], env
    for key, value in cli.items():
        if value is not None:
            merged[key], sources[key] = value, f"--{key.replace('_', '-')}"
    try:
        return Settings(**merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        where = sources.get(str(error["loc"][0]), "settings") if error["loc"] else "settings"
        raise FxError(f"{where}: {key}: {error['msg']}") from None
