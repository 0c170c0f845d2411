"""Gap accounting for one connection slot: a symbol's hole opens when no live connection carries its
channels any more, and closes only when every one of its channels is subscribed again.

A hole starts at the venue time of the last push the lost connection delivered (its send time): the
venue sent everything before it on that connection and fx received it, so nothing earlier is
missing; with 100 ms of network latency, a local receive time would start the gap after trades the
venue sent just before the drop. It ends at the local time the last of the symbol's channels was
acknowledged again. A channel refused or unanswered after a reconnect keeps its symbol's gap open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fxcli.exchange.adapter import Channel
from fxcli.model.events import Gap, GapReason

# Close codes that say the server went away on purpose (restart, maintenance) vs. told us to slow down.
SERVER_RESTART_CODES = frozenset({1001, 1012})
RATE_LIMIT_CODES = frozenset({1008, 1013})


def gap_reason(code: int | None, detail: str) -> GapReason:
    """Why a lost connection's channels have a hole, from its close code and detail."""
    text = detail.lower()
    if code in RATE_LIMIT_CODES or "rate" in text or "too many" in text:
        return GapReason.RATE_LIMITED
    if code in SERVER_RESTART_CODES:
        return GapReason.SERVER_RESTART
    return GapReason.DISCONNECT


@dataclass
class _Open:
    start_ns: int
    reason: GapReason
    detail: str


class SlotGaps:
    """The open holes of one slot's symbols."""

    def __init__(self, by_symbol: Mapping[str, Sequence[Channel]]) -> None:
        self.by_symbol = by_symbol
        self.rate_limited_while_down = False
        self._open: dict[str, _Open] = {}

    def __bool__(self) -> bool:
        return bool(self._open)

    def on_loss(
        self, lost: set[str], covered: set[str], start_ns: int, reason: GapReason, detail: str
    ) -> list[tuple[str, tuple[Channel, ...]]]:
        """A connection whose active channels were `lost` ended and the live ones carry `covered`:
        open a hole for each symbol that had a channel only there. Returns the symbols opened now and
        the channels each lost."""
        opened: list[tuple[str, tuple[Channel, ...]]] = []
        for symbol, channels in self.by_symbol.items():
            gone = tuple(c for c in channels if c.name in lost and c.name not in covered)
            if gone and symbol not in self._open:
                self._open[symbol] = _Open(start_ns, reason, detail)
                opened.append((symbol, gone))
        self.rate_limited_while_down = False
        return opened

    def on_active(self, active: set[str], end_ns: int, how: str) -> list[Gap]:
        """Close the holes of symbols whose channels are all in `active` now."""
        closed = []
        for symbol in list(self._open):
            if all(c.name in active for c in self.by_symbol[symbol]):
                closed.append(self._close(symbol, end_ns, how))
        return closed

    def close_all(self, end_ns: int, how: str) -> list[Gap]:
        """Close every hole (the manager stops)."""
        return [self._close(symbol, end_ns, how) for symbol in list(self._open)]

    def _close(self, symbol: str, end_ns: int, how: str) -> Gap:
        hole = self._open.pop(symbol)
        reason = GapReason.RATE_LIMITED if self.rate_limited_while_down else hole.reason
        return Gap(symbol, hole.start_ns, max(hole.start_ns, end_ns), reason, f"{hole.detail}; {how}")
