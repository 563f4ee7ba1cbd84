"""Injected time, so deadlines, expiry and cancellation windows are testable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until moved; for tests and reproducible demos."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a value without an offset is refused, not guessed."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # Python's "Invalid isoformat string" or "year 0 is out of range"
        raise ValueError(
            f"time {text!r} is not an ISO 8601 instant: write it like 2026-01-05T08:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value.astimezone(UTC)


def clock_from_setting(setting: str) -> Clock:
    """Build the clock named by ``ITPTRACE_CLOCK``."""
    if setting == "system":
        return SystemClock()
    return FixedClock(parse_instant(setting))
