"""A tiny JSON adapter for the fake venue's futures protocol, written against the `Adapter` protocol
only: the manager's tests do not depend on a real adapter's decoder."""

from __future__ import annotations

import json
from dataclasses import replace

from fxcli.exchange.adapter import Channel, Control, ControlKind, Decoded, Endpoints, Kind, Limits
from fxcli.model.events import BookDelta, BookSnapshot, MarketEvent, Trade

TOPICS = {Kind.TRADES: "deal", Kind.DEPTH: "depth"}


class TinyFutures:
    """`sub.deal` / `sub.depth`, one contract per request; acks name no symbol."""

    venue = "tiny-futures"

    def __init__(self, endpoints: Endpoints, limits: Limits | None = None) -> None:
        self.endpoints = endpoints
        self.limits = limits or replace(Limits(max_subs_per_conn=None), channels_per_request=1)

    def channels(self, symbol: str, kinds: frozenset[Kind]) -> list[Channel]:
        return [Channel(symbol, k, f"{TOPICS[k]}@{symbol}") for k in Kind if k in kinds and k in TOPICS]

    def subscribe(self, channels: list[Channel], req_id: int) -> str:
        (channel,) = channels
        return json.dumps({"method": f"sub.{TOPICS[channel.kind]}", "param": {"symbol": channel.symbol}})

    def unsubscribe(self, channels: list[Channel], req_id: int) -> str:
        (channel,) = channels
        return json.dumps({"method": f"unsub.{TOPICS[channel.kind]}", "param": {"symbol": channel.symbol}})

    def ping(self) -> str:
        return '{"method":"ping"}'

    def decode(self, frame: bytes | str, received_ts_ns: int) -> Decoded:
        try:
            doc = json.loads(frame)
            channel = doc["channel"]
            if channel == "pong":
                return Decoded(control=Control(ControlKind.PONG))
            if channel.startswith("rs.sub."):
                return Decoded(control=Control(ControlKind.ACK))
            if channel == "rs.error":
                return Decoded(control=Control(ControlKind.REJECT, reason=str(doc["data"])))
            symbol = doc["symbol"]
            if not (isinstance(symbol, str) and symbol.replace("_", "").isalnum()):
                return Decoded(problem="bad symbol")
            events: list[MarketEvent] = []
            if channel == "push.deal":
                for d in doc["data"]:
                    side = {1: 1, 2: -1}[d["T"]]
                    events.append(
                        Trade(
                            d["t"] * 10**6, received_ts_ns, symbol, _num(d["p"]), _num(d["v"]), side, d["i"]
                        )
                    )
            elif channel == "push.depth":
                data = doc["data"]
                bids = [(_num(p), _num(q)) for p, q, _ in data["bids"]]
                asks = [(_num(p), _num(q)) for p, q, _ in data["asks"]]
                if not data["begin"] <= data["end"]:
                    return Decoded(problem="begin > end")
                events.append(
                    BookDelta(
                        data["cts"] * 10**6, received_ts_ns, symbol, bids, asks, data["begin"], data["end"]
                    )
                )
            else:
                return Decoded(problem=f"unknown channel {channel[:40]!r}")
            return Decoded(events=events)
        except (ValueError, KeyError, TypeError, IndexError, RecursionError, AttributeError) as exc:
            return Decoded(problem=f"{type(exc).__name__}: {exc}"[:200])

    def snapshot_url(self, symbol: str) -> str:
        return f"{self.endpoints.rest_url}/depth/{symbol}?limit=1000"

    def decode_snapshot(self, body: bytes, symbol: str, received_ts_ns: int) -> BookSnapshot:
        try:
            data = json.loads(body)["data"]
            bids = [(_num(p), _num(q)) for p, q, _ in data["bids"]]
            asks = [(_num(p), _num(q)) for p, q, _ in data["asks"]]
            return BookSnapshot(
                data["timestamp"] * 10**6, received_ts_ns, symbol, bids, asks, data["version"], "rest"
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad snapshot: {exc}") from None


def _num(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    number = float(value)
    if not 0 <= number <= 1e300:
        raise ValueError(f"number out of range: {value!r}")
    return number
