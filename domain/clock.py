"""Clock port: the domain never reads the system time itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Returns the current UTC time."""
        return datetime.now(UTC)


class OffsetClock:
    """The wall clock shifted by an adjustable offset (demo fast-forward)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        """Returns the shifted UTC time."""
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Moves the clock forward by delta."""
        self.offset += delta


class FixedClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.current = start.astimezone(UTC)

    def now(self) -> datetime:
        """Returns the stored time."""
        return self.current

    def advance(self, delta: timedelta) -> None:
        """Moves the clock forward by delta."""
        self.current += delta
