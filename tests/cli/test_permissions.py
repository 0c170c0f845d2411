"""Files fx writes as one account and reads as another, and fx run by an account that may write
neither its install nor its HOME (issue 11; the case ids are the reliability probe's, D9 and D11).

A service account is simulated for real: fx runs from a read-only copy of the package (so numba
cannot cache beside it), with a read-only HOME, as an account bound by file modes
(`tests.other_user`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import REPO, error_line, run_fx
from tests.other_user import is_root, run_fx_as_other

OTHER_UID = 65534  # nobody: the account that wrote the files, when the reader is root bound by modes
DEMO_BACKTEST = (
    "backtest",
    "momentum_scalper",
    "--symbol",
    "BTCUSDT",
    "--no-chart",
    "--strategies-dir",
    str(REPO / "strategies"),
    "--variants-dir",
    str(REPO / "variants"),
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_only(path: Path) -> Path:
    """`path` (a new folder if it is missing) and everything under it made read-only, for its owner too."""
    path.mkdir(exist_ok=True)
    for item in [path, *path.rglob("*")]:
        item.chmod(0o555 if item.is_dir() else 0o444)
    return path


def copy_of_variants(tmp_path: Path) -> Path:
    folder = tmp_path / "variants"
    shutil.copytree(REPO / "variants", folder)
    for item in folder.iterdir():
        item.chmod(0o644)
    return folder


# --- modes of the files fx writes (D9) -----------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_variants_file_gets_the_mode_the_umask_allows(tmp_path: Path, umask: int, mode: int) -> None:
    folder = copy_of_variants(tmp_path)

    result = run_fx(
        "variants", "create", "zz", "-i", "EMA", "-t", "PRICE", "--variants-dir", str(folder),
        preexec_fn=lambda: os.umask(umask),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert oct(mode_of(folder / "custom.toml")) == oct(mode)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_rewritten_variants_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    folder = copy_of_variants(tmp_path)
    (folder / "pump.toml").chmod(mode)

    result = run_fx("variants", "edit", "pump_10s", "-d", "longer", "--variants-dir", str(folder))

    assert result.returncode == 0, result.stderr
    assert "longer" in (folder / "pump.toml").read_text()
    assert oct(mode_of(folder / "pump.toml")) == oct(mode)


def test_a_replaced_export_keeps_its_mode(sample_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "trades.csv"
    out.write_text("old")
    out.chmod(0o640)

    result = run_fx(
        "inspect", "trades", "BTCUSDT", "--format", "csv", "--out", str(out), "--data-dir", str(sample_store)
    )

    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("time,")
    assert oct(mode_of(out)) == oct(0o640)


def test_another_account_lists_the_variants_after_create_and_edit(tmp_path: Path) -> None:
    """VC34: the files fx wrote (handed to another account, as if it had written them) stay
    readable to the account that runs `fx variants list`."""
    if not is_root():
        pytest.skip("handing files to another account needs root; the mode tests cover this account")
    folder = copy_of_variants(tmp_path)
    umask_022 = partial(os.umask, 0o022)
    created = run_fx(
        "variants", "create", "zz", "-i", "EMA", "-t", "PRICE", "--variants-dir", str(folder),
        preexec_fn=umask_022,
    )  # fmt: skip
    edited = run_fx(
        "variants", "edit", "pump_10s", "-d", "longer", "--variants-dir", str(folder), preexec_fn=umask_022
    )
    assert (created.returncode, edited.returncode) == (0, 0), created.stderr + edited.stderr
    for item in folder.iterdir():
        os.chown(item, OTHER_UID, OTHER_UID)

    result = run_fx_as_other("variants", "list", "--variants-dir", str(folder), "--json")

    assert result.returncode == 0, result.stderr
    assert {"zz", "pump_10s"} <= {v["name"] for v in json.loads(result.stdout)["variants"]}


# --- a service account: read-only install, read-only HOME (D11) -----------------------------------------


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only copy of the fxcli package, as an install owned by another account is."""
    root = tmp_path_factory.mktemp("install")
    shutil.copytree(REPO / "fxcli", root / "fxcli", ignore=shutil.ignore_patterns("__pycache__"))
    return read_only(root)


