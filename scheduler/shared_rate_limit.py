"""One set of Telegram sending limits in Redis, shared by the outbox senders of every instance (issue 17).

Telegram counts per bot token, not per process: 30 messages per second overall, one per second in
a private chat, 20 per minute in a group. Each limit is a single-token bucket kept as its next
free moment (GCRA with no burst, as in scheduler.rate_limit): a message may go when every bucket's
moment has come, and taking it moves each moment on by one emission interval. One Lua script
checks and takes all of them atomically, on Redis's clock, so instances with skewed clocks still
share one schedule. A 429 pauses every instance until its retry_after has passed.

The intervals are stretched by `margin` (3 % by default), so that the jitter between the moment a
message is granted and the moment Telegram receives it cannot push a window over its limit. A
sender that asks a little after its moment (the Redis round trip, the sleep's overshoot) keeps the
schedule: the overall bucket moves on from at most `catch_up` of an interval in the past instead of
from now, which lost that lateness at every message (93.6 % of the rate). The two together keep the
jitter a window tolerates as before (30 intervals less the catch-up still last over 1.02 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # redis is imported where a connection is made: an instance without Redis never loads it (issue 17).
    from redis.asyncio import Redis


# KEYS: overall bucket, chat bucket, pause. ARGV: overall interval, chat interval, overall catch-up
# (microseconds).
# Returns {0, 0} when the message may go (both buckets taken), else {chat wait, overall wait} in
# microseconds; a chat wait means "not this chat now", an overall wait "any chat, a little later".
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local overall_step = tonumber(ARGV[1])
local chat_step = tonumber(ARGV[2])
local catch_up = tonumber(ARGV[3])
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
local overall = tonumber(redis.call('GET', KEYS[1]) or '0')
local chat = tonumber(redis.call('GET', KEYS[2]) or '0')
local chat_wait = math.max(chat - now, paused - now, 0)
if chat_wait > 0 then
  return {chat_wait, 0}
end
if overall > now then
  return {0, overall - now}
end
redis.call('SET', KEYS[1], math.max(overall, now - catch_up) + overall_step, 'PX', 60000)
redis.call('SET', KEYS[2], math.max(chat, now) + chat_step, 'PX', math.ceil(chat_step / 1000) + 1000)
return {0, 0}
"""

# KEYS: pause. ARGV: seconds. Moves the pause's end to now + seconds unless it is later already.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + math.floor(tonumber(ARGV[1]) * 1000000)
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > paused then
  redis.call('SET', KEYS[1], until_, 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return until_
"""

Sleep = Callable[[float], Awaitable[None]]


class SharedRateLimiter:
    """Telegram's sending limits for one bot token, in Redis; every sender of the token uses the same keys."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "orderdesk:limits",
        overall_per_second: float = 30.0,
        group_per_minute: float = 20.0,
        private_per_second: float = 1.0,
        margin: float = 0.03,
        catch_up: float = 0.25,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        stretch = 1.0 + margin
        self._overall_step = round(1_000_000 * stretch / overall_per_second)
        self._group_step = round(1_000_000 * stretch * 60.0 / group_per_minute)
        self._private_step = round(1_000_000 * stretch / private_per_second)
        self._catch_up = round(self._overall_step * catch_up)
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)
        self._sleep = sleep

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SharedRateLimiter:
        """Connects to the Redis at url."""
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), **kwargs)

    async def acquire(self, chat_id: int) -> float:
        """Takes a sending slot for the chat, waiting in place for the overall limit.

        Returns 0 once the slot is taken, or the seconds until the chat (or a pause) allows a message:
        then nothing is taken and the message should wait that long.
        """
        chat_step = self._group_step if chat_id < 0 else self._private_step
        keys = [f"{self._prefix}:overall", f"{self._prefix}:chat:{chat_id}", f"{self._prefix}:pause"]
        while True:
            chat_wait, overall_wait = cast(
                list[int],
                await self._acquire(keys=keys, args=[self._overall_step, chat_step, self._catch_up]),
            )
            if chat_wait > 0:
                return chat_wait / 1_000_000
            if overall_wait <= 0:
                return 0.0
            await self._sleep(overall_wait / 1_000_000)

    async def pause(self, seconds: float) -> None:
        """Holds every sender back for `seconds` (Telegram's retry_after)."""
        await self._pause(keys=[f"{self._prefix}:pause"], args=[seconds])

    async def close(self) -> None:
        """Closes the Redis connection."""
        await self._redis.aclose()
