"""Raw frames on disk: `<data_dir>/<exchange>/raw/<YYYY-MM-DD>/<HH>/conn-<slot>.jsonl.zst`.

Every frame a recorder receives is written here before anything is decoded, one JSON line each
(docs/mexc-protocol.md §5.2 rule 10):

    {"slot":0,"conn_id":3,"conn_seq":17,"recv_wall_ns":1736409765160000000,"recv_mono_ns":5120443,
     "kind":"binary","data":"Ci9zcG90QHB1YmxpYy5hZ2dyZS5kZWFscy52My..."}

`kind` is "text" (`data` as received) or "binary" (`data` in base64); `overlap_with` names the other
connection of a make-before-break rotation when the frame may duplicate one of its frames. Lines of
kind "session" (first line of every file opening: who wrote it, which venue, which URL), "control"
(connects, acks, rejections, disconnects, gaps, overflow), "snapshot" (REST book snapshots, with
`"generated": true`) and "backfill" (trades fetched over REST after a gap, `"generated": true`, as
`[exchange_ts_ns, price, qty, side, trade_id]`) make a replay self-contained. A frame line is a
`RawFrame` encoded as is; the other lines are dicts with at least `slot` and `recv_wall_ns`.

Crash safety: each flush appends one complete zstd frame (with a content checksum) per file, in one
`write`. A `kill -9` loses at most the flush in progress and leaves every earlier frame readable;
`read_raw` stops cleanly at a truncated or damaged last frame, and a writer that reopens such a
file first cuts it back to its last complete frame. Files are fsynced when their hour closes, on
`close()`, and every `fsync_every_s` while open. The writer is a thread fed by a bounded queue:
`submit` never waits, and a chunk that does not fit is counted and noted as a "raw_overflow"
control line instead of blocking the caller.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.outfile import fsync_folder
from fxcli.store.layout import check_name
from fxcli.store.queued import QueuedThread

log = logging.getLogger(__name__)

RAW_DIR = "raw"
SUFFIX = ".jsonl.zst"
ZSTD_MAGIC = 0xFD2FB528
SKIPPABLE_MAGIC_MASK = 0xFFFFFFF0
SKIPPABLE_MAGIC = 0x184D2A50


RawRecord = RawFrame | dict[str, Any]
"""A line of the raw log: a received frame, or a session / control / snapshot dict (with `slot`)."""


@dataclass
class RawStats:
    """What a raw writer did over its life (read from other threads: plain counters)."""

    records: int = 0
    frames: int = 0
    bytes_in: int = 0  # uncompressed JSON
    bytes_written: int = 0  # compressed, on disk
    files_opened: int = 0
    repaired_bytes: int = 0  # cut from the tail of damaged files before appending
    overflow_chunks: int = 0
    overflow_records: int = 0
    last_write_ns: int | None = None
    paths: set[Path] = field(default_factory=set)


def raw_dir(root: Path, exchange: str) -> Path:
    """The raw-frame folder of one exchange."""
    return root / check_name("exchange", exchange) / RAW_DIR


def raw_path(root: Path, exchange: str, slot: int, recv_wall_ns: int) -> Path:
    """The file of connection slot `slot` for the UTC hour holding `recv_wall_ns`."""
    moment = datetime.fromtimestamp(recv_wall_ns // NS_PER_S, tz=UTC)
    return raw_dir(root, exchange) / f"{moment:%Y-%m-%d}" / f"{moment:%H}" / f"conn-{slot}{SUFFIX}"


# ---------------------------------------------------------------------------------------------- read


@dataclass
class RawFile:
    """What `read_raw` found in one file."""

    records: list[dict[str, Any]]
    frames: int  # complete zstd frames
    complete_bytes: int  # the file up to the end of its last complete frame
    damaged_bytes: int  # a truncated or unreadable tail (0 for a clean file)


def frame_spans(data: bytes | memoryview) -> tuple[list[tuple[int, int]], int]:
    """Byte spans of the complete zstd frames in `data`, and where the good part ends.

    Walks frame and block headers (RFC 8878) without decompressing, so it is cheap on a big file.
    A frame that runs past the end, or a header that is not zstd, ends the walk: everything from
    there is the damaged tail.
    """
    view = memoryview(data)
    size = len(view)
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos + 4 <= size:
        magic = int.from_bytes(view[pos : pos + 4], "little")
        if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC:
            if pos + 8 > size:
                break
            skip_end = pos + 8 + int.from_bytes(view[pos + 4 : pos + 8], "little")
            if skip_end > size:
                break
            pos = skip_end
            continue
        if magic != ZSTD_MAGIC:
            break
        end = _frame_end(view, pos + 4)
        if end is None:
            break
        spans.append((pos, end))
        pos = end
    return spans, pos


def _frame_end(view: memoryview, pos: int) -> int | None:
    """End offset of the zstd frame whose header descriptor is at `pos`, or None if incomplete/bad."""
    size = len(view)
    if pos >= size:
        return None
    descriptor = view[pos]
    fcs_flag = descriptor >> 6
    single_segment = (descriptor >> 5) & 1
    has_checksum = (descriptor >> 2) & 1
    dict_flag = descriptor & 3
    if descriptor & 0x08:  # reserved bit must be zero
        return None
    pos += 1 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    pos += (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    while True:
        if pos + 3 > size:
            return None
        header = int.from_bytes(view[pos : pos + 3], "little")
        is_last, block_type, block_size = header & 1, (header >> 1) & 3, header >> 3
        if block_type == 3:
            return None
        pos += 3 + (1 if block_type == 1 else block_size)
        if pos > size:
            return None
        if is_last:
            break
    pos += 4 if has_checksum else 0
    return pos if pos <= size else None


def read_raw(path: Path) -> RawFile:
    """Every record of a raw file, in write order; a truncated or damaged tail is skipped, not fatal."""
    import zstandard

    data = path.read_bytes()
    spans, good_end = frame_spans(data)
    decompressor = zstandard.ZstdDecompressor()
    records: list[dict[str, Any]] = []
    decode = msgspec.json.Decoder(dict[str, Any]).decode
    frames = 0
    for start, end in spans:
        try:
            payload = decompressor.decompress(data[start:end])
        except zstandard.ZstdError:
            good_end = start  # a checksum or content error: this frame and the rest are the tail
            break
        frames += 1
        records.extend(decode(line) for line in payload.splitlines() if line)
    return RawFile(records, frames, good_end, len(data) - good_end)


def frame_bytes(record: dict[str, Any]) -> bytes | str:
    """The frame a raw record holds, as it was received (binary frames decoded from base64)."""
    data = record["data"]
    return base64.b64decode(data) if record.get("kind") == "binary" else str(data)


def raw_files(root: Path, exchange: str) -> Iterator[Path]:
    """Raw files of one exchange, oldest hour first."""
    folder = raw_dir(root, exchange)
    if folder.is_dir():
        yield from sorted(folder.glob(f"*/*/conn-*{SUFFIX}"))


def raw_tail(root: Path, exchange: str, span_ns: int) -> list[dict[str, Any]]:
    """The records of the last `span_ns` before the newest one, by receive time (across files).

    Hours are read newest first, each file from its end, one zstd frame (one flush) at a time, so a
    busy hour's gigabytes are not decompressed to find its last minutes. An older hour is read too
    while the oldest record found is still inside the span: after a kill -9 just past an hour
    boundary the tail reaches back into the previous hour. After a kill -9 the last record is
    within a flush interval of when the recorder stopped.
    """
    folder = raw_dir(root, exchange)
    hours = sorted(folder.glob("*/*")) if folder.is_dir() else []
    records: list[dict[str, Any]] = []
    newest: int | None = None
    for hour in reversed(hours):
        found = [
            r for path in sorted(hour.glob(f"conn-*{SUFFIX}")) for r in _file_tail(path, newest, span_ns)
        ]
        if not found:
            continue
        records.extend(found)
        newest = max(_wall_ns(r) for r in records)
        if _hour_start_ns(hour) <= newest - span_ns:
            break  # older hour folders hold only records received before this one began
    if newest is None:
        return []
    return sorted((r for r in records if _wall_ns(r) >= newest - span_ns), key=_wall_ns)


def _hour_start_ns(hour: Path) -> int:
    """Start of the UTC hour a raw hour folder (`<YYYY-MM-DD>/<HH>`) holds; 0 if not such a name."""
    try:
        moment = datetime.strptime(f"{hour.parent.name} {hour.name}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    except ValueError:
        return 0
    return int(moment.timestamp()) * NS_PER_S


def _file_tail(path: Path, newest: int | None, span_ns: int) -> list[dict[str, Any]]:
    """Records of one raw file from its end back past `newest - span_ns` (newest: the file's own
    newest record when no newer hour set it), whole flushes at a time."""
    import zstandard

    decode = msgspec.json.Decoder(dict[str, Any]).decode
    data = path.read_bytes()
    spans, _ = frame_spans(data)
    records: list[dict[str, Any]] = []
    for begin, end in reversed(spans):
        try:
            payload = zstandard.ZstdDecompressor().decompress(data[begin:end])
        except zstandard.ZstdError:
            break  # a damaged frame: what is before it is older than the tail anyway
        chunk = [r for r in (decode(line) for line in payload.splitlines() if line) if "recv_wall_ns" in r]
        if not chunk:
            continue
        records.extend(chunk)
        times = [_wall_ns(r) for r in chunk]
        newest = max(times) if newest is None else max(newest, *times)
        if min(times) < newest - span_ns:
            break
    return records


# --------------------------------------------------------------------------------------------- write


class _Open:
    def __init__(self, path: Path, handle: IO[bytes], hour: int) -> None:
        self.path = path
        self.handle = handle
        self.hour = hour
        self.synced_mono = time.monotonic()


class RawWriter:
    """Appends raw records to hourly per-slot files on its own thread; `submit` never blocks.

    with RawWriter(root, "mexc-spot", header={"ws_url": url}) as raw:
        raw.submit([frame, frame, {"slot": 0, "recv_wall_ns": ..., "kind": "control", ...}])
    """

    def __init__(
        self,
        root: Path,
        exchange: str,
        *,
        header: dict[str, Any] | None = None,
        max_queue: int = 256,
        level: int = 3,
        fsync_every_s: float = 10.0,
    ) -> None:
        import zstandard

        self.root = root
        self.exchange = check_name("exchange", exchange)
        self.header = dict(header or {})
        self.stats = RawStats()
        self.error: str | None = None
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._encoder = msgspec.json.Encoder()
        self._fsync_every_s = fsync_every_s
        self._overflow: dict[int, tuple[int, int, int]] = {}  # slot -> (records, first ns, last ns)
        self._lock = threading.Lock()
        self._open: dict[int, _Open] = {}
        # Idle wake-ups keep the periodic fsync going while no records arrive.
        self._worker: QueuedThread[list[RawRecord]] = QueuedThread(
            "fx-raw-writer",
            max_queue,
            self._write_round,
            idle_s=1.0,
            on_idle=lambda: self._guarded(self._sync_due),
            on_stop=lambda: self._close_all(sync=True),  # notes its own OSError
        )

    def __enter__(self) -> RawWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, items: list[RawRecord]) -> bool:
        """Queue one flush worth of records; False if the queue was full (they are counted as lost)."""
        if not items:
            return True
        if self._worker.offer(items):
            return True
        self._note_overflow(items)
        return False

    @property
    def queue_depth(self) -> int:
        """Flushes waiting for the raw writer thread now (for metrics)."""
        return self._worker.depth

    def close(self) -> RawStats:
        """Write what is queued, fsync and close every file, stop the thread."""
        self._worker.stop()
        return self.stats

    def _note_overflow(self, items: list[RawRecord]) -> None:
        with self._lock:
            self.stats.overflow_chunks += 1
            self.stats.overflow_records += len(items)
            for record in items:
                slot, ts = _slot(record), _wall_ns(record)
                count, first, last = self._overflow.get(slot, (0, ts, ts))
                self._overflow[slot] = (count + 1, min(first, ts), max(last, ts))

    def _take_overflow(self) -> list[RawRecord]:
        with self._lock:
            pending, self._overflow = self._overflow, {}
        return [
            {
                "slot": slot,
                "recv_wall_ns": time.time_ns(),
                "kind": "control",
                "event": "raw_overflow",
                "records_lost": count,
                "start_ns": first,
                "end_ns": last,
                "detail": "raw writer queue full: these records were never written",
            }
            for slot, (count, first, last) in sorted(pending.items())
        ]

    def _guarded(self, step: Callable[[], None]) -> None:
        """An fsync while idle that fails is the writer's error, not its end:
        the recorder sees `error` and stops with exit 1 instead of losing frames silently."""
        try:
            step()
        except Exception as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"
            log.error("raw writer: %s", self.error)
            self._close_all(sync=False)

    def _write_round(self, chunks: list[list[RawRecord]]) -> None:
        # One round is everything queued at once: fewer, larger zstd frames.
        items = [item for chunk in chunks for item in chunk]
        items.extend(self._take_overflow())
        try:
            self._write(items)
            self._sync_due()
        except Exception as exc:  # a full or failing disk: count it, keep draining, never block
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("raw writer: %s", self.error)
            self._note_overflow(items)
            self._close_all(sync=False)

    def _write(self, items: list[RawRecord]) -> None:
        by_file: dict[tuple[int, int], list[RawRecord]] = {}
        for record in items:
            hour = _wall_ns(record) // NS_PER_HOUR
            by_file.setdefault((_slot(record), hour), []).append(record)
        for (slot, hour), records in by_file.items():
            handle = self._handle(slot, hour)
            payload = self._encoder.encode_lines(records)
            frame = self._compressor.compress(payload)
            handle.handle.write(frame)
            handle.handle.flush()  # in the page cache now: a kill -9 cannot lose it
            self.stats.records += len(records)
            self.stats.frames += sum(1 for r in records if isinstance(r, RawFrame))
            self.stats.bytes_in += len(payload)
            self.stats.bytes_written += len(frame)
            self.stats.last_write_ns = time.time_ns()

    def _handle(self, slot: int, hour: int) -> _Open:
        current = self._open.get(slot)
        if current is not None and current.hour == hour:
            return current
        if current is not None:  # the slot moved on to another hour: that file is complete
            self._close(self._open.pop(slot), sync=True)
        opened = self._open[slot] = self._open_file(slot, hour)
        return opened

    def _open_file(self, slot: int, hour: int) -> _Open:
        path = raw_path(self.root, self.exchange, slot, hour * NS_PER_HOUR)
        path.parent.mkdir(parents=True, exist_ok=True)
        is_new = not path.exists()
        if not is_new:
            self._repair(path)
        handle = path.open("ab")
        opened = _Open(path, handle, hour)
        self.stats.files_opened += 1
        self.stats.paths.add(path)
        header = {
            "recv_wall_ns": time.time_ns(),
            "kind": "session",
            "exchange": self.exchange,
            "slot": slot,
            "pid": os.getpid(),
            **self.header,
        }
        payload = self._encoder.encode_lines([header])
        frame = self._compressor.compress(payload)
        handle.write(frame)
        handle.flush()
        self.stats.bytes_written += len(frame)
        if is_new:
            fsync_folder(path.parent)
        return opened

    def _repair(self, path: Path) -> None:
        """Cut a truncated or damaged tail (a killed writer's last flush) so appends stay readable."""
        with path.open("rb") as handle:
            data = handle.read()
        _, good_end = frame_spans(data)
        if good_end < len(data):
            log.warning("raw file %s: cutting a damaged tail of %d bytes", path, len(data) - good_end)
            self.stats.repaired_bytes += len(data) - good_end
            with path.open("r+b") as handle:
                handle.truncate(good_end)
                handle.flush()
                os.fsync(handle.fileno())

    def _sync_due(self) -> None:
        now = time.monotonic()
        for opened in self._open.values():
            if now - opened.synced_mono >= self._fsync_every_s:
                os.fsync(opened.handle.fileno())
                opened.synced_mono = now

    def _close(self, opened: _Open, *, sync: bool) -> None:
        try:
            opened.handle.flush()
            if sync:
                os.fsync(opened.handle.fileno())
        finally:
            opened.handle.close()

    def _close_all(self, *, sync: bool) -> None:
        for slot in list(self._open):
            opened = self._open.pop(slot)
            try:
                self._close(opened, sync=sync)
            except OSError as exc:
                self.error = self.error or f"{type(exc).__name__}: {exc}"


def _wall_ns(record: RawRecord) -> int:
    return record.received_ts_ns if isinstance(record, RawFrame) else int(record["recv_wall_ns"])


def _slot(record: RawRecord) -> int:
    return record.slot if isinstance(record, RawFrame) else int(record.get("slot", 0))
