"""A small HTTP/1.1 server on asyncio streams: keep-alive, Content-Length bodies, and the broken
answers a venue's edge produces (dropped connection, truncated body, empty 200, HTML error pages).

Bounded: request line and headers of at most 16 KiB, bodies of at most 1 MiB, an idle connection
closes after `idle_s`. Only what the fake private venue needs; the routing lives in `endpoints.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

from tests.fake_mexc_private.auth import Raw

MAX_BODY = 1 << 20


@dataclass
class Reply:
    """What to answer: `mode` "normal", "drop" (close without a byte: the response is lost),
    "truncate" (half the body, then close) or "empty" (200 with no body)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "normal"
    content_type: str = "application/json"


Handler = Callable[[Raw], Awaitable[Reply]]


class Closable(Protocol):
    """An asyncio or websockets server."""

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


async def close_server(server: Closable | None) -> None:
    """Stop listening and wait (bounded) until the server is closed."""
    if server is not None:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 3.0)


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler, *, idle_s: float = 30.0
) -> None:
    """Answer requests on one connection until the client closes it, asks to, or a fault drops it."""
    peer = writer.get_extra_info("peername")
    host = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
    try:
        while True:
            raw, keep_alive = await _read_request(reader, idle_s, host)
            if raw is None:
                return
            reply = await handler(raw)
            if reply.mode == "drop":
                writer.transport.abort()
                return
            writer.write(_render(reply, keep_alive=keep_alive and reply.mode == "normal"))
            await writer.drain()
            if reply.mode != "normal" or not keep_alive:
                return
    except (
        TimeoutError,
        ConnectionError,
        ValueError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
    ):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader, idle_s: float, peer: str) -> tuple[Raw | None, bool]:
    line = await asyncio.wait_for(reader.readline(), idle_s)
    if not line:
        return None, False
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise ValueError("bad request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    while True:
        header = await asyncio.wait_for(reader.readline(), 5.0)
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or "0")
    if length > MAX_BODY:
        raise ValueError("body too large")
    body = (await asyncio.wait_for(reader.readexactly(length), 5.0)).decode() if length else ""
    path, _, query = target.partition("?")
    keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    return Raw(method.upper(), path, query, body, headers, peer), keep_alive


def _render(reply: Reply, *, keep_alive: bool) -> bytes:
    status = HTTPStatus(reply.status)
    body = b"" if reply.mode == "empty" else reply.body
    length = len(reply.body) if reply.mode == "truncate" else len(body)  # truncate: promise more than sent
    if reply.mode == "truncate":
        body = reply.body[: len(reply.body) // 2]
    head = [f"HTTP/1.1 {status.value} {status.phrase}", f"Content-Type: {reply.content_type}"]
    head.append(f"Content-Length: {length}")
    head.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head += [f"{k}: {v}" for k, v in reply.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
