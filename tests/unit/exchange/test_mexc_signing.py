"""Every signature vector of the orders spec (§2.2), and the number text MEXC accepts."""

from __future__ import annotations

import urllib.parse
from decimal import Decimal

import pytest

from fxcli.exchange.mexc_private.signing import decimal_text, encode, sign, signed_query

SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"  # the MEXC documentation's example secret

VECTORS = [
    (
        "D2",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
        "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a",
    ),
    (
        "D3",
        "symbol=BTCUSDT&side=BUY&type=LIMIT" + "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
        "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592",
    ),
    (
        "F1",
        "symbol=PEPEUSDT&side=BUY&type=LIMIT&quantity=1000000&price=0.0000101"
        "&newClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp=1765000000000",
        "dfb71cdca26f6890051dbde5adb42fadb351628ff48a62b3c30aa31bae744b0b",
    ),
    (
        "F2",
        "symbol=PEPEUSDT&side=BUY&type=MARKET&quoteOrderQty=25"
        "&newClientOrderId=fxk7q2m9e00000002&recvWindow=5000&timestamp=1765000000100",
        "9929e3ad2e7c4da81faba5833f8b63171db231a50c429a7039b1259ebd90f252",
    ),
    (
        "F3",
        "symbol=PEPEUSDT&origClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp=1765000001000",
        "d391a1f436fddf8b06b8c0d37d5ea99ee9a799c962ad0782ecdbc944706ca220",
    ),
    (
        "F4",
        "symbol=PEPEUSDT&origClientOrderId=fxk7q2m9e00000001&recvWindow=5000&timestamp=1765000002000",
        "a302f983a8a9be9705a4ed7d021bacf2eac1ad9b3d21048c8911e4ebdc27c42c",
    ),
    (
        "F5",
        "symbol=PEPEUSDT&recvWindow=5000&timestamp=1765000003000",
        "b5856a8ae66c3f10fddfd0dea7e07843fc6603c86a9c1e4a51623e1861bf9f71",
    ),
    (
        "F6",
        "symbol=PEPEUSDT&recvWindow=5000&timestamp=1765000004000",
        "312c3d02f830b81380a085529916e1403b3ca5246ca22c29bdff0c0ccc389640",
    ),
    (
        "F7",
        "symbol=PEPEUSDT&orderId=C02__600000000000000001&recvWindow=5000&timestamp=1765000005000",
        "f9474517252c5a5b409ce5afc77cd99f542c553a4ba4f7304de40179f769d995",
    ),
    (
        "F8",
        "recvWindow=5000&timestamp=1765000006000",
        "fc24a0d099ce14f2f284dac7785c561e57b932e0675a9a98e9def59d563da7e9",
    ),
    (
        "F9",
        "timestamp=1765000007000",
        "1f5cbb28d5b9688b220633d653e0abe1012937ac631abd63a07a43f1a242f2c6",
    ),
    (
        "F10",
        "listenKey=pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1&timestamp=1765000008000",
        "f39833eb410003dc2e47b15b1ff12f648adc716862d0445d0a131d5ac19c8105",
    ),
    (
        "F11",
        "symbol=BTCUSDT%2CMXUSDT&timestamp=1765000009000",
        "08ee596040de34d812a2bcaff87e50ed3931dc97c1984b3e0b754f66c45e91b9",
    ),
    (
        "F11'",
        "symbol=BTCUSDT,MXUSDT&timestamp=1765000009000",
        "2dd710f907d4f141288320558198ba76b29fb35d9e550952683db41a6f50a9e0",
    ),
]


@pytest.mark.parametrize(("name", "message", "expected"), VECTORS, ids=[v[0] for v in VECTORS])
def test_sign_spec_vector_matches(name: str, message: str, expected: str) -> None:
    signature = sign(SECRET, message)

    assert signature == expected, name


def test_sign_doc_example_1_value_is_not_reproduced() -> None:
    # The doc's Example 1 prints 323c96ab…a117 for the D2 input; the spec says it is wrong.
    signature = sign(SECRET, VECTORS[0][1])

    assert not signature.startswith("323c96ab")


def test_encode_keeps_order_and_reproduces_f1_and_f11() -> None:
    f1 = [
        ("symbol", "PEPEUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("quantity", decimal_text(Decimal("1E+6"))),
        ("price", decimal_text(Decimal("0.00001010"))),
        ("newClientOrderId", "fxk7q2m9e00000001"),
        ("recvWindow", "5000"),
        ("timestamp", "1765000000000"),
    ]

    assert encode(f1) == VECTORS[2][1]
    assert encode([("symbol", "BTCUSDT,MXUSDT"), ("timestamp", "1765000009000")]) == VECTORS[12][1]
    assert encode(list(reversed(f1))) != VECTORS[2][1]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.000000101"), "0.000000101"),  # str() gives 1.01E-7
        (Decimal("1.01e-05"), "0.0000101"),
        (Decimal("1E+6"), "1000000"),
        (Decimal("25.000"), "25"),
        (Decimal("0.10"), "0.1"),
        (Decimal("100"), "100"),
        (Decimal("0E-8"), "0"),
        (Decimal("0"), "0"),
    ],
)
def test_decimal_text_is_plain_without_trailing_zeros(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_decimal_text_refuses_non_finite(value: Decimal) -> None:
    with pytest.raises(ValueError, match="cannot send"):
        decimal_text(value)


def test_signed_query_appends_the_f1_signature() -> None:
    params = [tuple(pair.split("=")) for pair in VECTORS[2][1].split("&")]

    query = signed_query(SECRET, params)  # type: ignore[arg-type]

    assert query == f"{VECTORS[2][1]}&signature={VECTORS[2][2]}"


@pytest.mark.parametrize(
    "value",
    ["PEPEUSDT", "BTCUSDT,MXUSDT", "a b", "x+y", "ü", "100%", "a&b=c", "~_.-", "", "é/?#[]@!$'()*;", "\t\n"],
)
def test_encode_quotes_exactly_as_urlencode(value: str) -> None:
    params = [("symbol", value), (value or "k", "1"), ("timestamp", "1765000000000")]

    assert encode(params) == urllib.parse.urlencode(params)
