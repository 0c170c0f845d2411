"""kill -9 of a real `fx stream --live` at each step of the order path (docs/mexc-orders.md §5 F18),
then a restart on the same journal: no orphan, no duplicate order, the fill ledger equal to the
venue's trades, and the strategy not acting before the start-up reconciliation. The process is
stopped at an exact step by a failpoint (`FX_FAILPOINT`, tests only: `fxcli/execution/failpoints.py`
freezes it there) or, for "sent, no answer yet", by the fake venue holding the answer; then SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fxcli.execution.clientid import parse
from fxcli.execution.journal import Journal
from tests.conftest import REPO, run_fx
from tests.live.private_venue import VenueProcess, btc_like, venue_process
from tests.live.test_flatten import _open_position_and_orders
from tests.live.test_stream_live import live_stream, start_live_stream, store

__all__ = ["store"]


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the step was never reached"
        time.sleep(0.05)


def kill_9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def fx_orders_sent(venue: VenueProcess) -> int:
    return len(venue.fx_orders())


def assert_consistent(venue: VenueProcess, journal_path: Path) -> None:
    """G1-G3 after the restart: nothing of fx open, ≤ 1 venue order per intent (and none unknown to
    the journal), the fill ledger equal to the venue's trades of fx's orders, nothing in doubt."""
    ledger = venue.admin("ledger")
    assert venue.open_fx_orders() == []
    with Journal.open(journal_path) as journal:
        intents = {o.client_id: o for o in journal.orders()}
        fills = {t.trade_id: t for t in journal.fills() if parse(t.client_id) is not None}
    fx_ids = {cid for cid in ledger["orders_per_client_id"] if parse(cid) is not None}
    assert fx_ids <= set(intents)
    assert all(ledger["orders_per_client_id"][cid] == 1 for cid in fx_ids)
    assert {o.state.value for o in intents.values()}.isdisjoint({"SUBMITTING", "UNKNOWN"})
    venue_fx = {
        tid: t
        for o in ledger["orders"]
        if not o["external"]
        for tid in o["tradeIds"]
        for t in [ledger["trades"][tid]]
    }
    assert set(fills) == set(venue_fx)
    for tid, trade in venue_fx.items():
        have = fills[tid]
        assert (have.qty, have.price, have.fee, have.fee_asset) == (
            Decimal(trade["qty"]),
            Decimal(trade["price"]),
            Decimal(trade["commission"]),
            trade["commissionAsset"],
        )


def restart_until_first_order(store: Path, venue: VenueProcess, tmp: Path) -> list[dict[str, Any]]:
    """The restart: until its first order line (a send or a refusal), then SIGINT (cancel on exit)."""
    code, docs, err = live_stream(store, venue, tmp, until=lambda doc: doc["type"] == "order", timeout_s=60)
    assert code == 0, err
    return docs


@pytest.mark.parametrize("step", ["order-journaled", "order-sent", "order-answered", "fill-journaled"])
def test_kill_9_at_each_step_of_the_order_path_then_a_restart_leaves_a_consistent_venue(
    store: Path,
    tmp_path: Path,
    step: str,
) -> None:
    marker = tmp_path / "failpoint"
    with venue_process(tmp_path) as venue:
        btc_like(venue, "61800")
        venue.admin("knobs", partial_fills=[2, 3])  # an entry fills in 2-3 trades: a step between them
        env = {"FX_FAILPOINT": step, "FX_FAILPOINT_FILE": str(marker)}
        if step == "order-sent":  # the venue takes the order and holds its answer: fx waits, unaware
            venue.admin("fault", kind="lost_response", when="POST /api/v3/order$", delay_s=30)
        proc = start_live_stream(store, venue, tmp_path, strategy="round_trip", env=env)
        if step == "order-sent":
            wait_for(lambda: fx_orders_sent(venue) == 1, proc)
        else:
            wait_for(marker.exists, proc)
        sent_before_kill = fx_orders_sent(venue)
        kill_9(proc)
        venue.admin("clear_faults")

        docs = restart_until_first_order(store, venue, tmp_path)
        assert_consistent(venue, tmp_path / "journal.sqlite")

    # journaled, not sent: nothing at the venue; otherwise the entry is there (with "order-sent" its
    # fill may already have come by push and the exit gone out while the entry's answer is held)
    assert (sent_before_kill == 0) if step == "order-journaled" else (sent_before_kill >= 1)
    kinds = [d["type"] if d["type"] != "status" else d["kind"] for d in docs]
    assert "live" in kinds
    assert "order" in kinds
    assert kinds.index("live") < kinds.index("order")  # reconciled before the strategy's first order


def test_kill_9_during_cancel_all_then_a_second_flatten_leaves_nothing_of_fx_open(tmp_path: Path) -> None:
    marker = tmp_path / "failpoint"
    journal = tmp_path / "journal.sqlite"
    with venue_process(tmp_path) as venue:
        btc_like(venue)
        asyncio.run(_open_position_and_orders(venue, journal, 4))
        venue.admin(
            "place_external",
            symbol="BTCUSDT",
            side="BUY",
            type_="LIMIT",
            quantity="0.001",
            price="59000",
            client_id="web1",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")} | venue.env
        env |= {"FX_FAILPOINT": "cancel-all", "FX_FAILPOINT_FILE": str(marker)}
        args = [sys.executable, "-m", "fxcli", "flatten", "--journal", str(journal), "--json"]
        proc = subprocess.Popen(
            args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for(marker.exists, proc)
        open_at_kill = len(venue.open_fx_orders())
        kill_9(proc)

        again = run_fx("flatten", "--journal", str(journal), "--json", env=venue.env, unset=("FX_",))
        assert again.returncode == 0, again.stderr
        assert_consistent(venue, journal)
        still = [o["clientOrderId"] for o in venue.admin("ledger")["orders"] if o["status"] == "NEW"]

    assert open_at_kill == 3  # killed after the first of four cancels
    assert still == ["web1"]  # the order placed outside fx is left alone
