"""Arrays shared by every trial and every worker process: .npy files written once, memory-mapped.

A worker that needs an array another worker already wrote maps the file (the pages are shared
through the OS page cache: one copy in memory however many workers read it). Files are written to
a temporary name and renamed, so a reader never sees half an array; two workers that compute the
same array at once both write the same bytes, and the last rename wins.
"""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

DEFAULT_MEMORY_BYTES = 1 << 30  # arrays a process keeps referenced (mapped pages cost no private memory)


def save_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` atomically: `write` fills a temporary file of this process and call alone (processes
    preparing one folder at once never share one), fsynced, then renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def save_array(path: Path, array: np.ndarray) -> None:
    """Write `array` to `path` atomically (`save_file`)."""
    save_file(path, lambda handle: np.save(handle, np.ascontiguousarray(array), allow_pickle=False))


def load_array(path: Path) -> np.ndarray:
    """The array at `path`, memory-mapped read-only."""
    array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    return array


class ArrayCache:
    """Arrays by key: in memory (least recently used dropped past `memory_bytes`), then on disk
    under `folder`, then computed (and written for the other workers). `computed` counts the
    arrays this process had to compute."""

    def __init__(self, folder: Path, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.folder = folder
        self.memory_bytes = memory_bytes
        self._held: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.computed = 0

    def get(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The array of `key` (a relative file name without suffix)."""
        held = self._held.get(key)
        if held is not None:
            self._held.move_to_end(key)
            return held
        path = self.folder / f"{key}.npy"
        if not path.is_file():
            self.computed += 1
            save_array(path, compute())
        array = load_array(path)
        self._hold(key, array)
        return array

    def _hold(self, key: str, array: np.ndarray) -> None:
        self._held[key] = array
        self._bytes += array.nbytes
        while self._bytes > self.memory_bytes and len(self._held) > 1:
            _, dropped = self._held.popitem(last=False)
            self._bytes -= dropped.nbytes
