"""The balance invariant: fills ± fees ± transfers explain Δ(free + locked) to the last digit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fxcli.execution.balances import balance_mismatch, fill_deltas
from fxcli.model.orders import Balance, VenueTrade
from tests.unit.execution.fills import pepe_fill

ASSETS = {"PEPEUSDT": ("PEPE", "USDT")}


def trade(tid: str, side: str, qty: str, quote: str, fee: str, fee_asset: str) -> VenueTrade:
    return pepe_fill(tid, side=side, qty=qty, quote=quote, fee=fee, fee_asset=fee_asset)


def bal(asset: str, free: str, locked: str = "0") -> Balance:
    return Balance(asset, Decimal(free), Decimal(locked))


FILLS = [
    trade("1X1", "BUY", "400000", "4.04", "200", "PEPE"),
    trade("2X1", "SELL", "100000", "1.01", "0.000505", "USDT"),
]


def test_fill_deltas_buy_adds_base_spends_quote_and_fee_leaves_its_asset() -> None:
    deltas = fill_deltas(FILLS, ASSETS)

    assert deltas == {"PEPE": Decimal("299800"), "USDT": Decimal("-3.030505")}


def test_balance_invariant_holds_with_locked_funds_and_a_deposit() -> None:
    before = {"USDT": bal("USDT", "100"), "PEPE": bal("PEPE", "0")}
    after = {"USDT": bal("USDT", "90.969495", "10"), "PEPE": bal("PEPE", "299800")}

    mismatch = balance_mismatch(before, after, FILLS, ASSETS, external={"USDT": Decimal(4)})

    assert mismatch == {}


def test_balance_invariant_names_the_asset_and_the_unexplained_amount() -> None:
    before = {"USDT": bal("USDT", "100")}
    after = {"USDT": bal("USDT", "96.969495"), "PEPE": bal("PEPE", "299799.99999999")}

    mismatch = balance_mismatch(before, after, FILLS, ASSETS)

    assert mismatch == {"PEPE": Decimal("-0.00000001")}


def test_fill_on_a_symbol_without_assets_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1X1 on PEPEUSDT"):
        fill_deltas(FILLS, {"BTCUSDT": ("BTC", "USDT")})
