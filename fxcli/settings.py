"""Settings: command-line options > `FX_*` environment > `fx.toml` > defaults.

# fx.toml (in the working directory, or the file named by FX_CONFIG)
data_dir = "/srv/fx/data"
variants_dir = "/srv/fx/variants"
mexc_spot_ws_url = "ws://127.0.0.1:8765/ws"   # endpoint overrides; unset means the venue's real ones
mexc_spot_rest_url = "http://127.0.0.1:8766"
proxy = "socks5h://127.0.0.1:1080"              # every venue connection through it; unset: none
binance_vision_url = "https://data.binance.vision" # fx download's archive (a mirror); unset: this one
cache_dir = "/srv/fx/binance-vision"               # the archive's mirror; unset: ~/.cache/fx/binance-vision
notify = ["telegram://-1001234567890", "https://hooks.example.org/fx"]  # fx stream / fx record
notify_on = "entry,exit,gap,error,daily"           # unset: the command's default set

[live]                                             # fx stream --live (see fxcli.execution.risk)
max_order_notional = 25
max_total_notional = 100
max_open_positions = 2
max_daily_loss = 20
key_file = "/home/me/.config/fx/mexc.key"          # mode 0600; or FX_MEXC_API_KEY / FX_MEXC_API_SECRET
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
import urllib.parse
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fxcli.errors import FxError, not_utf8

CONFIG_ENV = "FX_CONFIG"
DEFAULT_CONFIG = Path("fx.toml")
DEFAULT_SOURCE = "default"
WS_SCHEMES = ("ws", "wss")
REST_SCHEMES = ("http", "https")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def check_url(value: str, schemes: tuple[str, ...]) -> str:
    """`value` if it is an absolute URL with one of `schemes` and a host, else raise `ValueError`.

    >>> check_url("wss://wbs-api.mexc.com/ws", WS_SCHEMES)
    'wss://wbs-api.mexc.com/ws'
    >>> check_url("wbs-api.mexc.com", WS_SCHEMES)
    Traceback (most recent call last):
    ...
    ValueError: 'wbs-api.mexc.com' is not a ws:// or wss:// URL with a host
    """
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urllib.parse.urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise ValueError(f"{value!r} is not a {wanted} URL with a host") from None
    if parts.scheme.lower() not in schemes or not parts.hostname or not port_ok or value != value.strip():
        raise ValueError(f"{value!r} is not a {wanted} URL with a host")
    return value


def folder_problem(text: str) -> str | None:
    """Why `text` cannot name a folder fx reads or writes ('' would silently mean the current one)."""
    if not text.strip():
        return "is empty (leave it unset for the default)"
    if any(unicodedata.category(ch) == "Cc" for ch in text):  # a newline, an escape: never a sane name
        return f"{text!r}: control characters in a folder name"
    if Path(text).exists() and not Path(text).is_dir():
        return f"{text}: not a directory"
    return None


class LiveSettings(BaseModel):
    """`[live]` of fx.toml: real orders' limits and keys; options override each key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_notional: float | None = Field(None, gt=0, allow_inf_nan=False, description="Quote per order.")
    max_total_notional: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Quote over open positions and orders in flight."
    )
    max_open_positions: int | None = Field(None, gt=0, description="Symbols holding a position at once.")
    max_daily_loss: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Realised quote loss since 00:00 UTC that stops entries."
    )
    key_file: Path | None = Field(None, description="The API key file (mode 0600).")
    journal: Path | None = Field(
        None, description="The order journal (unset: <data_dir>/orders/journal.sqlite)."
    )
    dead_man_s: float = Field(
        10.0,
        gt=0,
        allow_inf_nan=False,
        description="No engine heartbeat for this long: open entries cancelled.",
    )
    unfilled_timeout_s: float = Field(
        30.0, gt=0, allow_inf_nan=False, description="An entry order still open after this long is cancelled."
    )
    cancel_on_exit: bool = Field(True, description="Cancel every open fx order when fx stream --live stops.")


