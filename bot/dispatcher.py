"""Builds the Bot and the Dispatcher with middlewares and routers, for production and tests alike."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiogram import Bot, Dispatcher, Router, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods.base import Response, TelegramMethod
from aiogram.utils.i18n import I18n

from bot.i18n import LanguageMiddleware
from bot.middlewares import RolesMiddleware, UnitOfWorkFactory, UnitOfWorkMiddleware
from bot.replies import ReplyingSession, install_reply_middlewares
from handlers import all_commands, build_root_router
from handlers.conversation import LeftoverMessages

# Handler data key of the command list /help shows.
COMMAND_SPECS_KEY = "command_specs"


def build_bot(
    token: str, api_base: str, session: BaseSession | None = None, *, reply_retry_seconds: float | None = None
) -> Bot:
    """Creates the Bot talking to the configured Bot API server, HTML by default.

    reply_retry_seconds: for the bot that answers updates, how long a reply may wait out a 429 in
    place (bot.replies); the outbox sender's bot does without, it reschedules on its own.
    """
    keep_response_models()
    if session is None:
        session = ReplyingSession(api=TelegramAPIServer.from_base(api_base))
    if reply_retry_seconds is not None:
        install_reply_middlewares(session, reply_retry_seconds)
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@functools.cache
def keep_response_models() -> tuple[type[Response[Any]], ...]:
    """Builds aiogram's response model of every Bot API method once and keeps it for the process.

    aiogram reads each answer through Response[<what the method returns>], a pydantic generic that
    pydantic keeps only while something refers to it: once the garbage collector had dropped one,
    the next reply built its schema again (some 10 % of an update's time, issue 17).
    """
    returning = {
        method.__returning__
        for method in vars(methods).values()
        if isinstance(method, type) and issubclass(method, TelegramMethod) and method is not TelegramMethod
    }
    generic: Any = Response
    return tuple(generic[kind] for kind in sorted(returning, key=repr))


def build_dispatcher(
    *,
    uow_factory: UnitOfWorkFactory,
    i18n: I18n,
    admin_ids: Iterable[int] = (),
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
) -> Dispatcher:
    """Wires the middlewares in order (transaction, roles, language) and includes every router.

    events_isolation: a lock per user shared by several instances (aiogram's RedisEventIsolation);
    it is taken before the update's transaction opens and held until it is over. Without one, the
    transaction opens before the dialog state is read, so that a dialog state kept in the same
    database is read in it (one connection per update, not two).
    """
    if events_isolation is None:
        dispatcher = Dispatcher(storage=storage or MemoryStorage())
        # The dispatcher put its FSM middleware first; it goes inside the transaction.
        dispatcher.update.outer_middleware.unregister(dispatcher.fsm)
        dispatcher.update.outer_middleware(UnitOfWorkMiddleware(uow_factory, dispatcher.fsm))
        dispatcher.update.outer_middleware(dispatcher.fsm)
    else:
        dispatcher = Dispatcher(storage=storage or MemoryStorage(), events_isolation=events_isolation)
        # The FSM middleware reads the dialog state before this transaction opens.
        dispatcher.update.outer_middleware(UnitOfWorkMiddleware(uow_factory))
    dispatcher[COMMAND_SPECS_KEY] = all_commands()
    dispatcher.update.outer_middleware(RolesMiddleware(admin_ids))
    language = LanguageMiddleware(i18n)
    dispatcher.update.outer_middleware(language)
    # Error handlers run outside the update's middlewares; this gives them the user's language back.
    dispatcher.errors.outer_middleware(language)
    # Innermost: a message no router took still gets an answer (issue 18).
    dispatcher.update.outer_middleware(LeftoverMessages())
    dispatcher.include_router(build_root_router())
    check_filters_on_the_loop(dispatcher)
    return dispatcher


def check_filters_on_the_loop(router: Router) -> None:
    """Makes every synchronous filter of the router tree run on the event loop, not in a thread.

    aiogram calls a plain function filter (a dialog State, a magic filter such as F.photo) through
    asyncio.to_thread: a /start walked past some thirty of them, each a thread hop and a wake-up
    of the loop, which cost more than the handler (issue 17). A filter is a quick pure check.
    """
    for each in router.chain_tail:
        for observer in each.observers.values():
            # The observer's own filters (router.message.filter(...)) sit on a stand-in handler.
            for handler in (observer._handler, *observer.handlers):
                for event_filter in handler.filters or ():
                    if not event_filter.awaitable:
                        event_filter.callback = _awaitable(event_filter.callback)
                        event_filter.awaitable = True


class _OnTheLoop:
    """A synchronous filter, called in place by a coroutine."""

    def __init__(self, check: Callable[..., Any]) -> None:
        # The filter itself stays reachable: a router tree indexed again (handlers.routing) reads it.
        self.__wrapped__ = check

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the filter."""
        return self.__wrapped__(*args, **kwargs)


def _awaitable(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Wraps a synchronous filter in a coroutine that calls it in place."""
    return _OnTheLoop(check)
