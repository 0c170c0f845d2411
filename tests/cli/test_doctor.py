"""`fx doctor`: install, data dir, disk, clock skew and endpoints, against time servers on 127.0.0.1.

Every run points both venues' REST URLs at loopback: no test asks the real MEXC.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fxcli import __version__
from tests.conftest import run_fx


@contextmanager
def time_server(skew_ms: int = 0) -> Iterator[str]:
    """A venue time endpoint (spot `/api/v3/time`, futures `/api/v1/contract/ping`) whose clock is off."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now_ms = time.time_ns() // 1_000_000 + skew_ms
            if self.path == "/api/v3/time":
                body, status = json.dumps({"serverTime": now_ms}), 200
            elif self.path == "/api/v1/contract/ping":
                body, status = json.dumps({"success": True, "code": 0, "data": now_ms}), 200
            else:
                body, status = '{"code":404}', 404
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused: 'offline')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def offline_env() -> dict[str, str]:
    dead = closed_port_url()
    return {"FX_MEXC_SPOT_REST_URL": dead, "FX_MEXC_FUTURES_REST_URL": f"{dead}/api/v1/contract"}


def checks(stdout: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_doctor_offline_skips_the_clock_with_a_clear_message_and_exits_0(tmp_path: Path) -> None:
    result = run_fx("doctor", "--json", "--data-dir", str(tmp_path / "data"), cwd=tmp_path, env=offline_env())

    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result.stdout)
    for venue in ("mexc-spot", "mexc-futures"):
        clock = found[f"{venue} clock"]
        assert clock["status"] == "skip"
        assert clock["detail"].startswith(
            f"skipped: {clock['url']} is unreachable (cannot connect: Connection refused)"
        )
        assert clock["detail"].endswith("offline? clock skew not checked")
    assert json.loads(result.stdout)["ok"] is True


def test_doctor_table_names_the_skip_and_says_nothing_failed(tmp_path: Path) -> None:
    result = run_fx("doctor", "--exchange", "mexc-spot", cwd=tmp_path, env=offline_env())

    assert result.returncode == 0
    assert "skipped:" in result.stdout
    assert "clock skew not checked" in result.stdout
    assert result.stdout.rstrip().endswith("no check failed")


