"""Subscriptions: which channels go on which connection, what was asked on one, and what the venue said.

`assign` spreads channels over connections (a symbol's channels together, the venue's cap per
connection); `Subscriptions` keeps one connection's requests, acks and refusals and matches each
control frame to the channels it answers; `Retries` schedules refused channels again with capped
exponential backoff, at least half its ceiling so a blocked channel is not hammered.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fxcli.exchange.adapter import Adapter, Channel, Control, ControlKind, Kind
from fxcli.exchange.pacing import Backoff


def plan_channels(adapter: Adapter, symbols: Iterable[str], kinds: Iterable[Kind]) -> list[Channel]:
    """The channels for `kinds` of every symbol, in symbol order."""
    wanted = frozenset(kinds)
    return [channel for symbol in symbols for channel in adapter.channels(symbol, wanted)]


def assign(
    channels: Sequence[Channel], max_per_conn: int | None, connections: int | None = None
) -> list[list[Channel]]:
    """Spread channels over connections, a symbol's channels together, at most `max_per_conn` each.

    With `connections` given the channels are balanced over at most that many (empty ones are not
    opened: a spot socket without a subscription is dropped after 30 s); without it, as few as fit.
    Raises `ValueError` if they cannot fit.
    """
    cap = max_per_conn if max_per_conn else math.inf
    groups: dict[str, list[Channel]] = {}
    seen: set[str] = set()
    for channel in channels:
        if channel.name not in seen:
            seen.add(channel.name)
            groups.setdefault(channel.symbol, []).append(channel)
    pieces: list[list[Channel]] = []
    for group in groups.values():
        step = len(group) if cap is math.inf else int(cap)
        pieces.extend(group[i : i + step] for i in range(0, len(group), step))
    pieces.sort(key=len, reverse=True)
    if connections is not None and connections < 1:
        raise ValueError(f"connections must be >= 1, got {connections}")
    slots: list[list[Channel]] = [[] for _ in range(connections or 1)]
    for piece in pieces:
        room = [s for s in slots if len(s) + len(piece) <= cap]
        if not room:
            if connections is not None:
                raise ValueError(
                    f"{len(seen)} channels do not fit in {connections} connections of "
                    f"{max_per_conn} subscriptions each"
                )
            slots.append([])
            room = [slots[-1]]
        min(room, key=len).extend(piece)
    return [s for s in slots if s]


@dataclass
class Request:
    """One subscription request in flight."""

    req_id: int
    channels: list[Channel]
    sent_mono: float


class Subscriptions:
    """What has been asked and answered on one connection: pending requests, active and refused channels.

    `answered` is set once every expected channel is active or refused and nothing is pending.
    """

    def __init__(self, channels: Iterable[Channel]) -> None:
        self.expected = {c.name: c for c in channels}
        self.pending: dict[int, Request] = {}
        self.active: set[str] = set()
        self.rejected: set[str] = set()
        self.answered = asyncio.Event()

    def sent(self, request: Request) -> None:
        """A request left."""
        self.pending[request.req_id] = request

    def acked(self, channels: Iterable[Channel]) -> None:
        """The venue accepted `channels`."""
        names = {c.name for c in channels}
        self.active |= names
        self.rejected -= names
        self.check_answered()

    def refused(self, channels: Iterable[Channel]) -> None:
        """The venue refused `channels` (or never answered them)."""
        self.rejected |= {c.name for c in channels}
        self.check_answered()

    def retrying(self, channels: Iterable[Channel]) -> None:
        """`channels` are asked for again: not answered until the venue says so."""
        self.rejected -= {c.name for c in channels}
        self.answered.clear()

    def overdue(self, now_mono: float, timeout_s: float) -> list[Request]:
        """Requests unanswered for `timeout_s`, taken out of the pending set."""
        late = [r for r in self.pending.values() if now_mono - r.sent_mono >= timeout_s]
        for request in late:
            del self.pending[request.req_id]
        return late

    def has_all(self, names: Iterable[str]) -> bool:
        """True if every channel of `names` is active here."""
        return all(name in self.active for name in names)

    def check_answered(self) -> None:
        """Set `answered` when nothing is pending and every expected channel has an answer."""
        if not self.pending and self.expected.keys() <= self.active | self.rejected:
            self.answered.set()

    def match(self, control: Control) -> list[Channel]:
        """The pending channels a control frame answers: by channel name, else by request id, else (a
        rejection naming a symbol) by symbol, else the oldest request for the named topic, else the
        oldest request (venues whose acks name nothing answer in order)."""
        names = set(control.channels)
        if names:
            matched: list[Channel] = []
            for req_id, request in list(self.pending.items()):
                hit = [c for c in request.channels if c.name in names]
                if hit:
                    matched += hit
                    request.channels = [c for c in request.channels if c.name not in names]
                    if not request.channels:
                        del self.pending[req_id]
            if control.kind is ControlKind.ACK:  # a late ack for channels already given up on
                matched += [self.expected[n] for n in names & self.rejected if n in self.expected]
            if matched:
                return matched
        if control.req_id and control.req_id in self.pending:
            return self.pending.pop(control.req_id).channels
        if not self.pending:
            return []
        if control.kind is not ControlKind.ACK and control.reason:
            for req_id, request in list(self.pending.items()):
                hit = [c for c in request.channels if c.symbol and c.symbol in control.reason]
                if hit:
                    request.channels = [c for c in request.channels if c not in hit]
                    if not request.channels:
                        del self.pending[req_id]
                    return hit
        if control.kind in (ControlKind.ACK, ControlKind.REJECT):
            # Venues whose acks name only a topic (futures: "deal" for deal@BTC_USDT): the oldest
            # request with a channel carrying that name as one of its @-parts, else the oldest.
            for req_id in sorted(self.pending):
                if any(n in c.name.split("@") for c in self.pending[req_id].channels for n in names):
                    return self.pending.pop(req_id).channels
            return self.pending.pop(min(self.pending)).channels
        return []


@dataclass
class _Retry:
    backoff: Backoff
    due_mono: float | None = None


@dataclass
class Retries:
    """When each refused channel of a slot is asked for again (it survives reconnects and rotations)."""

    base_s: float
    cap_s: float
    rng: random.Random
    _by_name: dict[str, _Retry] = field(default_factory=dict)

    def schedule(self, channels: Iterable[Channel], now_mono: float) -> tuple[float, int]:
        """Schedule `channels` again; returns the delay and attempt of the last one."""
        delay, attempt = 0.0, 0
        for channel in channels:
            retry = self._by_name.get(channel.name)
            if retry is None:
                retry = self._by_name[channel.name] = _Retry(Backoff(self.base_s, self.cap_s, rng=self.rng))
            # at least half the ceiling: a blocked channel should not be hammered at once
            ceiling = retry.backoff.ceiling_s()
            delay = max(ceiling / 2, retry.backoff.next_delay())
            attempt = retry.backoff.attempts
            retry.due_mono = now_mono + delay
        return delay, attempt

    def due(self, channels: Iterable[Channel], refused: set[str], now_mono: float) -> list[Channel]:
        """Refused channels whose retry is due now (each is handed out once per schedule)."""
        out = []
        for channel in channels:
            retry = self._by_name.get(channel.name)
            is_due = retry is not None and retry.due_mono is not None and retry.due_mono <= now_mono
            if is_due and retry is not None and channel.name in refused:
                retry.due_mono = None
                out.append(channel)
        return out

    def forget(self, names: Iterable[str]) -> None:
        """Channels that were acknowledged: their backoff starts afresh next time."""
        for name in names:
            self._by_name.pop(name, None)
