"""When a failed delivery is tried again: exponential backoff with jitter, waits rounded up."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta


def later(now: datetime, seconds: float) -> datetime:
    """Returns `now` plus `seconds`, rounded up to the microsecond so the wait is never cut short."""
    return now + timedelta(microseconds=math.ceil(seconds * 1_000_000))


def retry_delay(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after the given number of attempts: doubling from base up to cap, with jitter."""
    backoff = min(cap, base * 2 ** (attempts - 1))
    # Jitter spreads the retries of many messages that failed together.
    return backoff * rng.uniform(0.5, 1.0)
