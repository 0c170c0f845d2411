"""The live venues fx speaks, and where each one's endpoints come from (CLI > env > fx.toml > default).

`fx record`, `fx doctor` (and `fx stream`) resolve a venue the same way: the adapter's real endpoints
unless `--ws-url` / `--rest-url`, `FX_MEXC_SPOT_WS_URL`-style variables or `mexc_spot_ws_url`-style
keys in fx.toml say otherwise, and every URL carries the name of the source that set it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Endpoints
from fxcli.exchange.mexc_futures import ENDPOINTS as FUTURES_ENDPOINTS
from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import ENDPOINTS as SPOT_ENDPOINTS
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.settings import DEFAULT_SOURCE, REST_SCHEMES, WS_SCHEMES, Settings, check_url


@dataclass(frozen=True)
class Venue:
    """A venue name as stored, its real endpoints, and how to build its adapter."""

    name: str
    defaults: Endpoints
    make: Callable[[Endpoints], Adapter]
    example_symbol: str


VENUES: dict[str, Venue] = {
    "mexc-spot": Venue("mexc-spot", SPOT_ENDPOINTS, MexcSpot, "BTCUSDT"),
    "mexc-futures": Venue("mexc-futures", FUTURES_ENDPOINTS, MexcFutures, "BTC_USDT"),
}


@dataclass(frozen=True)
class ResolvedEndpoints:
    """A venue's effective endpoints and the source of each ("default", a config path, `FX_*`, `--opt`)."""

    venue: str
    ws_url: str
    ws_source: str
    rest_url: str
    rest_source: str

    @property
    def endpoints(self) -> Endpoints:
        """As the adapters take them."""
        return Endpoints(ws_url=self.ws_url, rest_url=self.rest_url)


def venue_named(name: str) -> Venue:
    """The venue called `name`, or an FxError listing the known ones."""
    venue = VENUES.get(name.strip().lower())
    if venue is None:
        raise FxError(f"--exchange {name!r} is not one of {', '.join(VENUES)}")
    return venue


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
