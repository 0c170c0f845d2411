"""One dimension of a search space: a range (`low`, `high`, optional `step`, `log`) or `choices`.

    { low = 2.0, high = 8.0, step = 0.5 }     floats 2.0, 2.5, ..., 8.0
    { low = 30, high = 600, step = 30 }       ints (low, high and step are all TOML integers)
    { low = 0.5, high = 50, log = true }      continuous, sampled on a log scale
    { choices = [[10, 0], [20, 0]] }          any TOML values: numbers, strings, true/false, arrays

On the command line: `--param KEY=LOW:HIGH[:STEP]`, `KEY=LOW:HIGH:log`, or `KEY=a,b,c` (choices;
each a TOML value, a bare word a string: `side=long,short`, `variants.x.window=[10,0],[30,0]`).
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fxcli.engine.variants import literal

FIELDS = ("low", "high", "step", "log", "choices")
SHAPE = "a range { low = .., high = .. [, step = ..] [, log = true] } or { choices = [..] }"


class DimensionError(ValueError):
    """A range or a list of choices that cannot be searched; the message says why."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decimal(value: float) -> Decimal:
    # As written, not as the binary float: 0.1 is 1/10, so steps divide ranges as a person expects
    # (Optuna's own check does the same).
    return Decimal(str(value))


@dataclass(frozen=True)
class Dimension:
    """One key of the space and the values it may take."""

    key: str  # dotted key as written: "s1[0].value", "exits.tp_pct", "variants.pump_10s.recent"
    low: float | None
    high: float | None
    step: float | None
    log: bool
    integer: bool
    choices: tuple[Any, ...] | None
    line: int  # in the strategy file; 0 for a --param override

    def trial_choices(self) -> tuple[Any, ...]:
        """The choices as trial parameters: a list becomes its TOML text."""
        return tuple(_encode(c) for c in self.choices or ())

    def decode(self, value: Any) -> Any:
        """A trial parameter back to the strategy's value (a choice's TOML text to its list)."""
        if isinstance(value, str) and value in self.texts:
            return self.texts[value]
        if self.integer and isinstance(value, float) and value.is_integer():
            return int(value)
        if self.step is not None and not self.integer and isinstance(value, float) and self.low is not None:
            # Optuna steps in binary floats (0.02 + 3 * 0.04 = 0.13999999999999999): the decimal grid
            # point, as the grid and the file write it (0.14).
            low, step = _decimal(self.low), _decimal(self.step)
            return float(low + round((_decimal(value) - low) / step) * step)
        return value

    @functools.cached_property
    def texts(self) -> dict[str, Any]:
        """The TOML text of each array choice -> the choice (worked out once: a grid decodes often)."""
        return {literal(c): c for c in self.choices or () if isinstance(c, list)}

    def trial_values(self) -> list[Any]:
        """Every value of a grid over this dimension, low to high (choices in their order)."""
        if self.choices is not None:
            return list(self.trial_choices())
        assert self.low is not None
        assert self.high is not None
        if self.integer:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            raise DimensionError("a continuous range has no grid: give it a step (or choices)")
        low, step = _decimal(self.low), _decimal(self.step)
        count = int((_decimal(self.high) - low) / step)
        return [float(low + i * step) for i in range(count + 1)]

    def probe_values(self) -> list[Any]:
        """The values checked when the space is loaded: both ends of a range, every choice."""
        if self.choices is not None:
            return list(self.choices)
        return [self.low, self.high]

    def table(self) -> dict[str, Any]:
        """The [search] entry of this dimension, as a strategy file writes it."""
        if self.choices is not None:
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.step is not None:
            out["step"] = self.step
        if self.log:
            out["log"] = True
        return out


def _encode(value: Any) -> Any:
    return literal(value) if isinstance(value, list | dict) else value


