"""The journal: intents durable before the send, an append-only state log, fills once by trade id,
every run remembered; bad files refused with one line naming the file."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest

from fxcli.errors import FxError
from fxcli.execution.clientid import parse
from fxcli.execution.journal import Journal
from fxcli.execution.orders import OrderState, can_move, evidence
from fxcli.model.orders import Ack, VenueTrade
from tests.unit.execution.fills import pepe_fill

S = OrderState


def fill(tid: str, order_id: str) -> VenueTrade:
    return pepe_fill(tid, order_id=order_id, fee="0.5")


def test_journal_is_wal_with_full_synchronous(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "orders.db") as journal:
        assert journal.durability() == {"journal_mode": "wal", "synchronous": "FULL"}


def killed_after_first_line(child: str) -> tuple[str, int | None]:
    """Run `child` (Python source), read its first line, SIGKILL it: the line and its exit code."""
    with subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    return line, proc.returncode


def test_intent_survives_sigkill_right_after_record_intent(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    child = textwrap.dedent(
        f"""
        import sys
        from decimal import Decimal
        from fxcli.execution.journal import Journal
        journal = Journal.open({str(path)!r}, "k7q2m9")
        order = journal.record_intent("PEPEUSDT", "BUY", "LIMIT", role="e",
                                      quantity=Decimal("1000000"), price=Decimal("0.0000101"))
        print(order.client_id, flush=True)
        sys.stdin.read()  # the send would happen here; the parent kills us first
        """
    )
    cid, returncode = killed_after_first_line(child)
    with Journal.open(path) as journal:
        orders = journal.orders(open_only=True)
        runs = journal.run_ids()

    assert returncode == -signal.SIGKILL
    assert cid == "fxk7q2m9e00000001"
    assert [(o.client_id, o.state, o.intent.quantity) for o in orders] == [
        (cid, S.SUBMITTING, Decimal(1000000))
    ]
    assert "k7q2m9" in runs


WRITER = """
import sys
from decimal import Decimal
from fxcli.execution.journal import Journal
from fxcli.execution.orders import evidence
from fxcli.model.orders import Ack, VenueTrade
from tests.unit.execution.fills import pepe_fill
journal = Journal.open(sys.argv[1])
print("open", flush=True)
n = 0
while True:
    n += 1
    order = journal.record_intent("A", "BUY", "LIMIT", role="e", quantity=Decimal(2), price=Decimal(1))
    ack = Ack("A", f"C02__{journal.run_id}{n}", n)
    order.on_ack(ack)
    journal.record(order, evidence(ack))
    trade = VenueTrade("A", f"{journal.run_id}{n}X1", ack.order_id, order.client_id, "BUY", Decimal(1),
                       Decimal(2), Decimal(2), Decimal(0), "A", n, False)
    journal.add_fill(trade)
    order.on_trade(trade)
    journal.record(order, evidence(trade))
