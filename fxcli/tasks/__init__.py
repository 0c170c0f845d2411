"""One function per command: the only place where store, exchange, engine and strategy meet."""

from __future__ import annotations


def damaged_file(exc: BaseException) -> str | None:
    """`PATH: unreadable (...)` if `exc` came from decoding a stored file this process read (the
    Parquet reader's message does not name it), else None."""
    from fxcli.store.reader import blame

    return blame(exc)
