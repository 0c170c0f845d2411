"""`fx record`: check every input of a recording run, then run the live recorder (`fxcli.live.record`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.exchange.adapter import Adapter, Kind
from fxcli.exchange.connection import assign, plan_channels
from fxcli.exchange.venues import venue_named
from fxcli.live.record import MAX_FLUSH_S as MAX_FLUSH_S  # the limit fx record's --flush-s is checked against
from fxcli.live.record import RecordConfig, RecordSummary
from fxcli.live.record import record as record_live
from fxcli.live.recorder import Notify, Observe, RecordEvent
from fxcli.ops.address import Listen, parse_listen
from fxcli.settings import Settings
from fxcli.store.writer import ensure_writable
from fxcli.tasks.venues import checked_proxy, resolve_endpoints

if TYPE_CHECKING:
    from fxcli.ops.notify import NotifyConfig

DEFAULT_KINDS = (Kind.TRADES, Kind.DEPTH)


def parse_kinds(text: str | None) -> tuple[Kind, ...]:
    """`trades,depth` → the kinds to subscribe (default trades and depth)."""
    if text is None or not text.strip():
        return DEFAULT_KINDS
    kinds: list[Kind] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        try:
            kind = Kind(part)
        except ValueError:
            raise FxError(f"--channels: {part!r} is not one of {', '.join(k.value for k in Kind)}") from None
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        raise FxError("--channels: name at least one of " + ", ".join(k.value for k in Kind))
    return tuple(kinds)


def parse_symbols(adapter: Adapter, symbols: str | None, symbols_file: Path | None) -> tuple[str, ...]:
    """Symbols from `A,B` and/or a file (one per line, `#` comments), checked by the venue, in order."""
    found: list[str] = []

    def add(raw: str, where: str) -> None:
        try:
            channels = adapter.channels(raw, frozenset({Kind.TRADES}))
        except ValueError as exc:
            raise FxError(f"{where}: {exc}") from None
        symbol = channels[0].symbol
        if symbol not in found:
            found.append(symbol)

    for part in (symbols or "").split(","):
        if part.strip():
            add(part.strip(), "--symbols")
    if symbols_file is not None:
        try:
            text = symbols_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FxError(f"{symbols_file}: no such file") from None
        except (OSError, UnicodeError) as exc:
            raise FxError(f"{symbols_file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                add(entry, f"{symbols_file}:{number}")
    if not found:
        raise FxError("no symbols: give --symbols A,B or --symbols-file FILE (one symbol per line)")
    return tuple(found)


def plan(
    *,
    exchange: str,
    symbols: str | None,
    symbols_file: Path | None,
    settings: Settings,
    sources: dict[str, str],
    ws_url: str | None = None,
    rest_url: str | None = None,
    connections: int | None = None,
    channels: str | None = None,
    flush_s: float = 1.0,
    table_flush_s: float | None = None,
    stats_every_s: float = 10.0,
    rotate_after_s: float | None = None,
    backfill: bool = True,
) -> RecordConfig:
    """Check every input of a run (FxError, exit 2, naming the option or file line) before connecting."""
    venue = venue_named(exchange)
    endpoints = resolve_endpoints(venue, settings, sources, ws_url=ws_url, rest_url=rest_url)
    adapter = venue.make(endpoints.endpoints)
    kinds = parse_kinds(channels)
    wanted = parse_symbols(adapter, symbols, symbols_file)
    # Each option's own range was checked as the command line was read (cli/options.py); what is
    # left is the one rule between two of them.
    if table_flush_s is not None and not flush_s <= table_flush_s <= MAX_FLUSH_S:
        raise FxError(
            f"--table-flush-s must be in [{flush_s:g} (--flush-s), {MAX_FLUSH_S:g}], got {table_flush_s:g}"
        )
    try:
        assign(plan_channels(adapter, wanted, kinds), adapter.limits.max_subs_per_conn, connections)
    except ValueError as exc:
        raise FxError(f"--connections: {exc}") from None
    proxy = checked_proxy(settings, sources)
    ensure_writable(settings.data_dir)
    return RecordConfig(
        venue=venue,
        symbols=wanted,
        kinds=kinds,
        data_dir=settings.data_dir,
        endpoints=endpoints,
        connections=connections,
        flush_s=flush_s,
        table_flush_s=table_flush_s,
        stats_every_s=stats_every_s,
        rotate_after_s=rotate_after_s,
        proxy=proxy,
        backfill=backfill,
    )


def metrics_listen(text: str | None) -> Listen | None:
    """`--metrics HOST:PORT` (a bare PORT: loopback), checked before anything runs."""
    return None if text is None else parse_listen(text, "--metrics")


def record(
    config: RecordConfig,
    *,
    notify: Notify | None = None,
    observe: Observe | None = None,
    observe_every_s: float | None = None,
    metrics: Listen | None = None,
    notifications: NotifyConfig | None = None,
) -> RecordSummary:
    """Record until SIGINT/SIGTERM; raises RecordError (exit 1) if the disk fails. `notify` gets events as
    they happen, `observe` the counters every `observe_every_s`; both run on the event loop. `metrics`:
    Prometheus metrics served there while it records (FxError, exit 2, if it cannot listen). With
    `notifications`, gaps and errors also go out to their destinations (never waited on)."""
    if metrics is None:
        return _notifying(config, notifications, notify, observe, observe_every_s, {})
    from fxcli.ops.metrics import metrics_server
    from fxcli.ops.record_metrics import RecordMetrics
    from fxcli.store.encoding import write_durably

    meter = RecordMetrics(config.symbols)
    with metrics_server(metrics, meter.registry, "--metrics") as server:
        assert server is not None
        if notify is not None:
            notify(RecordEvent("metrics", time.time_ns(), {"url": server.url}))
        extra = {"write_file": meter.timed(write_durably), "recorder_type": meter.recorder_type()}
        return _notifying(config, notifications, meter.notify(notify), observe, observe_every_s, extra)


def _notifying(
    config: RecordConfig,
    notifications: NotifyConfig | None,
    notify: Notify | None,
    observe: Observe | None,
    observe_every_s: float | None,
    extra: dict[str, Any],
) -> RecordSummary:
    """The recording, with its gaps and errors also sent to `notifications`' destinations if any."""
    if notifications is None:
        return record_live(config, notify=notify, observe=observe, observe_every_s=observe_every_s, **extra)
    from fxcli.ops.notify import notifying

    def report(text: str) -> None:  # a failing destination: said once, as the recorder's own news
        if notify is not None:
            notify(RecordEvent("notify_failed", time.time_ns(), {"detail": text}))

    notifier = notifying(notifications, report, wall_clock=True)
    assert notifier is not None

    def both(event: RecordEvent) -> None:
        if notify is not None:
            notify(event)
        notifier.offer(event)

    try:
        return record_live(config, notify=both, observe=observe, observe_every_s=observe_every_s, **extra)
    except Exception as exc:
        notifier.offer(RecordEvent("failed", time.time_ns(), {"error": str(exc)}))
        raise
    finally:
        stats = notifier.close()
        if notify is not None:  # fx record writes no results file: its counts are its last log line
            notify(RecordEvent("notify_stats", time.time_ns(), stats.as_dict()))
