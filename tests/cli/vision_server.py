"""A real HTTP server on 127.0.0.1 serving a folder laid out like data.binance.vision, with faults.

It honours `Range: bytes=N-` (206), counts requests per path, and on demand: drops the connection
half-way through a file (once), answers 200 with an HTML page instead of a file, answers 503 a few
times, ignores Range, or waits before answering.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>\n"


@dataclass
class Faults:
    """Switches, keyed by URL path ('/data/spot/...zip')."""

    drop_half: set[str] = field(default_factory=set)  # send half the body, then hang up (once each)
    html: set[str] = field(default_factory=set)  # 200 with an HTML page
    unavailable: Counter[str] = field(default_factory=Counter)  # answer 503 this many times first
    ignore_range: bool = False
    delay_s: float = 0.0


class _Quiet(ThreadingHTTPServer):
    """A client that hangs up mid-answer (it timed out, or it was told to) is not news."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class VisionServer:
    """`with VisionServer(folder) as server:` then `server.url`, `server.hits[path]`, `server.faults`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.faults = Faults()
        self.hits: Counter[str] = Counter()
        self.ranges: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.serve(self)

        self._server = _Quiet(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> VisionServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def zip_hits(self) -> int:
        """Requests for zip files (not their CHECKSUMs)."""
        return sum(n for path, n in self.hits.items() if path.endswith(".zip"))

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        with self._lock:
            self.hits[path] += 1
            if handler.headers.get("Range"):
                self.ranges.append((path, handler.headers["Range"]))
            unavailable = self.faults.unavailable[path] > 0
            if unavailable:
                self.faults.unavailable[path] -= 1
            drop = path in self.faults.drop_half
            self.faults.drop_half.discard(path)
        if self.faults.delay_s:
            time.sleep(self.faults.delay_s)
        file = self.root / path.lstrip("/")
        if unavailable:
            self._answer(handler, 503, b"busy")
            return
        if path in self.faults.html:
            self._answer(handler, 200, HTML, "text/html")
            return
        if ".." in path or not file.is_file():
            self._answer(handler, 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
            return
        body = file.read_bytes()
        start = 0
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-") and not self.faults.ignore_range:
            start = int(wanted[6:-1])
            if start >= len(body):
                self._answer(handler, 416, b"")
                return
        handler.send_response(206 if start else 200)
        handler.send_header("Content-Type", "application/zip")
        handler.send_header("Content-Length", str(len(body) - start))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        handler.end_headers()
        if drop:
            handler.wfile.write(body[start : start + (len(body) - start) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(body[start:])

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, code: int, body: bytes, kind: str = "text/plain") -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
