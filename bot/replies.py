"""Request middlewares of the bot that answers updates: flood control obeyed, replays made harmless.

`ReplyRetry` (finding 8): a direct reply Telegram answers with 429 is sent again after
`retry_after`, as long as the waits of that request stay within a bound. The wait happens inside
the update's transaction (on SQLite it holds the database's write lock, whose other writers give
up after busy_timeout, 10 s), so the bound is short; beyond it the error goes up, and the update
processor runs the whole update again once the flood control has lifted (bot.inbox).

`ReplaySafe`: an update interrupted by a crash is processed again from its start (bot.inbox),
so its replies may meet their own earlier effects. Answering a callback query a second time,
editing a message into what it already shows and deleting a message already gone are refused by
Telegram; here they count as done, so the replay can reach its commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Telegram's descriptions of a refusal that a replayed request meets, by the methods they concern.
_ALREADY_DONE: tuple[tuple[tuple[type[TelegramMethod[Any]], ...], tuple[str, ...]], ...] = (
    ((AnswerCallbackQuery,), ("query is too old", "query id is invalid")),
    ((EditMessageText, EditMessageReplyMarkup, EditMessageCaption), ("message is not modified",)),
    ((DeleteMessage,), ("message to delete not found",)),
)


class ReplyRetry(BaseRequestMiddleware):
    """Sends a request again after each 429 while its waits add up to at most `max_wait` seconds."""

    def __init__(self, max_wait: float, sleep: Sleep = asyncio.sleep) -> None:
        self.max_wait = max_wait
        self._sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Makes the request, waiting out flood control within the bound."""
        waited = 0.0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if waited + error.retry_after > self.max_wait:
                    raise
                logger.warning(
                    "%s hit Telegram's flood control; sending it again in %s s",
                    method.__api_method__,
                    error.retry_after,
                )
                await self._sleep(error.retry_after)
                waited += error.retry_after


class ReplaySafe(BaseRequestMiddleware):
    """Counts a refusal meaning "this was done already" as success (True) for the methods it concerns."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Makes the request; an "already done" refusal becomes a successful True."""
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if not already_done(method, error.message):
                raise
            logger.info("%s was done already (%s); counted as done", method.__api_method__, error.message)
            # The chain hands on the method's result (True for these), though aiogram types it a Response.
            return cast(Response[TelegramType], True)


def already_done(method: TelegramMethod[Any], description: str) -> bool:
    """Whether Telegram refused the request because its effect is already there."""
    lowered = description.lower()
    return any(
        isinstance(method, methods) and any(phrase in lowered for phrase in phrases)
        for methods, phrases in _ALREADY_DONE
    )


def install_reply_middlewares(session: BaseSession, max_wait: float, sleep: Sleep = asyncio.sleep) -> None:
    """Puts flood-control retries and replay safety on the session of the bot that answers updates."""
    session.middleware(ReplaySafe())
    session.middleware(ReplyRetry(max_wait, sleep))
