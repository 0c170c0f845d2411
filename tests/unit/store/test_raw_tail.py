"""raw_tail across an hour boundary: the span reaches back into older hour folders."""

from __future__ import annotations

import time
import types
from pathlib import Path

import pytest

from fxcli.model.frames import RawFrame
from fxcli.model.units import NS_PER_S
from fxcli.store.raw import RawWriter, raw_files, raw_tail

HOUR = 1_795_550_400 * 10**9  # 2026-11-24T20:00:00Z, the start of a UTC hour


def record_around_boundary(root: Path, monkeypatch: pytest.MonkeyPatch, seconds: range) -> None:
    # Session headers carry the writer's wall clock: put it where the recorder ran, before the boundary.
    clock = types.SimpleNamespace(time_ns=lambda: HOUR - 60 * NS_PER_S, monotonic=time.monotonic)
    monkeypatch.setattr("fxcli.store.raw.time", clock)
    with RawWriter(root, "mexc-spot", fsync_every_s=1e9) as raw:
        for i in seconds:  # a flush a second, like a recorder
            assert raw.submit([RawFrame(0, 1, i, HOUR + i * NS_PER_S, 0, "text", "{}")])
            time.sleep(0.002)


def test_raw_tail_past_an_hour_boundary_reads_the_previous_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_around_boundary(tmp_path, monkeypatch, range(-60, 2))  # -60 s .. +1 s around HOUR

    tail = raw_tail(tmp_path, "mexc-spot", 90 * NS_PER_S)

    frames = [(r["recv_wall_ns"] - HOUR) // NS_PER_S for r in tail if r.get("kind") == "text"]
    assert len({p.parent for p in raw_files(tmp_path, "mexc-spot")}) == 2  # two hour folders
    assert frames == list(range(-60, 2))


def test_raw_tail_stops_at_the_span_in_an_older_hour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_around_boundary(tmp_path, monkeypatch, range(-600, 1, 3))

    tail = raw_tail(tmp_path, "mexc-spot", 10 * NS_PER_S)

    frames = [(r["recv_wall_ns"] - HOUR) // NS_PER_S for r in tail if r.get("kind") == "text"]
    assert frames == [-9, -6, -3, 0]


def test_raw_tail_skips_an_hour_folder_without_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_around_boundary(tmp_path, monkeypatch, range(-5, 0))
    (tmp_path / "mexc-spot" / "raw" / "2026-11-24" / "21").mkdir(parents=True)  # a later, empty hour

    tail = raw_tail(tmp_path, "mexc-spot", 3 * NS_PER_S)

    assert [(r["recv_wall_ns"] - HOUR) // NS_PER_S for r in tail if r.get("kind") == "text"] == [
        -4,
        -3,
        -2,
        -1,
    ]
