"""What the management commands share: argument types, exit codes, a text progress bar."""

from __future__ import annotations

import sys
from datetime import date
from typing import IO, Any

from django.core.management.base import CommandError

from core.errors import DomainError

# Exit codes of every command: 0 ok, 1 a business failure or finding, 2 usage.
EXIT_FINDING = 1
EXIT_USAGE = 2


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def business_failure(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_FINDING)


def calendar_day(value: str) -> date:
    """argparse type: YYYY-MM-DD."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def domain_details(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, list) else []
    extra = "; ".join(f"{d.get('path') or 'input'}: {d.get('message')}" for d in details)
    return f"{exc.message} ({extra})" if extra else exc.message


class ProgressBar:
    """`[#####.....] 50/100 label` on stderr, redrawn in place; silent when stderr is not a
    terminal unless forced, so logs and pipes stay clean."""

    def __init__(
        self, total: int, *, label: str = "", stream: IO[str] | None = None, force: bool = False
    ) -> None:
        self.total, self.label, self.done = max(total, 0), label, 0
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self._drawn = -1

    def advance(self, step: int = 1) -> None:
        self.done += step
        percent = 100 if not self.total else min(100, self.done * 100 // self.total)
        if self.enabled and percent != self._drawn:
            filled = percent // 5
            bar = "#" * filled + "." * (20 - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {self.label}")
            self.stream.flush()
            self._drawn = percent

    def close(self) -> None:
        if self.enabled and self._drawn >= 0:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
