"""Output paths that cannot take the output: exit 2 with one line naming the path, and no truncated
file left behind (issue 11; the case ids are the reliability probe's, D15).

A full disk is real here: a 256 KiB tmpfs filled up (as root, where mounting works) and, for every
account, the same commands with the file size capped (RLIMIT_FSIZE), where the kernel fails the
write with EFBIG as a full disk fails it with ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO, error_line, run_fx
from tests.other_user import is_root

KIB = 1024
PNG_END = b"IEND\xaeB`\x82"
TMPFS_BYTES = 256 * KIB
DEMO_BACKTEST = (
    "backtest",
    "momentum_scalper",
    "--symbol",
    "BTCUSDT",
    "--strategies-dir",
    str(REPO / "strategies"),
    "--variants-dir",
    str(REPO / "variants"),
)


def trades_out(store: Path, out: Path | str, fmt: str = "csv") -> list[str]:
    return ["inspect", "trades", "BTCUSDT", "--format", fmt, "--out", str(out), "--data-dir", str(store)]


def compute_out(store: Path, out: Path, *names: str) -> list[str]:
    return [
        "variants", "compute", *names, "--symbol", "BTCUSDT", "--data-dir", str(store),
        "--variants-dir", str(REPO / "variants"), "--out", str(out),
    ]  # fmt: skip


def reads_back(path: Path) -> bool:
    """True if a results file is whole: Parquet and JSON parse, a PNG ends with its IEND chunk."""
    try:
        if path.suffix == ".parquet":
            pl.read_parquet(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".png":
            return path.read_bytes().endswith(PNG_END)
    except Exception:
        return False
    return True


def leftovers(folder: Path) -> list[str]:
    """Files under `folder` that a failed write left: temp files, or results that do not read back."""
    return [
        path.name
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (path.name.endswith(".tmp") or not reads_back(path))
    ]


def _close_stdout() -> None:
    os.close(1)


def _stdout_to_dev_full() -> None:
    os.dup2(os.open("/dev/full", os.O_WRONLY), 1)


def _stdout_to_a_pipe_nobody_reads() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.dup2(write_end, 1)


def _cap_file_size(limit_bytes: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write (EFBIG), do not kill the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))


@dataclass
class FullDisk:
    """A folder where writing runs out of space: on a tmpfs filled up, or with the file size capped."""

    folder: Path
    kind: str  # "tmpfs" or "rlimit"
    cap_bytes: int | None = None

    @property
    def reason(self) -> str:
        """What the kernel says when a write does not fit."""
        return os.strerror(errno.ENOSPC if self.kind == "tmpfs" else errno.EFBIG)

    def fill(self, leave_bytes: int) -> None:
        """Leave `leave_bytes` for what fx writes (on the tmpfs: rounded to its 4 KiB pages)."""
        if self.kind == "rlimit":
            self.cap_bytes = leave_bytes
            return
        fd = os.open(self.folder / "filler", os.O_WRONLY | os.O_CREAT)
        written = os.write(fd, bytes(TMPFS_BYTES))  # as much as fits
        os.ftruncate(fd, max(0, written - leave_bytes))
        os.close(fd)
        assert os.statvfs(self.folder).f_bavail * os.statvfs(self.folder).f_frsize <= leave_bytes

    def empty(self) -> None:
        """Free the space again."""
        self.cap_bytes = None
        (self.folder / "filler").unlink(missing_ok=True)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`fx ARGS` against the full disk."""
        capped = partial(_cap_file_size, self.cap_bytes) if self.cap_bytes is not None else None
        return run_fx(*args, preexec_fn=capped)

    def leftovers(self) -> list[str]:
        """As `leftovers`, without the filler."""
        return [name for name in leftovers(self.folder) if name != "filler"]


