"""fx — tick-level crypto research: record, import, inspect, indicators, strategies, backtests."""

__version__ = "0.1.0"
