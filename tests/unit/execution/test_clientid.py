"""Client ids carry the run that placed them, and only fx's own shape parses."""

from __future__ import annotations

import pytest

from fxcli.execution.clientid import client_id, is_run_id, new_run_id, parse


def test_client_id_parse_round_trips_run_role_and_sequence() -> None:
    cid = client_id("k7q2m9", "e", 1)

    parsed = parse(cid)

    assert cid == "fxk7q2m9e00000001"
    assert parsed == ("k7q2m9", "e", 1)


def test_new_run_id_is_six_base36_characters_and_differs_between_calls() -> None:
    ids = {new_run_id() for _ in range(50)}

    assert all(is_run_id(run) and len(run) == 6 for run in ids)
    assert len(ids) > 45


@pytest.mark.parametrize(
    "cid",
    [
        "",
        "C02__600000000000000001",
        "fxk7q2m9e0000001",
        "fxK7q2m9e00000001",
        "fxk7q2m9z00000001",
        "HUMBOT123",
    ],
)
def test_parse_foreign_or_malformed_id_gives_none(cid: str) -> None:
    assert parse(cid) is None


@pytest.mark.parametrize(
    ("run", "role", "seq"), [("K7Q2M9", "e", 1), ("k7q2m", "e", 1), ("k7q2m9", "q", 1), ("k7q2m9", "e", -1)]
)
def test_client_id_refuses_bad_parts(run: str, role: str, seq: int) -> None:
    with pytest.raises(ValueError, match=r"run id|role|sequence"):
        client_id(run, role, seq)
