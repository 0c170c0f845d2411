"""websockets dials with `proxy=ws_proxy(...)`: the environment's proxies are ignored, the user's is used."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from fxcli.exchange.proxy import ws_proxy
from tests.live.loopback_http import LoopbackServer, forwarding_proxy
from tests.live.support import run


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def test_ws_dial_without_a_proxy_setting_ignores_a_socks_proxy_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ws_proxy", "wss_proxy", "all_proxy", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "socks5://127.0.0.1:9")  # python-socks is absent: using it would fail

    async def scenario() -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/ws", proxy=ws_proxy(None)) as ws:
                await ws.send("ping")
                assert await ws.recv() == "ping"

    run(scenario())


def test_ws_dial_with_a_proxy_setting_tunnels_through_it() -> None:
    async def scenario() -> None:
        seen: list[str] = []
        async with (
            serve(echo, "127.0.0.1", 0) as server,
            LoopbackServer(forwarding_proxy(seen)) as proxy,
        ):
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/ws", proxy=ws_proxy(proxy.url)) as ws:
                await ws.send("ping")
                assert await ws.recv() == "ping"

        assert seen == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]

    run(scenario())
