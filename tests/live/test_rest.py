"""REST snapshot and time fetches against the fake venue's HTTP responder."""

from __future__ import annotations

import pytest

from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.exchange.pacing import BreakerOpenError, BreakerState, CircuitBreaker, TokenBucket
from fxcli.exchange.rest import RateLimitedError, RestClient, RestError, retry_after_s, time_url
from tests.fake_mexc import FakeMexc, Venue
from tests.live.support import run


def test_spot_and_futures_snapshots_match_the_servers_book_and_clock() -> None:
    async def scenario() -> None:
        for venue_kind, symbol in ((Venue.SPOT, "AUSDT"), (Venue.FUTURES, "A_USDT")):
            async with FakeMexc(venue_kind, [symbol]) as venue:
                venue.pause()
                adapter = (
                    MexcSpot(venue.endpoints) if venue_kind is Venue.SPOT else MexcFutures(venue.endpoints)
                )
                rest = RestClient(timeout_s=2.0)

                snapshot = await rest.fetch_snapshot(adapter, symbol)
                clock = await rest.fetch_server_time(adapter)

                market = venue.markets[symbol]
                assert snapshot.version == market.version
                assert (dict(snapshot.bids), dict(snapshot.asks)) == market.book_floats()
                assert abs(clock.offset_ms) < 1_000
                assert clock.rtt_ns > 0
                assert time_url(adapter).endswith(("/api/v3/time", "/api/v1/contract/ping"))

    run(scenario())


def test_rate_limit_and_errors_are_typed_and_open_the_breaker() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            breaker = CircuitBreaker("rest", failure_threshold=3, open_s=60.0)
            rest = RestClient(timeout_s=2.0, breaker=breaker, bucket=TokenBucket(10, 100.0))
            venue.rest_rate_limited = 1
            venue.rest_failures = 2

            with pytest.raises(RateLimitedError) as limited:
                await rest.fetch_snapshot(spot, "AUSDT")
            with pytest.raises(RestError, match="HTTP 500"):
                await rest.fetch_snapshot(spot, "AUSDT")
            with pytest.raises(RestError, match="HTTP 500"):
                await rest.fetch_snapshot(spot, "AUSDT")
            with pytest.raises(BreakerOpenError):
                await rest.fetch_snapshot(spot, "AUSDT")

            assert limited.value.retry_after_s == 1.0
            assert breaker.state is BreakerState.OPEN
            assert len(venue.rest_requests) == 3  # the open breaker did not call

    run(scenario())


def test_timeout_and_bad_bodies_are_rest_errors() -> None:
    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, ["AUSDT"]) as venue:
            spot = MexcSpot(venue.endpoints)
            rest = RestClient(timeout_s=0.2)
            venue.rest_delay_s = 1.0
            with pytest.raises(RestError, match=r"timed out|no complete answer"):
                await rest.fetch_snapshot(spot, "AUSDT")
            venue.rest_delay_s = 0.0
            with pytest.raises(RestError, match="HTTP 400"):
                await rest.fetch_snapshot(spot, "NOSUCHUSDT")
            with pytest.raises(RestError, match="only http"):
                await rest.get("file:///etc/passwd")

    run(scenario())


def test_retry_after_reads_seconds_and_falls_back() -> None:
    assert retry_after_s("7") == 7.0
    assert retry_after_s(None, 2.0) == 2.0
    assert retry_after_s("soon", 3.0) == 3.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
