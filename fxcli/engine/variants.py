"""Variants: named parameter sets of one indicator, kept in `variants/*.toml` (schema 1).

    schema = 1

    # Pump detectors
    [pump_10s]
    indicator = "PUMP_MAGNITUDE_PCT"
    type = "GENERAL"
    description = "How far the last 10 s trade above the 5 min before them, in %."
    params = { recent = [10, 0], baseline = [300, 10] }

A variant's name is unique across every file of the folder; strategies refer to variants by name.
Problems name file, line and key (`pump.toml:6: pump_10s.params.recnt: unknown parameter ...`):
tomllib forgets positions, so lines are found again in the raw text. Edits replace only the edited
table's text block, so the rest of a file, comments included, stays as it was.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from fxcli.engine.params import IndicatorParams
from fxcli.engine.registry import Spec, load_all
from fxcli.errors import FxError

SCHEMA_VERSION = 1
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
KEYS = ("indicator", "type", "description", "params")


class VariantType(StrEnum):
    """What a variant's value means to a strategy (the seed's six types)."""

    GENERAL = "GENERAL"  # a signal value compared in conditions (the seed scores 0-1; any scale works)
    RISK = "RISK"  # 0-100; picks the position-size multiplier
    PRICE = "PRICE"  # a price level
    STOP_LOSS = "STOP_LOSS"  # a price the stop is placed from
    TAKE_PROFIT = "TAKE_PROFIT"  # a price the target is placed from
    CLOSE_ORDER = "CLOSE_ORDER"  # a price that closes the position when crossed

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The range values of this type must stay in, if it has one."""
        return (0.0, 100.0) if self is VariantType.RISK else None


class Variant(BaseModel):
    """One named parameter set of one registered indicator; `params` holds only the values given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Lower-case name, unique across the variants folder, e.g. pump_10s.")
    indicator: str = Field(description="Registry name of the indicator, e.g. PUMP_MAGNITUDE_PCT.")
    type: VariantType = Field(
        description="GENERAL, RISK (0-100), PRICE, STOP_LOSS, TAKE_PROFIT, CLOSE_ORDER."
    )
    description: str = Field("", description="What the variant is for.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Indicator parameters; the rest keep their defaults."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("a name is a lower-case letter, then lower-case letters, digits or _ (<= 64)")
        if value.upper() in load_all():
            raise ValueError(f"{value!r} is an indicator's name; strategies could not tell them apart")
        return value

    @field_validator("indicator", mode="before")
    @classmethod
    def _indicator(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        specs = load_all()
        if value.upper() not in specs:
            near = difflib.get_close_matches(value.upper(), specs, n=1)
            hint = f"did you mean {near[0]}?" if near else f"known: {', '.join(sorted(specs))}"
            raise ValueError(f"{value!r} is not an indicator ({hint})")
        return value.upper()

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _params_fit_the_indicator(self) -> Variant:
        errors = params_errors(self.indicator, self.params)
        if errors:
            key, message = errors[0]
            raise PydanticCustomError("variant_params", "{key}: {message}", {"key": key, "message": message})
        return self

    @property
    def spec(self) -> Spec:
        """The registered indicator."""
        return load_all()[self.indicator]

    def indicator_params(self) -> IndicatorParams:
        """The indicator's Params with this variant's values (defaults for the rest)."""
        return self.spec.params.model_validate(self.params)

    def to_table(self) -> dict[str, Any]:
        """The TOML table of this variant (without its name), as written to a file."""
        table: dict[str, Any] = {"indicator": self.indicator, "type": self.type.value}
        if self.description:
            table["description"] = self.description
        if self.params:
            table["params"] = self.params
        return table


def params_errors(indicator: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem of `params` against the indicator's Params, as (key under params, message)."""
    spec = load_all()[indicator]
    try:
        spec.params.model_validate(params)
    except ValidationError as exc:
        return [_param_problem(spec, error) for error in exc.errors()]
    return []


