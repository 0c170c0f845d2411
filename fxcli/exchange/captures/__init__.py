"""Readers of public capture files: each yields `Record`s in file order, never raising on a bad line."""
