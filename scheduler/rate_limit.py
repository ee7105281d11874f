"""Token buckets for Telegram's sending limits, on an injectable time source.

Telegram allows a bot about 30 messages per second overall, 20 per minute in one group and one
per second in one private chat. Every bucket here holds a single token: messages are spaced
evenly, which keeps every sliding window within its limit (a bucket of capacity c would let a
window of length w see c + rate * w messages).

Times are plain seconds from the time source (monotonic, or a test clock); keep them small
(relative to a start) so that float rounding stays far below a microsecond.
"""

from __future__ import annotations

from collections.abc import Callable

# Float rounding must not make an exactly due token look a hair short.
_EPSILON = 1e-9


class TokenBucket:
    """Up to `capacity` tokens, refilled continuously at `rate` tokens per second; starts full."""

    def __init__(self, rate: float, capacity: float = 1.0, *, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a bucket needs a positive rate and room for at least one token")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._stamp = now

    def level(self, now: float) -> float:
        """Returns how many tokens the bucket holds at `now`."""
        return min(self.capacity, self._tokens + max(0.0, now - self._stamp) * self.rate)

    def delay(self, now: float) -> float:
        """Returns the seconds until a token is available (0 if one is)."""
        # After a pause the refill starts in the future.
        start = max(now, self._stamp)
        missing = 1.0 - self.level(start)
        if missing <= _EPSILON:
            return start - now
        return start - now + missing / self.rate

    def take(self, now: float) -> None:
        """Spends one token; raises if none is available."""
        level = self.level(now)
        if level < 1.0 - _EPSILON:
            raise RuntimeError(f"no token before {self.delay(now):.3f}s from now")
        self._tokens = max(0.0, level - 1.0)
        self._stamp = now

    def pause_until(self, until: float, *, now: float) -> None:
        """Empties the bucket so that its next token comes at `until` (or later, if it would anyway)."""
        if until > now + self.delay(now):
            # Refilling from zero one token-time before `until` yields exactly one token at `until`.
            self._tokens = 0.0
            self._stamp = until - 1.0 / self.rate

    def is_full(self, now: float) -> bool:
        """Tells whether the bucket has refilled completely (and can be forgotten)."""
        return self.level(now) >= self.capacity - _EPSILON


class TelegramRateLimiter:
    """One overall bucket plus one bucket per chat: groups (negative ids) and private chats."""

    # Forgetting idle chat buckets keeps memory flat; a full bucket is the same as a new one.
    _PRUNE_ABOVE = 10_000

    def __init__(
        self,
        time: Callable[[], float],
        *,
        overall_per_second: float = 30.0,
        group_per_minute: float = 20.0,
        private_per_second: float = 1.0,
    ) -> None:
        self._time = time
        self._group_rate = group_per_minute / 60.0
        self._private_rate = private_per_second
        self._overall = TokenBucket(overall_per_second, now=time())
        self._chats: dict[int, TokenBucket] = {}

    def overall_delay(self) -> float:
        """Returns the seconds until any message may go out."""
        return self._overall.delay(self._time())

    def chat_delay(self, chat_id: int) -> float:
        """Returns the seconds until a message may go to this chat (ignoring the overall limit)."""
        bucket = self._chats.get(chat_id)
        return 0.0 if bucket is None else bucket.delay(self._time())

    def acquire(self, chat_id: int) -> None:
        """Spends the overall token and the chat's token for one message; raises if either is missing."""
        now = self._time()
        bucket = self._bucket(chat_id, now)
        if bucket.delay(now) > 0 or self._overall.delay(now) > 0:
            raise RuntimeError(f"no token to send to chat {chat_id} now")
        bucket.take(now)
        self._overall.take(now)

    def pause(self, chat_id: int, seconds: float) -> None:
        """Holds the chat back for `seconds` (Telegram's retry_after)."""
        now = self._time()
        self._bucket(chat_id, now).pause_until(now + seconds, now=now)

    def _bucket(self, chat_id: int, now: float) -> TokenBucket:
        """Returns the chat's bucket, creating a full one for a chat not seen lately."""
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= self._PRUNE_ABOVE:
                self._chats = {chat: kept for chat, kept in self._chats.items() if not kept.is_full(now)}
            rate = self._group_rate if chat_id < 0 else self._private_rate
            bucket = self._chats[chat_id] = TokenBucket(rate, now=now)
        return bucket
