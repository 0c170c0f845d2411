"""What a failed MEXC private call means for the order path: every code of the spec's table
(docs/mexc-orders.md §2.3) as a typed `VenueError` with a retry class.

Classification uses the numeric `code` and the HTTP status, never `msg` (messages come in Chinese and
with stray spaces). What cannot be classified fails closed: an answer we cannot read to a POST or
DELETE may have placed or cancelled an order (`OutcomeUnknown`), and an unknown code on a read halts
instead of being retried forever.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum

from fxcli.exchange.rest import retry_after_s as parse_retry_after


class RetryClass(StrEnum):
    """What the caller may do next."""

    RETRY_GET = "retry_get"  # a read (or a request that never left): send it again after a backoff
    RESYNC_ONCE = "resync_once"  # 700003: not executed; re-measure the clock and resend once
    WAIT = "wait"  # 429/418: not executed; no request at all before Retry-After has passed
    HALT = "halt"  # the key or the account is unusable: stop sending orders, tell the operator
    REJECT = "reject"  # a definitive business refusal of this one request: nothing was placed
    REJECT_SYMBOL = "reject_symbol"  # the symbol is not tradable (for this key): skip it this session
    NOT_FOUND = "not_found"  # the order is unknown (or not cancellable); right after a send this may be lag
    UNKNOWN_OUTCOME = "unknown_outcome"  # the venue may or may not have acted: resolve by venue evidence
    BUG = "bug"  # fx built a request the venue cannot parse: stop and fix fx


# code → (name, retry class), every code of the spec's §2.3 table (and the listenKey codes of §2.5).
ERRORS: dict[int, tuple[str, RetryClass]] = {
    700001: ("api_key_format_invalid", RetryClass.HALT),
    700002: ("signature_invalid", RetryClass.HALT),  # also an expired key (the 90-day rule)
    10072: ("api_key_invalid", RetryClass.HALT),
    700003: ("timestamp_outside_recv_window", RetryClass.RESYNC_ONCE),
    700004: ("mandatory_parameter_missing", RetryClass.BUG),
    700005: ("recv_window_too_large", RetryClass.BUG),
    700006: ("ip_not_whitelisted", RetryClass.HALT),
    700007: ("no_permission", RetryClass.HALT),
    700008: ("illegal_characters", RetryClass.BUG),
    10007: ("symbol_not_supported_by_api", RetryClass.REJECT_SYMBOL),
    30000: ("symbol_suspended", RetryClass.REJECT_SYMBOL),
    30001: ("side_not_allowed", RetryClass.REJECT),
    30002: ("below_min_notional", RetryClass.REJECT),
    30003: ("above_max_notional", RetryClass.REJECT),
    30004: ("insufficient_position", RetryClass.REJECT),
    30005: ("oversold", RetryClass.REJECT),
    10101: ("insufficient_balance", RetryClass.REJECT),
    30016: ("trading_disabled", RetryClass.REJECT_SYMBOL),
    30019: ("market_order_disabled", RetryClass.REJECT),
    30051: ("market_order_disabled", RetryClass.REJECT),
    30029: ("max_open_orders", RetryClass.REJECT),
    30041: ("order_type_not_allowed", RetryClass.REJECT),
    30087: ("price_outside_band", RetryClass.REJECT),
    400: ("bad_parameter", RetryClass.REJECT),  # "quantity/amount/price scale is invalid"
    -2011: ("unknown_order", RetryClass.NOT_FOUND),  # cancel of a filled/cancelled/unknown order
    -2013: ("order_not_found", RetryClass.NOT_FOUND),  # also briefly right after an accept (lag)
    30014: ("invalid_symbol", RetryClass.REJECT_SYMBOL),
    30021: ("invalid_symbol", RetryClass.REJECT_SYMBOL),
    730001: ("pair_not_found", RetryClass.REJECT_SYMBOL),
    10203: ("order_processing_error", RetryClass.UNKNOWN_OUTCOME),
    -1128: ("bad_parameter_combination", RetryClass.BUG),
    429: ("too_many_requests", RetryClass.WAIT),
    418: ("ip_banned", RetryClass.WAIT),
    730706: ("listen_key_not_found", RetryClass.NOT_FOUND),
    730003: ("listen_key_quota", RetryClass.REJECT),
}

DEFAULT_RETRY_AFTER_S = {429: 1.0, 418: 120.0}  # when the header is missing: the fake's defaults
CHANGING_METHODS = frozenset({"POST", "DELETE", "PUT"})  # an unread answer may hide an effect


class VenueError(Exception):
    """A private call failed; `retry` says what may happen next, `code` is MEXC's (None when there
    was no error document), `http` the status (0 when no answer arrived)."""

    def __init__(
        self,
        name: str,
        retry: RetryClass,
        msg: str,
        *,
        code: int | None = None,
        http: int = 0,
        retry_after_s: float | None = None,
    ) -> None:
        where = f"code {code}, HTTP {http}" if code is not None else f"HTTP {http}" if http else "no answer"
        super().__init__(f"MEXC {name} ({where}): {msg}")
        self.name = name
        self.retry = retry
        self.msg = msg
        self.code = code
        self.http = http
        self.retry_after_s = retry_after_s


class OutcomeUnknown(VenueError):  # noqa: N818 (the name the order path's interface uses)
    """A POST or DELETE whose effect we cannot know (timeout, reset, 5xx, WAF page, unreadable or
    empty answer): the order may exist. Never resend; resolve it from the venue's own records."""

    def __init__(self, name: str, msg: str, *, code: int | None = None, http: int = 0) -> None:
        super().__init__(name, RetryClass.UNKNOWN_OUTCOME, msg, code=code, http=http)


