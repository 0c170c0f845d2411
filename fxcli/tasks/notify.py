"""`--notify` / `--notify-on` of `fx stream` and `fx record`: checked into a `NotifyConfig`."""

from __future__ import annotations

from fxcli.errors import FxError
from fxcli.ops.notify import (
    RECORD_EVENTS,
    STREAM_DEFAULT,
    Event,
    NotifyConfig,
    destinations_named,
    parse_events,
)
from fxcli.settings import DEFAULT_SOURCE, Settings


def notify_config(settings: Settings, sources: dict[str, str], command: str) -> NotifyConfig | None:
    """The run's notifications, or None without a destination; FxError (exit 2) naming the option or
    the config key of a bad URL or event name. `command` is "stream" or "record"."""
    urls_from = sources.get("notify", DEFAULT_SOURCE)
    on_from = sources.get("notify_on", DEFAULT_SOURCE)
    on_where = "--notify-on" if on_from == "--notify-on" else f"{on_from}: notify_on"
    if not settings.notify:
        if on_from == "--notify-on":
            raise FxError("--notify-on needs a destination: --notify URL (or notify in fx.toml)")
        return None

    def where(index: int) -> str:
        return "--notify" if urls_from == "--notify" else f"{urls_from}: notify[{index}]"

    destinations = destinations_named((url, where(i)) for i, url in enumerate(settings.notify))
    allowed = RECORD_EVENTS if command == "record" else tuple(Event)
    default = RECORD_EVENTS if command == "record" else STREAM_DEFAULT
    events = parse_events(settings.notify_on, on_where, allowed, default)
    return NotifyConfig(destinations, events, settings.notify_timeout_s, command)
