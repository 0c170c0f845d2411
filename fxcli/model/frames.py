"""A frame as received from a venue's socket: what the decoder reads and the raw log stores."""

from __future__ import annotations

import msgspec


class RawFrame(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One received frame, before decoding; encoded as is, it is one line of the raw log.

    `slot` is the stable connection slot (0..N-1, the recorder's `conn-<slot>` file), `conn_id` the
    physical connection (new on every dial), `seq` counts frames on that connection from 1.
    `kind` is "text" or "binary" (binary `data` is base64 in the raw log's JSON). `overlap_with`
    names another connection that carried the same channels when this frame arrived (a
    make-before-break rotation): its content may duplicate frames on that connection.

    The encoded names are the raw log's (`recv_wall_ns`, `recv_mono_ns`, `conn_seq`): the recorder
    hands these very objects to the raw writer, which encodes a whole flush in one call.
    """

    slot: int
    conn_id: int
    seq: int = msgspec.field(name="conn_seq")
    received_ts_ns: int = msgspec.field(name="recv_wall_ns")
    received_mono_ns: int = msgspec.field(name="recv_mono_ns")
    kind: str
    data: bytes | str
    overlap_with: int | None = None

    @property
    def is_overlap(self) -> bool:
        """True if this frame may duplicate one received on another connection."""
        return self.overlap_with is not None
