"""A real HTTP server on 127.0.0.1 standing in for a webhook, Telegram's bot API and Discord's webhooks.

It records every POST (path, JSON body, arrival time, the status it answered) and, per path, plays a
script of answers before settling on 200: `"500"`, `"404"`, `"429:1.5"` (with Retry-After: 1.5),
`"429json:1"` (Telegram's `parameters.retry_after` in the body), or `"hang:S"` (answers nothing for
S seconds, then drops the connection: a timeout for the client).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    path: str
    body: Any
    at: float  # time.monotonic() on arrival
    status: int  # what was answered (0: nothing, the connection hung)


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is the point of some tests


class NotifyServer:
    """`with NotifyServer() as server:` then `server.url`, `server.script[path]`, `server.hits`."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.script: defaultdict[str, deque[str]] = defaultdict(deque)
        self.always: dict[str, str] = {}  # path -> the answer given every time (after the script)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                owner.serve(self)

        self._server = _Quiet(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> NotifyServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()

    def bodies(self, path: str, status: int = 200) -> list[Any]:
        """The JSON bodies POSTed to `path` that were answered `status`, in arrival order."""
        with self._lock:
            return [h.body for h in self.hits if h.path == path and h.status == status]

    def times(self, path: str, status: int = 200) -> list[float]:
        """Arrival times of the requests to `path` answered `status`."""
        with self._lock:
            return [h.at for h in self.hits if h.path == path and h.status == status]

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one POST as the path's script says."""
        at = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = handler.path
        with self._lock:
            queued = self.script[path]
            answer = queued.popleft() if queued else self.always.get(path, "200")
        if answer.startswith("hang:"):
            with self._lock:
                self.hits.append(Hit(path, body, at, 0))
            self._closed.wait(float(answer.split(":", 1)[1]))
            handler.close_connection = True
            return
        status, _, arg = answer.partition(":")
        code = int(status.removesuffix("json"))
        payload: dict[str, Any] = {"ok": code < 300}
        headers = {}
        if status == "429json":
            payload["parameters"] = {"retry_after": float(arg)}
        elif code == 429:
            headers["Retry-After"] = arg or "1"
        with self._lock:
            self.hits.append(Hit(path, body, at, code))
        data = json.dumps(payload).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
