"""The fake private venue's error answers: `{"code":N,"msg":"..."}` with the HTTP status MEXC uses.

Codes and messages follow docs/mexc-orders.md §2.3; a client must classify by `code` and HTTP status,
never by `msg`, so the messages here are the captured ones (one Chinese, one with a stray space).
"""

from __future__ import annotations

import json

# code -> message as seen on the venue (§2.3); the fake's own answers use exactly these
MESSAGES: dict[int, str] = {
    400: "api key required",
    429: "Too Many Requests",
    418: "IP banned",
    700001: "API-key format invalid",
    700002: "Signature for this request is not valid.",
    700003: "Timestamp for this request is outside of the recvWindow.",
    700004: "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
    700005: "recvWindow must less than 60000",
    700006: "IP non white list",
    700007: "No permission to access the endpoint.",
    700008: "Illegal characters found in parameter",
    10072: "Api key info invalid",
    10007: "symbol not support api",
    30000: "suspended transaction for the symbol",
    30001: "The current transaction direction is not allowed to place an order",
    30002: "The minimum transaction volume cannot be less than:",
    30003: "The maximum transaction volume cannot be greater than:",
    30004: "Insufficient position",
    30005: "Oversold",
    10101: "资金不足",
    30016: "trading disabled",
    30019: "api market order is disabled",
    30051: "api market order is disabled",
    30029: "Cannot exceed the maximum order limit",
    30041: "current order type can not place order",
    30087: "Order price exceeds allowed range",
    -1128: "Combination of optional parameters invalid.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    10203: "Order processing error",
    730706: "listenKey does not exist",
    730003: "Unsupported operation",
}


class VenueError(Exception):
    """One error answer of the venue; raised anywhere inside the fake, rendered by the HTTP layer."""

    def __init__(self, code: int, msg: str | None = None, *, http: int = 400) -> None:
        self.code = code
        self.msg = MESSAGES.get(code, "error") if msg is None else msg
        self.http = http
        super().__init__(f"{code} {self.msg}")

    def body(self) -> bytes:
        """The JSON body; -2013 carries `msg` first and `_extend`, as in the capture of ccxt#21614."""
        if self.code == -2013:
            return json.dumps({"msg": self.msg, "code": self.code, "_extend": None}).encode()
        return json.dumps({"code": self.code, "msg": self.msg}, ensure_ascii=False).encode()


def missing(name: str) -> VenueError:
    """700004 naming the mandatory parameter that was not sent."""
    return VenueError(700004, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str) -> VenueError:
    """700008 naming the parameter whose value is not allowed (exponent numbers, bad ids, enums)."""
    return VenueError(700008, f"Illegal characters found in parameter '{name}'")
