"""`fx doctor`: is this machine ready to record? Install, data dir, disk, clock, endpoints.

Each check is ok, warn, skip or fail; only a fail makes the exit code 1. The clock check asks each
venue's time endpoint (spot `/api/v3/time`, futures `/api/v1/contract/ping`) a few times and keeps
the reading with the shortest round trip; when the venue cannot be reached (offline, DNS, refused,
timeout) the check is skipped with the reason, since that says nothing about the clock.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fxcli import __version__
from fxcli.errors import FxError
from fxcli.exchange.rest import (
    ClockSample,
    RateLimitedError,
    RestClient,
    RestError,
    parse_server_time_ms,
    time_url,
)
from fxcli.exchange.venues import VENUES, ResolvedEndpoints, venue_named
from fxcli.settings import load_settings_sourced
from fxcli.tasks.orders import LiveConfig, LiveRequest, resolve_live
from fxcli.tasks.venues import checked_proxy, resolve_endpoints

MAX_SKEW_MS = 1000.0
CLOCK_SAMPLES = 3
MIN_FREE_BYTES = 1 << 30  # below this a recorder fills the disk within hours: fail
LOW_FREE_BYTES = 10 << 30  # below this: warn
DISTRIBUTION = "fx"


class CheckStatus(StrEnum):
    """How a check came out; only FAIL changes the exit code."""

    OK = "ok"
    WARN = "warn"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One line of the report: `section` groups them (install, data, endpoints, clock)."""

    section: str
    name: str
    status: CheckStatus
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DoctorReport:
    """Every check, in the order they ran."""

    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.status is CheckStatus.FAIL]


def doctor(
    *,
    data_dir: Path | None = None,
    exchange: str | None = None,
    ws_url: str | None = None,
    rest_url: str | None = None,
    timeout_s: float = 3.0,
    proxy: str | None = None,
    live: LiveRequest | None = None,
    symbols: list[str] | None = None,
    notional: float | None = None,
) -> DoctorReport:
    """Run every check; bad input (an unknown exchange, a bad URL or config) raises FxError (exit 2).

    With `live.live`: the keys, the clock as the private client measures it, and a test order per
    symbol of `symbols` (section "live"); nothing is placed."""
    if (ws_url is not None or rest_url is not None) and exchange is None and not (live and live.live):
        raise FxError("--ws-url and --rest-url need --exchange (mexc-spot or mexc-futures)")
    settings, sources = load_settings_sourced(data_dir=data_dir, proxy=proxy)
    if live is not None and live.live:
        if not symbols:
            raise FxError("--live needs --symbols: the symbols to send a test order for")
        config = resolve_live(settings, sources, live, rest_url=rest_url, need_limits=False)
        amount = notional if notional is not None else settings.live.max_order_notional
        return DoctorReport(live_checks(config, symbols, amount))
    proxy = checked_proxy(settings, sources)
    venues = [venue_named(exchange)] if exchange is not None else list(VENUES.values())
    resolved = [
        resolve_endpoints(venue, settings, sources, ws_url=ws_url, rest_url=rest_url) for venue in venues
    ]
    checks = [*install_checks()]
    checks += data_checks(settings.data_dir, sources.get("data_dir", "default"))
    for endpoints in resolved:
        checks += endpoint_checks(endpoints)
    checks += asyncio.run(clock_checks(resolved, timeout_s, proxy))
    return DoctorReport(checks)


# ------------------------------------------------------------------------------------------- install

_PIN = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*(;.*)?$")


def install_checks() -> list[Check]:
    """Python, fx, and every pinned dependency against its installed version."""
    checks = [
        Check(
            "install",
            "python",
            CheckStatus.OK if sys.version_info >= (3, 11) else CheckStatus.FAIL,
            f"{platform.python_version()} ({sys.executable})",
            {"version": platform.python_version(), "executable": sys.executable},
        ),
        Check("install", "fx", CheckStatus.OK, __version__, {"version": __version__}),
    ]
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        checks.append(
            Check(
                "install", "packages", CheckStatus.WARN, "fx is not installed as a package (pip install -e .)"
            )
        )
        return checks
    for requirement in requirements:
        match = _PIN.match(requirement)
        if match is None or (match.group(3) and "extra" in match.group(3)):
            continue
        name, pinned = match.group(1), match.group(2)
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(
                Check("install", name, CheckStatus.FAIL, f"missing (fx needs {pinned})", {"pinned": pinned})
            )
            continue
        same = installed == pinned
        checks.append(
            Check(
                "install",
                name,
                CheckStatus.OK if same else CheckStatus.WARN,
                installed if same else f"{installed} (fx pins {pinned}: results may differ)",
                {"installed": installed, "pinned": pinned},
            )
        )
    return checks


# ---------------------------------------------------------------------------------------------- data


