"""One function per command: the only place where store, exchange, engine and strategy meet."""
