"""Proxies, only when the user asks for one (`--proxy`, `FX_PROXY`, fx.toml `proxy`).

The HTTP libraries read proxies from the environment by default (httpx and websockets >= 15 both
honour `http_proxy` / `https_proxy` / `all_proxy`): a stray `all_proxy=socks5://…` would silently
route a recorder through it, or break every dial when the SOCKS package is missing. fx ignores the
environment: the REST client is built with `trust_env=False`, and every websockets dial passes
`proxy=ws_proxy(settings.proxy)`.

SOCKS needs a package per library: `socksio` for httpx (REST), `python-socks` for websockets.
Both come with the `socks` extra: `pip install 'fx[socks]'`.
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from collections.abc import Iterable
from enum import StrEnum

SOCKS_SCHEMES = ("socks5", "socks5h")
INSTALL_HINT = "pip install 'fx[socks]'"


class ProxyUser(StrEnum):
    """A library that dials through the proxy."""

    REST = "rest"  # httpx
    WEBSOCKET = "websocket"  # websockets


# What each user needs for a SOCKS proxy: (importable module, distribution name).
_SOCKS_NEEDS = {
    ProxyUser.REST: ("socksio", "socksio"),
    ProxyUser.WEBSOCKET: ("python_socks", "python-socks"),
}


def redact(proxy_url: str) -> str:
    """`proxy_url` with its password hidden, fit for messages and logs.

    >>> redact("socks5://me:secret@10.0.0.1:1080")
    'socks5://me:***@10.0.0.1:1080'
    >>> redact("http://10.0.0.1:3128")
    'http://10.0.0.1:3128'
    """
    parts = urllib.parse.urlsplit(proxy_url)
    if parts.password is None:
        return proxy_url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def proxy_problem(
    proxy_url: str | None, users: Iterable[ProxyUser] = (ProxyUser.REST, ProxyUser.WEBSOCKET)
) -> str | None:
    """One line saying what to install when `proxy_url` needs a package that is missing; None if ready.

    Only SOCKS proxies need extra packages (http:// and https:// proxies work with what fx installs).
    """
    if not proxy_url:
        return None
    scheme = urllib.parse.urlsplit(proxy_url).scheme.lower()
    if scheme not in SOCKS_SCHEMES:
        return None
    missing = sorted(
        {
            dist
            for module, dist in (_SOCKS_NEEDS[u] for u in users)
            if importlib.util.find_spec(module) is None
        }
    )
    if not missing:
        return None
    return (
        f"proxy {redact(proxy_url)}: a SOCKS proxy needs {' and '.join(missing)}, "
        f"which {'is' if len(missing) == 1 else 'are'} not installed; install with: {INSTALL_HINT}"
    )


def ws_proxy(proxy_url: str | None) -> str | None:
    """The value for websockets' `connect(proxy=...)`: the user's proxy, or None to dial directly.

    websockets 17's default (`proxy=True`) reads the environment; None disables proxies and a URL
    overrides the environment, so the environment is never consulted.
    """
    return proxy_url or None
