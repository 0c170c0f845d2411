"""The state table users read (README) is the one the code enforces (`orders.TRANSITIONS`)."""

from __future__ import annotations

from pathlib import Path

from fxcli.execution.orders import TRANSITIONS, OrderState

REPO = Path(__file__).resolve().parents[3]


def readme_transitions() -> dict[OrderState, frozenset[OrderState]]:
    """Rows `| STATE[, STATE…] | meaning | moves to |` of any README*.md (README-journal.md until it
    is spliced into README.md)."""
    rows: dict[OrderState, frozenset[OrderState]] = {}
    for readme in sorted(REPO.glob("README*.md")):
        for line in readme.read_text(encoding="utf-8").splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            names = [name.strip() for name in cells[0].split(",")]
            if len(cells) != 3 or not all(name in OrderState.__members__ for name in names):
                continue
            moves = (
                frozenset()
                if cells[2] == "—"
                else frozenset(OrderState(m.strip()) for m in cells[2].split(","))
            )
            rows.update((OrderState(name), moves) for name in names)
    return rows


def test_readme_state_table_equals_the_transition_table() -> None:
    assert readme_transitions() == TRANSITIONS
