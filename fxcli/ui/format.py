"""Number and time formatting shared by every table."""

from __future__ import annotations

from fxcli.model.units import ns_to_iso


def count(n: int) -> str:
    """1234567 -> '1,234,567'."""
    return f"{n:,}"


def size(n_bytes: int) -> str:
    """Bytes in the largest unit that keeps the number below 1024."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def when(ts_ns: int | None) -> str:
    """ns to ISO-8601 UTC with ms, or '—'."""
    return ns_to_iso(ts_ns) if ts_ns is not None else "—"