@dataclass(frozen=True)
class ServiceAccount:
    """fx from the read-only install, run in `work` (its temp dir is `work/tmp`), HOME read-only."""

    install: Path
    work: Path

    @property
    def home(self) -> Path:
        return self.work / "home"

    def run(self, *args: str, home: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        home = home or self.home
        return run_fx_as_other(
            *args,
            cwd=self.work,  # not the checkout: `python -m` would import the fxcli of the current folder
            env={
                "PYTHONPATH": str(self.install),
                "HOME": str(home),
                "XDG_CACHE_HOME": str(home / ".cache"),
                "TMPDIR": str(self.work / "tmp"),
                **env,
            },
        )

    def kernels_cached_in(self, numba_dir: Path) -> list[str]:
        """The install's kernels numba cached under `numba_dir` (in `<folder>_<sha1 of its path>`)."""
        engine = self.install / "fxcli" / "engine"
        cached = numba_dir / f"engine_{hashlib.sha1(str(engine).encode()).hexdigest()}"
        return sorted(p.name.split("-")[0] for p in cached.glob("*.nbi"))


@pytest.fixture
def service(install: Path, tmp_path: Path) -> ServiceAccount:
    (tmp_path / "tmp").mkdir()
    read_only(tmp_path / "home")
    return ServiceAccount(install, tmp_path)


def commands(store: Path, work: Path) -> dict[str, tuple[str, ...]]:
    data = ("--data-dir", str(store))
    return {
        "backtest": (*DEMO_BACKTEST, *data, "--out", str(work / "results")),
        "compute": (
            "variants", "compute", "momentum_10s", "-s", "BTCUSDT", *data,
            "--variants-dir", str(REPO / "variants"), "--out", str(work / "out"),
        ),
        "indicators": (
            "inspect", "indicators", "BTCUSDT", "-v", "momentum_10s", "-n", "3", *data,
            "--variants-dir", str(REPO / "variants"),
        ),
    }  # fmt: skip


@pytest.mark.parametrize("command", ["backtest", "compute", "indicators"])
def test_a_service_account_caches_kernels_in_its_private_temp_folder(
    sample_store: Path, service: ServiceAccount, command: str
) -> None:
    """BT46 / BT48 (backtest), VC35 (variants compute), C68 (inspect indicators): neither the
    install's __pycache__ nor HOME is writable."""
    result = service.run(*commands(sample_store, service.work)[command])

    assert result.returncode == 0, result.stderr
    assert "kernels._bounds" in service.kernels_cached_in(
        service.work / "tmp" / f"fx-{os.geteuid()}" / "numba"
    )


def test_with_no_writable_cache_folder_kernels_are_compiled_for_the_run(
    sample_store: Path, service: ServiceAccount
) -> None:
    unwritable = read_only(service.work / "numba-cache")

    result = service.run(*commands(sample_store, service.work)["backtest"], NUMBA_CACHE_DIR=str(unwritable))

    assert result.returncode == 0, result.stderr
    assert list(unwritable.iterdir()) == []
    assert list((service.work / "tmp").iterdir()) == []


def test_backtest_out_in_a_read_only_folder_exits_2(sample_store: Path, service: ServiceAccount) -> None:
    """BT42."""
    results = read_only(service.work / "ro_results")
    argv = [*DEMO_BACKTEST, "--data-dir", str(sample_store), "--out", str(results)]

    message = error_line(service.run(*argv))

    run_folder = Path(message.removesuffix(": cannot create the folder: Permission denied"))
    assert run_folder.parent == results
    assert list(results.iterdir()) == []


def test_compute_out_in_a_read_only_folder_exits_2(sample_store: Path, service: ServiceAccount) -> None:
    """VC36: HOME writable, so numba caches under it."""
    home = service.work / "home-rw"
    home.mkdir()
    results = read_only(service.work / "ro_results")
    argv = [
        "variants", "compute", "momentum_10s", "-s", "BTCUSDT", "--data-dir", str(sample_store),
        "--variants-dir", str(REPO / "variants"), "--out", str(results),
    ]  # fmt: skip

    message = error_line(service.run(*argv, home=home))

    assert message == f"{results / 'BTCUSDT'}: cannot create the folder: Permission denied"
    assert "kernels._bounds" in service.kernels_cached_in(home / ".cache" / "fx" / "numba")
    assert list((service.work / "tmp").iterdir()) == []
