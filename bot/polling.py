"""Long polling that acknowledges an update only once it is stored in the inbox (issue 11, finding 7).

aiogram's start_polling asks for the next offset (which tells Telegram the updates before it
arrived) as soon as it has handed an update to its handler, so a crash before the handler's
commit lost the update. Here each batch is stored in the inbox in one transaction first; only
then is the next offset asked for. A crash before that commit gets the batch again from Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter, TelegramUnauthorizedError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response
from aiogram.utils.backoff import Backoff, BackoffConfig

from bot.inbox import UpdateProcessor

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds Telegram holds a getUpdates open while there is nothing new.
POLL_TIMEOUT = 10
BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.6, jitter=0.1)


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates answered as Telegram's JSON, so that the inbox stores each update as it came."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


# aiogram reads the answer through this pydantic generic, rebuilt whenever nothing refers to it.
_RAW_UPDATES_RESPONSE = Response[list[dict[str, Any]]]


async def poll(
    bot: Bot,
    processor: UpdateProcessor,
    stop: asyncio.Event,
    *,
    allowed_updates: list[str],
    hold_seconds: int = POLL_TIMEOUT,
) -> None:
    """Processes what the inbox holds, then long-polls until `stop` is set; the updates under way finish."""
    # getUpdates is refused while a webhook is set, e.g. after switching from webhook mode.
    await bot.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    backoff = Backoff(BACKOFF)
    request_timeout = int((bot.session.timeout or 0) + hold_seconds)
    try:
        # What a crash left in the inbox goes first; a stop meanwhile leaves the rest for the next start.
        await unless_stopped(processor.recover(), stop)
        while not stop.is_set():
            request = GetRawUpdates(offset=offset, timeout=hold_seconds, allowed_updates=allowed_updates)
            try:
                updates = await unless_stopped(bot(request, request_timeout=request_timeout), stop)
                if updates is None:
                    return
                await processor.receive(updates)
            except TelegramUnauthorizedError:
                raise
            except TelegramRetryAfter as error:
                logger.warning(
                    "getUpdates hit Telegram's flood control; polling again in %s s", error.retry_after
                )
                await _sleep_unless_stopped(error.retry_after, stop)
                continue
            except Exception as error:
                # Telegram unreachable or the database failing: the batch is asked for again later.
                delay = backoff.next_delay
                logger.warning("Polling failed (%s); trying again in %.1f s", type(error).__name__, delay)
                await _sleep_unless_stopped(delay, stop)
                continue
            backoff.reset()
            ids = [update["update_id"] for update in updates if isinstance(update.get("update_id"), int)]
            if ids:
                # Asking for the next offset confirms the stored batch.
                offset = max(ids) + 1
    finally:
        await processor.close()


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """Awaits the work; None, with the work cancelled, if `stop` is set first."""
    fetch = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([fetch, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not fetch.done():
            # E.g. the updates a getUpdates would have brought are not confirmed: Telegram sends them again.
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
    return None if fetch.cancelled() else fetch.result()


async def _sleep_unless_stopped(seconds: float, stop: asyncio.Event) -> None:
    """Sleeps, waking early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
