"""How the benchmarks report: one line per compared figure, on the console and as a README table.

Every script in `bench/` imports this as a sibling module (`from report import ...`): Python puts
the running script's folder first on `sys.path`, so `.venv/bin/python bench/<name>.py` finds it.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

README_HEADER = "| measure | fx | peer | ratio | target |"


@dataclass(frozen=True)
class Line:
    """One compared figure: fx against its peer, the ratio, and the target it is held to."""

    area: str  # "" when `what` says it all
    what: str
    fx: str
    peer_name: str  # "" when `peer` names the peer itself, or there is none
    peer: str
    ratio: str
    target: str
    is_met: bool | None  # None: the issue sets no target for this figure

    @property
    def label(self) -> str:
        """`store: write`, or `what` alone when there is no area."""
        return f"{self.area}: {self.what}" if self.area else self.what


@dataclass(frozen=True)
class Layout:
    """How one script reports: console column widths (0: as wide as the text), legend, README block."""

    legend: str  # what the ratios mean, under the figures and under the README table
    fx_width: int
    peer_name_width: int
    peer_width: int
    ratio_width: int
    ratio_heading: str = "ratio "
    script: str = ""  # named in the README block's comment when set
    not_met: str = "not met"  # the README's words for a missed target
    is_legend_on_console: bool = True


def verdict(line: Line) -> str:
    """`target >= 30x faster: met`, `target <= 2.5x: NOT met` or `no target`."""
    if line.is_met is None:
        return "no target"
    return f"target {line.target}: {'met' if line.is_met else 'NOT met'}"


def rate(per_s: float, unit: str = "") -> str:
    """1234567 -> `1.23M/s`, 456000 -> `456k/s`, 12 -> `12/s`; with a unit, `1.23M events/s`."""
    suffix = f" {unit}/s" if unit else "/s"
    if per_s >= 1e6:
        return f"{per_s / 1e6:.2f}M{suffix}"
    if per_s >= 1e3:
        return f"{per_s / 1e3:.0f}k{suffix}"
    return f"{per_s:.0f}{suffix}"


def machine(*versions: str) -> str:
    """Cores, Python, `versions` (`numpy 2.4.6`, ...) and the 1-minute load (a busy machine makes every
    figure worse)."""
    libraries = "".join(f"{version}, " for version in versions)
    return (
        f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}, "
        f"{libraries}load {os.getloadavg()[0]:.2f} at start"
    )


def print_lines(lines: list[Line], layout: Layout) -> None:
    """One aligned console line per figure."""
    width = max(len(line.label) for line in lines)
    for line in lines:
        peer = f"{line.peer:>{layout.peer_width}}"
        if line.peer_name:
            peer = f"{line.peer_name:<{layout.peer_name_width}} {peer}"
        ratio = f"{layout.ratio_heading}{line.ratio:<{layout.ratio_width}}"
        print(
            f"  {line.label:<{width}}  fx {line.fx:>{layout.fx_width}} | {peer} | {ratio} ({verdict(line)})"
        )


def print_readme(lines: list[Line], machine_text: str, layout: Layout, measured_on: str = "") -> None:
    """A Markdown block to paste into the README: a comment naming the run, `Measured by ...
    (measured_on):` when given, the table, then the legend."""
    source = f"`make bench` ({layout.script})" if layout.script else "`make bench`"
    print(f"\n<!-- {source} on {datetime.now(UTC):%Y-%m-%d}; {machine_text} -->")
    if measured_on:
        print(f"Measured by `make bench` ({measured_on}):\n")
    print(README_HEADER)
    print("|---|---|---|---|---|")
    missed = layout.not_met
    for line in lines:
        target = "—" if line.is_met is None else f"{line.target} ({'met' if line.is_met else missed})"
        peer = f"{line.peer_name}: {line.peer}" if line.peer_name else line.peer
        print(f"| {line.label} | {line.fx} | {peer} | {line.ratio} | {target} |")
    print(f"\n{layout.legend}.")


def cores_and_python() -> str:
    """`2 cores, Python 3.11.7`, for the README's `Measured by` sentence."""
    return f"{os.cpu_count()} cores, Python {platform.python_version()}"


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of the script's docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)


class Run:
    """One bench run: prints the machine when it starts; the figures, notes, details, README block and
    wall time when it finishes."""

    def __init__(self, layout: Layout, *versions: str) -> None:
        self.layout = layout
        self.start_s = time.perf_counter()
        self.machine = machine(*versions)
        print(f"machine: {self.machine}")

    def finish(
        self,
        lines: list[Line],
        *,
        notes: Sequence[str] = (),
        details: Sequence[str] = (),
        measured_on: str = "",
    ) -> None:
        """The figures, `notes` (whole lines), the legend, `details` after a blank line, the README block
        (`Measured by ... (measured_on)` when given) and the wall time."""
        print_lines(lines, self.layout)
        for note in notes:
            print(note)
        if self.layout.is_legend_on_console:
            print(self.layout.legend)
        if details:
            print()
            print("\n".join(details))
        print_readme(lines, self.machine, self.layout, measured_on)
        print(f"\nbench wall time {time.perf_counter() - self.start_s:.1f} s")
