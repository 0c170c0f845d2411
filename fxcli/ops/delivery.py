"""Delivery to one destination, on its own thread: a bounded queue, a rate limit, retries with backoff.

The engine never waits on a destination: messages queue (a full queue drops the newest and counts
it), and each destination's thread sends them in order. A 5xx, a 429, a timeout or a refused
connection is retried after 0.5, 1, 2 ... s (a 429's Retry-After, or the JSON `retry_after`
Telegram and Discord send, is honoured instead); any other answer (401, 404: a revoked token, a
deleted webhook) will not get better and gives the message up. The first message given up is
reported once through `report`; later ones are only counted. A destination that hangs holds up its
own thread, nobody else's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from http.client import HTTPException
from typing import Any

from fxcli.ops.destinations import Destination, scrub
from fxcli.ops.http import Answer, Connection

MAX_QUEUED = 1000  # messages waiting for one destination before new ones are dropped
MAX_ATTEMPTS = 4  # the first try and three retries
BACKOFF_S = 0.5  # the first retry's wait; doubled each time
MAX_WAIT_S = 60.0  # a Retry-After longer than this is capped: fx does not go quiet for hours


@dataclass
class DeliveryStats:
    """What happened to one destination's messages (shown in results; the name is redacted)."""

    name: str
    sent: int = 0
    failed: int = 0  # given up after retries, or refused for good
    retries: int = 0
    dropped: int = 0  # the queue was full
    undelivered: int = 0  # still queued when the run ended and the grace period ran out

    def as_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class Message:
    """One notification: a readable line, and the same facts as fields for a webhook."""

    kind: str
    text: str
    fields: Mapping[str, Any]


class _RetryableError(Exception):
    """A send that may succeed later; `wait_s` is the service's own wish when it said one."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait_s = wait_s


class _PermanentError(Exception):
    """A send that will not succeed however often it is tried."""


class Sender:
    """One destination's queue and the thread that empties it."""

    def __init__(
        self,
        dest: Destination,
        report: Callable[[str], None],
        timeout_s: float,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.dest = dest
        self._stats = DeliveryStats(dest.name)
        self._final: DeliveryStats | None = None  # the counts when a hung thread was left behind
        self._report = report
        self._timeout_s = timeout_s
        self._queue: queue.Queue[Message | None] = queue.Queue(max_queued)
        self._sent_at: deque[float] = deque(maxlen=dest.limit.count)  # monotonic times of recent sends
        self._is_reported = False
        self._deadline: float | None = None  # monotonic: past it, nothing more is tried
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fx-notify-{dest.kind}", daemon=True)

    @property
    def stats(self) -> DeliveryStats:
        """The counts so far (once closed, final: a thread left in a hung request changes them no more)."""
        return self._final if self._final is not None else self._stats

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def put(self, message: Message) -> None:
        """Queue a message; never blocks (a full queue drops it and counts it)."""
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._stats.dropped += 1

    def close(self, deadline: float) -> None:
        """Send what is queued until `deadline` (monotonic), then stop; what is left is counted."""
        self._deadline = deadline
        self._closing.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def join(self) -> None:
        """Wait for the thread until the close deadline; a hung request is left to the daemon thread."""
        deadline = self._deadline if self._deadline is not None else time.monotonic()
        self._thread.join(max(0.0, deadline - time.monotonic()) + 0.2)
        if self._thread.is_alive():  # stuck inside a request: what it holds, and what waits, is lost
            final = dataclasses.replace(self._stats)
            final.undelivered += 1 + self._take_queued()
            self._final = final

    def _take_queued(self) -> int:
        """Empty the queue; how many messages it held."""
        count = 0
        with contextlib.suppress(queue.Empty):
            while True:
                count += self._queue.get_nowait() is not None
        return count

    def _run(self) -> None:
        connection = Connection(self.dest.url, self._timeout_s)
        try:
            while True:
                message = self._queue.get()
                if message is None or self._is_late():
                    break
                self._deliver(connection, message)
        finally:
            connection.close()
        self._stats.undelivered += self._take_queued()

    def _is_late(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _deliver(self, connection: Connection, message: Message) -> None:
        reason = ""
        for attempt in range(MAX_ATTEMPTS):
            self._pace()
            try:
                self._send(connection, message)
                self._stats.sent += 1
                return
            except _PermanentError as exc:
                reason = str(exc)
                break
            except _RetryableError as exc:
                reason = exc.reason
                if attempt + 1 == MAX_ATTEMPTS:
                    break
                wait_s = exc.wait_s if exc.wait_s is not None else BACKOFF_S * 2**attempt
                if not self._sleep(min(wait_s, MAX_WAIT_S)):
                    self._stats.undelivered += 1
                    return
                self._stats.retries += 1
        self._stats.failed += 1
        if not self._is_reported:
            self._is_reported = True
            self._report(f"notify: {self.dest.name} is failing ({reason}); further failures are only counted")

    def _send(self, connection: Connection, message: Message) -> None:
        body = self.dest.payload(message.text, message.fields)
        try:
            response = connection.post_json(body)
        except TimeoutError:
            raise _RetryableError("timed out") from None
        except (OSError, HTTPException) as exc:
            # The exception's text may quote the host or more: only its kind is shown.
            raise _RetryableError(f"cannot connect: {type(exc).__name__}") from None
        finally:
            # Paced from when a request ended: the service counts arrivals, and a slow first request
            # (a connection to open) must not let the next ones arrive closer together than allowed.
            self._sent_at.append(time.monotonic())
        status = response.status
        if status < 300:
            return
        if status == 429:
            raise _RetryableError("HTTP 429 too many requests", _retry_after(response))
        if status >= 500:
            raise _RetryableError(f"HTTP {status}", _retry_after(response))
        raise _PermanentError(scrub(f"HTTP {status} {response.reason}".strip(), self.dest.secrets()))

    def _pace(self) -> None:
        """Wait until one more request stays within the destination's rate limit."""
        limit = self.dest.limit
        if len(self._sent_at) == limit.count:
            wait_s = self._sent_at[0] + limit.per_s - time.monotonic()
            if wait_s > 0:
                time.sleep(wait_s)

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds` (a close wakes the wait); False when the close deadline comes first."""
        until = time.monotonic() + seconds
        if not self._closing.is_set():
            self._closing.wait(seconds)
        if self._deadline is not None and until > self._deadline:
            return False
        remaining = until - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return True


def _retry_after(response: Answer) -> float | None:
    """Seconds the service asked to wait: the Retry-After header (seconds or a date), or Telegram's
    `parameters.retry_after` / Discord's `retry_after` in a JSON body."""
    header = response.headers.get("Retry-After")
    if header:
        with contextlib.suppress(ValueError):
            return max(0.0, float(header))
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(header)
            return max(0.0, when.timestamp() - time.time())
    with contextlib.suppress(ValueError):
        body = json.loads(response.body)
        if isinstance(body, dict):
            params = body.get("parameters")
            found = params.get("retry_after") if isinstance(params, dict) else body.get("retry_after")
            if isinstance(found, int | float) and not isinstance(found, bool):
                return max(0.0, float(found))
    return None
