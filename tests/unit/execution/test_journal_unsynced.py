"""An ack journaled without waiting for the disk (`record(..., synced=False)`, the broker's ack
write) still survives kill -9 of fx, and the journal's later commits are fsynced again."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

from fxcli.execution.journal import Journal
from fxcli.execution.orders import OrderState
from tests.unit.execution.test_journal import killed_after_first_line

CHILD = """
import sys
from decimal import Decimal
from fxcli.execution.journal import Journal
from fxcli.execution.orders import evidence
from fxcli.model.orders import Ack
journal = Journal.open({path!r}, "k7q2m9")
order = journal.record_intent("PEPEUSDT", "BUY", "LIMIT", role="e",
                              quantity=Decimal("1000000"), price=Decimal("0.0000101"))
order.on_ack(Ack("PEPEUSDT", "C02__1", 1765000000000))
journal.record(order, evidence("ack"), synced=False)
print(journal.durability()["synchronous"], flush=True)
sys.stdin.read()  # the parent kills us here
"""


def test_an_unsynced_ack_survives_sigkill_and_the_journal_stays_fully_synced(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    child = textwrap.dedent(CHILD.format(path=str(path)))
    after_ack, returncode = killed_after_first_line(child)
    with Journal.open(path) as journal:
        [order] = journal.orders(open_only=True)

    assert returncode == -signal.SIGKILL
    assert after_ack == "FULL"  # only the ack's own commit skipped the fsync
    assert (order.state, order.order_id) == (OrderState.ACCEPTED, "C02__1")
