"""Dotted keys: how a search space or a constraint names one value of a strategy file.

    s1[0].value   z1[1].min   e1[0].max        a condition's threshold (group, index, field)
    exits.tp_pct   sizing.base_position_pct     a field of [exits] / [sizing]
    cooldown_s   signal_timeout_s   emergency_cooldown_s   clock_ms   side
    variants.pump_10s.recent                    a parameter of a variant (or indicator) the strategy reads
    variants.pump_10s.baseline[0]               one element of a window parameter

A key is names joined by dots, with `[i]` after a name for a list element. In TOML a key with
brackets or dots is written quoted (`"s1[0].value" = {...}`); an unquoted dotted key
(`exits.tp_pct = {...}`) is TOML's nested table, which the space flattens back to the same key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fxcli.engine.registry import load_all
from fxcli.engine.variants import Catalog
from fxcli.strategy.indicators import base_of, effective_params
from fxcli.strategy.spec import Exits, GroupName, Sizing, StrategySpec

KeyPath = tuple[str | int, ...]
GROUPS = tuple(g.value for g in GroupName)
THRESHOLDS = ("value", "min", "max")
TOP_LEVEL = ("side", "signal_timeout_s", "cooldown_s", "emergency_cooldown_s", "clock_ms")
TABLES: dict[str, tuple[str, ...]] = {
    "sizing": tuple(Sizing.model_fields),
    "exits": tuple(Exits.model_fields),
}
FORMS = (
    "sN[i].value|min|max (N a group: s1, o1, z1, ze1, e1), exits.FIELD, sizing.FIELD, "
    f"{', '.join(TOP_LEVEL)}, variants.NAME.PARAM or variants.NAME.PARAM[i]"
)
_PART = re.compile(r"(?:^|\.)(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+)\]")


class KeyPathError(ValueError):
    """A key that is malformed or names nothing searchable; the message says why."""


def split_key(key: str) -> KeyPath:
    """'variants.pump_10s.baseline[0]' -> ('variants', 'pump_10s', 'baseline', 0)."""
    parts: list[str | int] = []
    position = 0
    while position < len(key):
        found = _PART.match(key, position)
        if found is None or (position == 0 and key.startswith(".")):
            raise KeyPathError(f"{key!r} is not a dotted key (names joined by '.', [i] for an element)")
        name, index = found.group("name"), found.group("index")
        parts.append(name if name is not None else int(index))
        position = found.end()
    if not parts or not isinstance(parts[0], str):
        raise KeyPathError(f"{key!r} is not a dotted key (names joined by '.', [i] for an element)")
    return tuple(parts)


def join_key(path: KeyPath) -> str:
    """The inverse of split_key."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(frozen=True)
class View:
    """The strategy's values at every key (its defaults included), before any parameter is applied."""

    strategy: dict[str, Any]  # the validated spec as TOML-ready values
    variants: dict[str, dict[str, Any]]  # every name the strategy reads -> every parameter's value
    indicators: dict[str, str]  # name -> registry indicator

    @classmethod
    def of(cls, spec: StrategySpec, catalog: Catalog) -> View:
        """Read the spec and the effective parameters of every name it reads."""
        strategy = spec.model_dump(mode="json", by_alias=True, exclude={"variants", "search"})
        names = sorted(spec.indicator_names())
        variants = {n: effective_params(spec, n, catalog) for n in names}
        indicators = {n: base_of(spec, n, catalog)[0] for n in names}
        return cls(strategy, variants, indicators)

    def get(self, path: KeyPath) -> Any:
        """The value at `path`; KeyPathError when the strategy has nothing there."""
        node: Any = self.variants if path[0] == "variants" else self.strategy
        for depth, part in enumerate(path[1:] if path[0] == "variants" else path):
            found = (isinstance(part, int) and isinstance(node, list) and part < len(node)) or (
                isinstance(part, str) and isinstance(node, Mapping) and part in node
            )
            if not found:
                head = join_key(path[: depth + (2 if path[0] == "variants" else 1)])
                raise KeyPathError(f"{join_key(path)}: the strategy has no value at {head}")
            node = node[part]
        if node is None:
            raise KeyPathError(f"{join_key(path)}: the strategy does not set it")
        return node


def check_dimension(path: KeyPath, view: View) -> None:
    """KeyPathError unless `path` names a value a search may set."""
    head = path[0]
    if head in GROUPS:
        _check_threshold(path, view)
    elif head in TABLES:
        fields = TABLES[str(head)]
        if len(path) != 2 or path[1] not in fields:
            raise KeyPathError(
                f"[{head}] has no field {join_key(path[1:]) or '(none given)'} (it has {', '.join(fields)})"
            )
    elif head == "variants":
        _check_variant(path, view)
    elif head in TOP_LEVEL:
        if len(path) != 1:
            raise KeyPathError(f"{head} is a single value")
    else:
        raise KeyPathError(f"unknown key (a key is {FORMS})")


def _check_threshold(path: KeyPath, view: View) -> None:
    group = str(path[0])
    conditions = view.strategy[group]
    if len(path) != 3 or not isinstance(path[1], int) or path[2] not in THRESHOLDS:
        raise KeyPathError(f"a condition's key is {group}[i].value, .min or .max")
    index, field = path[1], str(path[2])
    if index >= len(conditions):
        held = f"{group}[0] to {group}[{len(conditions) - 1}]" if conditions else "none"
        raise KeyPathError(f"{group} has {len(conditions)} condition(s) ({held})")
    condition = conditions[index]
    if condition.get(field) is None:
        has = [f for f in THRESHOLDS if condition.get(f) is not None]
        raise KeyPathError(
            f"{group}[{index}] (op {condition['op']}) has no {field}; it has {', '.join(has) or 'values'}"
        )


def _check_variant(path: KeyPath, view: View) -> None:
    if len(path) < 3 or not isinstance(path[1], str) or not isinstance(path[2], str) or len(path) > 4:
        raise KeyPathError("a variant's key is variants.NAME.PARAM or variants.NAME.PARAM[i]")
    name, param = path[1], path[2]
    if name not in view.variants:
        raise KeyPathError(f"{name!r} is not read by this strategy (it reads {', '.join(view.variants)})")
    indicator = view.indicators[name]
    params = [p for p in load_all()[indicator].params.model_fields if p != "kind"]
    if param not in params:
        raise KeyPathError(
            f"{indicator} ({name}) has no parameter {param} (it has {', '.join(params) or 'none'})"
        )
    if len(path) == 4:
        value = view.variants[name][param]
        if not isinstance(path[3], int) or not isinstance(value, list):
            raise KeyPathError(f"{name}.{param} is not a list: no [i] element")
        if path[3] >= len(value):
            raise KeyPathError(f"{name}.{param} has {len(value)} elements ([0] to [{len(value) - 1}])")


def assign(document: dict[str, Any], path: KeyPath, value: Any, view: View) -> None:
    """Set `path` to `value` in a strategy TOML document (in place): a condition's threshold, a
    field, or a `[variants.NAME]` override (an element replaced in a copy of the current list)."""
    if path[0] == "variants":
        name, param = str(path[1]), str(path[2])
        table = document.setdefault("variants", {}).setdefault(name, {})
        if len(path) == 4:
            current = table.get(param, view.variants[name][param])
            items = copy.deepcopy(list(current))
            items[int(path[3])] = value
            value = items
        table[param] = value
    elif path[0] in GROUPS:
        document[str(path[0])][int(path[1])][str(path[2])] = value
    elif path[0] in TABLES:
        document.setdefault(str(path[0]), {})[str(path[1])] = value
    else:
        document[str(path[0])] = value
