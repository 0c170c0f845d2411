"""The trial ledger and the locked holdout as `fx optimize` commands use them (see optimize/ledger.py).

Every command that reads data for a strategy's study calls `guard` (run, walk-forward) or
`check_study_window` (commands that re-run a stored study) before reading anything; every run
calls `record_study` when it starts and when it ends (normally, by an error, or by SIGINT/SIGTERM).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fxcli.errors import FxError
from fxcli.model.units import parse_time_ns, parse_window
from fxcli.optimize.ledger import LEDGER_DIR, Ledger
from fxcli.optimize.results import counts

if TYPE_CHECKING:
    from optuna import Study

INSTANCE_ATTR = "fx_ledger_instance"  # a study's random id: a study made again under a name is new

__all__ = [
    "INSTANCE_ATTR",
    "LEDGER_DIR",
    "Ledger",
    "check_study_window",
    "guard",
    "ledger_document",
    "new_instance",
    "parse_holdout",
    "record_study",
    "unlock",
]


def parse_holdout(text: str) -> tuple[int, int]:
    """`FROM..TO` (times as --from/--to take them, both inclusive) to a half-open [from_ns, to_ns)."""
    parts = text.split("..")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise FxError(f"--holdout {text!r}: not FROM..TO (e.g. 2024-08-09T00:00Z..2024-08-10T00:00Z)")
    try:
        lo, hi = (parse_time_ns(p) for p in parts)
    except ValueError as exc:
        raise FxError(f"--holdout {text!r}: {exc}") from None
    if lo > hi:
        raise FxError(f"--holdout {text!r}: FROM is after TO")
    return lo, hi + 1


def inclusive_window(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """--from/--to (--to inclusive) as the half-open window the ledger checks."""
    lo, hi = parse_window(start, end)
    return lo, (hi + 1 if hi is not None else None)


def guard(out_dir: Path, strategy: str, holdout: str | None, start: str | None, end: str | None) -> Ledger:
    """Record `--holdout` (on the strategy's first study; the same range again is fine), then refuse
    the --from/--to window if it touches the locked range. Before any data is read."""
    ledger = Ledger.open(out_dir, strategy)
    if holdout is not None:
        ledger.set_holdout(*parse_holdout(holdout))
    ledger.check_window(*inclusive_window(start, end))
    return ledger


def check_study_window(out_dir: Path, config: dict[str, Any]) -> None:
    """For commands that re-run a stored study (report, robustness): refuse if the study's window
    (its config's options.start/end) touches its strategy's locked holdout."""
    strategy = config.get("strategy_name")
    if not strategy:
        return
    options = config.get("options") or {}
    Ledger.open(out_dir, strategy).check_window(*inclusive_window(options.get("start"), options.get("end")))


def new_instance() -> str:
    """The id a newly created study stores under INSTANCE_ATTR."""
    return secrets.token_hex(8)


def record_study(out_dir: Path, strategy: str, study: Study) -> None:
    """Append the study's trial count: every point it replayed, whole or pruned, failed or still
    running. Not trials: queued grid points not yet run, infeasible points (never replayed), and
    abandoned trials (a killed worker's; the same point is queued again and counted then)."""
    tally = counts(study)
    tried = tally["complete"] + tally["pruned"] + tally["failed"] + tally["running"]
    instance = study.user_attrs.get(INSTANCE_ATTR)
    Ledger.open(out_dir, strategy).record_trials(study.study_name, tried, instance=instance)


def ledger_document(out_dir: Path, strategy: str | None) -> dict[str, Any] | None:
    """What run/show/walk-forward outputs show of the strategy's ledger."""
    if not strategy:
        return None
    return Ledger.open(out_dir, strategy).document()


def unlock(out_dir: Path, strategy: str) -> dict[str, Any]:
    """`fx optimize unlock STRATEGY`: open the holdout for the final test, recorded in the ledger.
    STRATEGY is a name or a strategy file; the ledger is named by the file's stem."""
    name = Path(strategy).stem
    ledger = Ledger.open(out_dir, name)
    if not ledger.path.is_file():
        raise FxError(f"{name}: no ledger at {ledger.path} (no study of it under --out {out_dir})")
    entry = ledger.unlock()
    return {"strategy": name, "unlock": entry, "ledger": ledger.document()}