def unreadable(method: str, name: str, msg: str, *, http: int = 0) -> VenueError:
    """No usable answer: an `OutcomeUnknown` for a request that may change state, a retryable
    error for a read."""
    if method.upper() in CHANGING_METHODS:
        return OutcomeUnknown(name, msg, http=http)
    return VenueError(name, RetryClass.RETRY_GET, msg, http=http)


def classify(
    method: str,
    http: int,
    body: bytes | None,
    headers: Mapping[str, str] | None = None,
    *,
    scrub: Callable[[str], str] = str,
) -> VenueError:
    """The typed error for an answer that is not a success: HTTP status `http`, its `body` and
    `headers` (names lower-case). `scrub` cleans the venue's text before it goes into a message
    (the client passes one that removes its keys)."""
    method = method.upper()
    headers = headers or {}
    if http in (429, 418):
        name, retry = ERRORS[http]
        wait_s = parse_retry_after(headers.get("retry-after"), DEFAULT_RETRY_AFTER_S[http])
        return VenueError(
            name, retry, f"retry after {wait_s:g} s", code=_code(body), http=http, retry_after_s=wait_s
        )
    if http >= 500:
        # MEXC: a 5xx means "execution status is UNKNOWN and could have been a success".
        return unreadable(method, "server_error", f"HTTP {http}{_snippet(body, scrub)}", http=http)
    code = _code(body)
    if code is None:
        # A WAF's HTML page (403), a truncated document, an empty body: the venue's word is missing.
        what = "empty answer" if not body else f"answer without an error code{_snippet(body, scrub)}"
        return unreadable(method, "unreadable_answer", what, http=http)
    msg = scrub(_msg(body))
    if code in ERRORS:
        name, retry = ERRORS[code]
        if retry is RetryClass.UNKNOWN_OUTCOME:  # 10203: the engine stumbled; a read just retries
            if method in CHANGING_METHODS:
                return OutcomeUnknown(name, msg, code=code, http=http)
            retry = RetryClass.RETRY_GET
        return VenueError(name, retry, msg, code=code, http=http)
    # A code the table does not know: fail closed.
    if method in CHANGING_METHODS:
        return OutcomeUnknown("unknown_code", msg, code=code, http=http)
    return VenueError("unknown_code", RetryClass.HALT, msg, code=code, http=http)


def _document(body: bytes | None) -> dict[str, object] | None:
    if not body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _code(body: bytes | None) -> int | None:
    doc = _document(body)
    code = doc.get("code") if doc else None
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.lstrip("-").isdigit():
        return int(code)
    return None


def _msg(body: bytes | None) -> str:
    doc = _document(body)
    msg = doc.get("msg") if doc else None
    return " ".join(str(msg).split()) if msg is not None else ""


def _snippet(body: bytes | None, scrub: Callable[[str], str]) -> str:
    if not body:
        return ""
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    return f": {scrub(text)}"
