"""Import units in parallel processes, each writing through its own `StoreWriter` into one store.

    report = run_units(units, data_dir, work, jobs=4, progress=bar_advance)

`units` are picklable descriptions of independent work (e.g. one chain of capture files of one
market+symbol); `work(unit, writer, progress)` is a module-level function that imports one unit
through `writer` and returns its `FileReport`s; `progress(n)` takes bytes read. With `jobs == 1`
or a single unit everything runs in this process through one writer, in order. Otherwise each unit
runs in a worker process (at most `jobs` at once) and the reports come back in the units' order.

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
) -> UnitsResult[R]:
    """Run `work` on every unit (see the module docstring); raises the first unit's error."""
    started = time.perf_counter()
    if jobs <= 1 or len(units) <= 1:
        result: UnitsResult[R] = UnitsResult()
        with StoreWriter(data_dir) as writer:
            for unit in units:
                result.reports.extend(work(unit, writer, progress))
        result.stats = writer.stats
    else:
        result = _in_workers(units, data_dir, work, jobs, progress)
    result.seconds = time.perf_counter() - started
    return result


def _in_workers(
    units: Sequence[U],
    data_dir: Path,
    work: Work[U, R],
    jobs: int,
    progress: Callable[[int], None] | None,
) -> UnitsResult[R]:
    # spawn: no fork of a process with threads (a progress bar's, a writer's) in it, and the workers
    # are this process's children (a forkserver's would outlive a killed import).
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    seen = 0
    result: UnitsResult[R] = UnitsResult()
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(units)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(counter, os.getpid()),
    ) as pool:
        futures = [pool.submit(_run_unit, work, unit, data_dir, progress is not None) for unit in units]
        pending: set[Future[Any]] = set(futures)
        while pending:
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_EXCEPTION)
            if progress is not None:
                now = counter.value
                if now > seen:
                    progress(now - seen)
                    seen = now
            if any(f.exception() is not None for f in done):
                for future in pending:
                    future.cancel()  # not started yet: never started; running ones finish
                wait(pending)
                break
    for future in futures:
        if future.cancelled():
            continue
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            raise FxError("an import worker process died (killed, or out of memory); run the import again")
        if error is not None:
            raise error
        reports, stats = future.result()
        result.reports.extend(reports)
        _add(result.stats, stats)
    return result


def _init_worker(counter: Synchronized[int], parent_pid: int) -> None:
    global _progress
    _progress = counter
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


def _run_unit(work: Work[U, R], unit: U, data_dir: Path, with_progress: bool) -> tuple[list[R], WriterStats]:
    """One unit in a worker, through a writer of its own."""
    with StoreWriter(data_dir) as writer:
        reports = work(unit, writer, _count if with_progress else None)
    return reports, writer.stats


def _add(total: WriterStats, part: WriterStats) -> None:
    total.rows_in += part.rows_in
    total.rows_added += part.rows_added
    total.files_written += part.files_written
    total.touched |= part.touched
