"""Faults of docs/mexc-orders.md §5 as knobs: each armed with `when` (the nth matching request, a
regex over "METHOD /path" or a push channel, a client order id), a number of `times`, and a seeded
probability, so a fault campaign replays exactly from its seed.

REST kinds act on one request; push kinds on one push. Venue-wide knobs (clock skew, read-after-write
lag, duplicate client id mode, cancel status, partial fills, listenKey death) are attributes and
methods of `FakePrivateVenue` instead.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

# kind -> what it does (the docstring of each knob, kept next to the names the admin API accepts)
REST_KINDS = {
    "lost_response": "F1: process the request, then drop the connection without an answer",
    "drop_request": "F2: drop the connection before the venue sees the request",
    "not_found": "F3: GET /order answers -2013 although the order exists",
    "server_error": "F4: answer `status` (500/503/504) with an HTML page; `accept` processes first",
    "rate_limit": "F6: answer 429 (or `status` 418) with Retry-After `retry_after`",
    "auth": "F8: answer the auth error `code` (700002, 10072, 700006, 700007)",
    "reject": "F9: answer the business error `code` (and `msg`) without processing",
    "fill_before_cancel": "F11: on DELETE /order fill `fraction` of the remainder first (1: -2011)",
    "slow": "F24: wait `delay_s` before processing",
    "waf": "F25: answer 403 with an HTML page; `accept` processes first",
    "truncated": "F25: answer a JSON body cut in half; `accept` (default) processes first",
    "empty": "F25: answer 200 with an empty body; `accept` (default) processes first",
}
PUSH_KINDS = {
    "drop_push": "F13: the push is never sent",
    "duplicate_push": "F14: the push is sent twice",
    "reorder_push": "F14: the push is held back and sent after the next one",
}
KINDS = {**REST_KINDS, **PUSH_KINDS}


@dataclass
class Fault:
    """One armed fault; `fired` counts how often it acted."""

    kind: str
    path: re.Pattern[str] | None = None
    nth: int | None = None
    client_id: str | None = None
    times: int | None = 1
    probability: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    seen: int = 0
    fired: int = 0

    def matches(self, target: str, client_id: str) -> bool:
        """Whether this fault acts on a request (or push) described by `target` and `client_id`;
        counts what it sees so `nth` means the nth matching request since it was armed."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.path is not None and not self.path.search(target):
            return False
        if self.client_id is not None and self.client_id != client_id:
            return False
        self.seen += 1
        if self.nth is not None and self.seen != self.nth:
            return False
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True


def make_fault(
    kind: str,
    *,
    when: str | int | None = None,
    client_id: str | None = None,
    times: int | None = 1,
    probability: float = 1.0,
    seed: int = 0,
    **params: Any,
) -> Fault:
    """A fault of `kind`; `when` is a regex over "METHOD /path" (push kinds: over the channel) or
    the 1-based index of the matching request that triggers it."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    path = re.compile(when) if isinstance(when, str) else None
    nth = when if isinstance(when, int) else None
    return Fault(kind, path, nth, client_id, times, probability, params, random.Random(seed))


class Faults:
    """The armed faults of one venue."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Arm `fault`."""
        self.armed.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm everything."""
        self.armed.clear()

    def pick(self, kinds: dict[str, str], target: str, client_id: str) -> Fault | None:
        """The first armed fault among `kinds` that acts on this request or push."""
        for fault in self.armed:
            if fault.kind in kinds and fault.matches(target, client_id):
                return fault
        return None
