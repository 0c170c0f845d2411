"""F23 (docs/mexc-orders.md §5): a symbol's exchangeInfo changed between the session's start and an
order, so the venue refuses an order fx built from stale rules (a new precision, a new minimum or
maximum notional, a paused or sell-only symbol).

Such a refusal is definitive — nothing was placed — so the broker may ask for the symbol's rules
again and, when they did change, re-check the ask and send it once more under a NEW client id (the
first intent stays journaled as rejected). When the rules did not change, the refusal is the ask's
outcome, as any reject.
"""

from __future__ import annotations

from typing import Protocol

from fxcli.exchange.mexc_private.errors import OutcomeUnknown, VenueError
from fxcli.exchange.mexc_private.rules import SymbolRules

# 30002 below the minimum, 30003 above the maximum, 30000 paused, 30001 side not allowed
# (tradeSideType), 30016 offline, 10007 no API spot trading; HTTP 400 "... scale is invalid": a
# precision the order broke.
RULE_CODES = frozenset({10007, 30000, 30001, 30002, 30003, 30016})


class RulesSource(Protocol):
    async def exchange_info(self, symbols: list[str] | None = None) -> dict[str, SymbolRules]: ...


def stale_rules_reject(exc: VenueError) -> bool:
    """`exc` is a definitive refusal that stale symbol rules explain."""
    if isinstance(exc, OutcomeUnknown):
        return False
    return exc.code in RULE_CODES or (exc.code == 400 and "scale is invalid" in exc.msg)


async def changed_rules(client: RulesSource, rules: SymbolRules) -> SymbolRules | None:
    """The symbol's rules as the venue states them now, when they differ from `rules`; None when
    they are the same, the symbol is gone from the answer, or the venue cannot be asked (the reject
    then stands: a resend is only ever made against rules that are known)."""
    try:
        fresh = (await client.exchange_info([rules.symbol])).get(rules.symbol)
    except VenueError:
        return None
    return fresh if fresh is not None and fresh != rules else None
