"""Where an fx server listens: `PORT` (loopback), `HOST:PORT` or `[IPv6]:PORT`, checked before anything runs.

A bare port binds 127.0.0.1 only: nothing fx serves is reachable from another machine unless the
user names an address that is (`0.0.0.0:9464`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fxcli.errors import FxError

LOOPBACK = "127.0.0.1"
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Listen:
    """A checked listening address; port 0 lets the system pick one (the server says which)."""

    host: str
    port: int

    @property
    def is_loopback(self) -> bool:
        """True when only this machine can connect."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def url(self, scheme: str, port: int | None = None) -> str:
        """`scheme://host:port`, IPv6 hosts in brackets; `port` the one actually bound."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port if port is None else port}"


def parse_listen(text: str, option: str) -> Listen:
    """`9464`, `127.0.0.1:9464`, `0.0.0.0:9464`, `[::1]:9464` → Listen; FxError naming `option` otherwise."""
    raw = text.strip()
    host, port_text = LOOPBACK, raw
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0 or raw[end + 1 : end + 2] != ":":
            raise FxError(f"{option} {text!r}: write an IPv6 address as [ADDRESS]:PORT")
        host, port_text = raw[1:end], raw[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise FxError(f"{option} {text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in raw:
        host, _, port_text = raw.rpartition(":")
        if ":" in host:
            raise FxError(f"{option} {text!r}: write an IPv6 address as [ADDRESS]:PORT, e.g. [::1]:9464")
        if not host or not _HOSTNAME.match(host):
            raise FxError(f"{option} {text!r}: {host!r} is not a host name or address (HOST:PORT, or a PORT)")
    if not port_text.isdigit():
        raise FxError(f"{option} {text!r}: the port must be a number in 0..65535 (HOST:PORT, or a PORT)")
    port = int(port_text)
    if port > 65535:
        raise FxError(f"{option} {text!r}: port {port} is not in 0..65535")
    return Listen(host, port)
