"""Opening a data dir to read, and the exchange that holds a symbol, with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

from fxcli.errors import FxError, NothingFoundError
from fxcli.store.reader import StoreReader


def open_reader(data_dir: Path) -> StoreReader:
    """A reader of `data_dir`; NothingFoundError (exit 1) if it does not exist."""
    if not data_dir.is_dir():
        raise NothingFoundError(f"data dir {data_dir} does not exist (import or record something first)")
    return StoreReader(data_dir)


def exchange_of(
    reader: StoreReader, symbol: str, exchange: str | None, *, error: type[FxError] = NothingFoundError
) -> str:
    """The exchange holding `symbol` (checked against `exchange` when given); `error` names the candidates."""
    try:
        return reader.find_exchange(symbol, exchange)
    except LookupError as exc:
        raise error(str(exc)) from None
