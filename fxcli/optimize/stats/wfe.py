"""Walk-forward efficiency (Pardo): annualised out-of-sample return / annualised in-sample return.

Two aggregations over folds give different numbers (fixture F11: 0.4444 vs 0.3056), so both are
returned and labelled:

* stitched — the stitched OOS curve's return rate (sum of test returns / sum of test durations)
  divided by the mean of the train windows' return rates. fx prints this one first.
* mean — the mean over folds of (test return rate / train return rate).

Returns are simple fractions of the same starting capital and add across folds (a fold's PnL over
the starting balance), so the stitched return is their sum. Annualisation is a rate per unit of
duration (simple, r * year / duration); the year cancels in every ratio, so durations may be in any
unit as long as all are in the same one. WFE has no meaning when the in-sample return is <= 0 (the
sign flips the ratio): such a fold has no per-fold WFE and is left out of the mean, and the stitched
WFE is None when the mean in-sample rate is <= 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fxcli.errors import FxError


@dataclass(frozen=True)
class WFE:
    """Walk-forward efficiency both ways (module docstring); None where undefined."""

    stitched: float | None
    mean: float | None
    per_fold: tuple[float | None, ...]


def wfe(train: Sequence[tuple[float, float]], test: Sequence[tuple[float, float]]) -> WFE:
    """WFE of walk-forward folds given as (return, duration) per train and per test window."""
    if len(train) != len(test):
        raise FxError(f"WFE: {len(train)} train windows but {len(test)} test windows")
    if not train:
        raise FxError("WFE: needs at least one fold")
    for label, windows in (("train", train), ("test", test)):
        for i, (_ret, duration) in enumerate(windows):
            if not duration > 0:
                raise FxError(f"WFE: {label} window {i} has duration {duration}; it must be > 0")
    train_rates = [ret / duration for ret, duration in train]
    test_rates = [ret / duration for ret, duration in test]
    per_fold = tuple(o / i if i > 0 else None for i, o in zip(train_rates, test_rates, strict=True))
    defined = [x for x in per_fold if x is not None]
    mean_train_rate = sum(train_rates) / len(train_rates)
    stitched_rate = sum(ret for ret, _ in test) / sum(duration for _, duration in test)
    return WFE(
        stitched=stitched_rate / mean_train_rate if mean_train_rate > 0 else None,
        mean=sum(defined) / len(defined) if defined else None,
        per_fold=per_fold,
    )
