"""The raw frame log: one zstd frame per flush, readable after any cut, hourly files, overflow noted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zstandard

from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_HOUR
from fxcli.store.raw import RawRecord, RawWriter, frame_bytes, frame_spans, raw_files, raw_tail, read_raw

HOUR = 1_795_550_400 * 10**9  # 2026-11-24T20:00:00Z, the start of a UTC hour


def frame(seq: int, at_ns: int = HOUR + 5, data: bytes | str = b"\x0a\x01\xff", slot: int = 0) -> RawFrame:
    kind = "text" if isinstance(data, str) else "binary"
    return RawFrame(slot, 1, seq, at_ns + seq, 1_000 + seq, kind, data)


def write(tmp_path: Path, chunks: list[list[RawRecord]]) -> Path:
    with RawWriter(tmp_path, "mexc-spot", header={"ws_url": "ws://127.0.0.1:1/ws"}) as raw:
        for chunk in chunks:
            assert raw.submit(chunk)
            time.sleep(0.01)  # separate flushes: separate zstd frames
    (path,) = raw_files(tmp_path, "mexc-spot")
    return path


def test_raw_writer_puts_frames_in_the_hour_file_of_their_slot(tmp_path: Path) -> None:
    text = '{"id":0,"code":0,"msg":"PONG"}'

    with RawWriter(tmp_path, "mexc-spot") as raw:
        raw.submit([frame(1), frame(2, data=text, slot=2), frame(3, HOUR + NS_PER_HOUR)])

    files = [p.relative_to(tmp_path).as_posix() for p in raw_files(tmp_path, "mexc-spot")]
    assert files == [
        "mexc-spot/raw/2026-11-24/20/conn-0.jsonl.zst",
        "mexc-spot/raw/2026-11-24/20/conn-2.jsonl.zst",
        "mexc-spot/raw/2026-11-24/21/conn-0.jsonl.zst",
    ]
    first = read_raw(tmp_path / files[0]).records
    assert [r["kind"] for r in first] == ["session", "binary"]
    assert frame_bytes(first[1]) == b"\x0a\x01\xff"
    assert first[1] == {
        "slot": 0,
        "recv_wall_ns": HOUR + 6,
        "recv_mono_ns": 1_001,
        "conn_id": 1,
        "conn_seq": 1,
        "kind": "binary",
        "data": "CgH/",
    }
    assert frame_bytes(read_raw(tmp_path / files[1]).records[1]) == text


def test_raw_file_cut_anywhere_reads_every_complete_flush(tmp_path: Path) -> None:
    path = write(tmp_path, [[frame(i)] for i in range(1, 4)])
    data = path.read_bytes()
    spans, end = frame_spans(data)
    assert len(spans) == 4  # the session header, then one frame per flush
    assert end == len(data)

    for cut in range(len(data)):
        path.write_bytes(data[:cut])

        content = read_raw(path)

        complete = sum(1 for _, stop in spans if stop <= cut)
        assert content.frames == complete
        assert len(content.records) == complete  # one record per flush here
        assert content.complete_bytes + content.damaged_bytes == cut


def test_raw_file_with_a_corrupt_frame_stops_there(tmp_path: Path) -> None:
    path = write(tmp_path, [[frame(i)] for i in range(1, 4)])
    data = bytearray(path.read_bytes())
    spans, _ = frame_spans(bytes(data))
    start, stop = spans[2]
    data[stop - 2] ^= 0xFF  # the content checksum of the second flush no longer matches

    path.write_bytes(bytes(data))
    content = read_raw(path)

    assert [r["kind"] for r in content.records] == ["session", "binary"]
    assert content.complete_bytes == start


def test_raw_writer_reopening_a_damaged_file_cuts_the_tail_and_appends(tmp_path: Path) -> None:
    path = write(tmp_path, [[frame(1)]])
    with path.open("ab") as handle:
        handle.write(zstandard.ZstdCompressor().compress(b'{"kind":"half"}\n' * 50)[:-7])

    with RawWriter(tmp_path, "mexc-spot") as raw:
        raw.submit([frame(2)])
    content = read_raw(path)

    assert raw.stats.repaired_bytes > 0
    assert content.damaged_bytes == 0
    assert [r["kind"] for r in content.records] == ["session", "binary", "session", "binary"]


def test_raw_writer_full_queue_never_blocks_and_notes_what_it_lost(tmp_path: Path) -> None:
    raw = RawWriter(tmp_path, "mexc-spot", max_queue=1)
    slow_write = raw._write

    def stalled(items: list[RawRecord]) -> None:  # a disk that takes 0.2 s per write
        time.sleep(0.2)
        slow_write(items)

    raw._write = stalled  # type: ignore[method-assign]
    started = time.monotonic()
    accepted = [raw.submit([frame(i)]) for i in range(1, 6)]
    waited = time.monotonic() - started
    raw.close()

    records = [r for p in raw_files(tmp_path, "mexc-spot") for r in read_raw(p).records]
    lost = [r for r in records if r.get("event") == "raw_overflow"]
    assert waited < 0.1
    assert accepted.count(False) >= 3
    assert raw.stats.overflow_records == accepted.count(False)
    assert sum(r["records_lost"] for r in lost) == accepted.count(False)
    assert len([r for r in records if r["kind"] == "binary"]) == accepted.count(True)


def test_a_failing_fsync_while_idle_is_the_writers_error_not_a_silent_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = RawWriter(tmp_path, "mexc-spot", fsync_every_s=0.0)
    assert raw.submit([frame(1)])
    deadline = time.monotonic() + 5.0
    while raw.stats.frames < 1 and time.monotonic() < deadline:
        time.sleep(0.01)

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fxcli.store.raw.os.fsync", full_disk)
    while raw.error is None and time.monotonic() < deadline:  # the idle tick (1 s) syncs
        time.sleep(0.05)
    monkeypatch.undo()

    assert raw.error is not None
    assert "No space left on device" in raw.error
    assert raw.submit([frame(2)])  # the thread lives on: later rounds are still written
    raw.close()
    kinds = [r["kind"] for p in raw_files(tmp_path, "mexc-spot") for r in read_raw(p).records]
    assert kinds.count("binary") == 2


def test_raw_tail_reads_the_last_span_of_the_newest_hour_from_the_end(tmp_path: Path) -> None:
    s = 1_000_000_000
    flushes: list[list[RawRecord]] = [[frame(i, HOUR + i * s)] for i in range(1, 41)]  # a flush a second
    path = write(tmp_path, flushes)
    with path.open("ab") as handle:  # a kill -9 in the middle of the last write
        handle.write(b"\x28\xb5\x2f\xfd\x00")

    tail = raw_tail(tmp_path, "mexc-spot", 5 * s)

    assert [r["conn_seq"] for r in tail] == [36, 37, 38, 39, 40]  # within 5 s of the newest, in order
    assert raw_tail(tmp_path / "elsewhere", "mexc-spot", s) == []


@pytest.mark.parametrize("tail", [b"", b"\x28\xb5\x2f", b"junk that is not zstd at all"])
def test_frame_spans_treats_a_short_or_foreign_tail_as_damage(tmp_path: Path, tail: bytes) -> None:
    path = write(tmp_path, [[frame(1)]])
    data = path.read_bytes()

    spans, end = frame_spans(data + tail)

    assert end == len(data)
    assert spans[-1][1] == len(data)
