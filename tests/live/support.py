"""What the live tests share: a consumer that keeps everything, and a way to wait for a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fxcli.exchange.adapter import Decoded, Kind
from fxcli.exchange.connection import ManagerConfig, Status, Subscribed
from fxcli.model.events import MarketEvent, Trade
from fxcli.model.frames import RawFrame

T = TypeVar("T")

# Short timeouts so the live tests stay fast.
FAST = ManagerConfig(
    backoff_base_s=0.05,
    backoff_cap_s=0.4,
    ack_timeout_s=1.0,
    reject_retry_base_s=0.1,
    reject_retry_cap_s=0.4,
    close_timeout_s=0.5,
    open_timeout_s=2.0,
    breaker_open_s=0.5,
    rotate_data_wait_s=0.5,
)
TRADES_AND_DEPTH = (Kind.TRADES, Kind.DEPTH)


@dataclass
class Keeper:
    """A `Consumer` that keeps every frame, decoded result and status, in arrival order."""

    frames: list[RawFrame] = field(default_factory=list)
    decoded: list[tuple[RawFrame, Decoded]] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def on_frame(self, frame: RawFrame) -> None:
        self.frames.append(frame)
        self.order.append(f"frame {frame.conn_id}:{frame.seq}")

    def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
        self.decoded.append((frame, decoded))
        self.order.append(f"decoded {frame.conn_id}:{frame.seq}")

    def on_status(self, status: Status) -> None:
        self.statuses.append(status)

    def of(self, kind: type[T]) -> list[T]:
        """Statuses of one type."""
        return [s for s in self.statuses if isinstance(s, kind)]

    def events(self) -> list[tuple[RawFrame, MarketEvent]]:
        """Every decoded market event with the frame it came in."""
        return [(f, e) for f, d in self.decoded for e in d.events]

    def trades(self) -> list[tuple[RawFrame, Trade]]:
        """Every decoded trade with its frame."""
        return [(f, e) for f, e in self.events() if isinstance(e, Trade)]

    def problems(self) -> int:
        """Frames the adapter could not decode."""
        return sum(1 for _, d in self.decoded if d.problem)


async def until(check: Callable[[], object], timeout_s: float, what: str, step_s: float = 0.01) -> float:
    """Wait until `check()` is truthy; returns the seconds it took, fails the test after `timeout_s`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(step_s)
    return time.monotonic() - start


def acked(keeper: Keeper, conn_id: int, count: int) -> Callable[[], bool]:
    """A check: `count` channels are acknowledged on connection `conn_id`."""
    return lambda: (
        len({c.name for s in keeper.of(Subscribed) if s.conn_id == conn_id for c in s.channels}) == count
    )


def run(coro: Coroutine[Any, Any, T], timeout_s: float = 20.0) -> T:
    """Run a test coroutine on a fresh loop with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))
