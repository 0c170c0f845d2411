"""Stop signals for the live commands: the first SIGINT or SIGTERM asks for a graceful stop, and every
later one, while the last flush and the session files are being written, is ignored.

What `timeout`, a process-group kill or a second Ctrl-C deliver is a second signal within
milliseconds of the first; acting on it would lose the last flush (the trades of the last second,
without a Gap row) and the session outputs. So the first signal prints a note and from then on both
signals are ignored by the OS (SIG_IGN, which, unlike a Python handler, still holds while the
interpreter shuts down); `kill -9` still stops at once. If no signal came, the previous handlers
are restored when the command ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
NOTE = b"fx: stopping: finishing the last flush; further SIGINT/SIGTERM are ignored (kill -9 stops at once)\n"


@contextlib.contextmanager
def graceful_stop(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    """While the block runs (on the main thread), the first SIGINT/SIGTERM sets `stop`; later ones
    are ignored. Off the main thread it does nothing (signals reach only the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
    stopping = threading.Event()

    def first(sig: signal.Signals) -> None:
        stopping.set()
        stop.set()
        for each in SIGNALS:
            loop.remove_signal_handler(each)
            signal.signal(each, signal.SIG_IGN)
        with contextlib.suppress(OSError):
            os.write(2, NOTE)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, first, sig)
    try:
        yield
    finally:
        if not stopping.is_set():
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
                signal.signal(sig, _restorable(previous[sig]))


def _restorable(handler: Any) -> Callable[[int, FrameType | None], Any] | int:
    """`signal.getsignal` may answer None (a handler not set from Python): the default then."""
    return signal.SIG_DFL if handler is None else handler


async def until_stopped(run: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """`run(stop)` with the stop signals of `graceful_stop` setting `stop`."""
    stop = asyncio.Event()
    with graceful_stop(asyncio.get_running_loop(), stop):
        return await run(stop)
