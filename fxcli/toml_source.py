"""Where a key sits in a TOML file, so that config errors can name file, key and line.

`tomllib` parses but forgets positions; this finds `[table]` / `[[array]]` headers and `key =`
lines in the raw text, which is enough for fx's flat config files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fxcli.errors import FxError, not_utf8

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(\"{re.escape(key)}\"|{re.escape(key)})\s*=")


def key_line(text: str, path: Sequence[str | int]) -> int | None:
    """1-based line of `path` (e.g. ("z1", 2, "op") or ("sizing", "max_notional")), or None."""
    lines = text.splitlines()
    section: tuple[str, ...] = ()
    array_seen: dict[str, int] = {}
    names = [p for p in path if isinstance(p, str)]
    index = path[1] if len(path) > 1 and isinstance(path[1], int) else None  # s1[2]: the 3rd [[s1]]
    best: int | None = None
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2).strip().strip('"')
            section = (name,)
            if header.group(1) == "[[":
                array_seen[name] = array_seen.get(name, -1) + 1
                if names and name == names[0] and array_seen[name] == (index or 0):
                    best = number
            elif names and name == names[0]:
                best = number
            continue
        in_target = bool(names) and (
            (len(names) == 1 and not section)
            or (section and section[0] == names[0] and (index is None or array_seen.get(names[0]) == index))
        )
        wanted = names[-1] if len(names) > 1 or not section else None
        if in_target and wanted and _key_pattern(wanted).match(line):
            return number
        if not section and len(names) >= 1 and _key_pattern(names[0]).match(line):
            best = best or number
    return best


def located(path: Path, key: Sequence[str | int]) -> str:
    """`file:line` of `key` in a TOML file (just `file` when the line cannot be found)."""
    try:
        line = key_line(path.read_text(encoding="utf-8"), key)
    except (OSError, UnicodeDecodeError):
        line = None
    return f"{path}:{line}" if line else str(path)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parsed content and raw text of a TOML file; syntax errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FxError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise FxError(not_utf8(path, exc)) from None
    except OSError as exc:
        raise FxError(f"{path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise FxError(f"{path}: {exc}") from None


def validation_message(path: Path, text: str, exc: ValidationError, prefix: Sequence[str | int] = ()) -> str:
    """First pydantic error as `file:line: key.path: message`."""
    error = exc.errors()[0]
    loc = [*prefix, *[p for p in error["loc"] if isinstance(p, str | int)]]
    dotted = ""
    for part in loc:
        dotted += f"[{part}]" if isinstance(part, int) else (f".{part}" if dotted else str(part))
    line = key_line(text, loc) if loc else None
    where = f"{path}:{line}" if line else str(path)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "enum":
        got = error.get("input")
        message = f"{got!r} is not one of {error['ctx']['expected']}"
    return f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}"
