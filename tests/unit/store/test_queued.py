"""QueuedThread: coalesced rounds, a full queue that never waits, the last round, idle and stop hooks."""

from __future__ import annotations

import threading

from fxcli.store.queued import QueuedThread


def test_queued_thread_coalesces_what_waited_and_refuses_when_full() -> None:
    entered, release = threading.Event(), threading.Event()
    rounds: list[list[int]] = []

    def on_round(items: list[int]) -> None:
        rounds.append(items)
        entered.set()
        release.wait(30)

    worker = QueuedThread("test-queued", 3, on_round)
    worker.offer(0)
    assert entered.wait(10), "the thread never took the first item"
    offered = [worker.offer(i) for i in (1, 2, 3, 4)]
    release.set()
    worker.stop()

    assert offered == [True, True, True, False]
    assert [r for r in rounds if r] == [[0], [1, 2, 3]]


def test_queued_thread_stop_with_nothing_queued_still_runs_a_last_round() -> None:
    rounds: list[list[int]] = []

    worker = QueuedThread("test-queued", 1, rounds.append)
    worker.stop()

    assert rounds == [[]]


def test_queued_thread_idles_then_stops_on_its_own_thread() -> None:
    idle = threading.Event()
    stopped_on: list[str] = []

    worker: QueuedThread[int] = QueuedThread(
        "test-queued",
        1,
        lambda items: None,
        idle_s=0.01,
        on_idle=idle.set,
        on_stop=lambda: stopped_on.append(threading.current_thread().name),
    )
    has_idled = idle.wait(10)
    worker.stop()

    assert has_idled
    assert stopped_on == ["test-queued"]
