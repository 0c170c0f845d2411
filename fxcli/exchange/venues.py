"""The live venues fx speaks: the store's exchange name, the real endpoints, and how to build each adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Endpoints
from fxcli.exchange.mexc_futures import ENDPOINTS as FUTURES_ENDPOINTS
from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import ENDPOINTS as SPOT_ENDPOINTS
from fxcli.exchange.mexc_spot import MexcSpot


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
