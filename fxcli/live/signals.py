"""Stop signals for the live commands: the first SIGINT or SIGTERM asks for a graceful stop."""

from __future__ import annotations

import asyncio
import signal
import threading


def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    """SIGINT and SIGTERM set `stop` once; a second SIGINT interrupts at once (the default again)."""
    if threading.current_thread() is not threading.main_thread():
        return []
    installed: list[signal.Signals] = []

    def first(sig: signal.Signals) -> None:
        stop.set()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first, sig)
        installed.append(sig)
    return installed
