"""Cut a real hftbacktest capture into consecutive files, as the collector's rotation writes them:
the later files carry no REST depth snapshot (the collector fetches one only when it starts)."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

SNAPSHOT_MARK = b'{"lastUpdateId"'


def capture_lines(path: Path) -> list[bytes]:
    """Every line of a gzip capture, with its newline."""
    with gzip.open(path, "rb") as handle:
        return handle.read().splitlines(keepends=True)


def write_capture(lines: list[bytes], path: Path) -> Path:
    """`lines` as a gzip capture file at `path`."""
    with gzip.open(path, "wb") as handle:
        handle.writelines(lines)
    return path


def split_capture(source: Path, cuts: list[int], out_dir: Path) -> list[Path]:
    """`source` cut before each line index in `cuts`; every part after the first loses its REST
    snapshot lines (the test asserts there were none to lose where that matters)."""
    lines = capture_lines(source)
    bounds = [0, *cuts, len(lines)]
    parts = []
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        chunk = lines[lo:hi]
        if n > 0:
            chunk = [line for line in chunk if SNAPSHOT_MARK not in line[:40]]
        parts.append(write_capture(chunk, out_dir / f"{source.name.split('.')[0]}_part{n + 1}.gz"))
    return parts
