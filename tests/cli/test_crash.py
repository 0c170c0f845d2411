"""Crash safety: `kill -9` an import mid-way; files stay readable, manifests match, a re-run completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fxcli.store import manifest
from fxcli.store.layout import MANIFEST_NAME
from tests.conftest import run_fx

pytestmark = [pytest.mark.data, pytest.mark.slow]


def inputs(shared: Path) -> list[str]:
    return [
        str(shared / "hftbacktest" / "spot" / "btcusdt_20240808.gz"),
        str(shared / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"),
        *sorted(str(p) for p in (shared / "cryptofeed").glob("*.ws.1.0")),
    ]


def rows_per_table(root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in root.rglob("*.parquet"):
        key = "/".join(path.relative_to(root).parts[:3])
        counts[key] = counts.get(key, 0) + pq.ParquetFile(path).metadata.num_rows
    return counts


def assert_store_consistent(root: Path, *, crashed: bool = False) -> None:
    """Every file is listed with its sha256; right after a kill, a file may instead be the one the
    writer saved as pending before its rename, and the dead writer's temp files may remain (the
    next writer deletes them: reads never write)."""
    for folder in {p.parent for p in root.rglob("*.parquet")}:
        book = manifest.load(folder)
        assert (folder / MANIFEST_NAME).exists()
        on_disk = sorted(p.name for p in folder.glob("*.parquet"))
        assert sorted(set(book.files) | (set(book.pending) if crashed else set())) >= on_disk, folder
        for name in on_disk:
            sha = manifest.sha256_file(folder / name)
            entry = book.files[name] if name in book.files and book.files[name].sha256 == sha else None
            entry = entry or (book.pending.get(name) if crashed else None)
            assert entry is not None, folder / name
            assert entry.sha256 == sha
            assert entry.rows == pq.ParquetFile(folder / name).metadata.num_rows
        if not crashed:
            assert not book.pending
            assert not list(folder.glob(f".*{manifest.TMP_MARK}*")), "stale temp files left behind"


def test_import_killed_at_any_point_leaves_readable_store_and_resumes(
    shared_data: Path, tmp_path: Path
) -> None:
    files = inputs(shared_data)
    clean = tmp_path / "clean"
    started = time.perf_counter()
    reference = run_fx("import", "binance", *files, "--data-dir", str(clean), "--json")
    full_s = time.perf_counter() - started
    assert reference.returncode == 0, reference.stderr
    crashed = tmp_path / "crashed"
    kills = 0

    for fraction in (0.25, 0.45, 0.65, 0.85):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fxcli",
                "import",
                "binance",
                *files,
                "--data-dir",
                str(crashed),
                "--json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(full_s * fraction)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        for path in crashed.rglob("*.parquet"):
            pq.read_table(path)  # before any repair: no half-written file is ever visible
        verify = run_fx("inspect", "--verify", "--json", "--data-dir", str(crashed))
        assert verify.returncode in (0, 1), verify.stderr  # 1: nothing stored yet
        assert json.loads(verify.stdout)["verify"]["ok"], verify.stdout  # what a kill leaves is no damage
        assert_store_consistent(crashed, crashed=True)

    resumed = run_fx("import", "binance", *files, "--data-dir", str(crashed), "--json")

    assert kills >= 2, "the import finished before most kills: the test did not test crashes"
    assert resumed.returncode == 0, resumed.stderr
    assert rows_per_table(crashed) == rows_per_table(clean)
    assert_store_consistent(crashed)
