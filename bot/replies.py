"""Request middlewares of the bot that answers updates: flood control obeyed, replays made harmless.

`ReplyRetry` (finding 8): a direct reply Telegram answers with 429 is sent again after
`retry_after`, as long as the waits of that request stay within a bound. A reply kept until after
the commit (below) holds no transaction, so it waits without the bound (up to
MAX_REPLY_FLOOD_WAITS times); the bound is for requests made inside the transaction. The wait happens inside
the update's transaction (on SQLite it holds the database's write lock, whose other writers give
up after busy_timeout, 10 s), so the bound is short; beyond it the error goes up, and the update
processor runs the whole update again once the flood control has lifted (bot.inbox).

`ReplaySafe`: an update interrupted by a crash is processed again from its start (bot.inbox),
so its replies may meet their own earlier effects. Answering a callback query a second time,
editing a message into what it already shows and deleting a message already gone are refused by
Telegram; here they count as done, so the replay can reach its commit.

`DeferredReplies` (issue 17): no network I/O inside an update's transaction. While a handler runs
(`collect_replies`), the plain replies it makes (messages, edits, callback answers, deletions) are
kept, the handler gets a stand-in result, and the replies go out in order once the transaction has
committed (`send_replies`); a handler that fails sends none of them. The kept replies are written
(`dump_replies`) into the update's inbox row in the same transaction, so a crash between the commit
and the replies sends them at the next start (`load_replies`), as before at least once. A stand-in
message carries the chat and text but message_id 0: code that needs a sent message's real id
makes its request with `send_now`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, cast

import aiogram.methods
from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    SendChatAction,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Chat, Message
from pydantic_core import to_jsonable_python

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
        """Makes the request, waiting out flood control within the bound (after the commit, without)."""
        waited = 0.0
        bound = math.inf if _AFTER_COMMIT.get() else self.max_wait
        for _ in range(MAX_REPLY_FLOOD_WAITS):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if waited + error.retry_after > bound:
                    raise
                logger.warning(
                    "%s hit Telegram's flood control; sending it again in %s s",
                    method.__api_method__,
                    error.retry_after,
                )
                await self._sleep(error.retry_after)
                waited += error.retry_after
        return await make_request(bot, method)


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


# Requests whose result a handler hardly ever needs: kept until the update's transaction is over.
_DEFERRABLE = (
    SendMessage,
    AnswerCallbackQuery,
    EditMessageText,
    EditMessageReplyMarkup,
    EditMessageCaption,
    DeleteMessage,
    SendChatAction,
)
# How often one kept reply waits for Telegram's flood control before it is given up.
MAX_REPLY_FLOOD_WAITS = 10

Reply = tuple[Bot, TelegramMethod[Any]]
_KEPT: ContextVar[list[Reply] | None] = ContextVar("kept_replies", default=None)
# Set while a kept reply is being sent, or for a request that must go at once.
_NOW: ContextVar[bool] = ContextVar("send_now", default=False)
# Set while kept replies are sent after their transaction: flood control is waited out without a bound.
_AFTER_COMMIT: ContextVar[bool] = ContextVar("after_commit", default=False)
# Set while kept replies are sent: nobody reads what Telegram answers them (ReplyingSession).
_RESULT_UNUSED: ContextVar[bool] = ContextVar("result_unused", default=False)
# What a kept reply's request returns: Telegram said ok, and the result was not read.
_NOT_READ: Response[Any] = Response[Any](ok=True, result=None)


class DeferredReplies(BaseRequestMiddleware):
    """Keeps a handler's plain replies while its transaction is open; the handler gets a stand-in result."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Keeps the request for later when replies are being collected, else makes it."""
        kept = _KEPT.get()
        if kept is None or _NOW.get():
            return await make_request(bot, method)
        if not isinstance(method, _DEFERRABLE) or not _has_numeric_chat(method):
            # A request that goes at once (an invoice, a document) follows the replies kept before it,
            # so the chat reads in the order the handler wrote.
            earlier = list(kept)
            kept.clear()
            await _send_in_order(earlier, asyncio.sleep)
            return await make_request(bot, method)
        kept.append((bot, method))
        # The chain hands on the method's result, though aiogram types it a Response.
        return cast(Response[TelegramType], _stand_in(bot, method))


def _has_numeric_chat(method: TelegramMethod[Any]) -> bool:
    """Whether the method's chat (if it has one) is a numeric id, so that a stand-in can name it."""
    # Asked of a model without the field, getattr goes through pydantic's slow miss path (4 us, not 1).
    if "chat_id" not in type(method).model_fields:
        return True
    chat_id = getattr(method, "chat_id", None)
    return chat_id is None or isinstance(chat_id, int)


