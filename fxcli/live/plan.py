"""The connection plan shared by `fx record`, `fx stream` and `fx stream --record`: which channels,
the venue's limits (with a chosen rotation age), the manager's knobs and the channels of each slot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Channel, Kind, Limits
from fxcli.exchange.connection import ManagerConfig, assign, plan_channels
from fxcli.exchange.proxy import ws_proxy


@dataclass(frozen=True)
class ConnectionPlan:
    channels: list[Channel]
    limits: Limits
    config: ManagerConfig
    assignment: list[list[Channel]]  # the channels each connection slot carries


def connection_plan(
    adapter: Adapter,
    symbols: Iterable[str],
    kinds: Iterable[Kind],
    base: ManagerConfig | None,
    *,
    connections: int | None = None,
    rotate_after_s: float | None = None,
    proxy: str | None = None,
) -> ConnectionPlan:
    """The plan for every kind of every symbol; a symbol the venue does not list (a futures contract without a
    size) is an FxError naming it. Options left None keep what `base` says."""
    try:
        channels = plan_channels(adapter, symbols, kinds)
    except ValueError as exc:
        raise FxError(f"--symbols: {exc}") from None
    limits = adapter.limits
    if rotate_after_s is not None:
        limits = replace(limits, max_conn_age_s=rotate_after_s)
    base = base or ManagerConfig()
    config = replace(base, connections=connections or base.connections, proxy=ws_proxy(proxy) or base.proxy)
    return ConnectionPlan(
        channels, limits, config, assign(channels, limits.max_subs_per_conn, config.connections)
    )
