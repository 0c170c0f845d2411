"""Property: no single-bit flip or truncation of any stored file is ever blessed by verify, and
after `--repair` and a re-import of the source the store is byte for byte a clean import."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from fxcli.store import manifest
from fxcli.store.survey import Status
from fxcli.store.verify import verify
from fxcli.tasks.import_ import import_binance
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
CASES = int(os.environ.get("FX_VERIFY_CASES", "24"))  # `make soak` runs more


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "data"
    import_binance([SAMPLE], root)
    return root


def stored(root: Path) -> dict[str, str]:
    """sha256 of every stored file (the quarantine folder is not the store)."""
    return {
        str(p.relative_to(root)): manifest.sha256_file(p)
        for p in sorted(root.rglob("*.parquet"))
        if not p.relative_to(root).parts[0].startswith(".")
    }


def damage(path: Path, rng: random.Random) -> str:
    """A random single-bit flip or truncation, the mtime kept or not; says which."""
    stat = path.stat()
    payload = bytearray(path.read_bytes())
    if rng.random() < 0.5:
        offset = rng.randrange(len(payload))
        payload[offset] ^= 1 << rng.randrange(8)
        what = f"bit flip at {offset}"
    else:
        payload = payload[: rng.randrange(len(payload))]
        what = f"truncated to {len(payload)}"
    path.write_bytes(payload)
    if rng.random() < 0.5:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        what += ", mtime kept"
    return what


@pytest.mark.parametrize("seed", range(CASES))
def test_verify_reports_every_random_damage_and_repair_restores_a_clean_import(
    clean: Path, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    root = tmp_path / "data"
    shutil.copytree(clean, root)
    victim = rng.choice(sorted(root.rglob("*.parquet")))
    what = damage(victim, rng)

    found = verify(root)
    repaired = verify(root, repair=True)
    import_binance([SAMPLE], root)

    statuses = {f.path: f.status for f in found.findings}
    assert statuses == {victim: statuses.get(victim)}, what
    assert statuses[victim] in (Status.DAMAGED, Status.UNREADABLE), what
    assert repaired.repaired is not None
    assert [src for src, _ in repaired.repaired.moved] == [victim]
    assert verify(root).ok
    assert stored(root) == stored(clean)
