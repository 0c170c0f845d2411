"""The recorder's hand-off to the store writer: column buffers in, `StoreWriter.submit` out, on a thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping

from fxcli.store.parts import MetaValue
from fxcli.store.rows import TableRows
from fxcli.store.writer import StoreError, StoreWriter, WriteBatch

log = logging.getLogger(__name__)


class TableBatcher:
    """Column buffers in, `StoreWriter.submit(block=False)` out, on a thread of its own.

    It never waits: the submit drops to a `writer_overflow` Gap when the store writer's queue is
    full. Its own queue grows only as fast as the CPU falls behind (it does no I/O).
    """

    def __init__(
        self, venue: str, writer: StoreWriter, meta_of: Callable[[str], Mapping[str, MetaValue]] | None = None
    ) -> None:
        self.venue = venue
        self.writer = writer
        self._meta_of = meta_of  # what a symbol's store folders record about its rows (units)
        self.rows_submitted = 0
        self.error: str | None = None
        self._queue: queue.SimpleQueue[dict[str, TableRows] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fx-record-batcher", daemon=True)
        self._thread.start()

    def put(self, rows: dict[str, TableRows]) -> None:
        """Queue one flush: buffers per symbol (no longer touched by the event loop)."""
        self._queue.put(rows)

    def close(self) -> None:
        """Submit what is queued and stop."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                for symbol, rows in item.items():
                    meta = self._meta_of(symbol) if self._meta_of is not None else None
                    for table, frame in rows.take():
                        batch = WriteBatch(self.venue, symbol, table, frame, append=True, meta=meta)
                        self.writer.submit(batch, block=False)
                        self.rows_submitted += frame.height
            except StoreError as exc:  # the writer thread died: the loop sees it and stops the recorder
                self.error = str(exc)
            except Exception as exc:  # a bug turning rows into frames: the recorder stops, never silently
                log.exception("the table batcher failed")
                self.error = f"table batcher failed: {type(exc).__name__}: {exc}"
