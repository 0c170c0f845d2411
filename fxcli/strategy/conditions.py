"""Conditions and their four-valued results.

A condition compares one indicator value (by variant or indicator name) with its threshold(s):
TRUE or FALSE when the value is known, PENDING when it is missing or not warm (NaN), ERROR when the
evaluation itself failed. A group fires only when all (or, with `require = "any"`, one) of its
conditions are TRUE; PENDING and ERROR never fire.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A number from a strategy file that must be finite (a NaN threshold could never be crossed)."""


class Op(StrEnum):
    """Comparison operators of a condition."""

    GTE = "gte"
    LTE = "lte"
    GT = "gt"
    LT = "lt"
    EQ = "eq"
    BETWEEN = "between"
    ALLOWED = "allowed"


class Result(StrEnum):
    """What a condition says about one snapshot."""

    TRUE = "TRUE"
    FALSE = "FALSE"
    PENDING = "PENDING"
    ERROR = "ERROR"


class Condition(BaseModel):
    """`{ indicator = "pump_10s", op = "gte", value = 3.0 }` (or min/max for between, values for allowed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator: str = Field(description="A variant name, an indicator name, or UNREALIZED_PNL_PCT.")
    op: Op = Field(description="gte, lte, gt, lt, eq, between or allowed.")
    value: Finite | None = Field(None, description="Threshold for gte/lte/gt/lt/eq (finite).")
    min: Finite | None = Field(None, description="Lower bound (inclusive) for between (finite).")
    max: Finite | None = Field(None, description="Upper bound (inclusive) for between (finite).")
    values: list[Finite] | None = Field(None, description="Accepted values for allowed (finite).")

    @model_validator(mode="after")
    def _operands_match_op(self) -> Condition:
        if self.op is Op.BETWEEN:
            if self.min is None or self.max is None:
                raise ValueError("between needs min and max")
            if self.min > self.max:
                raise ValueError(f"between needs min <= max, got {self.min} > {self.max}")
        elif self.op is Op.ALLOWED:
            if not self.values:
                raise ValueError("allowed needs a non-empty values list")
        elif self.value is None:
            raise ValueError(f"{self.op.value} needs value")
        return self

    def test(self) -> Callable[[float], bool]:
        """The comparison alone, for a known value (the caller has checked it is a number and not NaN,
        as `evaluate` does): `evaluate` without the lookup and the op dispatch, for a state machine
        that calls it on every tick."""
        op = self.op
        if op is Op.BETWEEN:
            low, high = self.min, self.max
            return lambda x: low <= x <= high  # type: ignore[operator]
        if op is Op.ALLOWED:
            return (self.values or []).__contains__
        # value OP x, flipped: x >= v is v <= x
        flipped = {Op.GTE: operator.le, Op.LTE: operator.ge, Op.GT: operator.lt, Op.LT: operator.gt}
        return functools.partial(flipped.get(op, operator.eq), self.value)

    def evaluate(self, values: Mapping[str, float]) -> Result:
        """TRUE/FALSE for a known value, PENDING for a missing or NaN one, ERROR if evaluation fails."""
        try:
            x = values.get(self.indicator)
            if x is None or math.isnan(x):
                return Result.PENDING
            op = self.op
            if op is Op.GTE:
                hit = x >= self.value  # type: ignore[operator]
            elif op is Op.LTE:
                hit = x <= self.value  # type: ignore[operator]
            elif op is Op.GT:
                hit = x > self.value  # type: ignore[operator]
            elif op is Op.LT:
                hit = x < self.value  # type: ignore[operator]
            elif op is Op.EQ:
                hit = x == self.value
            elif op is Op.BETWEEN:
                hit = self.min <= x <= self.max  # type: ignore[operator]
            else:
                hit = x in self.values  # type: ignore[operator]
        except Exception:  # a value of the wrong type from a custom source is an ERROR, not a crash
            return Result.ERROR
        return Result.TRUE if hit else Result.FALSE
