"""Running `fx` as an account bound by file modes, for the permission cases (a read-only
store, a mode-000 file, an unwritable HOME).

As any account but root the command simply runs as that account: mode-000 files and read-only
folders are unreadable and unwritable to it. Root ignores file modes, so as root the child drops the
capabilities that let it (DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER) from its bounding set before it
executes Python: it then obeys modes like any account. (Switching to `nobody` instead is not
possible here: the interpreter lives under /root, mode 700.)
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

from tests.conftest import run_fx

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3


def is_root() -> bool:
    return os.geteuid() == 0


def _obey_file_modes() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_fx_as_other(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m fxcli ARGS` as an account bound by file modes (see the module doc)."""
    preexec = _obey_file_modes if is_root() else None
    return run_fx(*args, cwd=cwd, env=env, preexec_fn=preexec, unset=("NUMBA_",))