"""


@pytest.mark.parametrize("kill_after_s", [0.05, 0.2, 0.4])
def test_sigkill_while_writing_leaves_a_consistent_journal(tmp_path: Path, kill_after_s: float) -> None:
    path = tmp_path / "orders.db"
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "open"
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    check = sqlite3.connect(path)
    integrity = check.execute("PRAGMA integrity_check").fetchone()[0]
    check.close()
    with Journal.open(path) as journal:
        orders = journal.orders()
        histories = [[state for state, _, _ in journal.history(o.client_id)] for o in orders]
        fills = journal.fills()

    assert integrity == "ok"
    assert orders  # the child got some work done before it died
    assert all(h[0] == S.SUBMITTING for h in histories)
    assert all(can_move(a, b) for h in histories for a, b in itertools.pairwise(h))
    assert {f.client_id for f in fills} <= {o.client_id for o in orders}
    assert all(o.state != S.FILLED or o.fills for o in orders)


def test_reopened_journal_rebuilds_state_and_knows_earlier_runs(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    with Journal.open(path, "aaaaaa") as journal:
        order = journal.record_intent(
            "PEPEUSDT", "BUY", "LIMIT", role="e", quantity=Decimal(2), price=Decimal(1)
        )
        order.on_ack(Ack("PEPEUSDT", "C02__1", 10))
        journal.record(order, evidence(Ack("PEPEUSDT", "C02__1", 10)))
        journal.add_fill(fill("7X1", "C02__1"))

    with Journal.open(path) as journal:
        again = journal.order(order.client_id)
        second = journal.record_intent("PEPEUSDT", "SELL", "MARKET", role="x", quantity=Decimal(1))
        runs = journal.run_ids()
        history = journal.history(order.client_id)

    assert again is not None
    assert (again.state, again.order_id, list(again.fills)) == (S.ACCEPTED, "C02__1", ["7X1"])
    assert again.fills["7X1"].client_id == order.client_id
    assert [h[0] for h in history] == [S.SUBMITTING, S.ACCEPTED]
    assert history[1][1]["kind"] == "Ack"
    assert runs == {"aaaaaa", journal.run_id}
    assert parse(second.client_id) == (journal.run_id, "x", 1)


def test_resumed_run_never_reuses_a_sequence_number(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    with Journal.open(path, "bbbbbb") as journal:
        first = journal.record_intent("A", "BUY", "LIMIT", role="e", quantity=Decimal(1), price=Decimal(1))

    with Journal.open(path, "bbbbbb") as journal:
        second = journal.record_intent("A", "BUY", "LIMIT", role="e", quantity=Decimal(1), price=Decimal(1))

    assert (first.client_id, second.client_id) == ("fxbbbbbbe00000001", "fxbbbbbbe00000002")


def test_add_fill_counts_each_trade_id_once(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "orders.db") as journal:
        added = [journal.add_fill(fill("1X1", "C02__9")), journal.add_fill(fill("1X1", "C02__9"))]
        ledger = journal.fills()

    assert added == [True, False]
    assert [t.trade_id for t in ledger] == ["1X1"]


def test_set_state_refuses_a_move_outside_the_table(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "orders.db") as journal:
        order = journal.record_intent("A", "BUY", "LIMIT", role="e", quantity=Decimal(1), price=Decimal(1))
        journal.set_state(order.client_id, S.UNKNOWN, {"kind": "timeout"})

        with pytest.raises(ValueError, match="UNKNOWN -> REJECTED"):
            journal.set_state(order.client_id, S.REJECTED, {"kind": "guess"})
        state = journal.order(order.client_id)

    assert state is not None
    assert state.state == S.UNKNOWN


def test_terminal_orders_leave_the_open_list(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "orders.db") as journal:
        done = journal.record_intent("A", "BUY", "LIMIT", role="e", quantity=Decimal(1), price=Decimal(1))
        live = journal.record_intent("A", "BUY", "LIMIT", role="e", quantity=Decimal(1), price=Decimal(1))
        journal.set_state(done.client_id, S.REJECTED, {"code": 30002})

        open_ids = [o.client_id for o in journal.orders(open_only=True)]
        all_ids = [o.client_id for o in journal.orders()]

    assert open_ids == [live.client_id]
    assert all_ids == [done.client_id, live.client_id]


def test_open_file_that_is_not_sqlite_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    path.write_text("not a database at all, just some text that is long enough\n" * 20)

    with pytest.raises(FxError, match=r"orders\.db: not an fx order journal"):
        Journal.open(path)

    assert path.read_text().startswith("not a database")


def test_open_foreign_sqlite_database_leaves_it_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (x TEXT)")
    other.commit()
    other.close()

    with pytest.raises(FxError, match=r"other\.db: an SQLite database but not an fx order journal"):
        Journal.open(path)
    check = sqlite3.connect(path)
    tables = check.execute("SELECT name FROM sqlite_master").fetchall()
    check.close()

    assert tables == [("notes",)]


def test_open_below_a_file_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file where a folder should be\n")
    path = tmp_path / "results" / "orders.db"

    with pytest.raises(FxError, match=r"results/orders\.db: cannot open the order journal"):
        Journal.open(path)


def test_fill_seen_before_the_order_id_joins_its_order_once_the_id_is_known(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "orders.db") as journal:
        order = journal.record_intent(
            "PEPEUSDT", "BUY", "LIMIT", role="e", quantity=Decimal(5), price=Decimal(1)
        )
        journal.add_fill(fill("3X1", "C02__77"))  # myTrades row with a null client id, before the ack
        order.on_ack(Ack("PEPEUSDT", "C02__77", 1))
        journal.record(order, evidence(Ack("PEPEUSDT", "C02__77", 1)))

        rebuilt = journal.order(order.client_id)

    assert rebuilt is not None
    assert list(rebuilt.fills) == ["3X1"]


def test_open_journal_of_a_newer_fx_is_refused_and_left_as_is(tmp_path: Path) -> None:
    path = tmp_path / "orders.db"
    Journal.open(path, "dddddd").close()
    newer = sqlite3.connect(path)
    newer.execute("PRAGMA user_version=2")
    newer.close()

    with pytest.raises(FxError, match=r"orders\.db: order journal version 2 was written by a newer fx"):
        Journal.open(path)
    check = sqlite3.connect(path)
    version = check.execute("PRAGMA user_version").fetchone()[0]
    runs = check.execute("SELECT run_id FROM runs").fetchall()
    check.close()

    assert (version, runs) == (2, [("dddddd",)])
