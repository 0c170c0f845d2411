"""The seed's 5-group strategy: spec files, condition evaluation, and the per-symbol state machine."""
