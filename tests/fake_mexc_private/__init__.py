"""A fake MEXC spot private venue (signed REST + user-data stream) on 127.0.0.1; see `venue.py`."""

from tests.fake_mexc_private.auth import ApiKey
from tests.fake_mexc_private.venue import DOC_KEY, DOC_SECRET, FakePrivateVenue

__all__ = ["DOC_KEY", "DOC_SECRET", "ApiKey", "FakePrivateVenue"]
