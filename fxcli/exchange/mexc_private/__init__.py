"""MEXC spot private REST: signing, keys, the error table, the request budget, symbol rules, the client."""
