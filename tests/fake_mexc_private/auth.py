"""Request authentication exactly as docs/mexc-orders.md §2.2 describes it, with the fake's own HMAC
routine (never fx's signing code: a bug shared by both would pass unnoticed).

The signature covers the raw bytes as received: the query string after '?' and the body, each with
its `signature=` pair and one adjacent '&' removed, concatenated without a separator. Nothing is
decoded, re-encoded or re-sorted, so a client that signs one order of parameters and sends another
fails here as it would on MEXC.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass, field

from tests.fake_mexc_private.replies import VenueError, missing

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000  # `timestamp < serverTime + 1000` (§2.2)

READ = "SPOT_DEAL_READ"
WRITE = "SPOT_DEAL_WRITE"
ACCOUNT = "SPOT_ACCOUNT_READ"
ALL_PERMISSIONS = frozenset({READ, WRITE, ACCOUNT})


@dataclass
class ApiKey:
    """One key of the fake account: its secret, permissions, optional IP whitelist and state."""

    secret: str
    permissions: frozenset[str] = ALL_PERMISSIONS
    ip_whitelist: frozenset[str] | None = None
    revoked: bool = False
    symbols: set[str] | None = None  # the key's API symbols (selfSymbols); None: every symbol


@dataclass(frozen=True)
class SignedRequest:
    """A request that passed §2.2: its key and its parameters (query wins over body)."""

    api_key: str
    params: dict[str, str]
    timestamp_ms: int
    recv_window_ms: int


@dataclass
class Raw:
    """A request as received: method, path, raw query, raw body, headers (lower-case), peer."""

    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    peer: str = "127.0.0.1"


def hmac_hex(secret: str, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of `message` under `secret`."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """`raw` without its `signature=` pair (and one adjacent '&'), and the signature if present."""
    pairs = raw.split("&") if raw else []
    for index, pair in enumerate(pairs):
        if pair.startswith("signature="):
            rest = pairs[:index] + pairs[index + 1 :]
            return "&".join(rest), pair.removeprefix("signature=")
    return raw, None


def parameters(query: str, body: str) -> dict[str, str]:
    """Parameters of query and form body; a parameter in both takes the query's value (§2.1)."""
    merged = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    merged.update(urllib.parse.parse_qsl(query, keep_blank_values=True))
    return merged


def authenticate(raw: Raw, keys: dict[str, ApiKey], server_ms: int, *, permission: str) -> SignedRequest:
    """Check key, signature, recvWindow, time, IP and permission in the order of §2.2; raise the
    documented `VenueError` for the first that fails."""
    api_key = raw.headers.get("x-mexc-apikey")
    if not api_key:
        raise VenueError(400, "api key required")
    key = keys.get(api_key)
    if key is None or key.revoked:
        raise VenueError(10072)
    if raw.body.lstrip().startswith("{"):
        # a JSON object body: what MEXC would sign is undocumented; fx never sends one [CHOICE]
        raise VenueError(700002)
    rest_q, sig_q = split_signature(raw.query)
    rest_b, sig_b = split_signature(raw.body)
    signature = sig_q if sig_q is not None else sig_b
    if not signature:
        raise missing("signature")
    expected = hmac_hex(key.secret, rest_q + rest_b)
    if not hmac.compare_digest(signature, expected):  # upper-case hex fails too: lower-case only
        raise VenueError(700002)
    params = parameters(raw.query, raw.body)
    params.pop("signature", None)
    recv_window = _int_param(params, "recvWindow", DEFAULT_RECV_WINDOW_MS)
    if recv_window > MAX_RECV_WINDOW_MS:
        raise VenueError(700005)
    if "timestamp" not in params:
        raise missing("timestamp")
    timestamp = _int_param(params, "timestamp", 0)
    if not (timestamp < server_ms + FUTURE_TOLERANCE_MS and server_ms - timestamp <= recv_window):
        raise VenueError(700003)
    if key.ip_whitelist is not None and raw.peer not in key.ip_whitelist:
        raise VenueError(700006, f"IP [{raw.peer}] not in the ip white list")
    if permission not in key.permissions:
        raise VenueError(700007)
    return SignedRequest(api_key, params, timestamp, recv_window)


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise VenueError(700008, f"Illegal characters found in parameter '{name}'")
    return int(text)
