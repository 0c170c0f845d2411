"""Issue 15's seeded fault campaign (G1-G4 of docs/mexc-orders.md §6): ≥ 200 seeded runs of fx's real
order path against the fake venue with §5's faults, every run checked; `FX_CAMPAIGN_RUNS=2000` (make
soak) runs more. A failure names its seeds: `python -m tests.live.campaign SEED` replays one."""

from __future__ import annotations

import os
from pathlib import Path

from tests.live.campaign import campaign

RUNS = int(os.environ.get("FX_CAMPAIGN_RUNS", "200"))


def test_order_campaign_leaves_no_orphan_no_duplicate_and_an_exact_fill_ledger(tmp_path: Path) -> None:
    report = campaign(list(range(1, RUNS + 1)), tmp_path)

    print(report.summary())
    assert len(report.runs) == RUNS
    assert not report.failed, report.summary()
    # the campaign really met its faults and its roles: a campaign that injects nothing proves nothing
    kinds = {kind.split(" ")[0] for r in report.runs for kind in r.faults}
    assert {
        f"F{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25)
    } <= kinds
    assert sum(r.unknowns for r in report.runs) > 0
    assert sum(r.fills for r in report.runs) > RUNS
