"""Proxies only when asked: the setting's validation, the missing-package line, and what the clients get."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fxcli.errors import FxError
from fxcli.exchange.proxy import ProxyUser, proxy_problem, redact, ws_proxy
from fxcli.exchange.rest import RestClient
from fxcli.settings import load_settings, load_settings_sourced


def socks_packages_absent() -> None:
    """These tests prove the missing-package message: the dev env must not have the socks extra."""
    present = [m for m in ("socksio", "python_socks") if importlib.util.find_spec(m) is not None]
    assert not present, f"{present} installed: the socks extra must stay out of the dev env"


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_proxy_problem_socks_without_its_packages_names_both_and_the_extra(scheme: str) -> None:
    socks_packages_absent()

    problem = proxy_problem(f"{scheme}://me:secret@127.0.0.1:1080")

    assert problem == (
        f"proxy {scheme}://me:***@127.0.0.1:1080: a SOCKS proxy needs python-socks and socksio, "
        "which are not installed; install with: pip install 'fx[socks]'"
    )


@pytest.mark.parametrize(
    ("user", "package"), [(ProxyUser.REST, "socksio"), (ProxyUser.WEBSOCKET, "python-socks")]
)
def test_proxy_problem_for_one_library_names_only_its_package(user: ProxyUser, package: str) -> None:
    socks_packages_absent()

    problem = proxy_problem("socks5://127.0.0.1:1080", [user])

    assert problem is not None
    assert f"needs {package}, which is not installed" in problem


@pytest.mark.parametrize("url", [None, "", "http://127.0.0.1:3128", "https://proxy.example:443"])
def test_proxy_problem_http_proxies_and_no_proxy_need_nothing(url: str | None) -> None:
    assert proxy_problem(url) is None


def test_redact_hides_only_the_password() -> None:
    assert redact("http://me:secret@10.0.0.1:3128") == "http://me:***@10.0.0.1:3128"
    assert redact("http://me@10.0.0.1:3128") == "http://me@10.0.0.1:3128"
    assert redact("socks5h://10.0.0.1:1080") == "socks5h://10.0.0.1:1080"


def test_ws_proxy_is_none_unless_asked_so_websockets_ignores_the_environment() -> None:
    assert ws_proxy(None) is None
    assert ws_proxy("") is None
    assert ws_proxy("http://127.0.0.1:3128") == "http://127.0.0.1:3128"


def test_rest_client_with_socks_proxy_and_no_socksio_fails_at_once_with_the_hint() -> None:
    socks_packages_absent()

    with pytest.raises(ValueError, match=r"needs socksio.*pip install 'fx\[socks\]'"):
        RestClient(proxy="socks5://127.0.0.1:1080")


def test_rest_client_with_an_unknown_proxy_scheme_fails_at_once() -> None:
    with pytest.raises(ValueError, match="ftp"):
        RestClient(proxy="ftp://127.0.0.1:21")


# ------------------------------------------------------------------ the setting


def test_setting_proxy_from_each_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FX_CONFIG", raising=False)
    monkeypatch.delenv("FX_PROXY", raising=False)
    assert load_settings().proxy is None

    (tmp_path / "fx.toml").write_text('proxy = "socks5h://127.0.0.1:1080"\n')
    assert load_settings_sourced()[0].proxy == "socks5h://127.0.0.1:1080"
    assert load_settings_sourced()[1]["proxy"] == "fx.toml"

    monkeypatch.setenv("FX_PROXY", "http://127.0.0.1:3128")
    assert load_settings_sourced()[1]["proxy"] == "FX_PROXY"
    assert load_settings(proxy="https://me:pw@proxy.example:8443").proxy == "https://me:pw@proxy.example:8443"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "socks4://127.0.0.1:1080",
            "is not a http:// or https:// or socks5:// or socks5h:// URL with a host",
        ),
        ("127.0.0.1:1080", "is not a http:// or https:// or socks5:// or socks5h:// URL with a host"),
        ("http://127.0.0.1", "a proxy URL is scheme://[user:password@]host:port, nothing more"),
        ("http://127.0.0.1:3128/path", "a proxy URL is scheme://[user:password@]host:port, nothing more"),
    ],
)
def test_setting_proxy_bad_value_names_the_source_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FX_CONFIG", raising=False)
    monkeypatch.setenv("FX_PROXY", value)

    with pytest.raises(FxError) as caught:
        load_settings()

    assert str(caught.value).startswith("FX_PROXY: proxy: ")
    assert message in str(caught.value)
