"""Who runs a trial: host, pid and the process's start time, written into the trial as it is created.

A journal file has no heartbeat: a trial whose owner is gone from this host is dead (a pid reused
by another process has another start time). A trial on another host cannot be judged from here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial


def owner() -> dict[str, Any]:
    """This process's identity: host, pid and its start time (a reused pid has another)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": _start_time(os.getpid())}


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the name, which may hold spaces and brackets
    return None if fields[0] in ("Z", "X") else fields[19]  # state; field 22: starttime


def owner_is_alive(attrs: Mapping[str, Any]) -> bool:
    """False when the owner ran on this host and its process is gone (or the pid was reused)."""
    if attrs.get("host") != socket.gethostname():
        return True  # another machine: cannot tell, leave its trial alone
    pid, started = attrs.get("pid"), attrs.get("pid_start")
    return isinstance(pid, int) and started is not None and _start_time(pid) == started


def claim(study: Study, trial: FrozenTrial) -> None:
    """Write this process as the owner of a trial it just created (before anything is sampled)."""
    for key, value in owner().items():
        study._storage.set_trial_user_attr(trial._trial_id, key, value)
