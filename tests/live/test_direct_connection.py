"""DirectConnection: frames reach the callback in arrival order, fragmented ones through recv()."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from fxcli.exchange.direct import DirectConnection

Handler = Callable[[ServerConnection], Awaitable[None]]


async def _session(handler: Handler, expect: int) -> tuple[list[bytes | str], list[bytes | str]]:
    """(frames the callback got, messages recv() got) from a server running `handler`."""
    direct: list[bytes | str] = []
    assembled: list[bytes | str] = []
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", create_connection=DirectConnection) as ws:
            assert isinstance(ws, DirectConnection)
            await asyncio.sleep(0.05)  # let frames arrive before the callback is attached
            ws.attach(direct.append)
            while len(direct) + len(assembled) < expect:
                assembled.append(await asyncio.wait_for(ws.recv(), 5))
    return direct, assembled


def test_frames_received_before_attach_are_delivered_first_and_in_order() -> None:
    async def handler(ws: ServerConnection) -> None:
        for i in range(5):
            await ws.send(f"text {i}")
            await ws.send(bytes([i]) * 3)
        await ws.wait_closed()

    async def main() -> None:
        direct, assembled = await asyncio.wait_for(_session(handler, 10), 10)
        assert assembled == []
        assert direct == [x for i in range(5) for x in (f"text {i}", bytes([i]) * 3)]

    asyncio.run(main())


def test_a_fragmented_message_hands_every_later_frame_to_recv_in_order() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("first")
        await ws.send(["frag", "mented"])  # an iterable: one message in several frames
        await ws.send("after")
        await ws.send(b"\x00binary")
        await ws.wait_closed()

    async def main() -> None:
        direct, assembled = await asyncio.wait_for(_session(handler, 4), 10)
        assert direct == ["first"]
        assert assembled == ["fragmented", "after", b"\x00binary"]

    asyncio.run(main())