def parse_dimension(key: str, entry: Any, line: int) -> Dimension:
    """A [search] entry as a Dimension; DimensionError says what is wrong with it."""
    if not isinstance(entry, dict):
        raise DimensionError(f"{literal(entry)} is not {SHAPE}")
    unknown = [k for k in entry if k not in FIELDS]
    if unknown:
        raise DimensionError(f"unknown field {unknown[0]!r} (a dimension is {SHAPE})")
    if "choices" in entry:
        if len(entry) > 1:
            raise DimensionError("choices cannot be combined with low, high, step or log")
        return _choices(key, entry["choices"], line)
    if "low" not in entry or "high" not in entry:
        raise DimensionError(f"{'high' if 'low' in entry else 'low'} is missing ({SHAPE})")
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise DimensionError(f"log = {literal(log)}: log is true or false")
    return _range(key, entry["low"], entry["high"], entry.get("step"), log, line)


def _range(key: str, low: Any, high: Any, step: Any, log: bool, line: int) -> Dimension:
    for name, value in (("low", low), ("high", high), ("step", step)):
        if value is not None and not _number(value):
            raise DimensionError(f"{name} = {literal(value)} is not a number")
        if value is not None and not math.isfinite(value):
            raise DimensionError(f"{name} = {value} is not a finite number")
    if low > high:
        raise DimensionError(f"low {low} > high {high}")
    if log and step is not None:
        raise DimensionError("log and step cannot be combined (a log scale has no even step)")
    if log and low <= 0:
        raise DimensionError(f"log needs low > 0, got low = {low}")
    if step is not None:
        if step <= 0:
            raise DimensionError(f"step = {step} must be > 0")
        span = _decimal(high) - _decimal(low)
        if span % _decimal(step) != 0:
            raise DimensionError(f"step {step} does not divide high - low = {span} (from {low} to {high})")
    integer = all(isinstance(v, int) for v in (low, high, step) if v is not None)
    return Dimension(key, low, high, step, log, integer, None, line)


def _choices(key: str, choices: Any, line: int) -> Dimension:
    if not isinstance(choices, list) or not choices:
        raise DimensionError("choices must be a non-empty array")
    seen: set[str] = set()
    for choice in choices:
        if isinstance(choice, dict) or not isinstance(choice, int | float | str | bool | list):
            raise DimensionError(f"choice {choice!r} is not a number, a string, true/false or an array")
        text = literal(choice) if not isinstance(choice, str) else f"str:{choice}"
        if text in seen:
            raise DimensionError(f"choice {literal(choice)} is given twice")
        seen.add(text)
    return Dimension(key, None, None, None, False, False, tuple(choices), line)


def parse_override(text: str) -> Dimension:
    """`KEY=LOW:HIGH[:STEP]`, `KEY=LOW:HIGH:log` or `KEY=a,b,c` (the CLI's --param) as a Dimension."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise DimensionError("expected KEY=LOW:HIGH[:STEP], KEY=LOW:HIGH:log or KEY=a,b,c")
    if ":" in raw and not raw.lstrip().startswith(("[", '"', "'")):
        parts = [p.strip() for p in raw.split(":")]
        if len(parts) not in (2, 3):
            raise DimensionError(f"{raw!r}: a range is LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log")
        log = len(parts) == 3 and parts[2] == "log"
        low, high = _value(parts[0], "LOW"), _value(parts[1], "HIGH")
        step = _value(parts[2], "STEP") if len(parts) == 3 and not log else None
        return _range(key, low, high, step, log, 0)
    return _choices(key, [_value(p, "choice") for p in _split_top(raw)], 0)


def _split_top(raw: str) -> list[str]:
    """Split on commas outside brackets and quotes: `[10,0],[20,0]` is two choices."""
    parts, depth, quote, current = [], 0, "", ""
    for ch in raw:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    parts.append(current.strip())
    if any(not p for p in parts):
        raise DimensionError(f"{raw!r}: an empty choice (two commas in a row, or one at an end)")
    return parts


def _value(raw: str, what: str) -> Any:
    """A TOML value; a bare word is a string (`long`)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw.replace("_", "").isalnum() and not raw[0].isdigit():
            return raw
        raise DimensionError(f"{what} {raw!r} is not a number or a TOML value") from None
