"""The owner side of `UserStream` tests: callbacks that record, and a stream running for a block."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from fxcli.exchange.mexc_private.pushes import Push
from fxcli.exchange.mexc_private.userstream import ListenKeyClient, UserStream
from fxcli.exchange.pacing import Backoff
from fxcli.model.orders import AccountPush, OrderPush, VenueOrder, VenueTrade
from tests.live.support import until


@dataclass
class Owner:
    """What the stream's owner receives, in order."""

    pushes: list[tuple[str, Push]] = field(default_factory=list)
    reconnects: list[int] = field(default_factory=list)

    def on_order(self, push: OrderPush) -> None:
        self.pushes.append(("order", push))

    def on_trade(self, push: VenueTrade) -> None:
        self.pushes.append(("trade", push))

    def on_account(self, push: AccountPush) -> None:
        self.pushes.append(("account", push))

    async def on_reconnect(self, since_ms: int) -> None:
        await asyncio.sleep(0)  # the owner would call myTrades here
        self.reconnects.append(since_ms)


@asynccontextmanager
async def streaming(
    client: ListenKeyClient, ws_url: str, owner: Owner, **options: object
) -> AsyncIterator[UserStream]:
    """A running stream, stopped (and its keys deleted) on exit."""
    settings: dict[str, object] = {
        "ping_s": 0.2,
        "silence_s": 2.0,
        "backoff": Backoff(0.01, 0.05),
    }
    settings.update(options)
    callbacks: dict[str, object] = {
        "on_order": owner.on_order,
        "on_trade": owner.on_trade,
        "on_account": owner.on_account,
        "on_reconnect": owner.on_reconnect,
    }
    callbacks.update({k: settings.pop(k) for k in list(settings) if k in callbacks})
    stream = UserStream(client, ws_url, **callbacks, **settings)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(stream.run(stop))
    try:
        await until(lambda: stream.connected, 5.0, "the first subscription")
        yield stream
    finally:
        stop.set()
        await asyncio.wait_for(task, 5.0)


def open_order(order_id: str, created_ms: int, executed: str = "0") -> VenueOrder:
    """An open PEPEUSDT order as `GET /openOrders` would describe it."""
    return VenueOrder(
        symbol="PEPEUSDT",
        order_id=order_id,
        client_id="fxk7q2m9e00000002",
        side="BUY",
        type="LIMIT",
        status="NEW",
        price=Decimal("0.0000101"),
        orig_qty=Decimal("1000000"),
        executed_qty=Decimal(executed),
        cum_quote=Decimal(0),
        time_ms=created_ms,
    )
