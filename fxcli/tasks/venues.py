"""Where each live venue's endpoints come from for a run (CLI > env > fx.toml > default).

`fx record`, `fx doctor` (and `fx stream`) resolve a venue the same way: the adapter's real endpoints
unless `--ws-url` / `--rest-url`, `FX_MEXC_SPOT_WS_URL`-style variables or `mexc_spot_ws_url`-style
keys in fx.toml say otherwise, and every URL carries the name of the source that set it.
"""

from __future__ import annotations

from typing import Any

from fxcli.errors import FxError
from fxcli.exchange.proxy import proxy_problem
from fxcli.exchange.venues import ResolvedEndpoints, Venue
from fxcli.settings import DEFAULT_SOURCE, REST_SCHEMES, WS_SCHEMES, Settings, check_url


def settings_key(venue: str, which: str) -> str:
    """The settings field of a venue's `ws` or `rest` URL: `mexc_spot_ws_url`."""
    return f"{venue.replace('-', '_')}_{which}_url"


def resolve_endpoints(
    venue: Venue,
    settings: Settings,
    sources: dict[str, str],
    *,
    ws_url: str | None = None,
    rest_url: str | None = None,
) -> ResolvedEndpoints:
    """Where `venue` lives for this run; `ws_url` / `rest_url` are the command-line overrides."""
    resolved: list[tuple[str, str]] = []
    for which, cli_value, schemes, default in (
        ("ws", ws_url, WS_SCHEMES, venue.defaults.ws_url),
        ("rest", rest_url, REST_SCHEMES, venue.defaults.rest_url),
    ):
        key = settings_key(venue.name, which)
        configured: Any = getattr(settings, key)
        if cli_value is not None:
            try:
                resolved.append((check_url(cli_value, schemes), f"--{which}-url"))
            except ValueError as exc:
                raise FxError(f"--{which}-url: {exc}") from None
        elif configured is not None:
            resolved.append((str(configured), sources.get(key, DEFAULT_SOURCE)))
        else:
            resolved.append((default, DEFAULT_SOURCE))
    (ws, ws_source), (rest, rest_source) = resolved
    return ResolvedEndpoints(venue.name, ws, ws_source, rest, rest_source)


def checked_proxy(settings: Settings, sources: dict[str, str]) -> str | None:
    """The proxy the user asked for (`--proxy`, FX_PROXY, fx.toml), or an FxError naming where it was
    set when a package it needs is missing."""
    problem = proxy_problem(settings.proxy)
    if problem is not None:
        raise FxError(f"{sources.get('proxy', DEFAULT_SOURCE)}: {problem}")
    return settings.proxy
