"""Start-up reconciliation on loopback: issue 15's case (a crashed run left 50 open orders, 10 whose
outcome is unknown, 3 foreign orders on the account), restarted against the fake MEXC private
venue through the real `PrivateClient`; goal G6 of docs/mexc-orders.md: consistent in <= 5 s.

Two restarts: right after the crash, and after the read-after-write lag (3 s) has passed. Either
way a correct reconciliation must wait the lag out before a not-found means anything: the 2 intents
the crashed process journaled but never marked sent may have left just before it died, and the time
of death is unknown, so their lag counts from the restart. Peer, from the same run: that wait plus
the venue reads such a reconciliation needs at the least, issued back to back by the same
`PrivateClient` (openOrders, allOrders, myTrades, two order queries for each intent never placed),
i.e. a sequential "wait, then read" reconciliation; below 1x means fx reads while it waits.

Run: `.venv/bin/python bench/reconcile.py [--rounds R]` (best of R rounds each). Nothing is
asserted: it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* (the fake venue) from a checkout

import contextlib

from fxcli.exchange.mexc_private.client import PrivateClient
from fxcli.exchange.mexc_private.errors import VenueError
from fxcli.execution.journal import Journal
from fxcli.execution.reconcile import reconcile_startup
from tests.fake_mexc_private import FakePrivateVenue
from tests.live.crashed_run import SYMBOL, CrashedRun, client_of, crash_with_50_open_10_unknown_3_foreign

LAG_S = 3.0
TARGET_S = 5.0


async def restart(wait_s: float) -> tuple[float, float, bool]:
    """One crashed run, a restart after `wait_s`: (fx seconds, peer seconds, report consistent)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.db"
        async with FakePrivateVenue(seed=3, symbols=[SYMBOL]) as venue, client_of(venue) as client:
            venue.read_lag_ms = 1500
            crash = await crash_with_50_open_10_unknown_3_foreign(venue, client, path)
            await asyncio.sleep(wait_s)
            with Journal.open(path) as journal:
                report = await reconcile_startup(client, journal, [SYMBOL], lag_s=LAG_S)
            peer_s = await bare_reads(client, crash)
    return report.elapsed_s, peer_s, report.consistent


async def bare_reads(client: PrivateClient, crash: CrashedRun) -> float:
    """The least a reconciliation must read, back to back, timed."""
    started = time.perf_counter()
    await client.open_orders(SYMBOL)
    await client.all_orders(SYMBOL, limit=1000)
    await client.my_trades(SYMBOL, limit=100)
    for order in crash.dropped + crash.never_sent:
        for _ in range(2):
            with contextlib.suppress(VenueError):
                await client.query_order(SYMBOL, client_id=order.client_id)
    return time.perf_counter() - started


def line(label: str, fx_s: float, reads_s: float, consistent: bool) -> str:
    met = "met" if fx_s <= TARGET_S and consistent else "NOT met"
    peer_s = LAG_S + reads_s
    return (
        f"| {label} | {fx_s:.2f} s | lag {LAG_S:.0f} s + bare reads {reads_s:.2f} s = {peer_s:.2f} s | "
        f"{fx_s / peer_s:.2f}x | <= {TARGET_S:.0f} s, consistent ({met}) |"
    )


async def main(rounds: int) -> None:
    soon = min([await restart(0.0) for _ in range(rounds)])
    late = min([await restart(LAG_S) for _ in range(rounds)])
    print("| restart (50 open, 10 unknown, 3 foreign) | fx | peer | ratio | target |")
    print("|---|---|---|---|---|")
    print(line("right after the crash", *soon))
    print(line("3 s after the crash", *late))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