@pytest.mark.parametrize(("exchange", "path"), [("mexc-spot", ""), ("mexc-futures", "/api/v1/contract")])
def test_doctor_clock_in_step_passes(tmp_path: Path, exchange: str, path: str) -> None:
    with time_server(skew_ms=0) as url:
        result = run_fx("doctor", "--exchange", exchange, "--rest-url", url + path, "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stdout
    clock = checks(result.stdout)[f"{exchange} clock"]
    assert clock["status"] == "ok"
    assert abs(clock["offset_ms"]) < 250
    assert clock["rtt_ms"] >= 0


def test_doctor_clock_skew_over_a_second_fails_with_exit_1(tmp_path: Path) -> None:
    with time_server(skew_ms=5_000) as url:
        result = run_fx("doctor", "--exchange", "mexc-spot", "--rest-url", url, "--json", cwd=tmp_path)

    assert result.returncode == 1
    clock = checks(result.stdout)["mexc-spot clock"]
    assert clock["status"] == "fail"
    assert 4_500 < clock["offset_ms"] < 5_500
    assert "behind the venue" in clock["detail"]
    assert "more than 1000 ms" in clock["detail"]
    assert json.loads(result.stdout)["ok"] is False


def test_doctor_time_endpoint_that_is_not_one_fails(tmp_path: Path) -> None:
    with time_server() as url:
        result = run_fx(
            "doctor", "--exchange", "mexc-spot", "--rest-url", f"{url}/wrong", "--json", cwd=tmp_path
        )

    assert result.returncode == 1
    assert checks(result.stdout)["mexc-spot clock"]["detail"].endswith('HTTP 404 Not Found: {"code":404}')


def test_doctor_unwritable_data_dir_fails_with_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    result = run_fx("doctor", "--json", "--data-dir", str(blocker / "data"), cwd=tmp_path, env=offline_env())

    assert result.returncode == 1
    data_dir = checks(result.stdout)["data dir"]
    assert data_dir["status"] == "fail"
    assert data_dir["source"] == "--data-dir"


def test_doctor_reports_install_data_dir_and_disk(tmp_path: Path) -> None:
    result = run_fx("doctor", "--json", cwd=tmp_path, env=offline_env())

    found = checks(result.stdout)
    assert found["fx"]["version"] == __version__
    assert found["python"]["status"] == "ok"
    assert {"polars", "pyarrow", "websockets", "msgspec", "zstandard", "protobuf"} <= set(found)
    assert all(found[p]["installed"] == found[p]["pinned"] for p in ("polars", "websockets"))
    assert (
        found["data dir"]["detail"]
        == f"data (default): writable; does not exist yet, will be created in {tmp_path}"
    )
    assert not (tmp_path / "data").exists()  # doctor looks, it does not create
    assert found["disk space"]["free_bytes"] > 0


def test_doctor_shows_each_endpoint_and_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "fx.toml").write_text('mexc_spot_ws_url = "ws://127.0.0.1:8765/ws"\n')
    env = {**offline_env(), "FX_MEXC_FUTURES_WS_URL": "ws://127.0.0.1:8766/edge"}

    everything = checks(run_fx("doctor", "--json", cwd=tmp_path, env=env).stdout)
    overridden = checks(
        run_fx(
            "doctor", "-e", "mexc-spot", "--ws-url", "wss://example.test/ws", "--json", cwd=tmp_path, env=env
        ).stdout
    )

    sources = {name: (c["url"], c["source"]) for name, c in everything.items() if c["section"] == "endpoints"}
    assert sources == {
        "mexc-spot ws": ("ws://127.0.0.1:8765/ws", "fx.toml"),
        "mexc-spot rest": (env["FX_MEXC_SPOT_REST_URL"], "FX_MEXC_SPOT_REST_URL"),
        "mexc-futures ws": ("ws://127.0.0.1:8766/edge", "FX_MEXC_FUTURES_WS_URL"),
        "mexc-futures rest": (env["FX_MEXC_FUTURES_REST_URL"], "FX_MEXC_FUTURES_REST_URL"),
    }
    assert (overridden["mexc-spot ws"]["url"], overridden["mexc-spot ws"]["source"]) == (
        "wss://example.test/ws",
        "--ws-url",
    )
    assert "mexc-futures ws" not in overridden


def test_doctor_defaults_are_the_real_mexc_endpoints(tmp_path: Path) -> None:
    env = offline_env()

    found = checks(run_fx("doctor", "--json", cwd=tmp_path, env=env).stdout)

    assert (found["mexc-spot ws"]["url"], found["mexc-spot ws"]["source"]) == (
        "wss://wbs-api.mexc.com/ws",
        "default",
    )
    assert (found["mexc-futures ws"]["url"], found["mexc-futures ws"]["source"]) == (
        "wss://contract.mexc.com/edge",
        "default",
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("--ws-url", "ws://127.0.0.1:1/ws"),
            {},
            "--ws-url and --rest-url need --exchange (mexc-spot or mexc-futures)",
        ),
        (("--exchange", "kraken"), {}, "--exchange 'kraken' is not one of mexc-spot, mexc-futures"),
        (
            ("--exchange", "mexc-spot", "--rest-url", "api.mexc.com"),
            {},
            "--rest-url: 'api.mexc.com' is not a http:// or https:// URL with a host",
        ),
        (
            (),
            {"FX_MEXC_SPOT_REST_URL": "ws://127.0.0.1:1"},
            "FX_MEXC_SPOT_REST_URL: mexc_spot_rest_url: 'ws://127.0.0.1:1' is not a http:// or https:// URL "
            "with a host",
        ),
    ],
)
def test_doctor_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = run_fx("doctor", *args, cwd=tmp_path, env={**offline_env(), **env})

    assert result.returncode == 2
    assert result.stderr == f"fx: error: {message}\n"
