"""hftbacktest's collector format: one `<local_ts_ns> <json>` line per received message.

    1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,...}}
    1723161254206652067 {"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"],...],...}

The first is a combined-stream frame; the second, with no wrapper, is a REST depth snapshot.
A receive time outside 2000..2100 (see limits.py) makes the line an error record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from fxcli.exchange.captures.limits import EARLIEST_NS, LATEST_NS, WINDOW_TEXT
from fxcli.exchange.captures.source import Progress, Record, numbered_lines

LINE = re.compile(rb"^(\d{16,20}) (\{.*\})\s*$")


def looks_like(first: bytes) -> bool:
    """True if a first line has this format."""
    return LINE.match(first) is not None


def read(path: Path, progress: Progress | None = None) -> Iterator[Record]:
    """Records of one capture file in file order."""
    for line_no, line, error in numbered_lines(path, progress):
        if line is None:
            yield Record(line_no, 0, "error", error.encode())
            return
        if not line.strip():
            continue
        match = LINE.match(line)
        if match is None:
            yield Record(line_no, 0, "error", b"not '<local_ts_ns> <json>'")
            continue
        ts_text, payload = match.groups()
        ts = int(ts_text)
        if not EARLIEST_NS <= ts < LATEST_NS:  # inline: this runs once per line
            yield Record(line_no, 0, "error", f"local time {ts} ns is outside {WINDOW_TEXT}".encode())
            continue
        kind = "stream" if payload.startswith(b'{"stream"') else "snapshot"
        yield Record(line_no, ts, kind, payload)
