"""A `websockets` client connection that hands each complete data frame to a callback as it is parsed.

`ClientConnection.recv()` costs ~2 µs a message on top of parsing (the assembler's queue, a future,
a task switch per frame) and adds a hop between the socket and the decoder. Market data arrives as
unfragmented frames, so this subclass gives each complete text or binary frame to `on_data` inside
`data_received`, on the event loop, in the order the bytes arrived. Everything else (the handshake,
control frames, close, limits such as `max_size`) stays with `websockets`.

Order is never traded for speed: frames parsed before a callback is attached wait in `early`
until `attach` replays them, and once a fragmented message (or a text frame that is not UTF-8)
shows up, the connection gives every later frame to the library's own assembler, so `recv()`
sees them all, in order, and the library applies its own rules to the odd frame.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

OnData = Callable[[bytes | str], None]


class DirectConnection(ClientConnection):
    """Complete data frames go to `on_data` (once attached); the rest to the usual `recv()` path."""

    on_data: OnData | None = None
    direct = True  # False from the first frame that must take the assembler's path
    early: list[bytes | str] | None = None

    def attach(self, on_data: OnData) -> None:
        """Start delivering; frames received since the handshake are delivered first."""
        early, self.early = self.early, None
        self.on_data = on_data
        for data in early or ():
            on_data(data)

    def process_event(self, event: Event) -> None:
        if self.direct and self.response is not None and type(event) is Frame:
            opcode = event.opcode
            if event.fin and (opcode is Opcode.BINARY or opcode is Opcode.TEXT):
                data: bytes | str
                if opcode is Opcode.BINARY:
                    data = bytes(event.data)
                else:
                    try:
                        data = bytes(event.data).decode()
                    except UnicodeDecodeError:
                        self.direct = False
                        super().process_event(event)
                        return
                if self.on_data is not None:
                    self.on_data(data)
                elif self.early is None:
                    self.early = [data]
                else:
                    self.early.append(data)
                return
            if opcode is Opcode.BINARY or opcode is Opcode.TEXT or opcode is Opcode.CONT:
                self.direct = False  # a fragmented message: the assembler keeps order from here on
        super().process_event(event)
