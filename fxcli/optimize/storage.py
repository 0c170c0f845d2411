"""Where studies live: a journal file per study (default), or one database for many machines.

* default: `<out>/optimize/<study>/study.journal`, Optuna's append-only JournalFileBackend, safe for
  several processes on one host (file locks), no server;
* `--storage postgresql://user:pass@host/db` (or `postgresql+psycopg2://...`): Optuna's RDBStorage,
  for workers on several machines;
* `--storage sqlite:///file.db`: accepted for one worker only (SQLite under concurrent writers is
  "never recommended" by Optuna's FAQ: lock errors);
* `--storage PATH.journal`: a journal file at another place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fxcli.errors import FxError
from fxcli.outfile import make_folder

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.storages.journal._file import BaseJournalFileLock

JOURNAL = "study.journal"
CREATE_ATTEMPTS = 5
SCHEMES = ("postgresql", "postgresql+psycopg2", "sqlite")


@dataclass(frozen=True)
class StorageSpec:
    """A storage as the user named it: a URL, or a journal file path."""

    url: str | None  # None: a journal file
    journal: Path | None

    @property
    def label(self) -> str:
        """What the user opens with `optuna-dashboard` (password hidden)."""
        if self.journal is not None:
            return str(self.journal)
        assert self.url is not None
        head, sep, tail = self.url.partition("@")
        if sep and ":" in head.split("//", 1)[-1]:
            user = head.split("//", 1)[-1].split(":", 1)[0]
            return f"{head.split('//', 1)[0]}//{user}:***@{tail}"
        return self.url

    @property
    def is_sqlite(self) -> bool:
        """True for an SQLite URL (refused with several workers)."""
        return self.url is not None and self.url.startswith("sqlite")


def storage_spec(storage: str | None, study_dir: Path) -> StorageSpec:
    """The storage named by `--storage` (None: the study folder's journal file); FxError if unknown."""
    if storage is None:
        return StorageSpec(None, study_dir / JOURNAL)
    scheme, sep, _ = storage.partition("://")
    if not sep:
        if storage.endswith(".journal"):
            return StorageSpec(None, Path(storage))
        raise FxError(
            f"--storage {storage!r}: expected postgresql://..., sqlite:///FILE or a FILE.journal path"
        )
    if scheme not in SCHEMES:
        raise FxError(f"--storage {storage!r}: unsupported scheme {scheme!r} (use {', '.join(SCHEMES)})")
    return StorageSpec(storage, None)


def check_workers(spec: StorageSpec, jobs: int) -> None:
    """SQLite with several worker processes is refused (lock errors under concurrent writes)."""
    if spec.is_sqlite and jobs > 1:
        raise FxError(
            f"--storage {spec.url}: SQLite cannot take {jobs} concurrent workers; use the default journal "
            "file or postgresql://"
        )


def open_storage(spec: StorageSpec) -> BaseStorage:
    """The Optuna storage object; FxError when it cannot be opened (no server, bad credentials)."""
    import optuna

    if spec.journal is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        make_folder(spec.journal.parent)
        try:
            return JournalStorage(JournalFileBackend(str(spec.journal), lock_obj=_flock(spec.journal)))
        except OSError as exc:
            raise FxError(f"{spec.journal}: {exc.strerror or exc}") from None
    assert spec.url is not None
    url = spec.url.replace("postgresql://", "postgresql+psycopg2://", 1)
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
        except Exception as exc:  # sqlalchemy's errors name the server; keep their first line
            # Processes starting together on an empty database race to create Optuna's tables (the
            # loser sees a unique violation, or DuplicateTable when both passed "if not exists"):
            # the tables exist a moment later.
            raced = any(sign in str(exc) for sign in ("UniqueViolation", "DuplicateTable"))
            if attempt == CREATE_ATTEMPTS - 1 or not raced:
                raise FxError(
                    f"--storage {spec.label}: cannot open: {str(exc).splitlines()[0][:300]}"
                ) from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _flock(journal: Path) -> BaseJournalFileLock:
    """A blocking `flock` on `<journal>.flock` for the journal's appends.

    Optuna's default lock (a symlink, or an O_EXCL file) is polled with sleeps that double up to
    1 s: with two workers appending a few records per trial, each waited ~100 ms a trial for a lock
    held a few ms (bench/optimize.py: 137 ms of storage time per trial at --jobs 2, 10 ms at
    --jobs 1). The kernel wakes an flock waiter as soon as the holder lets go, and releases the lock
    of a process that dies holding it (no 30 s stale-lock wait after a kill -9). Every fx process
    on a journal takes this lock; the journal file itself is unchanged (optuna-dashboard reads it).
    """
    import fcntl

    from optuna.storages.journal._file import BaseJournalFileLock

    class FlockLock(BaseJournalFileLock):
        def __init__(self, path: Path) -> None:
            self._path = path
            self._fd: int | None = None

        def acquire(self) -> bool:
            fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return True

        def release(self) -> None:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)  # closing the descriptor drops its flock

    return FlockLock(journal.with_name(journal.name + ".flock"))


def journal_studies(out: Path) -> list[tuple[str, Path]]:
    """(study name, journal) for every default-storage study under `<out>/optimize/`."""
    root = out / "optimize"
    if not root.is_dir():
        return []
    return sorted((p.parent.name, p) for p in root.glob(f"*/{JOURNAL}") if p.is_file())
