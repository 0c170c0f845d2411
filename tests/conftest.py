"""Shared fixtures: where the real captures are, a fresh data dir, and a way to run `fx`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout; a missing one is an error, never a silent skip."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: CI and developers have ../shared beside the repo")
    return SHARED_DATA


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty store root for one test."""
    return tmp_path / "data"


def run_fx(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], object] | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run the real `fx` console entry point in a subprocess (what a user runs); `preexec_fn` runs in
    the child before fx starts (a umask, a resource limit, a closed stdout). FX_* variables and
    those starting with a prefix in `unset` are not passed on."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("FX_", *unset))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fxcli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=300,
        check=False,
        preexec_fn=preexec_fn,
    )


def error_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The message of a failed run: exit `code`, and one `fx: error: ...` line on stderr."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fx: error: "), result.stderr
    return lines[0].removeprefix("fx: error: ")
