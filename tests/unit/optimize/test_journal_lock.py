"""The journal's lock: exclusive between processes, and gone with a process killed while holding it.

Optuna's own file locks are polled (sleeps doubling to 1 s) and a lock left by a kill -9 is taken
over only after a 30 s grace period; fx's journal lock is an flock, which the kernel hands to the
next waiter at once and releases when its holder dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fxcli.optimize.storage import open_storage, storage_spec

HOLDER = """
import sys, time
from pathlib import Path
from fxcli.optimize.storage import open_storage, storage_spec
storage = open_storage(storage_spec(sys.argv[1], Path(sys.argv[1]).parent))
storage._backend._lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_journal_lock_excludes_others_and_dies_with_its_holder(tmp_path: Path) -> None:
    journal = tmp_path / "s.journal"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(journal)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        storage = open_storage(storage_spec(str(journal), tmp_path))
        written = threading.Event()

        def create() -> None:
            import optuna

            optuna.create_study(storage=storage, study_name="s")
            written.set()

        writer = threading.Thread(target=create, daemon=True)
        writer.start()
        assert not written.wait(1.0)  # blocked while another process holds the lock
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        started = time.monotonic()
        assert written.wait(10.0)  # Optuna's own lock would wait out its 30 s grace period
        assert time.monotonic() - started < 10.0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:  # else an unclosed-pipe ResourceWarning whenever GC finds it
            holder.stdout.close()
    assert [s.study_name for s in storage.get_all_studies()] == ["s"]
