"""A fake MEXC venue (spot and futures) on 127.0.0.1 for tests of the live path; see `server.py`."""

from tests.fake_mexc.server import Client, FakeMexc, Venue

__all__ = ["Client", "FakeMexc", "Venue"]
