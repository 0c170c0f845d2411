"""A scripted MEXC private REST server on 127.0.0.1 for client fault tests: each request goes to a
handler that answers, hangs, or hangs up; the server checks signatures with its own HMAC code (not
fx's) and keeps every request it saw."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.live.loopback_http import Conn, Play, response

KEY = "mx0aBYs33eIilxBWC5"
SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"
HANG = b"hang"  # handler answer: read nothing more, answer nothing, until the client gives up
HANG_UP = b""  # handler answer: close the connection without a word


@dataclass
class Seen:
    """One request as the server received it."""

    verb: str
    path: str
    query: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def params(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.query, keep_blank_values=True))

    def signature_ok(self, secret: str = SECRET) -> bool:
        """The venue's check: HMAC of the query as received, minus the trailing signature pair."""
        rest, sep, signature = self.query.rpartition("&signature=")
        expected = hmac.new(secret.encode(), rest.encode(), hashlib.sha256).hexdigest()
        return bool(sep) and hmac.compare_digest(signature, expected)


Handler = Callable[[Seen], Awaitable[bytes]]


def ok(doc: object, status: str = "200 OK") -> bytes:
    return response(status, json.dumps(doc).encode())


def error(code: int, msg: str, status: str = "400 Bad Request") -> bytes:
    return ok({"code": code, "msg": msg}, status)


def server_time(skew_ms: int = 0) -> bytes:
    return ok({"serverTime": time.time_ns() // 1_000_000 + skew_ms})


def serve(handler: Handler, seen: list[Seen]) -> Play:
    """A play answering every request on a connection through `handler`."""

    async def play(conn: Conn) -> None:
        while (head := await conn.read_head()) is not None:
            line, headers = head
            verb, target, _ = line.split(" ", 2)
            path, _, query = target.partition("?")
            request = Seen(verb, path, query, headers)
            seen.append(request)
            answer = await handler(request)
            if answer == HANG:
                await conn.until_client_closes()
                return
            if answer == HANG_UP or not await conn.send(answer):
                return

    return play
