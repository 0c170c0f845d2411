"""`fx doctor --live` against the fake venue process: keys, clock, and a test order per symbol at the
real size that names the exact rule when it fails; nothing is ever placed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_fx
from tests.live.private_venue import btc_like, venue_process


def checks(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["detail"]) for c in doc["checks"]}


def test_doctor_live_passes_keys_clock_and_a_test_order_and_places_nothing(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)

        result = run_fx(
            "doctor",
            "--live",
            "--symbols",
            "BTCUSDT",
            "--notional",
            "20",
            "--json",
            env=venue.env,
            unset=("FX_",),
        )
        ledger = venue.admin("ledger")
        tested = [r for r in venue.admin("requests") if r["path"] == "/api/v3/order/test"]

    assert result.returncode == 0, result.stderr
    found = checks(json.loads(result.stdout))
    assert found["keys"][0] == "ok"
    assert found["clock"][0] == "ok"
    assert found["order/test BTCUSDT"] == ("ok", "MARKET BUY 20.00 USDT accepted by order/test")
    assert ledger["orders"] == []
    assert len(tested) == 1


def test_doctor_live_names_the_rule_a_too_small_order_breaks(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)

        result = run_fx(
            "doctor",
            "--live",
            "--symbols",
            "BTCUSDT",
            "--notional",
            "0.5",
            "--json",
            env=venue.env,
            unset=("FX_",),
        )

    assert result.returncode == 1
    status, detail = checks(json.loads(result.stdout))["order/test BTCUSDT"]
    assert status == "fail"
    assert detail.startswith("BTCUSDT: ")
    assert "minimum" in detail


def test_doctor_live_with_a_revoked_key_fails_on_keys(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        venue.admin("revoke_key", api_key=venue.env["FX_MEXC_API_KEY"])

        result = run_fx("doctor", "--live", "--symbols", "BTCUSDT", "--json", env=venue.env, unset=("FX_",))

    assert result.returncode == 1
    status, detail = checks(json.loads(result.stdout))["keys"]
    assert status == "fail"
    assert "10072" in detail
    assert venue.env["FX_MEXC_API_SECRET"] not in result.stdout + result.stderr
