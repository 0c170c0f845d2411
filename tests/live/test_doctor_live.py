"""`fx doctor --live` against the fake venue process: keys, clock, and a test order per symbol at the
real size that names the exact rule when it fails; nothing is ever placed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_fx
from tests.live.private_venue import VenueProcess, btc_like, venue_process


def doctor_live(venue: VenueProcess, *args: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    """`fx doctor --live --symbols BTCUSDT --json ARGS` against `venue`: exit code, checks by name, output."""
    result = run_fx(
        "doctor", "--live", "--symbols", "BTCUSDT", "--json", *args, env=venue.env, unset=("FX_",)
    )
    doc = json.loads(result.stdout) if result.stdout else {"checks": []}
    found = {c["name"]: (c["status"], c["detail"]) for c in doc["checks"]}
    return result.returncode, found, result.stdout + result.stderr


def test_doctor_live_passes_keys_clock_and_a_test_order_and_places_nothing(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)

        code, found, output = doctor_live(venue, "--notional", "20")
        ledger = venue.admin("ledger")
        tested = [r for r in venue.admin("requests") if r["path"] == "/api/v3/order/test"]

    assert code == 0, output
    assert found["keys"][0] == "ok"
    assert found["clock"][0] == "ok"
    assert found["order/test BTCUSDT"] == ("ok", "MARKET BUY 20.00 USDT accepted by order/test")
    assert ledger["orders"] == []
    assert len(tested) == 1


def test_doctor_live_names_the_rule_a_too_small_order_breaks(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        btc_like(venue)

        code, found, _ = doctor_live(venue, "--notional", "0.5")

    assert code == 1
    status, detail = found["order/test BTCUSDT"]
    assert status == "fail"
    assert detail.startswith("BTCUSDT: ")
    assert "minimum" in detail


def test_doctor_live_with_a_revoked_key_fails_on_keys(tmp_path: Path) -> None:
    with venue_process(tmp_path) as venue:
        venue.admin("revoke_key", api_key=venue.env["FX_MEXC_API_KEY"])

        code, found, output = doctor_live(venue)

    assert code == 1
    status, detail = found["keys"]
    assert status == "fail"
    assert "10072" in detail
    assert venue.env["FX_MEXC_API_SECRET"] not in output
