"""Backtests: replay recorded ticks through the engine and strategy, with honest fills and costs."""