class Settings(BaseModel):
    """Everything fx reads from the environment or a config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(Path("data"), description="Root of the Parquet store.")
    variants_dir: Path = Field(Path("variants"), description="Folder of the variant files (*.toml).")
    strategies_dir: Path = Field(Path("strategies"), description="Folder of the strategy files (*.toml).")
    mexc_spot_ws_url: str | None = Field(None, description="MEXC spot WebSocket URL (unset: the real one).")
    mexc_spot_rest_url: str | None = Field(None, description="MEXC spot REST base URL (unset: the real one).")
    mexc_spot_user_ws_url: str | None = Field(
        None, description="MEXC spot user-data WebSocket URL for --live (unset: the spot WebSocket URL)."
    )
    mexc_futures_ws_url: str | None = Field(
        None, description="MEXC futures WebSocket URL (unset: the real one)."
    )
    mexc_futures_rest_url: str | None = Field(
        None, description="MEXC futures REST base URL, up to /api/v1/contract (unset: the real one)."
    )
    proxy: str | None = Field(
        None,
        description="Proxy for every venue connection (http, https, socks5, socks5h); unset: none, "
        "whatever http_proxy / https_proxy / all_proxy say.",
    )

    binance_vision_url: str | None = Field(
        None, description="Base URL of Binance's public archive (unset: https://data.binance.vision)."
    )
    cache_dir: Path | None = Field(
        None,
        description="Folder fx download mirrors the archive's paths into "
        "(unset: $XDG_CACHE_HOME/fx/binance-vision, or ~/.cache/fx/binance-vision).",
    )
    live: LiveSettings = Field(default_factory=LiveSettings, description="fx stream --live: limits and keys.")

    notify: tuple[str, ...] = Field(
        (),
        description="Where fx stream and fx record send notifications: http(s) webhooks, telegram://CHAT_ID, "
        "Discord webhook URLs (FX_NOTIFY: separated by spaces).",
    )
    notify_on: str | None = Field(
        None, description="Comma-separated events to notify (signal,entry,exit,fill,gap,error,daily)."
    )
    notify_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds one notification request may take before it is retried."
    )

    @field_validator("notify", mode="before")
    @classmethod
    def _notify_list(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value

    @field_validator("data_dir", "variants_dir", "strategies_dir", "cache_dir", mode="before")
    @classmethod
    def _folder(cls, value: Any) -> Any:
        if isinstance(value, str | Path):
            problem = folder_problem(str(value))
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("mexc_spot_ws_url", "mexc_spot_user_ws_url", "mexc_futures_ws_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, WS_SCHEMES)

    @field_validator("mexc_spot_rest_url", "mexc_futures_rest_url", "binance_vision_url")
    @classmethod
    def _rest_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, REST_SCHEMES)

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_url(value, PROXY_SCHEMES)
        parts = urllib.parse.urlsplit(value)
        if parts.port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{value!r}: a proxy URL is scheme://[user:password@]host:port, nothing more")
        return value


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
    except UnicodeDecodeError as exc:
        raise FxError(not_utf8(path, exc)) from None
    except OSError as exc:
        raise FxError(f"{path}: {exc.strerror}") from None


def load_settings(**cli: Any) -> Settings:
    """Merge the four sources; `cli` values that are None do not override."""
    return load_settings_sourced(**cli)[0]


def load_settings_sourced(**cli: Any) -> tuple[Settings, dict[str, str]]:
    """`load_settings`, plus where each setting came from: "default", the config file's path,
    the `FX_*` variable's name, or the `--option`."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = _config_path()
    if path is not None:
        for key, value in _read_toml(path).items():
            merged[key], sources[key] = value, str(path)
    for name in Settings.model_fields:
        if name == "live":  # a table: fx.toml only (its secrets come from FX_MEXC_API_*, not FX_LIVE)
            continue
        env = f"FX_{name.upper()}"
        if env in os.environ:
            merged[name], sources[name] = os.environ[env], env
    for key, value in cli.items():
        if value is not None:
            merged[key], sources[key] = value, f"--{key.replace('_', '-')}"
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        where = sources.get(str(error["loc"][0]), "settings") if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise FxError(f"{where}: {key}: {message}") from None
    return settings, {name: sources.get(name, DEFAULT_SOURCE) for name in Settings.model_fields}
