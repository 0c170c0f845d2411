"""Strategy files: `strategies/<name>.toml`, schema 1, the seed's five condition groups.

    schema = 1
    side = "long"                 # or "short"
    signal_timeout_s = 30         # SIGNAL_DETECTED -> SIGNAL_CANCELLED if no entry within this
    cooldown_s = 120              # EXITED / SIGNAL_CANCELLED -> MONITORING after this
    clock_ms = 1000               # evaluate indicators and strategy every second of silence (0: off)
    require = { o1 = "any" }      # a group fires when all (default) or any of its conditions are TRUE

    [sizing]
    base_position_pct = 0.5
    risk_variant = "risk_rsi"     # optional: a RISK variant whose value picks the multiplier

    [exits]
    sl_buffer_pct = 10
    tp_pct = 25

    [[s1]]                        # signal_detection
    indicator = "pump_10s"
    op = "gte"
    value = 3.0

    [variants.pump_10s]           # this strategy's own parameters for a variant it reads
    recent = [20, 0]

    [search]                      # read by `fx optimize` only (fxcli/optimize/space.py)
    "s1[0].value" = { low = 2.0, high = 8.0, step = 0.5 }

Errors name file, key and line: `pump.toml:14: z1[2].op: 'gtee' is not one of 'gte', 'lte', ...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fxcli.engine.clock import DEFAULT_CLOCK_MS, MAX_CLOCK_MS, MIN_CLOCK_MS, check_clock_ms
from fxcli.errors import FxError
from fxcli.model.limits import MAX_SECONDS
from fxcli.strategy.conditions import Condition, Finite
from fxcli.toml_source import located, read_toml, validation_message

SCHEMA_VERSION = 1
UNREALIZED_PNL_PCT = "UNREALIZED_PNL_PCT"
ROLES = (  # (table, key, the variant type it takes): a value read as a risk score or a price level
    ("sizing", "risk_variant", "RISK"),
    ("exits", "stop_loss_variant", "STOP_LOSS"),
    ("exits", "take_profit_variant", "TAKE_PROFIT"),
)


class Side(StrEnum):
    """Direction of the strategy's positions."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for long, -1 for short."""
        return 1 if self is Side.LONG else -1


class GroupName(StrEnum):
    """The five condition groups, in the seed's words."""

    S1 = "s1"  # signal_detection
    O1 = "o1"  # signal_cancellation
    Z1 = "z1"  # entry_conditions
    ZE1 = "ze1"  # close_order_detection
    E1 = "e1"  # emergency_exit


class Sizing(BaseModel):
    """The seed's position sizing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_position_pct: float = Field(0.5, gt=0, le=100, description="Notional as % of balance before risk.")
    risk_variant: str | None = Field(
        None, description="RISK variant (0-100) whose value picks the multiplier."
    )
    risk_points: list[tuple[Finite, Finite]] = Field(
        [(20.0, 1.2), (50.0, 1.0), (70.0, 0.55)],
        description="(risk value, multiplier) points, linearly interpolated and flat beyond the ends.",
    )
    min_notional: float = Field(10.0, ge=0, description="Smallest order in quote currency (USDT).")
    max_notional: float = Field(1000.0, gt=0, description="Largest order in quote currency (USDT).")
    max_leverage: float = Field(2.0, gt=0, description="Notional never exceeds balance x this.")

    @model_validator(mode="after")
    def _consistent(self) -> Sizing:
        if self.min_notional > self.max_notional:
            raise ValueError(f"min_notional {self.min_notional} > max_notional {self.max_notional}")
        xs = [x for x, _ in self.risk_points]
        if xs != sorted(xs) or len(set(xs)) != len(xs):
            raise ValueError("risk_points must have strictly increasing risk values")
        return self


class Exits(BaseModel):
    """Stop-loss and take-profit levels, fixed when the position opens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sl_buffer_pct: float = Field(10.0, gt=0, lt=100, description="Stop this % beyond the reference price.")
    tp_pct: float = Field(25.0, gt=0, description="Take profit this % beyond the reference price.")
    stop_loss_variant: str | None = Field(
        None, description="STOP_LOSS variant: stop reference instead of entry."
    )
    take_profit_variant: str | None = Field(
        None, description="TAKE_PROFIT variant: target reference instead of entry."
    )


