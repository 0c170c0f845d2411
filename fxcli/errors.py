"""Errors a user can act on: each carries a one-line message and the exit code it maps to."""

from __future__ import annotations

BAD_INPUT = 2
NOT_FOUND = 1


class FxError(Exception):
    """Bad input (exit 2): the message names what is wrong and where (file, key, line).

    The message is kept on one line, control characters escaped (`one_line`): it echoes paths and
    values the user gave, which may hold anything.
    """

    exit_code = BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class NothingFoundError(FxError):
    """A query that found nothing, or a check that failed (exit 1)."""

    exit_code = NOT_FOUND


def not_utf8(path: object, exc: UnicodeDecodeError) -> str:
    """The message for a file that is not UTF-8 text, with the first byte that is not."""
    return f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} cannot be decoded)"


def one_line(message: str) -> str:
    """`message` on one line: whitespace runs (newlines too) become one space, other control
    characters are escaped as repr() would, so a path can never move the cursor or split a line."""
    text = " ".join(message.split())
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)
