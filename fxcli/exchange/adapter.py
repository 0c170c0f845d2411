"""One interface for live market-data venues: endpoints and limits are data, `decode` is pure.

An adapter knows a venue's channel names, request frames and frame formats; it never touches a
socket. The connection manager (`connection.py`) owns sockets, pacing, pings, rotation, reconnects
and breakers for every venue alike; the recorder and `fx stream` consume what `decode` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import msgspec

from fxcli.model.events import BookSnapshot, MarketEvent


class Kind(StrEnum):
    """What a subscription carries."""

    TRADES = "trades"
    DEPTH = "depth"  # incremental L2 diffs with versions
    TOP = "top"  # top-N book snapshots pushed on the socket
    TICKER = "ticker"  # best bid / ask


@dataclass(frozen=True)
class Endpoints:
    """Where a venue lives; overridable (`--ws-url`, `--rest-url`, fx.toml) so tests use a local server."""

    ws_url: str
    rest_url: str


@dataclass(frozen=True)
class Limits:
    """A venue's published limits and fx's chosen margins below them."""

    max_subs_per_conn: int | None  # spot: 30 (published); futures: fx's own cap (none is published)
    sub_burst: int = 30  # token bucket for subscription requests...
    sub_rate_per_s: float = 5.0  # ...refilled at this rate
    channels_per_request: int = 15  # keep requests small (a 30-channel request is ~1.5 KB)
    ping_every_s: float = 15.0  # application-level ping; spot drops silent sockets after 60 s
    pong_timeout_s: float = 10.0  # no pong (or data) this long after a ping: the socket is dead
    max_conn_age_s: float = 23 * 3600.0  # rotate (make-before-break) before the 24 h cut
    max_msgs_per_s: float = 100.0  # spot's per-connection message limit


@dataclass(frozen=True)
class Channel:
    """One subscription: a symbol, what it carries, and the venue's channel string."""

    symbol: str
    kind: Kind
    name: str


class ControlKind(StrEnum):
    """Frames that are about the connection, not the market."""

    ACK = "ack"  # a subscription request was accepted
    REJECT = "reject"  # a subscription request was refused (MEXC spot still says code 0)
    PONG = "pong"
    ERROR = "error"  # the venue reported an error


class Control(msgspec.Struct, frozen=True):
    """A decoded control frame; `channels` are the channel names it speaks about."""

    kind: ControlKind
    req_id: int | None = None
    channels: tuple[str, ...] = ()
    reason: str = ""


class Decoded(msgspec.Struct, frozen=True, gc=False):
    """What one frame held: market events, or a control message, or nothing fx understands.

    `problem` is set for a frame that could not be decoded (malformed, hostile, unknown channel);
    the caller counts and logs it, and keeps the raw frame. A push whose items are independent
    (the deals of an aggregated trades push) loses only its bad items: `events` holds the good
    ones, `skipped` says how many were dropped and `problem` why (the first reason), so a caller
    counts `skipped` items, not a lost frame. `sent_ts_ns` is the venue's time of a market-data
    push (spot wrapper `sendTime`, else `createTime`; futures top-level `ts`), 0 when unknown and
    for control frames: the last one received bounds when a connection's data stopped, on the
    venue's clock. A Struct, not a dataclass: one is built per frame, and a frozen dataclass's
    `__init__` alone cost ~0.4 µs.
    """

    events: list[MarketEvent] = msgspec.field(default_factory=list)
    control: Control | None = None
    problem: str = ""
    sent_ts_ns: int = 0
    skipped: int = 0


class Adapter(Protocol):
    """A venue's market-data protocol."""

    venue: str  # the store's exchange name: "mexc-spot" | "mexc-futures"
    endpoints: Endpoints
    limits: Limits

    def channels(self, symbol: str, kinds: frozenset[Kind]) -> list[Channel]:
        """The channels that carry `kinds` for `symbol`."""
        ...

    def subscribe(self, channels: list[Channel], req_id: int) -> str:
        """The text frame that subscribes to `channels` (at most `limits.channels_per_request`)."""
        ...

    def unsubscribe(self, channels: list[Channel], req_id: int) -> str:
        """The text frame that unsubscribes from `channels`."""
        ...

    def ping(self) -> str:
        """The application-level ping frame."""
        ...

    def decode(self, frame: bytes | str, received_ts_ns: int) -> Decoded:
        """Decode one frame (pure: no I/O, no state); never raises on bad input."""
        ...

    def snapshot_url(self, symbol: str) -> str:
        """REST URL of a full depth snapshot whose version shares the diffs' version space."""
        ...

    def decode_snapshot(self, body: bytes, symbol: str, received_ts_ns: int) -> BookSnapshot:
        """The snapshot from a REST answer; raises `ValueError` naming what is wrong."""
        ...