def _existing_ancestor(path: Path) -> Path:
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def data_checks(data_dir: Path, source: str) -> list[Check]:
    """The data dir can be written (without creating it), and its disk has room."""
    base = {"path": str(data_dir), "source": source}
    anchor = _existing_ancestor(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        writable = Check(
            "data", "data dir", CheckStatus.FAIL, f"{data_dir} is not a directory ({source})", base
        )
    elif not anchor.is_dir():
        writable = Check(
            "data", "data dir", CheckStatus.FAIL, f"{data_dir}: {anchor} is not a directory ({source})", base
        )
    else:
        problem = _probe(anchor)
        later = "" if anchor == data_dir.absolute() else f"; does not exist yet, will be created in {anchor}"
        if problem is None:
            writable = Check(
                "data", "data dir", CheckStatus.OK, f"{data_dir} ({source}): writable{later}", base
            )
        else:
            detail = f"{data_dir} ({source}): not writable: {problem}{later}"
            writable = Check("data", "data dir", CheckStatus.FAIL, detail, base)
    checks = [writable]
    try:
        usage = shutil.disk_usage(anchor if anchor.is_dir() else anchor.parent)
    except OSError as exc:
        checks.append(Check("data", "disk space", CheckStatus.SKIP, f"cannot tell: {exc.strerror or exc}"))
        return checks
    free = usage.free
    status = (
        CheckStatus.FAIL
        if free < MIN_FREE_BYTES
        else CheckStatus.WARN
        if free < LOW_FREE_BYTES
        else CheckStatus.OK
    )
    detail = f"{free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB"
    if status is not CheckStatus.OK:
        detail += f" (a recorder wants at least {LOW_FREE_BYTES / 2**30:.0f} GiB)"
    checks.append(
        Check("data", "disk space", status, detail, {"free_bytes": free, "total_bytes": usage.total})
    )
    return checks


def _probe(folder: Path) -> str | None:
    """None if a file can be created in `folder`, else why not."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".fx-doctor-", delete=True):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(folder, os.W_OK | os.X_OK):
        return "permission denied"
    return None


# ----------------------------------------------------------------------------------------- endpoints


def endpoint_checks(endpoints: ResolvedEndpoints) -> list[Check]:
    """The effective URLs of a venue and where each came from."""
    return [
        Check(
            "endpoints",
            f"{endpoints.venue} ws",
            CheckStatus.OK,
            f"{endpoints.ws_url} ({endpoints.ws_source})",
            {"url": endpoints.ws_url, "source": endpoints.ws_source},
        ),
        Check(
            "endpoints",
            f"{endpoints.venue} rest",
            CheckStatus.OK,
            f"{endpoints.rest_url} ({endpoints.rest_source})",
            {"url": endpoints.rest_url, "source": endpoints.rest_source},
        ),
    ]


# --------------------------------------------------------------------------------------------- clock


async def clock_checks(
    venues: list[ResolvedEndpoints], timeout_s: float, proxy: str | None = None
) -> list[Check]:
    """Clock skew against every venue, asked concurrently (through `proxy` when the user set one)."""
    return list(await asyncio.gather(*(_clock(v, timeout_s, proxy) for v in venues)))


async def _clock(endpoints: ResolvedEndpoints, timeout_s: float, proxy: str | None) -> Check:
    async with RestClient(timeout_s=timeout_s, proxy=proxy) as rest:
        return await _read_clock(endpoints, rest)


async def _read_clock(endpoints: ResolvedEndpoints, rest: RestClient) -> Check:
    adapter = VENUES[endpoints.venue].make(endpoints.endpoints)
    url = time_url(adapter)
    name = f"{endpoints.venue} clock"
    samples: list[ClockSample] = []
    for _ in range(CLOCK_SAMPLES):
        sent_ns = time.time_ns()
        try:
            body, received_ns = await rest.get(url)
        except RateLimitedError as exc:
            if samples:
                break
            return Check(
                "clock", name, CheckStatus.SKIP, f"skipped: {url} says slow down ({exc})", {"url": url}
            )
        except RestError as exc:
            if samples:
                break
            reason = str(exc).removeprefix(f"GET {url}: ")
            if exc.status is not None and exc.status < 500:  # it answered: the URL is wrong
                return Check("clock", name, CheckStatus.FAIL, f"{url}: {reason}", {"url": url})
            return Check(
                "clock",
                name,
                CheckStatus.SKIP,
                f"skipped: {url} is unreachable ({reason}); offline? clock skew not checked",
                {"url": url},
            )
        try:
            server_ms = parse_server_time_ms(body)
        except ValueError as exc:
            return Check("clock", name, CheckStatus.FAIL, f"{url}: {exc}", {"url": url})
        samples.append(ClockSample(server_ms, (sent_ns + received_ns) // 2, received_ns - sent_ns))
    best = min(samples, key=lambda s: s.rtt_ns)
    offset, rtt = best.offset_ms, best.rtt_ns / 1e6
    data = {"url": url, "offset_ms": round(offset, 3), "rtt_ms": round(rtt, 3), "max_ms": MAX_SKEW_MS}
    direction = "behind" if offset > 0 else "ahead of"
    detail = f"local clock {abs(offset):.1f} ms {direction} the venue (rtt {rtt:.1f} ms)"
    if abs(offset) > MAX_SKEW_MS:
        detail += f": more than {MAX_SKEW_MS:.0f} ms; sync it (chrony, ntpd, systemd-timesyncd)"
        return Check("clock", name, CheckStatus.FAIL, detail, data)
    return Check("clock", name, CheckStatus.OK, detail, data)


# ------------------------------------------------------------------------------------------- live


def live_checks(config: LiveConfig, symbols: list[str], notional: float | None) -> list[Check]:
    """Keys, clock and one `order/test` per symbol at the real sizing (`notional` quote, default the
    symbol's minimum market notional); a venue that cannot be reached is a fail here: live trading
    needs it."""
    from decimal import Decimal

    from fxcli.exchange.mexc_private.client import PrivateClient
    from fxcli.execution.preflight import preflight

    async def run() -> list[Check]:
        async with PrivateClient(config.rest_url, config.keys) as client:
            amount = None if notional is None else Decimal(repr(notional))
            try:
                found = await preflight(client, symbols, amount)
            except OSError as exc:
                return [Check("live", "venue", CheckStatus.FAIL, f"{config.rest_url}: {exc}")]
        return [Check("live", f.name, CheckStatus(f.status), f.detail) for f in found]

    head = Check("live", "keys from", CheckStatus.OK, config.key_source)
    return [head, *asyncio.run(run())]
