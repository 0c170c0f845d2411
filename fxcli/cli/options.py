"""Options shared by many commands, declared once, and the checks every option value goes through.

A value that parses but makes no sense (a negative limit, an infinite latency, a NaN fee, an empty
folder name) is refused here, while the command line is read: one `fx: error:` line naming the
option, exit 2, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import Parameter

from fxcli.errors import FxError
from fxcli.model.limits import INT64_MAX, MAX_SECONDS, out_of_range

MAX_BALANCE = 1e12  # quote currency: beyond it sums of fees and P&L lose their cents
MAX_BPS = 10_000.0  # 100 % of the notional
MIN_SPEED, MAX_SPEED = 0.001, 1e9  # replay pace, in multiples of the recorded pace


def option_name(param: Parameter) -> str:
    """`--latency-ms` for an option (its long name), `SYMBOL` for an argument."""
    if param.param_type_name == "argument":
        return (param.name or "value").upper()
    longs = [o for o in param.opts if o.startswith("--")]
    return max(longs or param.opts, key=len)  # -n when it has no long name


def number_in(
    low: float | None, high: float | None, *, low_open: bool = False, high_open: bool = False
) -> Callable[[typer.CallbackParam, Any], Any]:
    """An option callback that lets through a finite number in the interval (or no value at all)."""

    def check(param: typer.CallbackParam, value: Any) -> Any:
        if value is None:
            return None
        problem = out_of_range(value, low, high, low_open=low_open, high_open=high_open)
        if problem:
            raise FxError(f"{option_name(param)} {problem}")
        return value

    return check


def seconds() -> Callable[[typer.CallbackParam, Any], Any]:
    """A duration in seconds: positive, finite, at most `MAX_SECONDS`."""
    return number_in(0.0, MAX_SECONDS, low_open=True)


def count(low: int = 1, high: int = INT64_MAX) -> Callable[[typer.CallbackParam, Any], Any]:
    """A whole number of things (rows, processes, levels) that fits int64."""
    return number_in(low, high)


def on_off(param: typer.CallbackParam, value: Any) -> Any:
    """An option callback for a switch spelled `on` or `off` (any case): True for on."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("on", "off"):
        raise FxError(f"{option_name(param)} {str(value)[:40]!r}: must be on or off")
    return text == "on"


def clock_interval(param: typer.CallbackParam, value: Any) -> Any:
    """An option callback for a clock interval in ms: 0 (off) or within the engine's bounds."""
    if value is None:
        return None
    from fxcli.tasks.backtest import check_clock_ms  # cli reaches the engine through tasks

    try:
        return check_clock_ms(value)
    except ValueError as exc:
        raise FxError(f"{option_name(param)} {exc}") from None


def utf8_text(param: Parameter, value: Any) -> Any:
    """An option callback for text fx writes into a UTF-8 file (a description): bytes of another
    encoding in the command line (Python keeps them as lone surrogates) cannot be written."""
    for text in value if isinstance(value, list | tuple) else [value]:
        if isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise FxError(f"{option_name(param)} {text!r}: not UTF-8 text") from None
    return value


def folder_option(option: str) -> Callable[[str], Path]:
    """Parse a folder option from its raw text (a Path would turn '' into '.': the current folder)."""

    def parse(text: str) -> Path:
        from fxcli.settings import folder_problem

        problem = folder_problem(text)
        if problem:
            raise FxError(f"{option} {problem}")
        return Path(text)

    return parse


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Store root (default ./data; also FX_DATA_DIR or data_dir in fx.toml).",
        show_default=False,
        parser=folder_option("--data-dir"),
    ),
]
VariantsDir = Annotated[
    Path | None,
    typer.Option(
        "--variants-dir",
        help="Folder of variant files (default ./variants; also FX_VARIANTS_DIR or variants_dir in fx.toml).",
        show_default=False,
        parser=folder_option("--variants-dir"),
    ),
]
StrategiesDir = Annotated[
    Path | None,
    typer.Option(
        "--strategies-dir",
        help="Folder of strategy files (default ./strategies; FX_STRATEGIES_DIR; strategies_dir in fx.toml).",
        show_default=False,
        parser=folder_option("--strategies-dir"),
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
Exchange = Annotated[
    str | None,
    typer.Option("--exchange", "-e", help="Exchange name as stored (needed when a symbol is on several)."),
]
From = Annotated[
    str | None, typer.Option("--from", help="Start time: ISO-8601 (UTC unless zoned) or epoch s/ms/ns.")
]
To = Annotated[str | None, typer.Option("--to", help="End time (inclusive), same forms as --from.")]
Proxy = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        help="Every venue connection (WebSocket and REST) through this proxy: http(s)://host:port or "
        "socks5h://host:port (SOCKS needs pip install 'fx[socks]'). Also FX_PROXY or proxy in fx.toml; "
        "proxies in the environment are never used.",
        show_default=False,
    ),
]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="MEXC API key file, mode 0600 (default: FX_MEXC_API_KEY / FX_MEXC_API_SECRET, or key_file "
        "in fx.toml [live]); the keys are never printed.",
        show_default=False,
    ),
]
JournalFile = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        help="The order journal, SQLite (default <data-dir>/orders/journal.sqlite).",
        show_default=False,
    ),
]

Balance = Annotated[
    float,
    typer.Option(
        callback=number_in(0.0, MAX_BALANCE, low_open=True),
        help=f"Starting (paper) balance per symbol, in quote (USDT); in (0, {MAX_BALANCE:g}].",
    ),
]
FeeBps = Annotated[
    float,
    typer.Option(callback=number_in(0.0, MAX_BPS), help="Taker fee in bps of notional, 0 to 10000."),
]
LatencyMs = Annotated[
    float,
    typer.Option(
        callback=number_in(0.0, MAX_SECONDS * 1000),
        help="Decision-to-execution latency; an order due after the last event is not filled.",
    ),
]
ClockMs = Annotated[
    int | None,
    typer.Option(
        callback=clock_interval,
        help="Clock tick every this many ms of exchange time: time-weighted indicators and the strategy "
        "are evaluated while no trade comes; 0 turns it off. Default: the strategy file's clock_ms "
        "(1000 when it has none).",
        show_default=False,
    ),
]
SlippageBps = Annotated[
    float,
    typer.Option(
        callback=number_in(0.0, MAX_BPS), help="Slippage when only the last trade is known, 0 to 10000."
    ),
]
RotateAfterS = Annotated[
    float | None,
    typer.Option(callback=seconds(), hidden=True, help="Rotate connections this often (testing)."),
]


MAX_JOBS = 1024
Jobs = Annotated[
    int | None,
    typer.Option(
        callback=count(1, MAX_JOBS),
        help="Worker processes, 1 to 1024 (default: one per core; 1 imports in this process).",
        show_default=False,
    ),
]
Notify = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        metavar="URL",
        help="Send notifications to URL (repeatable): an http(s) webhook, telegram://CHAT_ID "
        "(token in FX_TELEGRAM_TOKEN) or a Discord webhook URL; also notify in fx.toml.",
        show_default=False,
    ),
]
NotifyOn = Annotated[
    str | None,
    typer.Option(
        "--notify-on",
        metavar="EVENTS",
        help="What to notify, comma-separated: signal, entry, exit, fill, gap, error, daily "
        "(fx stream default: entry,exit,gap,error,daily; fx record: gap,error,daily).",
        show_default=False,
    ),
]
