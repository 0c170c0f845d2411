"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped Binance spot excerpt imported into a fresh store, once per test module."""
    root = tmp_path_factory.mktemp("sample") / "data"
    result = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root))
    assert result.returncode == 0, result.stderr
    return root
