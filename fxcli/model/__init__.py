"""The event model every source is decoded into, and the L2 order book."""
