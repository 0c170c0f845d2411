"""Failpoints for issue 15's crash tests (docs/mexc-orders.md §5 F18): only tests set `FX_FAILPOINT`.

`reach(name)` does nothing unless the environment names this step: then it writes the step's name to
`FX_FAILPOINT_FILE` and freezes the whole process (the event loop with it) so the test can SIGKILL it
exactly there — after the intent is journaled, after the venue answered but before that answer is
journaled, between two fills, during a cancel-all. A frozen process rather than a self-kill: the
test sees the step reached, can read the venue at that instant, and the kill is a real kill -9 from
outside, as an OOM killer or a power cut would deliver it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_STEP = os.environ.get("FX_FAILPOINT", "")


def reach(step: str) -> None:
    """Freeze here when the environment names `step` (tests only); otherwise a no-op."""
    if not _STEP or step != _STEP:
        return
    marker = os.environ.get("FX_FAILPOINT_FILE")
    if marker:
        Path(marker).write_text(step)
    while True:  # until the SIGKILL; nothing else runs in this process meanwhile
        time.sleep(3600)
