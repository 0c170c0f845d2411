"""Clock and number conversions; units live in names (`*_ns`, `*_ms`, `*_bps`)."""

from __future__ import annotations

from datetime import UTC, datetime

from fxcli.errors import FxError

NS_PER_MS = 1_000_000
NS_PER_US = 1_000
NS_PER_S = 1_000_000_000
NS_PER_HOUR = 3_600 * NS_PER_S


def ms_to_ns(ms: int) -> int:
    """Milliseconds since the epoch to nanoseconds."""
    return ms * NS_PER_MS


def seconds_str_to_ns(text: str) -> int:
    """A decimal seconds string like '1633998512.0633569' to integer ns, exactly (no float detour)."""
    whole, _, frac = text.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"not a decimal seconds value: {text!r}")
    return int(whole) * NS_PER_S + int((frac + "000000000")[:9])


def ns_to_datetime(ts_ns: int) -> datetime:
    """Nanoseconds since the epoch to an aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ts_ns // NS_PER_US / 1e6, tz=UTC)


def ns_to_iso(ts_ns: int) -> str:
    """Nanoseconds since the epoch to ISO-8601 UTC with milliseconds, e.g. 2024-08-08T23:54:15.343Z."""
    return ns_to_datetime(ts_ns).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time_ns(text: str) -> int:
    """A user-given time to ns: ISO-8601 (UTC if no zone), a date, or epoch s/ms/us/ns by magnitude."""
    raw = text.strip()
    if raw.lstrip("-").isdigit():
        value = int(raw)
        for limit, scale in ((10**11, NS_PER_S), (10**14, NS_PER_MS), (10**17, NS_PER_US)):
            if abs(value) < limit:
                return value * scale
        return value
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO-8601 like 2024-08-08T23:55:00Z, or epoch s/ms/ns)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * NS_PER_US


def parse_window(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """--from/--to text to ns; errors name the option."""
    out: list[int | None] = []
    for name, text in (("--from", start), ("--to", end)):
        try:
            out.append(parse_time_ns(text) if text is not None else None)
        except ValueError as exc:
            raise FxError(f"{name}: {exc}") from None
    lo, hi = out
    if lo is not None and hi is not None and lo > hi:
        raise FxError(f"--from {start} is after --to {end}")
    return lo, hi


DURATION_UNITS_NS = {
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": NS_PER_HOUR,
    "d": 24 * NS_PER_HOUR,
}


def parse_duration_ns(text: str) -> int:
    """A duration like '6h', '90m', '2d', '1h30m', '45s', '250ms' (a bare number is seconds) to ns.

    Decimals are allowed in each part ('1.5h'); the result is rounded to the nanosecond. ValueError
    names what is wrong.
    """
    import re

    raw = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        raw += "s"
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise ValueError(f"not a duration: {text!r} (use a number and a unit: 45s, 5m, 6h, 2d, 1h30m)")
    total = sum(float(n) * DURATION_UNITS_NS[u] for n, u in parts)
    return round(total)


def duration_str(ns: int) -> str:
    """A duration in ns as the shortest exact text parse_duration_ns reads back ('1h30m', '45s')."""
    if ns == 0:
        return "0s"
    out, rest = [], ns
    for unit in ("d", "h", "m", "s", "ms"):
        size = DURATION_UNITS_NS[unit]
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    if rest:
        out.append(f"{rest / NS_PER_MS:g}ms")
    return "".join(out)
