"""Process-wide progress reporting, so a CLI progress bar can follow work run inside Prefect flows."""

from __future__ import annotations

from collections.abc import Callable

Reporter = Callable[[str, int, int], None]
_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> None:
    """Install (or remove with None) the function called as ``reporter(label, done, total)``."""
    global _reporter
    _reporter = reporter


def report(label: str, done: int, total: int) -> None:
    """Report progress of a long step (no-op without a reporter)."""
    if _reporter is not None:
        _reporter(label, done, total)