def _param_problem(spec: Spec, error: Any) -> tuple[str, str]:
    key = dotted(("params", *error["loc"]))
    if error["type"] == "extra_forbidden":
        known = ", ".join(spec.params.model_fields) or "no parameters"
        return key, f"unknown parameter of {spec.name} (takes {known})"
    return key, error_message(error)


def error_message(error: Any) -> str:
    """A pydantic error's message in fx's words (enum choices listed, no 'Value error, ')."""
    if error["type"] == "enum":
        return f"{error['input']!r} is not one of {error['ctx']['expected'].replace(' or ', ', ')}"
    if error["type"] == "missing":
        return "missing"
    return str(error["msg"]).removeprefix("Value error, ")


def dotted(path: Sequence[str | int]) -> str:
    """('pump', 'params', 'recent', 0) -> 'pump.params.recent[0]'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a variants file: where (file, line), which key, what."""

    path: Path
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class VariantError(FxError):
    """A variants file or a variant definition is invalid (exit 2)."""


@dataclass
class Entry:
    """One `[name]` table of a file: its raw content and, if valid, the Variant."""

    name: str
    path: Path
    line: int | None
    table: dict[str, Any]
    variant: Variant | None
    problems: list[Problem]


@dataclass
class SourceFile:
    """One variants file: raw text, parsed content (None on a syntax error), file-level problems."""

    path: Path
    text: str
    data: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Catalog:
    """Every variant of a folder, with every problem found on the way."""

    folder: Path
    files: list[SourceFile]
    entries: dict[str, Entry]  # first definition of each name
    duplicates: list[Problem]

    @property
    def problems(self) -> list[Problem]:
        """All problems, file by file in order, then names defined twice."""
        out = [p for f in self.files for p in (*f.problems, *(q for e in f.entries for q in e.problems))]
        return out + self.duplicates

    def variants(self) -> list[Variant]:
        """Every variant, in file order; raises on the first problem of the folder."""
        self.raise_first_problem()
        return [e.variant for e in self.entries.values() if e.variant is not None]

    def get(self, name: str) -> Variant:
        """The variant `name`; raises if unknown, invalid or defined in two places."""
        entry = self.entries.get(name)
        if entry is None:
            raise VariantError(f"unknown variant {name!r}{self._hint(name)}")
        problems = entry.problems + [p for p in self.duplicates if p.key == name]
        if problems:
            raise VariantError(str(problems[0]))
        assert entry.variant is not None
        return entry.variant

    def raise_first_problem(self) -> None:
        """Raise the first problem of the folder (one line), if any."""
        problems = self.problems
        if problems:
            more = f" (and {len(problems) - 1} more: fx variants validate)" if len(problems) > 1 else ""
            raise VariantError(f"{problems[0]}{more}")

    def _hint(self, name: str) -> str:
        near = difflib.get_close_matches(name, self.entries, n=1)
        if near:
            return f" (did you mean {near[0]}?)"
        return f" in {self.folder}" if self.entries else f": {self.folder} holds no variants"


def load_folder(folder: Path) -> Catalog:
    """Read every `*.toml` of `folder` (a missing folder holds no variants)."""
    files = [read_file(p) for p in sorted(folder.glob("*.toml"))] if folder.is_dir() else []
    entries: dict[str, Entry] = {}
    duplicates: list[Problem] = []
    for source in files:
        for entry in source.entries:
            first = entries.get(entry.name)
            if first is None:
                entries[entry.name] = entry
                continue
            where = f"{first.path}:{first.line}" if first.line else str(first.path)
            duplicates.append(
                Problem(entry.path, entry.line, entry.name, f"defined again (first in {where})")
            )
    return Catalog(folder, files, entries, duplicates)


