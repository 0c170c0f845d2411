"""The request budget paces each group below MEXC's limits and sends nothing while blocked."""

from __future__ import annotations

import asyncio
import time

import pytest

from fxcli.exchange.mexc_private.budget import OrderBudget


def window_max(times: list[float], width_s: float = 1.0) -> int:
    """The most timestamps inside any half-open window of `width_s` seconds."""
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + width_s) for t in times)


async def stamp_all(budget: OrderBudget, groups: list[str]) -> dict[str, list[float]]:
    stamps: dict[str, list[float]] = {g: [] for g in groups}

    async def one(group: str) -> None:
        await budget.acquire(group)  # type: ignore[arg-type]
        stamps[group].append(time.monotonic())

    await asyncio.gather(*(one(g) for g in groups))
    return stamps


def test_budget_paces_orders_at_rate_with_burst_of_one() -> None:
    budget = OrderBudget(orders_per_s=40, total_per_s=1000, account_per_s=2)

    stamps = asyncio.run(stamp_all(budget, ["order"] * 21))["order"]

    assert max(stamps) - min(stamps) >= 0.45  # 20 gaps of 1/40 s
    assert window_max(stamps, 0.25) <= 11  # burst 1 + 0.25 s x 40/s


def test_budget_total_bucket_holds_every_group() -> None:
    budget = OrderBudget(orders_per_s=1000, total_per_s=40, account_per_s=1000)

    stamps = asyncio.run(stamp_all(budget, ["order", "account", "other"] * 7))
    every = [t for ts in stamps.values() for t in ts]

    assert max(every) - min(every) >= 0.45
    assert window_max(every, 0.25) <= 11


def test_budget_block_holds_every_group_until_it_ends() -> None:
    budget = OrderBudget()

    async def scenario() -> float:
        budget.block(0.3)
        start = time.monotonic()
        await asyncio.gather(budget.acquire("order"), budget.acquire("other"), budget.acquire("account"))
        return time.monotonic() - start

    assert asyncio.run(scenario()) >= 0.3
    assert budget.blocks == 1


def test_budget_block_arriving_while_waiting_for_a_token_is_honoured() -> None:
    budget = OrderBudget(orders_per_s=5)

    async def scenario() -> float:
        await budget.acquire("order")  # the next order token is 0.2 s away
        waiting = asyncio.create_task(budget.acquire("order"))
        await asyncio.sleep(0.05)
        budget.block(0.5)
        start = time.monotonic()
        await waiting
        return time.monotonic() - start

    assert asyncio.run(scenario()) >= 0.44


def test_budget_block_never_shortens() -> None:
    budget = OrderBudget()

    budget.block(5.0)
    budget.block(0.1)

    assert budget.blocked_for_s() > 4.0


def test_budget_unknown_group_refused() -> None:
    with pytest.raises(ValueError, match="unknown request group 'orders'"):
        asyncio.run(OrderBudget().acquire("orders"))  # type: ignore[arg-type]
