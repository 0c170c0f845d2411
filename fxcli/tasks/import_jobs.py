"""Import units in parallel processes, each writing through its own `StoreWriter` into one store.

    report = run_units(units, data_dir, work, jobs=4, progress=bar_advance)

`units` are picklable descriptions of independent work (e.g. one chain of capture files of one
market+symbol); `work(unit, writer, progress)` is a module-level function that imports one unit
through `writer` and returns its `FileReport`s; `progress(n)` takes bytes read. With `jobs == 1`
or a single unit everything runs in this process through one writer, in order. Otherwise units run
in `jobs - 1` worker processes and in this process, each taking the next unit nobody took (the
largest first, given their `sizes`); the reports come back in the units' order.

Why the result equals one-at-a-time import: a unit is self-contained (what must be read in order,
like consecutive files of one symbol, is one unit), the writer merges into an hour as a multiset
union (commutative, so the order units finish in does not matter), and two workers writing the same
date folder take its folder lock in turn (locks.py), each re-reading the manifest under the lock.
Workers are spawned by this process and die with it (Linux: a parent-death signal), so a `kill -9`
of an import stops its writing as it would in one process. A failed unit: the others that are
running finish, those not started are cancelled, and the first error is raised as it would be in
one process (an `FxError` stays one `fx: error:` line). What a worker wrote before it failed is
whole hour files listed in their manifests, as after a sequential import that stopped there; a
worker killed mid-write leaves only temp files marked with its pid, which readers ignore and the
next writer of that folder removes (repair.py).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fxcli.errors import FxError
from fxcli.store.writer import StoreWriter, WriterStats

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

U = TypeVar("U")
R = TypeVar("R")
Work = Callable[[U, StoreWriter, Callable[[int], None] | None], list[R]]
POLL_S = 0.2

_progress: Synchronized[int] | None = None  # a worker's shared byte counter (set by _init_worker)
_claims: Synchronized[int] | None = None  # the next unit nobody took, shared by every process


@dataclass
class UnitsResult(Generic[R]):
    """Reports of every unit (in the units' order) and the writers' summed stats."""

    reports: list[R] = field(default_factory=list)
    stats: WriterStats = field(default_factory=WriterStats)
    seconds: float = 0.0


def run_units(
    units: Sequence[U],
    data_dir: Path,
    work: Work[U, R],
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    sizes: Sequence[int] | None = None,
) -> UnitsResult[R]:
    """Run `work` on every unit (see the module docstring); raises the first unit's error.

    `sizes` (bytes to read, per unit) makes the largest units start first: the import then ends
    when the largest one does, not when one that started last does."""
    started = time.perf_counter()
    if jobs <= 1 or len(units) <= 1:
        result: UnitsResult[R] = UnitsResult()
        with StoreWriter(data_dir) as writer:
            for unit in units:
                result.reports.extend(work(unit, writer, progress))
        result.stats = writer.stats
    else:
        order = sorted(range(len(units)), key=lambda i: -sizes[i]) if sizes else list(range(len(units)))
        result = _in_workers(units, order, data_dir, work, jobs, progress)
    result.seconds = time.perf_counter() - started
    return result


def _in_workers(
    units: Sequence[U],
    order: list[int],
    data_dir: Path,
    work: Work[U, R],
    jobs: int,
    progress: Callable[[int], None] | None,
) -> UnitsResult[R]:
    """Units in `jobs - 1` workers and in this process, which would only wait otherwise (a worker
    costs a fresh interpreter's start, ~0.5 s). Each takes the next unit nobody took (a shared
    counter) until none is left, so a long unit never holds short ones back in one queue."""
    # spawn: no fork of a process with threads (a progress bar's, a writer's) in it, and the workers
    # are this process's children (a forkserver's would outlive a killed import).
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    claims = context.Value("q", 0)
    seen = 0

    def drain() -> None:  # the workers' bytes read, into the caller's progress
        nonlocal seen
        if progress is not None:
            now = counter.value
            if now > seen:
                progress(now - seen)
                seen = now

    def here(n: int) -> None:
        assert progress is not None
        progress(n)
        drain()

    done: dict[int, tuple[list[R], WriterStats]] = {}
    own_error: BaseException | None = None
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(units)) - 1,
        mp_context=context,
        initializer=_init_worker,
        initargs=(counter, claims, os.getpid()),
    ) as pool:
        futures = [
            pool.submit(_take_units, work, units, order, data_dir, progress is not None)
            for _ in range(min(jobs, len(units)) - 1)
        ]
        try:
            done.update(_taking(claims, units, order, data_dir, work, here if progress is not None else None))
        except BaseException as exc:
            own_error = exc
        pending: set[Future[Any]] = set(futures)
        while pending:
            _, pending = wait(pending, timeout=POLL_S, return_when=FIRST_EXCEPTION)
            drain()
    if own_error is not None:
        raise own_error
    for future in futures:
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            raise FxError("an import worker process died (killed, or out of memory); run the import again")
        if error is not None:
            raise error
        done.update(future.result())
    result: UnitsResult[R] = UnitsResult()
    for i in range(len(units)):
        reports, stats = done[i]
        result.reports.extend(reports)
        _add(result.stats, stats)
    return result


def _taking(
    claims: Synchronized[int],
    units: Sequence[U],
    order: list[int],
    data_dir: Path,
    work: Work[U, R],
    progress: Callable[[int], None] | None,
) -> dict[int, tuple[list[R], WriterStats]]:
    """Run units nobody took yet, one writer each, until none is left or one fails; a failure
    takes the rest away from everyone (as a one-process import stops at its first error)."""
    done: dict[int, tuple[list[R], WriterStats]] = {}
    try:
        while True:
            with claims.get_lock():
                taken = claims.value
                if taken >= len(units):
                    return done
                claims.value = taken + 1
            i = order[taken]
            with StoreWriter(data_dir) as writer:
                reports = work(units[i], writer, progress)
            done[i] = (reports, writer.stats)
    except BaseException:
        with claims.get_lock():
            claims.value = len(units)
        raise


def _init_worker(counter: Synchronized[int], claims: Synchronized[int], parent_pid: int) -> None:
    global _progress, _claims
    _progress, _claims = counter, claims
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1  # prctl(2): this signal comes when the parent ends
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent ended before the signal was asked for
        os._exit(1)


def _count(n: int) -> None:
    assert _progress is not None
    with _progress.get_lock():
        _progress.value += n


def _take_units(
    work: Work[U, R], units: Sequence[U], order: list[int], data_dir: Path, with_progress: bool
) -> dict[int, tuple[list[R], WriterStats]]:
    """A worker's share: the units it took, by position."""
    assert _claims is not None
    return _taking(_claims, units, order, data_dir, work, _count if with_progress else None)


def _add(total: WriterStats, part: WriterStats) -> None:
    total.rows_in += part.rows_in
    total.rows_added += part.rows_added
    total.files_written += part.files_written
    total.touched |= part.touched
