"""One indicator per module; each registers itself with `@indicator` when imported."""
