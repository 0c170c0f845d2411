"""The metrics' building blocks: fx's latency histograms as Prometheus buckets, and listen addresses."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fxcli.errors import FxError
from fxcli.live.latency import LATENCY_BINS, latency_bin
from fxcli.ops.address import Listen, parse_listen
from fxcli.ops.metrics import latency_family


class _One:
    def __init__(self, hists: list[list[int]]) -> None:
        self.hists = hists

    def collect(self):  # type: ignore[no-untyped-def]
        yield latency_family("fx_test_seconds", "test", self.hists)


def test_latency_histograms_become_cumulative_lower_bound_buckets_over_symbols() -> None:
    a, b = [0] * LATENCY_BINS, [0] * LATENCY_BINS
    for ns, hist in ((1_500, a), (1_500, a), (1_500, b), (150_000, a), (150_000, b), (2_000_000_000, b)):
        hist[latency_bin(ns)] += 1
    registry = CollectorRegistry()
    registry.register(_One([a, b]))

    (family,) = text_string_to_metric_families(generate_latest(registry).decode())

    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    assert family.type == "histogram"
    assert buckets["1e-06"] == 0
    assert buckets["2e-06"] == 3  # 1.5 µs lies wholly below 2 µs
    assert buckets["0.0001"] == 3
    assert buckets["0.0002"] == 5
    assert buckets["1.0"] == 5  # 2 s is above every finite bucket
    assert buckets["+Inf"] == 6
    counts = [s.value for s in family.samples if s.name.endswith("_count")]
    sums = [s.value for s in family.samples if s.name.endswith("_sum")]
    assert counts == [6]
    exact = (3 * 1_500 + 2 * 150_000 + 2_000_000_000) / 1e9
    assert exact <= sums[0] <= exact * 1.07


def test_latency_histogram_of_no_symbols_is_empty_not_an_error() -> None:
    family = latency_family("fx_test_seconds", "test", [])

    assert [s.value for s in family.samples if s.labels.get("le") == "+Inf"] == [0.0]


@pytest.mark.parametrize(
    ("text", "host", "port", "is_loopback"),
    [
        ("9464", "127.0.0.1", 9464, True),
        ("0", "127.0.0.1", 0, True),
        ("localhost:80", "localhost", 80, True),
        ("0.0.0.0:9464", "0.0.0.0", 9464, False),
        ("[::1]:9464", "::1", 9464, True),
        ("[::]:9464", "::", 9464, False),
        ("fx.example.org:443", "fx.example.org", 443, False),
    ],
)
def test_listen_addresses_default_to_loopback_and_keep_what_is_named(
    text: str, host: str, port: int, is_loopback: bool
) -> None:
    listen = parse_listen(text, "--serve")

    assert (listen.host, listen.port, listen.is_loopback) == (host, port, is_loopback)


def test_listen_url_brackets_ipv6_and_uses_the_bound_port() -> None:
    assert Listen("::1", 0).url("ws", 8765) == "ws://[::1]:8765"
    assert Listen("127.0.0.1", 9464).url("http") == "http://127.0.0.1:9464"


@pytest.mark.parametrize("text", ["", "-1", "65536", "host:", ":80", "a b:80", "[::1]80", "1.2.3.4:x"])
def test_bad_listen_addresses_name_the_option(text: str) -> None:
    with pytest.raises(FxError, match=r"^--metrics "):
        parse_listen(text, "--metrics")
