"""MEXC API keys: where they come from, and the guarantee that they are never shown.

`ApiKeys` has no readable repr, and `redact` removes both values from any text before it reaches a
message or a log. A key file must be private to its owner (mode 0600 or stricter), as ssh insists
for its keys: a readable secret on a shared machine is a stolen one.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from fxcli.errors import FxError, not_utf8

KEY_ENV = "FX_MEXC_API_KEY"
SECRET_ENV = "FX_MEXC_API_SECRET"
HIDDEN = "***"


class ApiKeys:
    """An API key and its secret; neither appears in `repr`, `str` or a pickle-free copy's repr."""

    __slots__ = ("key", "secret")

    def __init__(self, key: str, secret: str) -> None:
        self.key = key
        self.secret = secret

    def __repr__(self) -> str:
        return f"ApiKeys(key={HIDDEN}, secret={HIDDEN})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKeys) and (self.key, self.secret) == (other.key, other.secret)

    def __hash__(self) -> int:
        return hash((self.key, self.secret))


def redact(text: str, keys: ApiKeys | None) -> str:
    """`text` with the key and the secret replaced by `***`."""
    if keys is None:
        return text
    for value in (keys.secret, keys.key):
        if value:
            text = text.replace(value, HIDDEN)
    return text


def load_keys(env: Mapping[str, str], key_file: Path | None = None) -> ApiKeys:
    """The keys from `key_file` when given, else from `FX_MEXC_API_KEY` / `FX_MEXC_API_SECRET`.

    The file is TOML (`api_key = "…"`, `api_secret = "…"`, at the top or under `[mexc]`) or plain
    text (the key on the first line, the secret on the second). Every error names the file or the
    variable and never the value.
    """
    if key_file is not None:
        return _from_file(key_file)
    key, secret = env.get(KEY_ENV, "").strip(), env.get(SECRET_ENV, "").strip()
    if not key and not secret:
        raise FxError(f"no MEXC API keys: set {KEY_ENV} and {SECRET_ENV}, or give a key file")
    for name, value in ((KEY_ENV, key), (SECRET_ENV, secret)):
        _check_value(value, name)
    return ApiKeys(key, secret)


def _from_file(path: Path) -> ApiKeys:
    try:
        info = path.stat()
    except OSError as exc:
        raise FxError(f"{path}: cannot read the key file: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise FxError(f"{path}: the key file is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise FxError(
            f"{path}: the key file has mode {mode:04o}; others can read it. Make it private: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FxError(not_utf8(path, exc)) from None
    except OSError as exc:
        raise FxError(f"{path}: cannot read the key file: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        doc = None
    if doc is not None:
        return _from_toml(path, doc)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) != 2:
        raise FxError(
            f"{path}: expected TOML with api_key and api_secret, or two lines (key, then secret); "
            f"found {len(lines)} non-empty lines"
        )
    _check_value(lines[0], f"{path}: line 1 (the key)")
    _check_value(lines[1], f"{path}: line 2 (the secret)")
    return ApiKeys(lines[0], lines[1])


def _from_toml(path: Path, doc: dict[str, object]) -> ApiKeys:
    table = doc.get("mexc", doc)
    prefix = "mexc." if table is not doc else ""
    if not isinstance(table, dict):
        raise FxError(f"{path}: [mexc] must be a table")
    values: list[str] = []
    for name in ("api_key", "api_secret"):
        value = table.get(name)
        if not isinstance(value, str):
            raise FxError(f"{path}: key {prefix}{name} is missing or not a string")
        _check_value(value.strip(), f"{path}: key {prefix}{name}")
        values.append(value.strip())
    return ApiKeys(values[0], values[1])


def _check_value(value: str, where: str) -> None:
    """Keys are printable ASCII without spaces: anything else would break (or inject into) a header."""
    if not value:
        raise FxError(f"{where} is empty")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise FxError(f"{where} holds characters an API key cannot have (spaces, control or non-ASCII)")
