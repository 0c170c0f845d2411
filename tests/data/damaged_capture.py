"""Real captures with one damaged line put in, imported by the real `fx import`, and what that stored.

The good lines come from the shipped excerpt (hftbacktest), ../shared/data/cryptofeed and
../shared/data/nautilus_trader/tardis. A damaged line must be skipped and reported as
`skipped FILE:LINE: reason`, everything else stored exactly as without it, exit 1, and nothing
written outside the data dir (the data dir sits two folders below `tmp_path`, so a `../../x` name
would land inside `tmp_path`, where it is looked for).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from tests.conftest import FIXTURES, SHARED_DATA, run_fx

HFT_SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
CRYPTOFEED = SHARED_DATA / "cryptofeed" / "BINANCE_DELIVERY.ws.1.0"
TARDIS = SHARED_DATA / "nautilus_trader" / "tardis"
GOOD_LINES = 200
AT = 100  # the damaged line goes after this many good lines: it is line AT + 1

Counts = dict[tuple[str, str, str], int]


def hft_lines() -> list[bytes]:
    """The first 200 lines of the shipped Binance spot excerpt."""
    return gzip.decompress(HFT_SAMPLE.read_bytes()).splitlines()[:GOOD_LINES]


def cryptofeed_lines() -> list[bytes]:
    """The first 200 lines of cryptofeed's BINANCE_DELIVERY ws capture (a connect line, then frames)."""
    return CRYPTOFEED.read_bytes().splitlines()[:GOOD_LINES]


def tardis_lines(name: str) -> list[bytes]:
    """Every line of one tardis sample CSV, header first."""
    return (TARDIS / name).read_bytes().splitlines()


def first_with(lines: list[bytes], needle: bytes, start: int = 0) -> bytes:
    """The first line from `start` on that contains `needle` (the template for a damaged copy)."""
    return next(line for line in lines[start:] if needle in line)


def damaged(template: bytes, pattern: bytes, replacement: bytes) -> bytes:
    """`template` with its one match of `pattern` replaced."""
    out, count = re.subn(pattern, replacement.replace(b"\\", b"\\\\"), template, count=1)
    assert count == 1, (template, pattern)
    return out


def write(folder: Path, name: str, lines: list[bytes]) -> Path:
    """A capture file of `lines` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def with_line(lines: list[bytes], bad: bytes, at: int = AT) -> list[bytes]:
    """`lines` with `bad` put after the first `at` of them."""
    return [*lines[:at], bad, *lines[at:]]


def stored_rows(root: Path) -> Counts:
    """Rows per (exchange, symbol folder, table) as found on disk, `raw` folders included."""
    reader = StoreReader(root)
    counts: Counts = {}
    for exchange in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for symbol in sorted(p for p in exchange.iterdir() if p.is_dir()):
            for table in Table:
                height = reader.scan(exchange.name, symbol.name, table).collect().height
                if height:
                    counts[(exchange.name, symbol.name, table.value)] = height
    return counts


def _outside(tmp_path: Path, root: Path) -> set[Path]:
    """Everything under `tmp_path` but the data dir, its contents and the folders above it."""
    return {p for p in tmp_path.rglob("*") if p != root and root not in p.parents and p not in root.parents}


@dataclass(frozen=True)
class Imported:
    """One `fx import ... --json` run and what it left behind."""

    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    rows: Counts
    written_outside: set[Path]

    @property
    def stderr_lines(self) -> list[str]:
        """stderr, line by line."""
        return self.result.stderr.splitlines()


def import_capture(kind: str, capture: Path, tmp_path: Path) -> Imported:
    """Run `fx import KIND CAPTURE --json` into a fresh data dir two folders below `tmp_path`."""
    root = tmp_path / "store" / "nested" / "data"
    before = _outside(tmp_path, root)
    result = run_fx("import", kind, str(capture), "--data-dir", str(root), "--json")
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return Imported(result, report, stored_rows(root), _outside(tmp_path, root) - before)