class StrategySpec(BaseModel):
    """One strategy file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal[1] = Field(alias="schema", description="File format version; must be 1.")
    name: str = Field("", description="Defaults to the file name.")
    description: str = Field("", description="What the strategy trades and why.")
    side: Side = Field(Side.LONG, description="long or short.")
    signal_timeout_s: float = Field(60.0, gt=0, description="Cancel a signal with no entry after this.")
    cooldown_s: float = Field(
        120.0, ge=0, le=MAX_SECONDS, description="Wait after an exit or a cancelled signal."
    )
    emergency_cooldown_s: float = Field(
        900.0, ge=0, le=MAX_SECONDS, description="Wait after an E1 exit before a new S1."
    )
    clock_ms: int = Field(
        DEFAULT_CLOCK_MS,
        description=f"Clock tick every this many ms of exchange time without events: time-weighted "
        f"indicators and the strategy are evaluated as time passes; 0 turns it off, else "
        f"{MIN_CLOCK_MS} to {MAX_CLOCK_MS}.",
    )
    require: dict[GroupName, Literal["all", "any"]] = Field(
        {}, description="Per group: all (default) or any."
    )
    sizing: Sizing = Field(Sizing(), description="Position sizing.")
    exits: Exits = Field(Exits(), description="Stop-loss and take-profit.")
    s1: list[Condition] = Field(description="signal_detection: MONITORING -> SIGNAL_DETECTED.")
    o1: list[Condition] = Field([], description="signal_cancellation: SIGNAL_DETECTED -> SIGNAL_CANCELLED.")
    z1: list[Condition] = Field(description="entry_conditions: SIGNAL_DETECTED -> ENTRY_EVALUATION.")
    ze1: list[Condition] = Field(
        [], description="close_order_detection: POSITION_ACTIVE -> CLOSE_ORDER_EVALUATION."
    )
    e1: list[Condition] = Field(
        [], description="emergency_exit: POSITION_ACTIVE -> EMERGENCY_EXIT (before ZE1)."
    )
    variants: dict[str, dict[str, Any]] = Field(
        {},
        description="Per variant (or indicator) the strategy reads: parameters that replace the "
        "variants file's for this strategy only, e.g. [variants.pump_10s] recent = [20, 0].",
    )
    search: dict[str, Any] = Field(
        {}, description="The search space of `fx optimize` (dotted key -> range or choices; constraint)."
    )

    @field_validator("clock_ms", mode="before")
    @classmethod
    def _clock(cls, value: object) -> int:
        return check_clock_ms(value)  # before pydantic's int coercion: 1.0, "500" and true are refused

    @model_validator(mode="after")
    def _groups_not_empty(self) -> StrategySpec:
        for group in (GroupName.S1, GroupName.Z1):
            if not getattr(self, group.value):
                raise ValueError(f"{group.value} needs at least one condition")
        for group in (GroupName.S1, GroupName.O1, GroupName.Z1):
            for i, condition in enumerate(self.group(group)):
                if condition.indicator == UNREALIZED_PNL_PCT:
                    # Before a position exists this value is never known: the group could never fire.
                    raise ValueError(f"{group.value}[{i}]: {UNREALIZED_PNL_PCT} exists only in ze1 and e1")
        return self

    def group(self, name: GroupName) -> list[Condition]:
        """The conditions of one group."""
        return list(getattr(self, name.value))

    def indicator_names(self) -> set[str]:
        """Every variant or indicator name the strategy reads (UNREALIZED_PNL_PCT excluded)."""
        names = {c.indicator for g in GroupName for c in self.group(g)}
        names |= {
            n
            for n in (self.sizing.risk_variant, self.exits.stop_loss_variant, self.exits.take_profit_variant)
            if n
        }
        return names - {UNREALIZED_PNL_PCT}


def check_variant_types(spec: StrategySpec, types: Mapping[str, str], path: Path | None = None) -> None:
    """Raise FxError (`file:line: key: message`) when a role names a variant of another type: a RISK
    variant (0-100) as a stop-loss reference would put the stop near zero, where it never fires.

    `types` maps variant names to their type; names it does not hold (indicators) are not checked.
    """
    for table, key, wanted in ROLES:
        name = getattr(getattr(spec, table), key)
        got = types.get(name) if name else None
        if got is None or got == wanted:
            continue
        where = located(path, (table, key)) if path is not None else f"strategy {spec.name}"
        raise FxError(f"{where}: {table}.{key}: {name!r} is a {got} variant; {key} takes a {wanted} variant")


def load_strategy(path: Path) -> StrategySpec:
    """Read and validate a strategy file; errors name file, key and line."""
    data, text = read_toml(path)
    if data.get("schema") != SCHEMA_VERSION:
        raise FxError(f"{path}:1: schema: expected schema = {SCHEMA_VERSION}, got {data.get('schema')!r}")
    data.setdefault("name", path.stem)
    try:
        return StrategySpec.model_validate(data)
    except ValidationError as exc:
        raise FxError(validation_message(path, text, exc)) from None
