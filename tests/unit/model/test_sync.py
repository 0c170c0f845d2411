"""BookSync: buffering before a snapshot, bridging, gaps on version jumps."""

from __future__ import annotations

from fxcli.model.events import BookDelta, BookSnapshot, Gap, GapReason
from fxcli.model.sync import BookSync


def d(lo: int, hi: int, ts: int) -> BookDelta:
    return BookDelta(ts, ts, "X", [(10.0 + hi % 3, 1.0)], [(20.0, float(hi))], lo, hi)


def snap(version: int, ts: int) -> BookSnapshot:
    return BookSnapshot(ts, ts, "X", [(10.0, 5.0)], [(20.0, 5.0)], version, "rest")


def test_sync_deltas_before_snapshot_are_buffered_then_bridged() -> None:
    sync = BookSync("X")

    early = [sync.on_delta(d(1, 5, 1)), sync.on_delta(d(6, 9, 2)), sync.on_delta(d(10, 12, 3))]
    out = sync.on_snapshot(snap(7, 4))

    assert early == [[], [], []]
    assert [type(e).__name__ for e in out] == ["BookSnapshot", "BookDelta", "BookDelta"]
    assert [e.to_version for e in out[1:]] == [9, 12]  # type: ignore[union-attr]
    assert sync.book.version == 12
    assert sync.dropped == 1


def test_sync_version_jump_emits_gap_after_resync_snapshot() -> None:
    sync = BookSync("X")
    sync.on_snapshot(snap(10, 100))
    sync.on_delta(d(11, 12, 200))

    lost = sync.on_delta(d(15, 16, 300))
    waiting = sync.on_delta(d(17, 18, 400))
    out = sync.on_snapshot(snap(16, 500))

    assert lost == []
    assert waiting == []
    gaps = [e for e in out if isinstance(e, Gap)]
    assert len(gaps) == 1
    assert (gaps[0].start_ns, gaps[0].end_ns, gaps[0].reason) == (200, 500, GapReason.VERSION_JUMP)
    assert "expected from_version 13" in gaps[0].detail
    assert sync.book.version == 18


def test_sync_unresolved_break_is_a_gap_at_finish() -> None:
    sync = BookSync("X")
    sync.on_snapshot(snap(10, 100))
    sync.on_delta(d(20, 21, 150))

    gaps = sync.finish(900)

    assert len(gaps) == 1
    assert isinstance(gaps[0], Gap)
    assert (gaps[0].start_ns, gaps[0].end_ns) == (100, 900)


def test_sync_older_snapshot_while_synced_keeps_the_book() -> None:
    sync = BookSync("X")
    sync.on_snapshot(snap(10, 100))
    sync.on_delta(d(11, 14, 110))

    out = sync.on_snapshot(snap(12, 120))
    after = sync.on_delta(d(15, 15, 130))

    assert [type(e).__name__ for e in out] == ["BookSnapshot"]
    assert len(after) == 1
    assert sync.book.version == 15


def test_sync_deltas_that_never_get_a_snapshot_become_an_import_hole() -> None:
    sync = BookSync("X")
    sync.on_delta(d(1, 5, 100))
    sync.on_delta(d(6, 9, 200))

    gaps = sync.finish(300)

    assert len(gaps) == 1
    assert isinstance(gaps[0], Gap)
    assert (gaps[0].start_ns, gaps[0].end_ns, gaps[0].reason) == (100, 300, GapReason.IMPORT_HOLE)
    assert gaps[0].detail == "2 book deltas and no snapshot to apply them to"
    assert sync.dropped == 2


def test_sync_finish_after_clean_run_has_no_gap() -> None:
    sync = BookSync("X")
    sync.on_snapshot(snap(10, 100))
    sync.on_delta(d(11, 12, 200))

    assert sync.finish(300) == []


def test_sync_resumed_from_a_stored_book_applies_the_bridging_delta_and_emits_no_snapshot() -> None:
    sync = BookSync("X")
    sync.resume(snap(10, 100))

    out = sync.on_delta(d(11, 12, 200))

    assert [type(e).__name__ for e in out] == ["BookDelta"]
    assert sync.book.version == 12
    assert sync.finish(300) == []  # a whole chain at the end of a source writes no gap


def test_sync_resumed_book_not_bridged_is_a_gap_from_the_stored_book_time() -> None:
    sync = BookSync("X")
    sync.resume(snap(10, 100))

    out = sync.on_delta(d(14, 15, 200))
    gaps = sync.finish(900)

    assert out == []
    assert len(gaps) == 1
    assert isinstance(gaps[0], Gap)
    assert (gaps[0].start_ns, gaps[0].end_ns, gaps[0].reason) == (100, 900, GapReason.VERSION_JUMP)