@pytest.fixture(params=["tmpfs", "rlimit"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FullDisk]:
    folder = tmp_path / "full"
    folder.mkdir()
    if request.param == "rlimit":
        yield FullDisk(folder, "rlimit")
        return
    if not is_root():
        pytest.skip("mounting a tmpfs needs root; the rlimit case covers this account")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the rlimit case runs")
    try:
        yield FullDisk(folder, "tmpfs")
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture(scope="module")
def warm(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store after one full backtest: numba's and matplotlib's caches are written, so a capped
    run writes only its own outputs."""
    out = tmp_path_factory.mktemp("warm")
    assert run_fx(*DEMO_BACKTEST, "--data-dir", str(sample_store), "--out", str(out)).returncode == 0
    return sample_store


# --- paths that are not a file in a folder -----------------------------------------------------------


def test_trades_out_in_a_missing_folder_exits_2_naming_it(sample_store: Path, tmp_path: Path) -> None:
    """C33."""
    out = tmp_path / "no" / "such" / "x.csv"

    message = error_line(run_fx(*trades_out(sample_store, out)))

    assert message == f"{out}: folder {out.parent} does not exist"
    assert not (tmp_path / "no").exists()


def test_trades_out_onto_a_folder_exits_2_and_leaves_it_alone(sample_store: Path, tmp_path: Path) -> None:
    """C34."""
    (tmp_path / "keep.txt").write_text("keep")

    message = error_line(run_fx(*trades_out(sample_store, tmp_path, "parquet")))

    assert message == f"{tmp_path}: is a folder, not a file"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_trades_out_onto_dev_full_exits_2(sample_store: Path) -> None:
    """C35: a device is written in place, and its error is the user's."""
    message = error_line(run_fx(*trades_out(sample_store, "/dev/full")))

    assert message == f"/dev/full: cannot write: {os.strerror(errno.ENOSPC)}"


def test_compute_out_onto_a_file_exits_2_naming_the_file(sample_store: Path, tmp_path: Path) -> None:
    """C62."""
    afile = tmp_path / "afile"
    afile.write_text("keep")

    message = error_line(run_fx(*compute_out(sample_store, afile, "spread")))

    assert message == f"{afile}: is a file, not a folder"
    assert afile.read_text() == "keep"


def test_create_with_variants_dir_a_file_exits_2_naming_it(tmp_path: Path) -> None:
    """VC31."""
    afile = tmp_path / "afile"
    afile.write_text("keep")

    result = run_fx("variants", "create", "v31", "-i", "EMA", "-t", "PRICE", "--variants-dir", str(afile))

    assert error_line(result) == f"--variants-dir {afile}: not a directory"
    assert afile.read_text() == "keep"


def test_stream_out_onto_a_file_exits_2_before_the_session(sample_store: Path, tmp_path: Path) -> None:
    """Checked when the stream starts, not when a session that cannot be run again ends."""
    afile = tmp_path / "afile"
    afile.write_text("keep")

    result = run_fx(
        "stream", "momentum_scalper", "--replay", str(sample_store), "--symbols", "BTCUSDT", "--headless",
        "--strategies-dir", str(REPO / "strategies"), "--variants-dir", str(REPO / "variants"),
        "--out", str(afile),
    )  # fmt: skip

    assert error_line(result) == f"{afile}: is a file, not a folder"
    assert result.stdout == ""


# --- stdout --------------------------------------------------------------------------------------------


def test_json_to_a_closed_stdout_exits_2(sample_store: Path) -> None:
    """SC4: `fx inspect --json >&-`."""
    result = run_fx("inspect", "--json", "--data-dir", str(sample_store), preexec_fn=_close_stdout)

    assert error_line(result) == "stdout is closed: nothing written"


def test_a_command_with_nothing_for_stdout_runs_with_it_closed() -> None:
    result = run_fx(
        "variants", "validate", "--variants-dir", str(REPO / "variants"), preexec_fn=_close_stdout
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith(": all valid\n")


@pytest.mark.parametrize(
    "args",
    [("inspect", "--json"), ("inspect",), ("inspect", "trades", "BTCUSDT", "--format", "csv")],
    ids=["json", "table", "csv"],
)
def test_output_to_a_full_stdout_exits_2(sample_store: Path, args: tuple[str, ...]) -> None:
    result = run_fx(*args, "--data-dir", str(sample_store), preexec_fn=_stdout_to_dev_full)

    assert error_line(result) == f"stdout: cannot write: {os.strerror(errno.ENOSPC)}"


def test_a_reader_that_left_ends_fx_quietly(sample_store: Path) -> None:
    """`fx ... | head`: a broken pipe is not an error to report (Click exits 1 without a word)."""
    result = run_fx(
        "inspect",
        "trades",
        "BTCUSDT",
        "--format",
        "json",
        "--data-dir",
        str(sample_store),
        preexec_fn=_stdout_to_a_pipe_nobody_reads,
    )

    assert (result.returncode, result.stderr) == (1, "")


# --- a full disk ---------------------------------------------------------------------------------------


def test_trades_out_on_a_full_disk_exits_2_and_leaves_nothing(
    sample_store: Path, full_disk: FullDisk
) -> None:
    """D10."""
    out = full_disk.folder / "t.csv"
    full_disk.fill(8 * KIB)

    message = error_line(full_disk.run(*trades_out(sample_store, out)))

    assert message == f"{out}: cannot write: {full_disk.reason}"
    assert not out.exists()
    assert full_disk.leftovers() == []


@pytest.mark.parametrize(("free_bytes", "failing"), [(8 * KIB, "trades.parquet"), (40 * KIB, "chart.png")])
def test_backtest_on_a_full_disk_exits_2_and_keeps_only_whole_files(
    warm: Path, full_disk: FullDisk, free_bytes: int, failing: str
) -> None:
    """D8; then a rerun with space again writes every output (D12)."""
    out = full_disk.folder / "results"
    full_disk.fill(free_bytes)

    message = error_line(full_disk.run(*DEMO_BACKTEST, "--data-dir", str(warm), "--out", str(out)))

    failed = Path(message.removesuffix(f": cannot write: {full_disk.reason}"))
    assert (failed.parent.parent, failed.name) == (out, failing)
    assert not failed.exists()
    assert full_disk.leftovers() == []
    full_disk.empty()
    again = full_disk.run(*DEMO_BACKTEST, "--data-dir", str(warm), "--out", str(out), "--json")
    assert again.returncode == 0, again.stderr
    assert {p.name for p in failed.parent.iterdir()} == {
        "summary.json",
        "trades.parquet",
        "transitions.parquet",
        "equity.parquet",
        "chart.png",
    }


def test_compute_on_a_full_disk_exits_2_and_leaves_no_truncated_file(warm: Path, full_disk: FullDisk) -> None:
    """D9."""
    out = full_disk.folder / "out" / "ind"
    full_disk.fill(8 * KIB)

    message = error_line(full_disk.run(*compute_out(warm, out, "momentum_10s", "spread")))

    assert message == f"{out / 'BTCUSDT' / 'momentum_10s.parquet'}: cannot write: {full_disk.reason}"
    assert full_disk.leftovers() == []


def test_create_on_a_full_disk_exits_2_and_writes_nothing(full_disk: FullDisk) -> None:
    """D11."""
    folder = full_disk.folder / "vars"
    shutil.copytree(REPO / "variants", folder)
    full_disk.fill(0)

    result = full_disk.run(
        "variants", "create", "zz", "-i", "EMA", "-t", "PRICE", "--variants-dir", str(folder)
    )

    assert error_line(result) == f"{folder / 'custom.toml'}: cannot write: {full_disk.reason}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (REPO / "variants").iterdir())


def test_edit_on_a_full_disk_exits_2_and_the_file_survives(full_disk: FullDisk) -> None:
    """D13: 0 bytes free; the existing file must survive."""
    folder = full_disk.folder / "vars"
    shutil.copytree(REPO / "variants", folder)
    before = (folder / "pump.toml").read_bytes()
    full_disk.fill(0)

    result = full_disk.run(
        "variants", "edit", "pump_10s", "-d", "new description that is longer", "--variants-dir", str(folder)
    )

    assert error_line(result) == f"{folder / 'pump.toml'}: cannot write: {full_disk.reason}"
    assert (folder / "pump.toml").read_bytes() == before
    assert full_disk.leftovers() == []
