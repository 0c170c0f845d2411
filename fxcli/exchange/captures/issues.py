"""What went wrong while reading a capture: counted, with the first few line numbers kept."""

from __future__ import annotations

from dataclasses import dataclass, field

EXAMPLES_KEPT = 20


@dataclass
class Issues:
    """Skipped lines of one file: a total, and the first examples as (line number, reason)."""

    file: str
    skipped: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    def skip(self, line_no: int, reason: str) -> None:
        """Count a line that was not imported because it is damaged or unknown."""
        self.skipped += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append((line_no, reason))

    def ignore(self, what: str) -> None:
        """Count a valid record that fx deliberately does not store (e.g. klines)."""
        self.ignored[what] = self.ignored.get(what, 0) + 1

    def lines(self) -> list[str]:
        """One line per example, `file:line: reason`, for people."""
        out = [f"{self.file}:{line}: {reason}" for line, reason in self.examples]
        if self.skipped > len(self.examples):
            out.append(f"{self.file}: ... and {self.skipped - len(self.examples)} more skipped lines")
        return out
