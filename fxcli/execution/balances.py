"""The per-asset balance invariant: what the fills (and fees, and transfers) say must equal what
the account says, exactly.

For every asset: Σ fills ± fees ± external transfers == Δ(free + locked). A BUY adds `qty` base and
spends `quote_qty` quote, a SELL the reverse; a fee is taken from `fee_asset` (MEXC charges a buy's
fee in the base asset, a sell's in the quote asset, or in MX with the discount). Locked funds are
still the account's, so free + locked is what moves. Decimal throughout: a mismatch of 1e-8 is a
mismatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from fxcli.model.orders import BUY, Balance, VenueTrade


def fill_deltas(fills: Iterable[VenueTrade], assets: Mapping[str, tuple[str, str]]) -> dict[str, Decimal]:
    """Per asset, how the fills move the account; `assets` maps a symbol to (base, quote).
    A fill on a symbol without assets is a ValueError (the invariant cannot be checked)."""
    deltas: dict[str, Decimal] = {}
    for fill in fills:
        if fill.symbol not in assets:
            raise ValueError(
                f"fill {fill.trade_id} on {fill.symbol}: its base and quote assets are not known"
            )
        base, quote = assets[fill.symbol]
        sign = 1 if fill.side == BUY else -1
        deltas[base] = deltas.get(base, Decimal(0)) + sign * fill.qty
        deltas[quote] = deltas.get(quote, Decimal(0)) - sign * fill.quote_qty
        if fill.fee:
            deltas[fill.fee_asset] = deltas.get(fill.fee_asset, Decimal(0)) - fill.fee
    return deltas


def balance_mismatch(
    before: Mapping[str, Balance],
    after: Mapping[str, Balance],
    fills: Iterable[VenueTrade],
    assets: Mapping[str, tuple[str, str]],
    external: Mapping[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    """The assets whose Δ(free + locked) differs from fills ± fees ± `external` (deposits positive,
    withdrawals negative), each with the unexplained amount (actual - expected); empty when the
    invariant holds. An asset missing on one side counts as zero there."""
    expected = fill_deltas(fills, assets)
    for asset, amount in (external or {}).items():
        expected[asset] = expected.get(asset, Decimal(0)) + amount
    mismatch: dict[str, Decimal] = {}
    for asset in sorted(set(before) | set(after) | set(expected)):
        actual = _total(after.get(asset)) - _total(before.get(asset))
        gap = actual - expected.get(asset, Decimal(0))
        if gap != 0:
            mismatch[asset] = gap
    return mismatch


def _total(balance: Balance | None) -> Decimal:
    return Decimal(0) if balance is None else balance.free + balance.locked
