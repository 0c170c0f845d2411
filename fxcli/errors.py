"""Errors a user can act on: each carries a one-line message and the exit code it maps to."""

from __future__ import annotations

BAD_INPUT = 2
NOT_FOUND = 1


class FxError(Exception):
    """Bad input (exit 2): the message names what is wrong and where (file, key, line)."""

    exit_code = BAD_INPUT


class NothingFoundError(FxError):
    """A query that found nothing, or a check that failed (exit 1)."""

    exit_code = NOT_FOUND
