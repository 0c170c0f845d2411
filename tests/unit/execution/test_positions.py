"""The position fx holds is summed from its own fills only: the journal also keeps the account's
foreign trades (for the balance check), and flatten must never sell what the user bought elsewhere."""

from __future__ import annotations

from decimal import Decimal

from fxcli.execution.killswitch import positions
from tests.unit.execution.fills import pepe_fill


def test_positions_count_fx_fills_and_ignore_trades_of_orders_placed_outside_fx() -> None:
    fills = [
        pepe_fill("1X1", qty="100", client_id="fxaaaaaae00000001", fee="1"),  # fx's buy, fee in base
        pepe_fill("2X1", qty="30", client_id="fxaaaaaax00000002", side="SELL"),  # fx's partial exit
        pepe_fill("3X1", qty="500", client_id="web1"),  # bought on the web: the user's
        pepe_fill("4X1", qty="7", client_id=""),  # an app order (no client id): the user's
    ]

    assert positions(fills, {}) == {"PEPEUSDT": Decimal(70)}  # no rules given: fees not netted
