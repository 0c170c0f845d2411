"""`fx stream --serve/--serve-rate/--serve-queue/--metrics` and `fx record --metrics`: bad values are one
`fx: error:` line naming the option, exit 2, before anything runs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_stream_cli import DIRS
from tests.cli.test_stream_cli import store as store  # the shipped sample, imported once per module
from tests.conftest import error_line, run_fx


@pytest.fixture(scope="module")
def busy() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--serve", "nope:x"), "--serve 'nope:x': the port must be a number in 0..65535"),
        (("--serve", "70000"), "--serve '70000': port 70000 is not in 0..65535"),
        (("--serve", "bad host!:80"), "--serve 'bad host!:80': 'bad host!' is not a host name or address"),
        (("--serve", "[zz]:80"), "--serve '[zz]:80': 'zz' is not an IPv6 address"),
        (("--serve", "::1:80"), "--serve '::1:80': write an IPv6 address as [ADDRESS]:PORT"),
        (("--serve-rate", "5"), "--serve-rate sets up the --serve feed: give --serve HOST:PORT too"),
        (("--serve-queue", "5"), "--serve-queue sets up the --serve feed"),
        (("--serve", "0", "--serve-rate", "0"), "--serve-rate must be in [0.01, 50] snapshots/s, got 0"),
        (("--serve", "0", "--serve-rate", "nan"), "--serve-rate must be in [0.01, 50] snapshots/s, got nan"),
        (("--serve", "0", "--serve-queue", "0"), "--serve-queue must be in [1, 1000000] messages, got 0"),
        (("--metrics", "x:y"), "--metrics 'x:y': the port must be a number"),
        (("--serve", "127.0.0.1:{busy}"), "--serve 127.0.0.1:{busy}: cannot listen: "),
        (("--metrics", "{busy}"), "--metrics 127.0.0.1:{busy}: cannot listen: "),
    ],
)
def test_stream_bad_serve_values_are_one_line_and_exit_2(
    store: Path, busy: int, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    argv = [a.replace("{busy}", str(busy)) for a in args]

    result = run_fx(
        "stream", "momentum_scalper", "--replay", str(store), *DIRS, "--headless", *argv, cwd=tmp_path
    )

    assert message.replace("{busy}", str(busy)) in error_line(result)
    assert result.stdout == ""
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99999", "--metrics '99999': port 99999 is not in 0..65535"),
        ("", "--metrics '': the port must be a number"),
        ("{busy}", "--metrics 127.0.0.1:{busy}: cannot listen: "),
    ],
)
def test_record_bad_metrics_values_are_one_line_and_exit_2(
    busy: int, tmp_path: Path, value: str, message: str
) -> None:
    closed = f"127.0.0.1:{busy}"  # nothing is dialled: the option is refused first

    result = run_fx(
        "record",
        *("--exchange", "mexc-spot", "--symbols", "BTCUSDT", "--data-dir", str(tmp_path / "data")),
        *("--ws-url", f"ws://{closed}/ws", "--rest-url", f"http://{closed}", "--headless"),
        *("--metrics", value.replace("{busy}", str(busy))),
        cwd=tmp_path,
    )

    assert message.replace("{busy}", str(busy)) in error_line(result)
    assert result.stdout == ""
