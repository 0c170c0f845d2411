"""Every error code of the orders spec (§2.3) maps to a typed error with the retry class the spec
gives it; what cannot be read or is not in the table fails closed."""

from __future__ import annotations

import json

import pytest

from fxcli.exchange.mexc_private.errors import ERRORS, OutcomeUnknown, RetryClass, VenueError, classify

R = RetryClass
# The spec's table, written out here (not read from ERRORS) so a wrong or missing row fails.
SPEC_TABLE: dict[int, RetryClass] = {
    700001: R.HALT,
    700002: R.HALT,
    10072: R.HALT,
    700003: R.RESYNC_ONCE,
    700004: R.BUG,
    700005: R.BUG,
    700006: R.HALT,
    700007: R.HALT,
    700008: R.BUG,
    10007: R.REJECT_SYMBOL,
    30000: R.REJECT_SYMBOL,
    30001: R.REJECT,
    30002: R.REJECT,
    30003: R.REJECT,
    30004: R.REJECT,
    30005: R.REJECT,
    10101: R.REJECT,
    30016: R.REJECT_SYMBOL,
    30019: R.REJECT,
    30051: R.REJECT,
    30029: R.REJECT,
    30041: R.REJECT,
    30087: R.REJECT,
    400: R.REJECT,
    -2011: R.NOT_FOUND,
    -2013: R.NOT_FOUND,
    30014: R.REJECT_SYMBOL,
    30021: R.REJECT_SYMBOL,
    730001: R.REJECT_SYMBOL,
    730706: R.NOT_FOUND,
    730003: R.REJECT,
}


def body(code: int, msg: str = "text") -> bytes:
    return json.dumps({"code": code, "msg": msg}).encode()


@pytest.mark.parametrize(("code", "retry"), sorted(SPEC_TABLE.items()))
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_classify_spec_code_gets_its_retry_class(code: int, retry: RetryClass, method: str) -> None:
    error = classify(method, 400, body(code))

    assert type(error) is VenueError
    assert (error.code, error.retry, error.http) == (code, retry, 400)
    assert error.name == ERRORS[code][0]
    assert error.name in str(error)
    assert str(code) in str(error)


def test_errors_table_covers_every_spec_code() -> None:
    assert set(SPEC_TABLE) | {10203, 429, 418, -1128} == set(ERRORS)


def test_classify_order_processing_error_is_unknown_outcome_on_post_and_retry_on_get() -> None:
    post = classify("POST", 400, body(10203, "Order processing error"))
    get = classify("GET", 400, body(10203))

    assert isinstance(post, OutcomeUnknown)
    assert post.retry is R.UNKNOWN_OUTCOME
    assert post.code == 10203
    assert get.retry is R.RETRY_GET


@pytest.mark.parametrize(
    ("method", "kind", "retry"),
    [
        ("POST", OutcomeUnknown, R.UNKNOWN_OUTCOME),
        ("DELETE", OutcomeUnknown, R.UNKNOWN_OUTCOME),
        ("PUT", OutcomeUnknown, R.UNKNOWN_OUTCOME),
        ("GET", VenueError, R.HALT),
    ],
)
def test_classify_unknown_code_fails_closed(method: str, kind: type[VenueError], retry: RetryClass) -> None:
    error = classify(method, 400, body(123456, "something new"))

    assert type(error) is kind
    assert (error.retry, error.code, error.name) == (retry, 123456, "unknown_code")


UNREADABLE = [
    (502, b"<html><body>Bad Gateway</body></html>"),
    (500, body(700007)),  # a 5xx is unknown whatever its body says
    (503, b""),
    (403, b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD></HTML>"),  # a WAF page
    (400, b'{"code":-2013,"msg":"Order do'),  # truncated JSON
    (200, b""),  # empty 200
    (404, b"not json"),
    (400, b"[1, 2]"),
]


@pytest.mark.parametrize(("http", "raw"), UNREADABLE)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_classify_unreadable_answer_to_post_or_delete_is_outcome_unknown(
    method: str, http: int, raw: bytes
) -> None:
    error = classify(method, http, raw)

    assert isinstance(error, OutcomeUnknown)
    assert error.retry is R.UNKNOWN_OUTCOME
    assert error.http == http


@pytest.mark.parametrize(("http", "raw"), UNREADABLE)
def test_classify_unreadable_answer_to_get_is_retryable(http: int, raw: bytes) -> None:
    error = classify("GET", http, raw)

    assert not isinstance(error, OutcomeUnknown)
    assert error.retry is R.RETRY_GET


@pytest.mark.parametrize(
    ("http", "headers", "wait_s"),
    [
        (429, {"retry-after": "3"}, 3.0),
        (429, {}, 1.0),
        (418, {"retry-after": "7.5"}, 7.5),
        (418, {}, 120.0),
    ],
)
def test_classify_rate_limit_waits_for_retry_after(http: int, headers: dict[str, str], wait_s: float) -> None:
    error = classify("POST", http, body(429, "Too Many Requests"), headers)

    assert error.retry is R.WAIT
    assert error.retry_after_s == wait_s
    assert not isinstance(error, OutcomeUnknown)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"msg":"Order does not exist.","code":-2013,"_extend":null}',  # msg first, _extend
        '{"msg":"资金不足","code":10101}'.encode(),  # Chinese text
        b'{"msg":" amount scale is invalid","code":400}',  # a stray space
        b'{"code":"-2013","msg":"as text"}',  # the code as a string
    ],
)
def test_classify_reads_code_whatever_the_message(raw: bytes) -> None:
    error = classify("GET", 400, raw)

    assert error.code == json.loads(raw)["code"] or error.code == int(json.loads(raw)["code"])
    assert error.retry in (R.NOT_FOUND, R.REJECT)


def test_classify_scrubs_venue_text() -> None:
    error = classify(
        "GET", 400, body(700001, "key SECRETKEY is bad"), scrub=lambda t: t.replace("SECRETKEY", "***")
    )

    assert "SECRETKEY" not in str(error)
    assert "***" in error.msg
