"""Walk-forward folds: train and test windows over a data span (pure; times are int ns).

Every window is half-open, [start, end): the test window of a fold starts `gap` after its train
window ends, so no test row is in its own train window or in the gap, and test windows of
successive folds never overlap (a step shorter than the test window is refused).

* rolling: the train window has a fixed length and slides by `step` (default: the test length, so
  test windows tile the span end to end);
* anchored: the train window always starts at the span's start and grows by `step`;
* events, leave-one-out (the default): one fold per event, its test window centred on the event;
  the fold trains on the whole span with a hole: [test start - gap, test end + gap) is left out,
  so the other events' windows before and after it train it ("leave one pump out"). The data
  outside the hole must be at least `train` long. The study reads no row of the hole
  (`fxcli.optimize.trials`: a window with a hole).
* events, anchored: the same test windows; the train window is all the data before the test
  window, less the gap (anchored at the span's start), at least `train` long.

A test window that would run past the span's end is dropped (the result says so), never cut short.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fxcli.errors import FxError
from fxcli.model.units import duration_str, ns_to_iso


@dataclass(frozen=True)
class Fold:
    """One fold: [train_start, train_end) is searched, [test_start, test_end) tests the winner."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    event: int | None = None  # the event's time (event folds only)
    hole: tuple[int, int] | None = None  # [lo, hi) left out of the train window (leave-one-out)

    @property
    def train_ns(self) -> int:
        """How much time the train window covers (its hole not counted)."""
        held_out = self.hole[1] - self.hole[0] if self.hole is not None else 0
        return self.train_end - self.train_start - held_out


@dataclass(frozen=True)
class Plan:
    """The folds, and what did not fit (said to the user, never silently lost)."""

    folds: list[Fold]
    scheme: str  # rolling, anchored, events (anchored) or leave-one-out
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lengths:
    """The walk-forward's durations in ns (step None: the test length)."""

    train: int
    test: int
    step: int | None = None
    gap: int = 0

    def check(self) -> int:
        """The step, after refusing lengths that make no sense (FxError names the option)."""
        if self.train <= 0:
            raise FxError(f"--train {duration_str(self.train)}: must be longer than 0")
        if self.test <= 0:
            raise FxError(f"--test {duration_str(self.test)}: must be longer than 0")
        if self.gap < 0:
            raise FxError(f"--gap {duration_str(-self.gap)}: must not be negative")
        step = self.test if self.step is None else self.step
        if step < self.test:
            raise FxError(
                f"--step {duration_str(step)} is shorter than --test {duration_str(self.test)}: "
                "test windows would overlap"
            )
        return step


def walk(span_start: int, span_end: int, lengths: Lengths, *, anchored: bool) -> Plan:
    """Rolling or anchored folds over [span_start, span_end); FxError when not one fits."""
    step = lengths.check()
    folds: list[Fold] = []
    dropped: list[str] = []
    k = 0
    while True:
        train_start = span_start if anchored else span_start + k * step
        train_end = span_start + lengths.train + k * step
        test_start = train_end + lengths.gap
        test_end = test_start + lengths.test
        if test_end > span_end:
            if test_start < span_end:
                dropped.append(
                    f"the last test window {ns_to_iso(test_start)}..{ns_to_iso(test_end)} runs past the "
                    f"data's end {ns_to_iso(span_end)}: dropped"
                )
            break
        folds.append(Fold(k, train_start, train_end, test_start, test_end))
        k += 1
    if not folds:
        need = lengths.train + lengths.gap + lengths.test
        raise FxError(
            f"--train {duration_str(lengths.train)} + --gap {duration_str(lengths.gap)} + "
            f"--test {duration_str(lengths.test)} = {duration_str(need)} does not fit in the data "
            f"{ns_to_iso(span_start)}..{ns_to_iso(span_end)} ({duration_str(span_end - span_start)})"
        )
    return Plan(folds, "anchored" if anchored else "rolling", dropped)


EVENT_SCHEMES = ("leave-one-out", "anchored")


def event_folds(
    span_start: int, span_end: int, events: list[int], lengths: Lengths, scheme: str = "leave-one-out"
) -> Plan:
    """One fold per event (sorted): test window centred on it; train = the whole span less
    [test - gap, test + gap) (leave-one-out) or the data before the test window less the gap
    (anchored)."""
    if scheme not in EVENT_SCHEMES:
        raise FxError(f"--event-folds {scheme!r}: not one of {', '.join(EVENT_SCHEMES)}")
    leave_out = scheme == "leave-one-out"
    lengths.check()
    if not events:
        raise FxError("--events: the file holds no event of the walk-forward's symbols")
    folds: list[Fold] = []
    dropped: list[str] = []
    last_end: int | None = None
    for onset in sorted(set(events)):
        test_start = onset - lengths.test // 2
        test_end = test_start + lengths.test
        train_end = test_start - lengths.gap
        where = f"event {ns_to_iso(onset)}"
        if test_start < span_start or test_end > span_end:
            dropped.append(f"{where}: its test window is not inside the data: dropped")
            continue
        if leave_out:
            hole = (max(span_start, train_end), min(span_end, test_end + lengths.gap))
            fold = Fold(len(folds), span_start, span_end, test_start, test_end, onset, hole)
            if fold.train_ns < lengths.train:
                dropped.append(
                    f"{where}: only {duration_str(fold.train_ns)} of data outside its test window and "
                    f"gaps (--train {duration_str(lengths.train)}): dropped"
                )
                continue
        elif train_end - span_start < lengths.train:
            dropped.append(
                f"{where}: only {duration_str(max(train_end - span_start, 0))} of data before it "
                f"(--train {duration_str(lengths.train)}): dropped"
            )
            continue
        else:
            fold = Fold(len(folds), span_start, train_end, test_start, test_end, onset)
        if last_end is not None and test_start < last_end:
            raise FxError(
                f"--events: {where} is within --test {duration_str(lengths.test)} of the event before "
                "it: their test windows would overlap (shorten --test)"
            )
        folds.append(fold)
        last_end = test_end
    if not folds:
        where = "outside its test window" if leave_out else "before it"
        raise FxError(f"--events: no event has a test window and --train of data {where} ({dropped[0]})")
    return Plan(folds, "leave-one-out" if leave_out else "events", dropped)
