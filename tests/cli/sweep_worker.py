"""Run many `fx` command lines in one process, each as `python -m fxcli` would run it.

`python -m tests.cli.sweep_worker CASES.json RESULTS.json`: every case calls the real entry point
`fxcli.cli.main()` with its argv, environment and working folder, with file descriptors 1 and 2
redirected to files (so what fx writes with `os.write`, numpy's warnings and Python's own messages are
caught as a terminal would see them) behind text streams with this interpreter's encodings. A case
given `stop_after_s` (a live command: it runs until stopped) gets a SIGINT after that long, as a user
pressing Ctrl-C; any other case gets one after `HANG_S`, which the sweep reports as a hang.

The interpreter's state between cases is what one fx process leaves (warnings filters, numba's
compiled functions, imported modules); signal handlers and the working folder are put back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

HANG_S = 60.0


_case: dict[str, float] = {}  # the running case: when it started, whether a Ctrl-C went out


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C, once the command has taken over SIGINT (it runs until stopped), or after `HANG_S`.

    Python's own SIGINT handler raises KeyboardInterrupt wherever the interpreter is, a garbage
    collector's finaliser included, which swallows it: waiting for fx's handler keeps the stop real.
    """
    waited = time.monotonic() - _case["started"]
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler and waited < HANG_S:
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # not running yet: look again shortly
        return
    _case["stopped"] = 1.0
    signal.raise_signal(signal.SIGINT)


def _text(fd: int, like: Any, *, line_buffering: bool) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        open(fd, "wb", closefd=False),
        encoding=like.encoding,
        errors=like.errors,
        line_buffering=line_buffering,
    )


def run_case(case: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """One command line; returns its exit code, stderr, stdout size and whether it had to be stopped."""
    from fxcli.cli import main

    scratch.mkdir(parents=True)
    for name, source in case.get("copies", {}).items():
        shutil.copytree(source, scratch / name)
    out_path, err_path = scratch / "_stdout", scratch / "_stderr"
    env_before = dict(os.environ)
    cwd_before = Path.cwd()
    real_out, real_err = sys.stdout, sys.stderr
    saved = os.dup(1), os.dup(2)
    stop_after = case.get("stop_after_s")
    code: int | str | None = None
    started = time.monotonic()
    with out_path.open("wb") as out_file, err_path.open("wb") as err_file:
        real_out.flush()
        real_err.flush()
        os.dup2(out_file.fileno(), 1)
        os.dup2(err_file.fileno(), 2)
        sys.stdout = _text(1, sys.__stdout__, line_buffering=False)
        sys.stderr = _text(2, sys.__stderr__, line_buffering=True)
        os.environ.clear()
        os.environ.update(case["env"])
        os.chdir(scratch)
        sys.argv = ["fx", *case["argv"]]
        _case.update(started=started, stopped=0.0)
        signal.signal(signal.SIGALRM, _interrupt)
        signal.setitimer(signal.ITIMER_REAL, stop_after or HANG_S)
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else str(exc.code))
        except BaseException as exc:  # main() must never let anything out: record what did
            code = f"escaped {type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sys.stdout, sys.stderr = real_out, real_err
            os.chdir(cwd_before)
            os.environ.clear()
            os.environ.update(env_before)
            # fx record / stream ignore further stop signals once stopping: the next case needs them back.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return {
        "argv": case["argv"],
        "code": code,
        "stderr": err_path.read_bytes().decode("utf-8", "backslashreplace"),
        "stdout_bytes": out_path.stat().st_size,
        "stopped": bool(_case["stopped"]),
        "seconds": round(time.monotonic() - started, 3),
    }


def main(cases_file: Path, results_file: Path) -> None:
    """Run every case of `cases_file` (a JSON list) in a scratch folder of its own."""
    cases = json.loads(cases_file.read_text(encoding="utf-8"))
    # Imported before the first case so that no case pays for it inside its deadline.
    import fxcli.cli
    import fxcli.live.record
    import fxcli.tasks.backtest
    import fxcli.tasks.stream  # noqa: F401

    root = results_file.with_suffix(".scratch")
    results = [run_case(case, root / f"case{i}") for i, case in enumerate(cases)]
    results_file.write_text(json.dumps(results), encoding="utf-8")  # ASCII: lone surrogates escaped


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
