"""Clock conversions are exact and user times parse in every documented form."""

from __future__ import annotations

import pytest

from fxcli.model.units import ns_to_iso, parse_time_ns, seconds_str_to_ns


def test_seconds_text_to_ns_is_exact_without_float_detour() -> None:
    assert seconds_str_to_ns("1633998512.0633569") == 1_633_998_512_063_356_900
    assert seconds_str_to_ns("1626916408.60732") == 1_626_916_408_607_320_000
    assert seconds_str_to_ns("1700000000") == 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-08-08T23:55:00Z", 1_723_161_300_000_000_000),
        ("2024-08-08T23:55:00", 1_723_161_300_000_000_000),
        ("2024-08-09T01:55:00+02:00", 1_723_161_300_000_000_000),
        ("2024-08-08", 1_723_075_200_000_000_000),
        ("1723161300", 1_723_161_300_000_000_000),
        ("1723161300000", 1_723_161_300_000_000_000),
        ("1723161300000000000", 1_723_161_300_000_000_000),
    ],
)
def test_parse_time_accepts_iso_dates_and_epochs(text: str, expected: int) -> None:
    assert parse_time_ns(text) == expected


def test_parse_time_rejects_garbage_with_hint() -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time_ns("yesterday")


def test_ns_to_iso_has_milliseconds_and_z() -> None:
    assert ns_to_iso(1_723_161_255_343_000_000) == "2024-08-08T23:54:15.343Z"
