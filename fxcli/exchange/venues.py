"""The live venues fx speaks: the store's exchange name, the real endpoints, and how to build each adapter.

Some adapters need facts from the venue before they can decode: MEXC futures quantities are
contracts, and the contract sizes that turn them into base units come from its contract list.
`ready_adapter` fetches them (retrying until it has them, as a recorder never gives up) so that
nothing is ever stored in contracts.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Endpoints
from fxcli.exchange.mexc_futures import ENDPOINTS as FUTURES_ENDPOINTS
from fxcli.exchange.mexc_futures import MexcFutures, decode_contract_sizes
from fxcli.exchange.mexc_spot import ENDPOINTS as SPOT_ENDPOINTS
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.exchange.pacing import Backoff
from fxcli.exchange.rest import RestClient, RestError

log = logging.getLogger(__name__)


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


async def ready_adapter(
    adapter: Adapter,
    rest: RestClient,
    *,
    on_wait: Callable[[str, float], None] | None = None,
    backoff: Backoff | None = None,
) -> Adapter:
    """`adapter` with what it needs from the venue before decoding (futures: contract sizes), fetched
    again and again (capped backoff) until the venue answers; `on_wait(reason, delay_s)` hears why
    it waits. Adapters that need nothing come back as they are."""
    if not isinstance(adapter, MexcFutures) or adapter.contract_sizes is not None:
        return adapter
    backoff = backoff or Backoff(0.5, 30.0, rng=random.Random())
    while True:
        try:
            body, _ = await rest.get(adapter.contract_detail_url())
            return adapter.with_contract_sizes(decode_contract_sizes(body))
        except (RestError, ValueError) as exc:
            delay = backoff.next_delay()
            reason = f"contract sizes from {adapter.contract_detail_url()}: {exc}"
            log.warning("%s; retry in %.1f s", reason, delay)
            if on_wait is not None:
                on_wait(reason, delay)
            await asyncio.sleep(delay)


def unit_meta(adapter: Adapter, symbol: str) -> dict[str, str | float]:
    """What a store folder of `symbol` records about its quantities: the unit, and the contract size
    that turned the venue's contracts into base units (futures)."""
    if isinstance(adapter, MexcFutures) and adapter.contract_sizes is not None:
        size = adapter.contract_size(symbol)
        return {"qty_unit": "base", "contract_size": size} if size is not None else {"qty_unit": "base"}
    return {"qty_unit": "base"}
