"""A strategy's trial ledger and its locked holdout: `<out>/optimize/ledger/<strategy>.jsonl`.

Why: a search over N trials always finds a winner, and the Deflated Sharpe Ratio needs the N of
every search ever run on the strategy, not just the last study's (re-running a search in a new
folder must not hide the trials before it). So every run appends each study's trial count here,
and a holdout range, once recorded, is refused to every later `fx optimize` command until an
explicit unlock, which is written here for every later report to show.

The file is append-only JSON lines, one object per line with a "kind": "trials" (study, instance,
trials), "holdout" (from_ns, to_ns) or "unlock" (from_ns, to_ns, time, by, host). Each line goes in
with ONE write() on an O_APPEND descriptor under an exclusive flock, then fsync: concurrent runs in
several processes cannot interleave or lose lines. It is a discipline aid on one machine's results
folder, not security: anyone who can write the folder can edit or delete it.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fxcli.errors import FxError
from fxcli.model.units import ns_to_iso

LEDGER_DIR = "ledger"  # under <out>/optimize/; not usable as a study name
KINDS: dict[str, dict[str, type]] = {
    "trials": {"study": str, "trials": int},
    "holdout": {"from_ns": int, "to_ns": int},
    "unlock": {"from_ns": int, "to_ns": int, "time": str, "by": str, "host": str},
}


def ledger_path(out_dir: Path, strategy: str) -> Path:
    """Where a strategy's ledger lives (the strategy is named by its file stem)."""
    return out_dir / "optimize" / LEDGER_DIR / f"{strategy}.jsonl"


def holdout_text(lo_ns: int, hi_ns: int) -> str:
    """The range as users gave it: FROM..TO, both inclusive (hi_ns is exclusive)."""
    return f"{ns_to_iso(lo_ns)}..{ns_to_iso(hi_ns - 1)}"


