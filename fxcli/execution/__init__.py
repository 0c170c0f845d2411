"""Real orders: the order journal, the order state machine, reconciliation, risk checks and the
live broker. Venue protocols (signed REST, the user-data stream) live in `fxcli.exchange`."""
