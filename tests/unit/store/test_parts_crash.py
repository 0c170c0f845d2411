"""kill -9 of a writer that appends parts, merges and compacts them, at chosen points and at random:
no row lost or doubled, every file readable, the manifest repaired, and a restart completes the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fxcli.model.units import NS_PER_S
from fxcli.store import manifest, parts, repair
from fxcli.store.reader import StoreReader
from fxcli.store.schema import SPECS, Table

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
FLUSHES = 100
ROWS = 10  # trade ids of flush i: i*ROWS .. i*ROWS+9
BOUNDARY_NS = 1_723_161_600 * NS_PER_S  # 2024-08-09T00:00:00Z: flush 20 is the first of a new hour and date

# The writer as `fx record` drives it (append, one round per flush), with kill -9 points woven into
# the real code: `<point>@<n>` kills at the n-th time the point is reached.
CHILD = """
import os, pathlib, signal, sys, threading
import polars as pl
from fxcli.model.units import NS_PER_S
from fxcli.store import manifest, parts
from fxcli.store import writer as w
from fxcli.store.encoding import write_durably
from fxcli.store.schema import SPECS, Table

root, start, stop, kill = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
point, _, nth = kill.partition("@")
seen = 0
where = threading.local()

def hit(name):
    global seen
    if name == point:
        seen += 1
        if seen == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)

def kind_of(names):
    spans = [parts.parse_name(n) for n in names]
    if any(lo == 0 for _, lo, _ in spans):
        return "compact"
    return "merge" if any(lo != hi for _, lo, hi in spans) else "part"