def read_file(path: Path) -> SourceFile:
    """Parse one variants file; every problem is collected, none raised."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return SourceFile(path, "", None, [Problem(path, None, "", f"cannot read: {exc}")])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return SourceFile(path, text, None, [syntax_problem(path, text, exc)])
    return parse_text(path, text, data)


def syntax_problem(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    """A TOML syntax error with its line, and the key on that line if there is one."""
    message = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if found:
        line = int(found.group(1))
        message = message[: found.start()].rstrip() + f" (column {found.group(2)})"
    else:
        line = max(1, len(text.splitlines()))
        message = message.replace(" (at end of document)", " (at the end of the file)")
    return Problem(path, line, _key_on_line(text, line), f"invalid TOML: {message}")


def _key_on_line(text: str, line: int) -> str:
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    key = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*=", lines[line - 1])
    if key is None:
        return ""
    table = ""
    for previous in reversed(lines[: line - 1]):
        header = _header_path(previous)
        if header is not None:
            table = ".".join(header) + "."
            break
    return table + key.group(1)


def parse_text(path: Path, text: str, data: dict[str, Any]) -> SourceFile:
    """Check the file's shape and every table in it."""
    source = SourceFile(path, text, data)
    where = TextIndex.of(text)
    schema = data.get("schema")
    if schema is None:
        source.problems.append(
            Problem(path, 1, "schema", "missing: a variants file starts with `schema = 1`")
        )
    elif schema != SCHEMA_VERSION or isinstance(schema, bool):
        line = where.key_line((), "schema") or 1
        source.problems.append(
            Problem(
                path, line, "schema", f"{schema!r} is not supported (this fx reads schema = {SCHEMA_VERSION})"
            )
        )
        return source
    for name, value in data.items():
        if name == "schema":
            continue
        if isinstance(value, dict):
            source.entries.append(parse_entry(path, where, name, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            source.problems.append(
                Problem(
                    path,
                    where.arrays.get((name,)),
                    name,
                    f"a variant is one [{name}] table, not [[{name}]]",
                )
            )
        else:
            source.problems.append(
                Problem(
                    path,
                    where.key_line((), name),
                    name,
                    "unexpected top-level key: a file holds `schema = 1` and [name] tables",
                )
            )
    return source


def parse_entry(path: Path, where: TextIndex, name: str, table: dict[str, Any]) -> Entry:
    """Validate one `[name]` table; problems carry the line of the offending key."""
    header = where.header_line(name)
    try:
        variant = Variant.model_validate({"name": name, **table})
    except ValidationError as exc:
        problems = _entry_problems(path, where, name, header, table, exc)
        return Entry(name, path, header, table, None, problems)
    return Entry(name, path, header, table, variant, [])


def _entry_problems(
    path: Path, where: TextIndex, name: str, header: int | None, table: dict[str, Any], exc: ValidationError
) -> list[Problem]:
    found: list[tuple[str, str]] = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if isinstance(p, str | int)]
        if error["type"] == "variant_params":
            found += params_errors(str(table["indicator"]).upper(), table.get("params") or {})
        elif error["type"] == "extra_forbidden":
            found.append((dotted(loc), f"unknown key (a variant has {', '.join(KEYS)})"))
        elif loc == ["name"]:
            found.append(("", f"bad name: {error_message(error)}"))
        else:
            found.append((dotted(loc), error_message(error)))
    # Field errors stop the model before its params check: run it here so `validate` lists every problem.
    indicator = table.get("indicator")
    params = table.get("params", {})
    if (
        isinstance(indicator, str)
        and indicator.upper() in load_all()
        and isinstance(params, dict)
        and not any(e["type"] == "variant_params" for e in exc.errors())
    ):
        found += params_errors(indicator.upper(), params)
    problems = []
    for key, message in found:
        parts = [p for p in re.split(r"[.\[\]]", key) if p] if key else []
        line = (where.key_line((name,), *parts[:2]) if parts else None) or header
        problems.append(Problem(path, line, f"{name}.{key}" if key else name, message))
    return sorted(problems, key=lambda p: p.line or 0)


# --- where things are in the raw text --------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[(?!\[)\s*(?P<key>[^\[\]#]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*(?P<key>[^\[\]#]+?)\s*\]\]\s*(#.*)?$")


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*$")
_ASSIGNMENT = re.compile(r"^\s*(?P<key>[^=#]+?)\s*=")


def _parse_key(key: str) -> tuple[str, ...] | None:
    if _BARE_KEY.match(key):  # most keys: no TOML parse needed
        return tuple(part.strip() for part in key.split("."))
    try:
        node: Any = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        (part, node), *_ = node.items()
        path.append(part)
    return tuple(path)


def _header_path(line: str) -> tuple[str, ...] | None:
    found = _HEADER.match(line) or _ARRAY_HEADER.match(line)
    return _parse_key(found.group("key")) if found else None


@dataclass(frozen=True)
class TextIndex:
    """Where each header and each key of a file is, found in one pass over its text: a file of
    100,000 variants is read once, not once per variant."""

    headers: dict[tuple[str, ...], int]  # first line of each `[a.b]` / `[[a.b]]` header
    arrays: dict[tuple[str, ...], int]  # first line of each `[[a.b]]` header
    first_under: dict[str, int]  # first header line whose path starts with this name
    keys: dict[tuple[str, ...], int]  # first line setting each full key path (table + key)

    @classmethod
    def of(cls, text: str) -> TextIndex:
        """Index the headers and the `key = value` lines of `text`."""
        where = cls({}, {}, {}, {})
        current: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            path = _header_path(line)
            if path is not None:
                current = path
                where.headers.setdefault(path, number)
                if path:
                    where.first_under.setdefault(path[0], number)
                if _ARRAY_HEADER.match(line):
                    where.arrays.setdefault(path, number)
                continue
            assign = _ASSIGNMENT.match(line)
            lhs = _parse_key(assign.group("key")) if assign else None
            if lhs:
                where.keys.setdefault(current + lhs, number)
        return where

    def header_line(self, name: str) -> int | None:
        """1-based line of the `[name]` header (or of the first `[name.x]` header), or None."""
        return self.headers.get((name,)) or self.first_under.get(name)

    def key_line(self, table: tuple[str, ...], *key: str | int) -> int | None:
        """1-based line where `key` (e.g. "params", "recent") of `table` is set, or None.

        Finds `params = {...}`, `params.recent = ...` and `recent = ...` under `[name.params]`; for a
        nested key inside an inline table the line of the outer key is the answer (inline tables are
        one line in TOML).
        """
        names = tuple(k for k in key if isinstance(k, str))
        if not names:
            return None
        exact = self.keys.get(table + names)
        if exact is not None:
            return exact
        outer = [self.keys.get(table + names[:n]) for n in range(1, len(names))]
        return min((line for line in outer if line is not None), default=None)


# --- editing the raw text ----------------------------------------------------------------------------


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _is_blank(line: str) -> bool:
    return not line.strip()


def block_range(lines: list[str], name: str) -> tuple[int, int] | None:
    """Line indices `[start, end)` of the text block of table `name`: its header through its last
    key or sub-table line. Comment lines just before the next table belong to that table."""
    paths = [_header_path(line) for line in lines]
    start = next((i for i, p in enumerate(paths) if p == (name,)), None)
    if start is None:
        start = next((i for i, p in enumerate(paths) if p and p[0] == name), None)
    if start is None:
        return None
    end = len(lines)
    for j in range(start + 1, len(lines)):
        path = paths[j]
        if path is not None and path[0] != name:
            end = j
            break
    while end > start + 1 and (_is_blank(lines[end - 1]) or _is_comment(lines[end - 1])):
        end -= 1
    return start, end


def _trailing_comment(line: str) -> str:
    """The `# ...` at the end of a `key = value` or header line, or ''."""
    body = line.rstrip("\n")
    for i in [i for i, ch in enumerate(body) if ch == "#"]:
        head = body[:i].strip()
        if not head:
            return ""
        if head.startswith("["):
            is_code = _header_path(head) is not None
        else:
            try:
                tomllib.loads(head)
                is_code = True
            except tomllib.TOMLDecodeError:
                is_code = False
        if is_code:
            return body[i:].strip()
    return ""


def literal(value: Any) -> str:
    """A TOML value on one line: tomli-w's scalars, compact arrays and inline tables.

    tomli-w writes nested tables as `[name.params]` sections and arrays one item per line; a
    variant stays one readable block with `params = { recent = [10, 0] }`.
    """
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {literal(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")


def _key(key: str) -> str:
    return tomli_w.dumps({key: 0}).rsplit(" = ", 1)[0]


def render_block(variant: Variant, old_lines: Sequence[str] = ()) -> list[str]:
    """The text block of `variant`; comments of `old_lines` (the block it replaces) are kept,
    each full-line comment above the key it preceded and each trailing comment on its key."""
    above: dict[str, list[str]] = {}
    trailing: dict[str, str] = {}
    orphans: list[str] = []
    header_comment = ""
    pending: list[str] = []
    section = ""
    for i, line in enumerate(old_lines):
        path = _header_path(line)
        if i == 0 and path is not None:
            header_comment = _trailing_comment(line)
            continue
        if _is_comment(line):
            pending.append(line.rstrip("\n").strip())
            continue
        if _is_blank(line):
            continue
        if path is not None:  # a [name.params] sub-table: its lines belong to `params`
            section = path[1] if len(path) > 1 else ""
            key = section
        else:
            assign = _ASSIGNMENT.match(line)
            lhs = _parse_key(assign.group("key")) if assign else None
            key = section or (lhs[0] if lhs else "")
        if key:
            above.setdefault(key, []).extend(pending)
            comment = _trailing_comment(line)
            if comment and key not in trailing:
                trailing[key] = comment
        else:
            orphans.extend(pending)
        pending = []
    orphans.extend(pending)
    table = variant.to_table()
    orphans += [c for k, cs in above.items() if k not in table for c in cs]
    orphans += [c for k, c in trailing.items() if k not in table]
    head = f"[{_key(variant.name)}]" + (f"  {header_comment}" if header_comment else "")
    out = [head + "\n", *(c + "\n" for c in orphans)]
    for key, value in table.items():
        out += [c + "\n" for c in above.get(key, [])]
        comment = f"  {trailing[key]}" if key in trailing else ""
        out.append(f"{key} = {literal(value)}{comment}\n")
    return out


def replace_block(text: str, variant: Variant, old_name: str | None = None) -> str:
    """`text` with table `old_name` (default: the variant's name) rewritten as `variant`."""
    lines = text.splitlines(keepends=True)
    found = block_range(lines, old_name or variant.name)
    if found is None:
        raise VariantError(f"no [{old_name or variant.name}] table in the text")
    start, end = found
    return "".join([*lines[:start], *render_block(variant, lines[start:end]), *lines[end:]])


def append_block(text: str, variant: Variant) -> str:
    """`text` with `variant` appended as a new table at the end (a new file starts with the schema)."""
    if not text.strip():
        text = f"schema = {SCHEMA_VERSION}\n"
    if not text.endswith("\n"):
        text += "\n"
    if not text.endswith("\n\n"):
        text += "\n"
    return text + "".join(render_block(variant))


def remove_block(text: str, name: str) -> str:
    """`text` without table `name` (comments above its header stay: they may head a section)."""
    lines = text.splitlines(keepends=True)
    found = block_range(lines, name)
    if found is None:
        raise VariantError(f"no [{name}] table in the text")
    start, end = found
    before, after = lines[:start], lines[end:]
    while after and _is_blank(after[0]) and (not before or _is_blank(before[-1])):
        after = after[1:]
    while before and _is_blank(before[-1]) and not after:
        before = before[:-1]
    return "".join(before + after)


# --- values given on the command line ----------------------------------------------------------------


def parse_param(text: str) -> tuple[str, Any]:
    """`key=value` with a TOML value (`window=[60,0]`, `span=20`); a bare word is a string."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise VariantError(f"--param {text!r}: expected key=value, e.g. --param window=[60,0]")
    if _parse_key(key) != (key,):
        raise VariantError(f"--param {text!r}: {key!r} is not a parameter name")
    try:
        return key, tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", raw):
            return key, raw
        raise VariantError(
            f"--param {key}={raw}: not a TOML value (numbers, [a, b] arrays, true/false, quoted strings)"
        ) from None
