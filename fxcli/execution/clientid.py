"""Client order ids that name the run which placed them: `fx` + run id + role + sequence.

Example: `fxk7q2m9e00000001` is run `k7q2m9`, an entry (`e`), the run's first intent. 17 characters,
alphanumeric: inside MEXC's observed limits (≤ 32, `[A-Za-z0-9_-]`). A restarted process recognises
its own orders by the run id (the journal keeps every run it has seen) and reports the others as
foreign.
"""

from __future__ import annotations

import re
import secrets

ENTRY = "e"
EXIT = "x"
KILL = "k"  # kill switch / flatten
CANCEL = "c"  # the id given to a cancel request
ROLES = frozenset({ENTRY, EXIT, KILL, CANCEL})

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_RUN_ID = re.compile(r"[0-9a-z]{6}")
_CLIENT_ID = re.compile(r"fx([0-9a-z]{6})([exkc])([0-9]{8})")
MAX_SEQ = 99_999_999


def new_run_id() -> str:
    """A fresh 6-character base36 run id (36^6 ≈ 2.2e9: two runs of one account never collide in
    practice, and the journal refuses a run id it has already seen)."""
    return "".join(secrets.choice(_BASE36) for _ in range(6))


def is_run_id(text: str) -> bool:
    """Whether `text` has the shape of a run id (6 lower-case base36 characters)."""
    return _RUN_ID.fullmatch(text) is not None


def client_id(run_id: str, role: str, seq: int) -> str:
    """The client order id of intent `seq` of `run_id` in `role` (e entry, x exit, k kill, c cancel)."""
    if not is_run_id(run_id):
        raise ValueError(f"run id {run_id!r} is not 6 lower-case base36 characters")
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {sorted(ROLES)}")
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence {seq} is outside 0..{MAX_SEQ}")
    return f"fx{run_id}{role}{seq:08d}"


def parse(cid: str) -> tuple[str, str, int] | None:
    """`(run_id, role, seq)` of an fx client id, or None for any other id (placed outside fx)."""
    match = _CLIENT_ID.fullmatch(cid)
    if match is None:
        return None
    return match.group(1), match.group(2), int(match.group(3))
