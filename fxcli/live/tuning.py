"""Process settings for the live commands (`fx record`, `fx stream`): a short latency tail on the loop."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator

GIL_SWITCH_S = 0.0005


@contextlib.contextmanager
def live_process(switch_s: float = GIL_SWITCH_S) -> Iterator[None]:
    """While the block runs: the startup heap is frozen and other threads yield the GIL quickly.

    Everything alive at the start (modules, their objects) lives as long as the process: freezing it
    keeps the cyclic collector from walking it again, so a full collection costs ~1 ms instead of
    ~30 on the event loop. The writer, batcher, raw and screen threads run Python too: the default
    5 ms switch interval would show up directly in the loop's latency tail.
    """
    gc.collect()
    gc.freeze()
    before = sys.getswitchinterval()
    sys.setswitchinterval(switch_s)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()
