"""Risk limits of a live run: what fx refuses to send whatever the strategy asks.

Live mode needs all four, explicitly (`fx.toml [live]` or `--max-order`, `--max-total`,
`--max-positions`, `--max-daily-loss`): a missing limit is a refusal to start, never a default.

# fx.toml
[live]
max_order_notional = 25     # quote (USDT) per order
max_total_notional = 100    # quote over every open position and order in flight
max_open_positions = 2      # symbols holding a position or an entry in flight
max_daily_loss = 20         # quote lost since 00:00 UTC (realised, fees included): no new entries
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

# Option names, in the order a refusal names the missing ones.
LIMIT_OPTIONS = {
    "max_order_notional": "--max-order",
    "max_total_notional": "--max-total",
    "max_open_positions": "--max-positions",
    "max_daily_loss": "--max-daily-loss",
}


@dataclass(frozen=True)
class RiskLimits:
    """The four limits of a live run, in quote (positions: a count)."""

    max_order_notional: Decimal
    max_total_notional: Decimal
    max_open_positions: int
    max_daily_loss: Decimal

    def check(
        self,
        symbol: str,
        notional: Decimal,
        *,
        exposure: Mapping[str, Decimal],
        daily_loss: Decimal,
    ) -> str | None:
        """Why an entry of `notional` quote on `symbol` is refused, or None.

        `exposure` is the quote held or in flight per symbol (positions at entry price plus open
        entry orders); `daily_loss` the realised loss since 00:00 UTC, positive when money was lost.
        Exits are never checked here: a limit must not keep a position open.
        """
        if notional > self.max_order_notional:
            return f"{symbol}: order notional {notional} exceeds max_order_notional {self.max_order_notional}"
        total = sum(exposure.values(), Decimal(0)) + notional
        if total > self.max_total_notional:
            return (
                f"{symbol}: total notional {total} would exceed max_total_notional {self.max_total_notional}"
            )
        holding = {s for s, q in exposure.items() if q > 0}
        if symbol not in holding and len(holding) >= self.max_open_positions:
            most = self.max_open_positions
            return f"{symbol}: {len(holding)} open positions already (max_open_positions {most})"
        if daily_loss >= self.max_daily_loss:
            return f"{symbol}: daily loss {daily_loss} reached max_daily_loss {self.max_daily_loss}"
        return None


def limits_from(given: Mapping[str, object | None], where: Mapping[str, str]) -> RiskLimits:
    """The limits from merged settings; `ValueError` names every missing limit and a bad one's source.

    `given` maps each field of `RiskLimits` to its value (None: not set anywhere); `where` names where
    a value came from (an option or the config file), for the message.
    """
    missing = [LIMIT_OPTIONS[k] for k in LIMIT_OPTIONS if given.get(k) is None]
    if missing:
        raise ValueError(
            f"--live needs explicit risk limits; missing {', '.join(missing)} "
            "(or max_order_notional, max_total_notional, max_open_positions, max_daily_loss "
            "in fx.toml [live])"
        )
    values: dict[str, Decimal | int] = {}
    for key in LIMIT_OPTIONS:
        raw = given[key]
        name = where.get(key, LIMIT_OPTIONS[key])
        try:
            number = Decimal(str(raw))
        except ArithmeticError:
            raise ValueError(f"{name}: {raw!r} is not a number") from None
        if not number.is_finite() or number <= 0:
            raise ValueError(f"{name}: {raw!r} must be a finite number above 0")
        if key == "max_open_positions":
            if number != number.to_integral_value():
                raise ValueError(f"{name}: {raw!r} must be a whole number")
            values[key] = int(number)
        else:
            values[key] = number
    return RiskLimits(**values)  # type: ignore[arg-type]
