"""MEXC spot request signing: lower-hex HMAC-SHA256 of the exact bytes sent, and the number text.

The venue recomputes the HMAC over the query string (plus body) exactly as it arrives, without
re-sorting or re-encoding, so the string signed here must be the string sent: `encode` builds it
once, in the caller's order, and the client sends those bytes unchanged.

>>> sign("45d0b3c26f2644f19bfb98b07741b2f5",
...      "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087")
'fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a'
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Sequence
from decimal import Decimal


def sign(secret: str, total_params: str) -> str:
    """The signature of `total_params` (query string + body, no `&` between): lower-case hex,
    the only case MEXC accepts."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


# What `quote_plus` leaves alone: almost every value fx sends (symbols, ids, plain decimals).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def encode(params: Sequence[tuple[str, str]]) -> str:
    """`k=v&k=v` in the given order, percent-encoded exactly as `urllib.parse.urlencode` does (a
    comma becomes `%2C`, as MEXC signs batch symbols); the order matters because the HMAC covers
    the bytes. Text that needs no quoting skips `quote_plus`, which is most of the signing cost."""
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in params)


def _quoted(text: str) -> str:
    return text if _UNRESERVED.fullmatch(text) else urllib.parse.quote_plus(text)


def signed_query(secret: str, params: Sequence[tuple[str, str]]) -> str:
    """The query string to send: `params` encoded in order, then `&signature=` over exactly those bytes."""
    query = encode(params)
    return f"{query}&signature={sign(secret, query)}"


def decimal_text(value: Decimal) -> str:
    """A plain decimal with no exponent and no trailing zeros: `1.01E-7` → `0.000000101`.

    MEXC refuses exponent notation (700008), and `str(Decimal)` produces it for small prices; a
    trailing zero would add a decimal the symbol's precision may not allow.
    """
    if not value.is_finite():
        raise ValueError(f"cannot send {value} as a number")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
