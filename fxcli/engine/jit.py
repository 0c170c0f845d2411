"""numba for fx's kernels, with its cache where this account can write (else compiled each run).

numba caches compiled kernels beside their source (`__pycache__`) or under ~/.cache, and when it can
write neither, `cache=True` fails ("cannot cache function: no locator available"): an install owned
by root, run by a service account or in a container whose HOME is read-only. So fx picks the folder
when its kernels are first imported: NUMBA_CACHE_DIR when it is set, else `$XDG_CACHE_HOME/fx/numba`
(`~/.cache/fx/numba`), else `<temp dir>/fx-<uid>/numba` (created 0700; used only if this account
owns it). When none of them can be written, or a save fails (a full disk), kernels are compiled
for the run instead (~1 s more).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import numba
from numba.core.caching import FunctionCache

SUBFOLDER = ("fx", "numba")


def _is_writable(folder: Path) -> bool:
    """True if `folder` exists or can be made, and a file can be created in it (numba's own test)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _user_cache() -> Path | None:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg, *SUBFOLDER)
    try:
        return Path.home().joinpath(".cache", *SUBFOLDER)
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return None


def _private_temp() -> Path | None:
    """`<temp>/fx-<uid>/numba`, if the `fx-<uid>` folder is this account's alone: numba loads code
    from its cache, so a folder another account could write into is never used."""
    try:
        base = Path(tempfile.gettempdir()) / f"fx-{os.geteuid()}"
        base.mkdir(mode=0o700, exist_ok=True)
        info = base.lstat()
    except OSError:
        return None
    is_private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077
    return base / SUBFOLDER[1] if is_private else None


def cache_dir() -> Path | None:
    """Where numba caches fx's kernels, or None to compile them on every run."""
    given = os.environ.get("NUMBA_CACHE_DIR", "")
    if given:
        return Path(given) if _is_writable(Path(given)) else None
    for candidate in (_user_cache, _private_temp):  # the temp folder only when the first fails
        folder = candidate()
        if folder is not None and _is_writable(folder):
            return folder
    return None


class _SparingCache(FunctionCache):
    """numba's cache of one kernel, except that a save that fails (a full disk) leaves the kernel
    compiled for this run rather than failing the command."""

    def save_overload(self, sig: Any, data: Any) -> None:
        with suppress(OSError):
            super().save_overload(sig, data)  # type: ignore[no-untyped-call]


def njit(func: Callable[..., Any]) -> Any:
    """The decorator of every kernel: numba's `njit(nogil=True)`, cached in `CACHE_DIR` if there is one."""
    kernel: Any = numba.njit(nogil=True)(func)
    if CACHE_DIR is not None:  # what cache=True does (Dispatcher.enable_caching), with the sparing cache
        kernel._cache = _SparingCache(func)  # type: ignore[no-untyped-call]
    return kernel


CACHE_DIR = cache_dir()
if CACHE_DIR is not None:
    os.environ["NUMBA_CACHE_DIR"] = str(CACHE_DIR)
    numba.config.reload_config()  # type: ignore[no-untyped-call]  # numba read it on import
