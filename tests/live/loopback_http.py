"""Scripted HTTP/1.1 servers and a forwarding proxy on 127.0.0.1, for REST client fault tests.

A test gives the coroutine that plays one TCP connection; the server counts connections and
requests and notes which connections the client closed. Nothing here parses HTTP beyond the head.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

HOST = "127.0.0.1"


@dataclass
class Conn:
    """One accepted connection: what came in, and whether the client hung up on it."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    closed_by_client: bool = False

    async def read_head(self) -> tuple[str, dict[str, str]] | None:
        """The next request line and headers (names lower-case); None when the client hung up."""
        try:
            line = (await self.reader.readline()).decode("latin-1").strip()
            headers: dict[str, str] = {}
            while header := (await self.reader.readline()).decode("latin-1").strip():
                name, _, value = header.partition(":")
                headers[name.strip().lower()] = value.strip()
        except ConnectionError:
            line = ""
        if not line:
            self.closed_by_client = self.reader.at_eof()
            return None
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await self.reader.readexactly(length)
        self.requests.append((line, headers))
        return line, headers

    async def send(self, data: bytes) -> bool:
        """Write and drain; False (and noted) when the client has hung up."""
        if self.reader.at_eof():
            self.closed_by_client = True
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except ConnectionError:
            self.closed_by_client = True
            return False
        return True

    async def until_client_closes(self) -> None:
        """Wait, reading nothing more, until the client hangs up (or the server stops)."""
        with contextlib.suppress(ConnectionError):
            await self.reader.read()
        self.closed_by_client = self.reader.at_eof()


Play = Callable[[Conn], Awaitable[None]]


def response(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 answer with a Content-Length."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class LoopbackServer:
    """`async with LoopbackServer(play) as server:`; `server.url`, `server.conns`, `server.requests`."""

    def __init__(self, play: Play) -> None:
        self._play = play
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.conns: list[Conn] = []
        self.url = ""

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        """The server's own connection tasks (a test's leftover-task check leaves these out)."""
        return set(self._tasks)

    @property
    def requests(self) -> list[str]:
        """Every request line, in arrival order."""
        return [line for conn in self.conns for line, _ in conn.requests]

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.url = f"http://{HOST}:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for conn in self.conns:
            conn.writer.close()  # ends the plays: their reads see end of file, their writes fail
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Conn(len(self.conns) + 1, reader, writer)
        self.conns.append(conn)
        try:
            await self._play(conn)
        except ConnectionError:
            conn.closed_by_client = True
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


def forwarding_proxy(seen: list[str]) -> Play:
    """A tiny HTTP proxy: CONNECT tunnels (websockets, https) and absolute-form requests (plain http).

    Appends each request line it serves to `seen`.
    """

    async def play(conn: Conn) -> None:
        head = await conn.read_head()
        if head is None:
            return
        line, headers = head
        seen.append(line)
        verb, target, version = line.split(" ", 2)
        if verb == "CONNECT":
            host, _, port = target.rpartition(":")
        else:
            authority = target.removeprefix("http://").split("/", 1)[0]
            host, _, port = authority.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        if verb == "CONNECT":
            await conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            path = "/" + target.removeprefix("http://").split("/", 1)[1]
            lines = [f"{verb} {path} {version}", *(f"{k}: {v}" for k, v in headers.items())]
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await asyncio.gather(_pipe(conn.reader, up_writer), _pipe(up_reader, conn.writer))

    return play
