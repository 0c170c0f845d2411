"""Test-side helpers for driving the fake with plain httpx: sign a request the way §2.2 says a client
must (everything in the query string, in the order given), and read `{"code","msg"}` answers."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import httpx

from tests.fake_mexc_private.auth import hmac_hex
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET


def signed_query(params: list[tuple[str, str]], secret: str = DOC_SECRET) -> str:
    """`params` urlencoded in order, with `signature=` appended."""
    total = urllib.parse.urlencode(params)
    return f"{total}&signature={hmac_hex(secret, total)}"


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    params: list[tuple[str, str]] | None = None,
    *,
    key: str = DOC_KEY,
    secret: str = DOC_SECRET,
    timestamp_ms: int | None = None,
) -> httpx.Response:
    """A signed request with `timestamp` (now, local clock) appended to `params`."""
    stamp = timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000
    query = signed_query([*(params or []), ("timestamp", str(stamp))], secret)
    return await client.request(method, f"{path}?{query}", headers={"X-MEXC-APIKEY": key})


def code_of(response: httpx.Response) -> int:
    """The venue's error code of a JSON error answer."""
    body: dict[str, Any] = response.json()
    return int(body["code"])
