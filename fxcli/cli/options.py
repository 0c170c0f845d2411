"""Options shared by many commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer._click import Parameter


def option_name(param: Parameter) -> str:
    """`--latency-ms` for an option (its long name), `SYMBOL` for an argument."""
    longs = [o for o in param.opts if o.startswith("--")]
    return max(longs, key=len) if longs else (param.name or "value").upper()


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Store root (default ./data; also FX_DATA_DIR or data_dir in fx.toml).",
        show_default=False,
    ),
]
VariantsDir = Annotated[
    Path | None,
    typer.Option(
        "--variants-dir",
        help="Folder of variant files (default ./variants; also FX_VARIANTS_DIR or variants_dir in fx.toml).",
        show_default=False,
    ),
]
StrategiesDir = Annotated[
    Path | None,
    typer.Option(
        "--strategies-dir",
        help="Folder of strategy files (default ./strategies; FX_STRATEGIES_DIR; strategies_dir in fx.toml).",
        show_default=False,
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
