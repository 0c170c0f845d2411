"""Waiting for what an adapter needs from the venue before a live run subscribes (futures: contract
sizes), for as long as it takes, unless the run is stopped first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fxcli.exchange.adapter import Adapter
from fxcli.exchange.rest import RestClient
from fxcli.exchange.venues import ready_adapter


async def ready_or_stopped(
    adapter: Adapter,
    rest: RestClient,
    stop: asyncio.Event,
    on_wait: Callable[[str, float], None] | None = None,
) -> Adapter | None:
    """The ready adapter, or None when `stop` was set before the venue answered."""
    ready = asyncio.ensure_future(ready_adapter(adapter, rest, on_wait=on_wait))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    await asyncio.gather(stopped, return_exceptions=True)
    if ready.done():
        return ready.result()
    ready.cancel()
    await asyncio.gather(ready, return_exceptions=True)
    return None
