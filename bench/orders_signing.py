"""Signing cost of one MEXC order request: fx's path (`order_params` + `signed_query`, what
`PrivateClient.new_order` does before the socket write) against a plain peer in the same run
(`urllib.parse.urlencode` of a dict + `hmac.new(...).hexdigest()`, what a straightforward client does).

    .venv/bin/python bench/orders_signing.py [--calls N] [--rounds R]

Per-call times from `perf_counter_ns`; the best round (lowest p50) of each is kept, the two
alternating within each round. Target (docs/mexc-orders.md G7): signing <= 20 us p99.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable
from decimal import Decimal

from fxcli.exchange.mexc_private.client import order_params
from fxcli.exchange.mexc_private.signing import signed_query
from fxcli.model.orders import BUY, OrderRequest

SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"
ORDER = OrderRequest(
    "PEPEUSDT", BUY, "LIMIT", "fxk7q2m9e00000001", quantity=Decimal("1000000"), price=Decimal("0.0000101")
)
TARGET_P99_US = 20.0


def fx_sign(timestamp_ms: int) -> str:
    params = [*order_params(ORDER), ("recvWindow", "5000"), ("timestamp", str(timestamp_ms))]
    return signed_query(SECRET, params)


def peer_sign(timestamp_ms: int) -> str:
    params = {
        "symbol": ORDER.symbol,
        "side": ORDER.side,
        "type": ORDER.type,
        "quantity": format(ORDER.quantity, "f"),
        "price": format(ORDER.price, "f"),
        "newClientOrderId": ORDER.client_id,
        "recvWindow": "5000",
        "timestamp": str(timestamp_ms),
    }
    query = urllib.parse.urlencode(params)
    return query + "&signature=" + hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()


def measure(sign: Callable[[int], str], calls: int) -> list[float]:
    """Microseconds per call, sorted."""
    times: list[float] = []
    clock = time.perf_counter_ns
    for n in range(calls):
        start = clock()
        sign(1765000000000 + n)
        times.append((clock() - start) / 1000)
    return sorted(times)


def quantile(sorted_us: list[float], q: float) -> float:
    return sorted_us[min(len(sorted_us) - 1, int(q * len(sorted_us)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    assert fx_sign(1) == peer_sign(1), "both sides must sign the same bytes"
    best: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, sign in (("fx", fx_sign), ("peer urlencode+hmac", peer_sign)):
            times = measure(sign, args.calls)
            if name not in best or quantile(times, 0.5) < quantile(best[name], 0.5):
                best[name] = times
    print(f"signing one order request, {args.calls} calls x best of {args.rounds} rounds")
    for name, times in best.items():
        print(f"  {name:<22} p50 {quantile(times, 0.5):6.2f} us   p99 {quantile(times, 0.99):6.2f} us")
    fx, peer = best["fx"], best["peer urlencode+hmac"]
    print(
        f"  ratio fx/peer          p50 {quantile(fx, 0.5) / quantile(peer, 0.5):.2f}x   "
        f"p99 {quantile(fx, 0.99) / quantile(peer, 0.99):.2f}x"
    )
    verdict = "meets" if quantile(fx, 0.99) <= TARGET_P99_US else "misses"
    print(f"  fx p99 {verdict} the target of {TARGET_P99_US:g} us")


if __name__ == "__main__":
    main()
