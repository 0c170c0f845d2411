"""What order logic needs of a venue: reconciliation's reads plus the calls that place and cancel.

`fxcli.exchange.mexc_private.client.PrivateClient` is the real one; tests pass it pointed at the fake
venue (tests/fake_mexc_private), never a stand-in.
"""

from __future__ import annotations

from typing import Protocol

from fxcli.exchange.mexc_private.rules import SymbolRules
from fxcli.execution.reconcile import OrderClient
from fxcli.model.orders import Ack, OrderRequest, VenueOrder


class OrderVenue(OrderClient, Protocol):
    """The private calls the broker, the kill switch and `fx orders` make."""

    async def exchange_info(self, symbols: list[str] | None = None) -> dict[str, SymbolRules]: ...

    async def new_order(self, req: OrderRequest) -> Ack: ...

    async def test_order(self, req: OrderRequest) -> None: ...

    async def cancel_order(
        self, symbol: str, *, client_id: str | None = None, order_id: str | None = None
    ) -> VenueOrder: ...

    async def cancel_open_orders(self, symbol: str) -> list[VenueOrder]: ...
