"""The admin channel of the fake venue: `POST /__admin/<command>` with a JSON object of arguments
on the REST port (unsigned; only 127.0.0.1 is bound), for tests that run fx as a real process and
must script the venue from outside (docs/mexc-orders.md §5 "Mechanics for the fake").

Commands are the venue's own methods (`fault`, `trade`, `advance`, `transfer`, …) plus `knobs`
(set venue attributes; `rate_limits: false` turns the venue's limits off), `ledger`, `requests` and
`streams`; an unknown command or argument is a 400 naming it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tests.fake_mexc_private.auth import Raw
from tests.fake_mexc_private.wire import Reply

if TYPE_CHECKING:
    from tests.fake_mexc_private.venue import FakePrivateVenue

METHODS = (
    "fault",
    "skew",
    "set_symbol",
    "set_book",
    "trade",
    "advance",
    "transfer",
    "place_external",
    "revoke_key",
    "kill_listen_key",
    "ledger",
    "open_orders_of",
)
KNOBS = {
    "latency_s",
    "read_lag_ms",
    "duplicate_client_ids",
    "cancel_status",
    "cancel_push_delay_s",
    "ack_superset",
    "trades_null_client_id",
    "deal_before_order",
    "frozen_ms",
}
STREAM_KNOBS = {"key_ttl_ms", "max_keys", "no_sub_close_s", "idle_close_s", "max_conn_s", "expiry"}
EXCHANGE_KNOBS = {"partial_fills", "maker_cross", "max_open_orders", "hold_market"}


class Admin:
    """Dispatches admin commands to one venue."""

    def __init__(self, venue: FakePrivateVenue) -> None:
        self.venue = venue

    async def handle(self, raw: Raw) -> Reply:
        """Run one command; 200 with its JSON result, or 400 `{"error": …}`."""
        name = raw.path.removeprefix("/__admin/")
        try:
            args = json.loads(raw.body) if raw.body.strip() else {}
            if not isinstance(args, dict):
                raise TypeError("arguments must be a JSON object")
            result = self.run(name, args)
        except (TypeError, ValueError, KeyError) as error:
            return Reply(400, json.dumps({"error": f"{name}: {error}"}).encode())
        return Reply(200, json.dumps(result, default=str).encode())

    def run(self, name: str, args: dict[str, Any]) -> Any:
        """Run command `name` with keyword `args`."""
        venue = self.venue
        if name in METHODS:
            result = getattr(venue, name)(**args)
            return {"fired": result.fired} if name == "fault" else result
        if name == "knobs":
            for key, value in args.items():
                target: object = venue
                if key in STREAM_KNOBS:
                    target = venue.streams
                elif key in EXCHANGE_KNOBS:
                    target = venue.exchange
                    value = tuple(value) if key == "partial_fills" else value
                elif key == "rate_limits":  # off for load and latency runs (bench/orders.py)
                    target, key = venue.limits, "enabled"
                elif key not in KNOBS:
                    raise KeyError(f"unknown knob {key!r}")
                setattr(target, key, value)
            return {}
        if name == "clear_faults":
            venue.faults.clear()
            return {}
        if name == "requests":
            return [asdict(r) for r in venue.requests]
        if name == "streams":
            return {
                "keys": {k.key: k.state for k in venue.streams.keys.values()},
                "created": venue.streams.created,
                "conns": [asdict(c) | {"subs": sorted(c.subs)} for c in venue.streams.conns.values()],
            }
        raise KeyError(f"unknown command {name!r}")
