"""`Condition.test` (the state machine's per-tick comparison) says what `Condition.evaluate` says."""

from __future__ import annotations

import math

import pytest

from fxcli.strategy.conditions import Condition, Op, Result

CONDITIONS = [
    Condition(indicator="x", op=Op.GTE, value=2.0),
    Condition(indicator="x", op=Op.LTE, value=2.0),
    Condition(indicator="x", op=Op.GT, value=2.0),
    Condition(indicator="x", op=Op.LT, value=2.0),
    Condition(indicator="x", op=Op.EQ, value=2.0),
    Condition(indicator="x", op=Op.BETWEEN, min=-1.0, max=2.0),
    Condition(indicator="x", op=Op.ALLOWED, values=[0.0, 2.0, 7.5]),
]
VALUES = [-math.inf, -1.0, -0.0, 0.0, 1.999999, 2.0, 2.000001, 7.5, math.inf]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: c.op.value)
def test_test_agrees_with_evaluate_on_every_known_value(condition: Condition) -> None:
    test = condition.test()
    for x in VALUES:
        expected = condition.evaluate({"x": x})
        assert expected in (Result.TRUE, Result.FALSE)
        assert test(x) is (expected is Result.TRUE), (condition.op, x)
