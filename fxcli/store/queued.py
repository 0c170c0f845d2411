"""A worker thread fed by a bounded queue, handing its owner what is queued in coalesced rounds.

The store writer and the raw writer share this shape: producers `offer` items and never wait on
disk (a full queue is the owner's to note as lost), the thread takes the first item as it comes
and then everything else already queued as one round (fewer, larger writes), and `stop` lets it
drain what is queued before it ends.

    worker = QueuedThread("fx-store-writer", 64, write_round)
    if not worker.offer(batch):
        note_overflow(batch)
    worker.stop()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class QueuedThread(Generic[T]):
    """A daemon thread that passes each round of queued items to `on_round` until `stop()`.

    `on_round` may get an empty list: the last round, when only the stop was queued, still runs so
    the owner can write what it noted on the side (overflow). With `idle_s`, `on_idle` runs each
    time that long passes with nothing queued; `on_stop` runs on the thread after the last round.
    An exception from a callback ends the thread: owners catch their own write errors.
    """

    def __init__(
        self,
        name: str,
        max_queue: int,
        on_round: Callable[[list[T]], None],
        *,
        idle_s: float | None = None,
        on_idle: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._queue: queue.Queue[T | None] = queue.Queue(maxsize=max_queue)
        self._on_round = on_round
        self._idle_s = idle_s
        self._on_idle = on_idle
        self._on_stop = on_stop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def offer(self, item: T, *, timeout: float | None = None) -> bool:
        """Queue `item` without waiting (or waiting up to `timeout` s); False if the queue stayed full."""
        try:
            if timeout is None:
                self._queue.put_nowait(item)
            else:
                self._queue.put(item, timeout=timeout)
            return True
        except queue.Full:
            return False

    @property
    def depth(self) -> int:
        """Items queued now (approximate: read without a lock, for metrics)."""
        return self._queue.qsize()

    def drain(self) -> None:
        """Wait until every item offered before this call has been through `on_round`."""
        if self._thread.is_alive():
            self._queue.join()

    def stop(self) -> None:
        """Let the thread take everything queued before this call, then end it and wait for it."""
        if self._thread.is_alive():
            self._queue.put(None)  # waits for room: what is queued is written, not dropped
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._idle_s)
            except queue.Empty:  # only with idle_s
                if self._on_idle is not None:
                    self._on_idle()
                continue
            items: list[T] = []
            if first is None:
                stopping = True
            else:
                items.append(first)
            while not stopping:  # take what else is queued: fewer, larger writes
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    items.append(item)
            taken = len(items) + (1 if stopping else 0)  # on_round may add to the list
            try:
                self._on_round(items)
            finally:
                for _ in range(taken):
                    self._queue.task_done()
        if self._on_stop is not None:
            self._on_stop()
