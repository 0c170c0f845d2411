"""API keys come from the environment or a private key file, and are never shown."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from fxcli.errors import FxError
from fxcli.exchange.mexc_private.keys import ApiKeys, load_keys, redact

KEY = "mx0aBYs33eIilxBWC5"
SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"


def key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "mexc.key"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_api_keys_repr_str_and_format_hide_both() -> None:
    keys = ApiKeys(KEY, SECRET)

    shown = [repr(keys), str(keys), f"{keys}", f"{keys!r}", repr([keys]), repr({"k": keys})]

    for text in shown:
        assert KEY not in text
        assert SECRET not in text
        assert "***" in text


def test_load_keys_from_env() -> None:
    keys = load_keys({"FX_MEXC_API_KEY": KEY, "FX_MEXC_API_SECRET": f" {SECRET}\n"}, None)

    assert (keys.key, keys.secret) == (KEY, SECRET)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "FX_MEXC_API_KEY"),
        ({"FX_MEXC_API_KEY": KEY}, "FX_MEXC_API_SECRET is empty"),
        ({"FX_MEXC_API_SECRET": SECRET}, "FX_MEXC_API_KEY is empty"),
        ({"FX_MEXC_API_KEY": KEY, "FX_MEXC_API_SECRET": "a b"}, "FX_MEXC_API_SECRET holds"),
    ],
)
def test_load_keys_env_problem_named_without_values(env: dict[str, str], named: str) -> None:
    with pytest.raises(FxError) as caught:
        load_keys(env, None)

    assert named in str(caught.value)
    assert KEY not in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n',
        f'[mexc]\napi_key = "{KEY}"\napi_secret = "{SECRET}"\n',
        f"# my MEXC key\n{KEY}\n{SECRET}\n",
    ],
)
def test_load_keys_from_private_file(tmp_path: Path, text: str) -> None:
    keys = load_keys({"FX_MEXC_API_KEY": "other", "FX_MEXC_API_SECRET": "other"}, key_file(tmp_path, text))

    assert keys == ApiKeys(KEY, SECRET)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_load_keys_refuses_file_others_can_read(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, f"{KEY}\n{SECRET}\n", mode)

    with pytest.raises(FxError) as caught:
        load_keys({}, path)

    message = str(caught.value)
    assert str(path) in message
    assert f"mode {mode:04o}" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (f'api_key = "{KEY}"\n', "key api_secret is missing"),
        (f'[mexc]\napi_key = "{KEY}"\napi_secret = 5\n', "key mexc.api_secret is missing or not a string"),
        (f"{KEY}\n", "found 1 non-empty lines"),
        (f"{KEY}\n{SECRET}\nthird\n", "found 3 non-empty lines"),
        (f'api_key = "{KEY}"\napi_secret = "x\\ty"\n', "key api_secret holds characters"),
    ],
)
def test_load_keys_bad_file_named_without_values(tmp_path: Path, text: str, named: str) -> None:
    path = key_file(tmp_path, text)

    with pytest.raises(FxError) as caught:
        load_keys({}, path)

    assert str(path) in str(caught.value)
    assert named in str(caught.value)
    assert SECRET not in str(caught.value)


def test_load_keys_missing_file_named(tmp_path: Path) -> None:
    with pytest.raises(FxError, match=r"nope\.key: cannot read the key file"):
        load_keys({}, tmp_path / "nope.key")


def test_redact_removes_key_and_secret() -> None:
    text = f"GET /x?k={KEY} failed for {SECRET}"

    assert redact(text, ApiKeys(KEY, SECRET)) == "GET /x?k=*** failed for ***"
    assert redact(text, None) == text


def test_api_keys_survive_copy_without_showing() -> None:
    keys = pickle.loads(pickle.dumps(ApiKeys(KEY, SECRET)))

    assert keys.secret == SECRET
    assert SECRET not in repr(keys)
