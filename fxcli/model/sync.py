"""Book sync for one symbol: buffer deltas until a snapshot, bridge it, follow the version chain.

Any break in the chain becomes a `Gap` (reason version_jump) and the book waits for the next
snapshot; deltas that cannot be applied are never passed on, so stored deltas always rebuild.
"""

from __future__ import annotations

from collections import deque

from fxcli.model.book import Applied, OrderBook
from fxcli.model.events import BookDelta, BookSnapshot, Event, Gap, GapReason


class BookSync:
    """Feeds an `OrderBook` and returns the events worth keeping: snapshots, applied deltas, gaps."""

    def __init__(self, symbol: str, *, max_buffer: int = 10_000) -> None:
        self.book = OrderBook(symbol)
        self.symbol = symbol
        self.is_synced = False
        self.applied = 0
        self.dropped = 0
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffer)
        self._broken_since_ns: int | None = None
        self._break_detail = ""

    def on_delta(self, delta: BookDelta) -> list[Event]:
        """Apply or buffer a delta; returns it if applied, plus a Gap when the chain broke."""
        if not self.is_synced:
            self._buffer.append(delta)
            return []
        result = self.book.apply_delta(delta)
        if result is Applied.APPLIED:
            self.applied += 1
            return [delta]
        if result is Applied.STALE:
            self.dropped += 1
            return []
        self._break(
            delta,
            f"expected from_version {self.book.version + 1 if self.book.version else '?'}, "
            f"got {delta.from_version}..{delta.to_version}",
        )
        self._buffer.append(delta)
        return []

    def resume(self, snapshot: BookSnapshot) -> None:
        """Follow the chain on from a book already stored (the end of the previous capture file):
        the book becomes `snapshot`, nothing is returned for it (it is stored already), and the
        next delta either continues its version or breaks the chain (a Gap from the book's time)."""
        self.book.apply_snapshot(snapshot)
        self.is_synced = True
        self._buffer.clear()
        self._broken_since_ns = None

    def on_snapshot(self, snapshot: BookSnapshot) -> list[Event]:
        """Rebase the book on a snapshot and replay buffered deltas that continue it."""
        out: list[Event] = [snapshot]
        if self.is_synced and self.book.version is not None and snapshot.version <= self.book.version:
            return out  # an older or equal view of a book we already follow: keep it as data only
        self.book.apply_snapshot(snapshot)
        self.is_synced = True
        pending, self._buffer = list(self._buffer), deque(maxlen=self._buffer.maxlen)
        for delta in pending:
            if not self.is_synced:
                self._buffer.append(delta)
                continue
            result = self.book.apply_delta(delta)
            if result is Applied.APPLIED:
                self.applied += 1
                out.append(delta)
            elif result is Applied.STALE:
                self.dropped += 1
            else:
                self._break(
                    delta,
                    f"snapshot {snapshot.version} does not bridge buffered deltas "
                    f"(next from_version {delta.from_version})",
                )
                self._buffer.append(delta)
        if self.is_synced and self._broken_since_ns is not None:
            out.append(
                Gap(
                    self.symbol,
                    self._broken_since_ns,
                    snapshot.exchange_ts_ns,
                    GapReason.VERSION_JUMP,
                    self._break_detail,
                )
            )
            self._broken_since_ns = None
        return out

    def finish(self, last_ts_ns: int) -> list[Event]:
        """At the end of a source: a chain still broken is a Gap up to the last time seen, and so are
        deltas that never had a snapshot to build on (their book cannot be known)."""
        gaps: list[Event] = []
        if self._broken_since_ns is not None:
            end = max(last_ts_ns, self._broken_since_ns)
            detail = self._break_detail + "; no snapshot followed"
            gaps.append(Gap(self.symbol, self._broken_since_ns, end, GapReason.VERSION_JUMP, detail))
            self._broken_since_ns = None
        elif self.book.version is None and self._buffer:
            start, end = self._buffer[0].exchange_ts_ns, max(last_ts_ns, self._buffer[-1].exchange_ts_ns)
            detail = f"{len(self._buffer)} book deltas and no snapshot to apply them to"
            gaps.append(Gap(self.symbol, start, end, GapReason.IMPORT_HOLE, detail))
        self.dropped += len(self._buffer)
        self._buffer.clear()
        return gaps

    def _break(self, delta: BookDelta, detail: str) -> None:
        self.is_synced = False
        self.dropped += len(self._buffer)
        self._buffer.clear()
        if self._broken_since_ns is None:
            self._broken_since_ns = self.book.exchange_ts_ns or delta.exchange_ts_ns
            self._break_detail = detail