class Ledger:
    """One strategy's ledger: read once on open, appended to (and re-read under the lock) after."""

    def __init__(self, path: Path, strategy: str, entries: list[dict[str, Any]]) -> None:
        self.path, self.strategy, self._entries = path, strategy, entries

    @classmethod
    def open(cls, out_dir: Path, strategy: str) -> Ledger:
        """The ledger of `strategy` under `out_dir` (empty if none yet; nothing is created by reading)."""
        path = ledger_path(out_dir, strategy)
        return cls(path, strategy, _read(path))

    # --- reading -----------------------------------------------------------------------------

    def studies(self) -> dict[str, int]:
        """Trials per study name: the latest count of each incarnation of the study, summed (a study
        deleted and created again under the same name is a new incarnation; its old trials stay)."""
        latest: dict[tuple[str, str | None], int] = {}
        for e in self._entries:
            if e["kind"] == "trials":
                latest[(e["study"], e.get("instance"))] = e["trials"]
        per_study: dict[str, int] = {}
        for (study, _instance), n in latest.items():
            per_study[study] = per_study.get(study, 0) + n
        return per_study

    def total_trials(self) -> int:
        """Every trial ever tried by any study of the strategy (deleted study folders included)."""
        return sum(self.studies().values())

    def holdout(self) -> tuple[int, int] | None:
        """[from_ns, to_ns) while locked; None if none was set or it has been unlocked."""
        recorded = self._recorded_holdout()
        if recorded is None or self.unlocked():
            return None
        return recorded

    def unlocked(self) -> list[dict[str, Any]]:
        """The unlock entries (time, by, host, range), oldest first."""
        return [
            {**e, "range": holdout_text(e["from_ns"], e["to_ns"])}
            for e in self._entries
            if e["kind"] == "unlock"
        ]

    def check_window(self, lo_ns: int | None, hi_ns: int | None) -> None:
        """FxError if [lo_ns, hi_ns) (None: unbounded) touches the locked holdout."""
        locked = self.holdout()
        if locked is None:
            return
        h_lo, h_hi = locked
        below = lo_ns if lo_ns is not None else -(2**63)
        above = hi_ns if hi_ns is not None else 2**63
        if below < h_hi and above > h_lo:
            raise FxError(
                f"the window reads the locked holdout {holdout_text(h_lo, h_hi)} of {self.strategy} "
                f"({self.path}): choose a window before it (--to earlier than {ns_to_iso(h_lo)}) or "
                f"after it (--from later than {ns_to_iso(h_hi - 1)}); for the final test, first run "
                f"fx optimize unlock {self.strategy}"
            )

    def document(self) -> dict[str, Any]:
        """What outputs show: totals, per-study counts, the holdout and any unlock."""
        recorded = self._recorded_holdout()
        return {
            "file": str(self.path),
            "total_trials": self.total_trials(),
            "studies": self.studies(),
            "holdout": holdout_text(*recorded) if recorded else None,
            "locked": self.holdout() is not None,
            "unlocked": self.unlocked(),
        }

    def _recorded_holdout(self) -> tuple[int, int] | None:
        for e in self._entries:
            if e["kind"] == "holdout":
                return e["from_ns"], e["to_ns"]
        return None

    # --- appending ---------------------------------------------------------------------------

    def record_trials(self, study: str, trials: int, *, instance: str | None = None) -> None:
        """The study's trial count as of now (the latest line per study and instance wins)."""
        self._append({"kind": "trials", "study": study, "instance": instance, "trials": int(trials)})

    def set_holdout(self, lo_ns: int, hi_ns: int) -> bool:
        """Lock [lo_ns, hi_ns) (True), or accept the same range again (False). FxError for another
        range, or for a strategy whose earlier studies could already have read any range."""
        wanted = holdout_text(lo_ns, hi_ns)
        with self._locked() as fd:
            self._entries = _read(self.path)
            recorded = self._recorded_holdout()
            if recorded == (lo_ns, hi_ns):
                return False
            if recorded is not None:
                raise FxError(
                    f"--holdout {wanted}: {self.strategy} already has the holdout "
                    f"{holdout_text(*recorded)} ({self.path}); a strategy has one holdout"
                )
            if self.total_trials():
                raise FxError(
                    f"--holdout {wanted}: {self.strategy} already has {self.total_trials()} trials "
                    f"({self.path}) that may have read it; give --holdout on a strategy's first study"
                )
            self._write(fd, {"kind": "holdout", "from_ns": lo_ns, "to_ns": hi_ns})
        return True

    def unlock(self) -> dict[str, Any]:
        """Open the holdout for the final test; the unlock (time, user, host, range) is recorded."""
        with self._locked() as fd:
            self._entries = _read(self.path)
            recorded = self._recorded_holdout()
            if recorded is None:
                raise FxError(f"{self.strategy}: no holdout to unlock ({self.path})")
            if self.unlocked():
                return self.unlocked()[0]
            entry = {
                "kind": "unlock",
                "from_ns": recorded[0],
                "to_ns": recorded[1],
                "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "by": _user(),
                "host": socket.gethostname(),
            }
            self._write(fd, entry)
        return self.unlocked()[0]

    def _append(self, entry: dict[str, Any]) -> None:
        with self._locked() as fd:
            self._write(fd, entry)

    def _write(self, fd: int, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, sort_keys=True, allow_nan=False) + "\n").encode()
        try:
            written = os.write(fd, line)  # one write on O_APPEND: the line lands whole, at the end
            if written != len(line):
                raise OSError(28, "short write (disk full?)")
            os.fsync(fd)
        except OSError as exc:
            raise FxError(f"{self.path}: cannot append to the ledger: {exc.strerror or exc}") from None
        self._entries.append(entry)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The ledger open for appending under an exclusive flock (read-check-append is atomic)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FxError(f"{self.path}: cannot open the ledger: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the flock


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): the uid still says who
        return f"uid {os.getuid()}"


def _read(path: Path) -> list[dict[str, Any]]:
    """Every entry; a line that is not a valid entry is FxError naming file:line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FxError(f"{path}: cannot read the ledger: {exc.strerror or exc}") from None
    entries = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise FxError(f"{path}:{number}: not a ledger line (not JSON)") from None
        problem = _problem(entry)
        if problem:
            raise FxError(f"{path}:{number}: not a ledger line ({problem})")
        entries.append(entry)
    return entries


def _problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    fields = KINDS.get(str(entry.get("kind")))
    if fields is None:
        return f"kind {entry.get('kind')!r} is not one of {', '.join(KINDS)}"
    for key, kind in fields.items():
        value = entry.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{key} is missing or not {kind.__name__}"
    if entry["kind"] == "trials" and entry["trials"] < 0:
        return "trials is negative"
    if "from_ns" in fields and entry["from_ns"] >= entry["to_ns"]:
        return "from_ns is not before to_ns"
    return None
