"""Two `fx optimize run` processes on one study in a real PostgreSQL server (pgserver's binaries).

As root, pgserver creates a system user `pgserver` (useradd) to run the server and opens the
parent folders of its data folder to others (o+rx): see the README.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.optimize_helpers import ADMISSIBLE, optimize_args, points, strategy_file, trials
from tests.cli.test_optimize_resume import _start
from tests.conftest import run_fx


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL 16 server started from the pip-installed pgserver wheel; its URI."""
    # Not under pytest's base temp folder: pytest keeps that 0700 (and resets it when another session
    # starts), while the server runs as the `pgserver` user and must reach its data folder.
    parent = Path(tempfile.mkdtemp(prefix="fx-pgserver-"))
    parent.chmod(0o755)
    folder = parent / "pgdata"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pgserver

        server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def test_optimize_two_processes_on_postgres_share_the_grid(
    sample_store: Path, tmp_path: Path, postgres: str
) -> None:
    strategy = strategy_file(tmp_path)
    args = optimize_args(
        strategy,
        sample_store,
        tmp_path / "out",
        "--sampler",
        "grid",
        "--study",
        "pg-grid",
        "--storage",
        postgres,
        "--no-plots",
        "--json",
    )

    first, second = _start(args), _start(args)
    outputs = [p.communicate(timeout=300) for p in (first, second)]

    assert first.returncode == 0, outputs[0][1]
    assert second.returncode == 0, outputs[1][1]
    docs = [json.loads(o[0]) for o in outputs]
    done = points(trials(docs[0]["results_dir"]))
    assert len(done) == len(set(done)) == len(ADMISSIBLE)
    assert sum(d["this_run"]["complete"] for d in docs) == len(ADMISSIBLE)
    assert "postgresql" in docs[0]["storage"]
    listed = json.loads(run_fx("optimize", "list", "--storage", postgres, "--json").stdout)
    assert "pg-grid" in [row["study"] for row in listed]