def _stand_in(bot: Bot, method: TelegramMethod[Any]) -> object:
    """The result a handler gets for a kept reply: a message without a real id, or True."""
    if not isinstance(method, SendMessage):
        return True
    chat_id = cast(int, method.chat_id)
    chat = Chat(id=chat_id, type="private" if chat_id > 0 else "group")
    return Message(message_id=0, date=datetime.now(UTC), chat=chat, text=method.text).as_(bot)


@contextlib.contextmanager
def collect_replies() -> Iterator[list[Reply]]:
    """Keeps the plain replies made in the block (by bots with DeferredReplies); yields them in order."""
    kept: list[Reply] = []
    token = _KEPT.set(kept)
    try:
        yield kept
    finally:
        _KEPT.reset(token)


@contextlib.contextmanager
def send_now() -> Iterator[None]:
    """Makes the requests of the block at once, also inside a handler's transaction."""
    token = _NOW.set(True)
    try:
        yield
    finally:
        _NOW.reset(token)


def dump_replies(replies: list[Reply]) -> str:
    """Writes kept replies as JSON; the bot's defaults (parse mode...) are left for the sending bot."""
    return json.dumps(
        [
            {
                "method": type(method).__name__,
                "params": _without_defaults(method.model_dump(exclude_unset=True)),
            }
            for _, method in replies
        ],
        ensure_ascii=False,
        default=to_jsonable_python,
    )


def load_replies(payload: str, bot: Bot) -> list[Reply]:
    """Reads replies written by dump_replies, to be sent by `bot`; one that cannot be read is skipped."""
    replies: list[Reply] = []
    for item in json.loads(payload):
        method_class = getattr(aiogram.methods, str(item.get("method")), None)
        if not (isinstance(method_class, type) and issubclass(method_class, _DEFERRABLE)):
            logger.warning("A kept reply names no known method; skipped")
            continue
        replies.append((bot, method_class.model_validate(item.get("params") or {})))
    return replies


def _without_defaults(value: Any) -> Any:
    """Drops the fields left to the bot's defaults, at every depth."""
    if isinstance(value, dict):
        return {key: _without_defaults(item) for key, item in value.items() if not isinstance(item, Default)}
    if isinstance(value, list):
        return [_without_defaults(item) for item in value]
    return value


async def send_replies(replies: list[Reply], sleep: Sleep = asyncio.sleep) -> None:
    """Sends kept replies in order; waits out flood control, logs (and skips) a refused one."""
    token = _AFTER_COMMIT.set(True)
    try:
        await _send_in_order(replies, sleep)
    finally:
        _AFTER_COMMIT.reset(token)


async def _send_in_order(replies: list[Reply], sleep: Sleep) -> None:
    """Sends the replies one after the other."""
    unused = _RESULT_UNUSED.set(True)
    try:
        with send_now():
            await _send_each(replies, sleep)
    finally:
        _RESULT_UNUSED.reset(unused)


async def _send_each(replies: list[Reply], sleep: Sleep) -> None:
    """Sends the replies one after the other, each through flood control."""
    for bot, method in replies:
        for _ in range(MAX_REPLY_FLOOD_WAITS):
            try:
                await bot(method)
                break
            except TelegramRetryAfter as error:
                logger.warning(
                    "%s waits %s s for Telegram's flood control", method.__api_method__, error.retry_after
                )
                await sleep(error.retry_after)
            except TelegramAPIError as error:
                logger.warning("%s was refused: %s", method.__api_method__, type(error).__name__)
                break
        else:
            logger.error("%s given up: Telegram kept refusing it (flood control)", method.__api_method__)


class ReplyingSession(AiohttpSession):
    """The session of the bot that answers updates: a kept reply's answer is checked, not read.

    Telegram answers a sent message with the whole message, which aiogram reads into a Message
    model; nobody reads what a kept reply returns (bot.replies sends them after the commit), so
    only whether Telegram took it is checked (reading them was 4.5 % of a /start's processing in
    a py-spy profile on PostgreSQL, issue 17). A refusal is read and raised as aiogram does.
    """

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        """Checks Telegram's answer; reads its result unless it is a kept reply's."""
        if _RESULT_UNUSED.get() and HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            try:
                answer = self.json_loads(content)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("ok") is True:
                return cast(Response[TelegramType], _NOT_READ)
        return super().check_response(bot, method, status_code, content)


def install_reply_middlewares(session: BaseSession, max_wait: float, sleep: Sleep = asyncio.sleep) -> None:
    """Puts reply deferral, flood-control retries and replay safety on the bot that answers updates."""
    session.middleware(DeferredReplies())
    session.middleware(ReplaySafe())
    session.middleware(ReplyRetry(max_wait, sleep))
