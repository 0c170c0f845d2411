"""What a connection manager tells its consumer: frames, decoded results, and lifecycle news.

Everything goes to one `Consumer`, in this order for each frame: `on_frame` (the raw frame with its
receive time and connection id, before any decoding, so a recorder writes it first), then
`on_decoded` (what the adapter made of it). Lifecycle news goes to `on_status`. Callbacks run on the
event loop and must not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from fxcli.exchange.adapter import Channel, Decoded
from fxcli.exchange.pacing import BreakerState
from fxcli.model.events import Gap, GapReason
from fxcli.model.frames import RawFrame


class DisconnectReason(StrEnum):
    """Why a connection ended."""

    SERVER_CLOSED = "server_closed"  # the server closed it (close frame or dropped TCP)
    DEAD = "dead"  # no pong and no data within pong_timeout_s of a ping
    ERROR = "error"  # a protocol or network error on our side (e.g. an oversized frame)
    ROTATED = "rotated"  # closed by us after its replacement was subscribed
    ABANDONED = "abandoned"  # a rotation replacement that never got ready
    STOPPED = "stopped"  # an explicit stop


@dataclass(frozen=True)
class Connected:
    """A connection finished its handshake; `replacing` is the connection it rotates out, if any."""

    slot: int
    conn_id: int
    url: str
    at_ns: int
    replacing: int | None = None


@dataclass(frozen=True)
class Subscribed:
    """The venue acknowledged `channels` on a connection."""

    slot: int
    conn_id: int
    channels: tuple[Channel, ...]
    at_ns: int


@dataclass(frozen=True)
class Rejected:
    """The venue refused `channels` (or never answered); they are retried in `retry_in_s`."""

    slot: int
    conn_id: int
    channels: tuple[Channel, ...]
    reason: str
    attempt: int
    retry_in_s: float
    at_ns: int


@dataclass(frozen=True)
class Disconnected:
    """A connection ended; `gap_reason` is set when its channels now have a hole (None for rotation)."""

    slot: int
    conn_id: int
    reason: DisconnectReason
    code: int | None
    detail: str
    at_ns: int
    last_received_ts_ns: int | None
    gap_reason: GapReason | None


@dataclass(frozen=True)
class DialFailed:
    """A dial failed; the slot tries again in `retry_in_s`."""

    slot: int
    detail: str
    attempt: int
    retry_in_s: float
    at_ns: int
    breaker: BreakerState


@dataclass(frozen=True)
class GapOpened:
    """A symbol's channels stopped delivering: no connection carries `channels` any more. The gap runs
    from `start_ns` (the venue time of the last push the lost connection delivered) until a
    `StreamGap` closes it; `at_ns` is when fx learned of it (local clock)."""

    slot: int
    symbol: str
    channels: tuple[Channel, ...]
    start_ns: int
    reason: GapReason
    detail: str
    at_ns: int


@dataclass(frozen=True)
class StreamGap:
    """A symbol's channels were down: `gap` is the row a recorder stores (reason disconnect,
    server_restart or rate_limited), from the last push before the loss until every channel of the
    symbol was subscribed again."""

    slot: int
    gap: Gap


@dataclass(frozen=True)
class BreakerChanged:
    """The dial circuit breaker moved between closed, open and half-open."""

    name: str
    old: BreakerState
    new: BreakerState
    at_ns: int


Status = (
    Connected | Subscribed | Rejected | Disconnected | DialFailed | GapOpened | StreamGap | BreakerChanged
)
"""Lifecycle news for `Consumer.on_status`."""


class Consumer(Protocol):
    """Receives everything a manager learns; callbacks run on the event loop and must not block."""

    def on_frame(self, frame: RawFrame) -> None:
        """A frame as received, before decoding (write it first)."""
        ...

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        """What the adapter made of `frame`: market events, a control message, or a problem."""
        ...

    def on_status(self, status: Status) -> None:
        """Connection lifecycle news."""
        ...