def write_file(payload, path):  # the temp file of a part, a merged part or a compacted hour
    kind = kind_of([path.name[1:].split(manifest.TMP_MARK)[0]])
    if point == "write-" + kind and seen + 1 == int(nth):
        with path.open("wb") as handle:  # half of it is on disk when the kill comes
            handle.write(payload[: len(payload) // 2])
            handle.flush()
    hit("write-" + kind)
    write_durably(payload, path)

real_commit, real_save, real_unlink = w.StoreWriter._commit, manifest.save, pathlib.Path.unlink
real_place = w.StoreWriter._place

def commit(self, folder, book, changes, **kw):  # parts published, the manifest not saved
    where.kind = kind_of([n for c in changes for n in c.entries])
    if where.kind != "compact":
        hit(where.kind + "-published")
    try:
        real_commit(self, folder, book, changes, **kw)
    finally:
        where.kind = None

def place(self, folder, book, changes):  # a compacted hour: pending entry saved, then renamed
    where.placing = True
    try:
        real_place(self, folder, book, changes)
    finally:
        where.placing = False
    if any(c.staged for c in changes):
        hit("compact-published")

def save(folder, book):  # saved, the superseded files not yet deleted (or: the pending entry saved)
    real_save(folder, book)
    if getattr(where, "placing", False):
        hit("compact-pending")
    elif getattr(where, "kind", None):
        hit(where.kind + "-saved")

def unlink(self, missing_ok=False):  # some superseded files deleted, not all
    real_unlink(self, missing_ok=missing_ok)
    if getattr(where, "kind", None) and parts.parse_name(self.name):
        hit(where.kind + "-unlinked")

w.StoreWriter._commit, w.StoreWriter._place, manifest.save, pathlib.Path.unlink = commit, place, save, unlink

def flush(i):
    at = BOUNDARY_NS - 20 * NS_PER_S + i * NS_PER_S
    ids = list(range(i * ROWS, (i + 1) * ROWS))
    return pl.DataFrame({"exchange_ts_ns": [at + j * 1000 for j in range(ROWS)],
        "received_ts_ns": [at + j * 1000 + 7 for j in range(ROWS)], "price": [100.0] * ROWS,
        "qty": [0.5] * ROWS, "side": [1] * ROWS, "trade_id": ids, "backfilled": [False] * ROWS},
        schema=SPECS[Table.TRADES].polars_schema())

with w.StoreWriter(root, write_file=write_file) as writer:
    for i in range(start, stop):
        writer.submit(w.WriteBatch("ex", "SYM", Table.TRADES, flush(i), append=True), block=True)
        writer.drain()
"""


def run_child(root: Path, start: int, kill: str = "none@0") -> subprocess.Popen[bytes]:
    source = f"BOUNDARY_NS = {BOUNDARY_NS}\nROWS = {ROWS}\n{CHILD}"
    return subprocess.Popen(
        [sys.executable, "-c", source, str(root), str(start), str(FLUSHES), kill],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )


def stored_ids(root: Path) -> list[int]:
    frame = StoreReader(root).scan("ex", "SYM", Table.TRADES).collect()
    times = frame.get_column("exchange_ts_ns").to_list()
    assert times == sorted(times)
    ids: list[int] = frame.get_column("trade_id").to_list()
    return ids


def assert_prefix(ids: list[int]) -> int:
    """The stored rows are whole flushes 0..k-1, each once; returns k."""
    assert ids == list(range(len(ids))), "a row was lost or doubled"
    assert len(ids) % ROWS == 0
    return len(ids) // ROWS


def assert_repaired(root: Path) -> None:
    folders = {p.parent for p in root.rglob("*.parquet")}
    for folder in folders:
        repair.reconcile(folder, SPECS[Table.TRADES])  # what the next writer does first
        book = manifest.load(folder)
        on_disk = sorted(p.name for p in folder.glob("*.parquet"))
        live = sorted(p.name for hour in parts.folder_hours(folder).values() for p in hour.live)
        assert on_disk == live, "superseded files left after repair"
        assert sorted(book.files) == on_disk
        for name, entry in book.files.items():
            assert entry.sha256 == manifest.sha256_file(folder / name)
            assert entry.rows == pq.ParquetFile(folder / name).metadata.num_rows
        assert not list(folder.glob(f".*{manifest.TMP_MARK}*")), "stale temp files left"


def finish_and_check(root: Path, start: int) -> None:
    done = run_child(root, start)
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()
    assert stored_ids(root) == list(range(FLUSHES * ROWS))
    assert_repaired(root)
    if start < FLUSHES:  # a writer that wrote compacts what it found; one with nothing to write does not
        assert sorted(p.name for p in root.rglob("*.parquet")) == ["00.parquet", "23.parquet"]


@pytest.mark.parametrize(
    "kill",
    [
        "write-part@5",  # mid part write
        "part-published@5",  # a part published, no manifest entry yet
        "write-merge@1",  # mid merge of 8 parts
        "merge-published@1",  # merged part and its 8 inputs all on disk
        "merge-saved@2",  # manifest saved, inputs not deleted
        "merge-unlinked@3",  # some inputs deleted
        "write-compact@1",  # mid compaction of the hour that closed
        "compact-pending@1",  # the new HH.parquet's entry saved as pending, the file not renamed
        "compact-published@1",  # HH.parquet replaced, manifest not saved, parts on disk
        "compact-saved@1",  # manifest saved, parts not deleted
        "compact-unlinked@4",  # some parts deleted
        "compact-published@2",  # the compaction at close
    ],
)
def test_writer_killed_at_a_chosen_point_loses_and_doubles_nothing(tmp_path: Path, kill: str) -> None:
    killed = run_child(tmp_path, 0, kill)
    _, err = killed.communicate(timeout=120)

    assert killed.returncode == -signal.SIGKILL, f"{kill} was never reached: {err.decode()}"
    for path in tmp_path.rglob("*.parquet"):
        pq.read_table(path)  # before any repair: no half-written file is ever visible
    flushes_kept = assert_prefix(stored_ids(tmp_path))
    assert_repaired(tmp_path)
    assert assert_prefix(stored_ids(tmp_path)) == flushes_kept
    finish_and_check(tmp_path, flushes_kept)


def test_writer_killed_at_random_moments_then_restarted_completes_the_data(tmp_path: Path) -> None:
    started = time.perf_counter()
    clean = run_child(tmp_path / "clean", 0)
    clean.communicate(timeout=120)
    full_s = time.perf_counter() - started
    store = tmp_path / "killed"
    flushes_kept = 0
    kills = 0
    for fraction in (0.55, 0.65, 0.75, 0.85, 0.95):  # the first ~half of a run is Python starting up
        proc = run_child(store, flushes_kept)
        time.sleep(full_s * fraction)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=120)
        for path in store.rglob("*.parquet"):
            pq.read_table(path)
        flushes_kept = assert_prefix(stored_ids(store)) if store.exists() else 0
        if flushes_kept == FLUSHES:
            break

    assert kills >= 1, "every run finished before its kill: the test did not test crashes"
    finish_and_check(store, flushes_kept)
