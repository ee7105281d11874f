"""Update middlewares: one transaction per update, duplicate updates dropped, the user's roles loaded."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update, User

from application.ports import UnitOfWork
from domain.orders.status import Role

logger = logging.getLogger(__name__)

UOW_KEY = "uow"
ROLES_KEY = "roles"

UnitOfWorkFactory = Callable[[], UnitOfWork]
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWorkMiddleware(BaseMiddleware):
    """Runs each update in its own unit of work and handles every update id at most once."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self.uow_factory = uow_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Marks the update processed, runs the handler, and commits both together or neither."""
        if not isinstance(event, Update):
            return await handler(event, data)
        async with self.uow_factory() as uow:
            if not await uow.updates.mark(event.update_id):
                logger.debug("Update %s was already processed; dropped", event.update_id)
                await _answer_replayed_press(event, data)
                return None
            data[UOW_KEY] = uow
            try:
                result = await handler(event, data)
            except BaseException:
                await uow.rollback()
                raise
            finally:
                # Error handlers run after this transaction is over and must not use it.
                data.pop(UOW_KEY, None)
            await uow.commit()
            return result


async def _answer_replayed_press(update: Update, data: dict[str, Any]) -> None:
    """Answers a press whose effect was committed before a crash cut its answer off (the spinner stops)."""
    query = update.callback_query
    bot = data.get("bot")
    if query is None or bot is None:
        return
    # Telegram refuses a second answer of a press that was answered after all: nothing is lost then.
    with contextlib.suppress(TelegramAPIError):
        await bot.answer_callback_query(query.id)


class RolesMiddleware(BaseMiddleware):
    """Loads the roles of the user behind the update; configured admins are always admins."""

    def __init__(self, admin_ids: Iterable[int]) -> None:
        self.admin_ids = frozenset(admin_ids)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Puts `roles: frozenset[Role]` into the handler data."""
        user: User | None = data.get("event_from_user")
        roles: frozenset[Role] = frozenset()
        if user is not None:
            roles = await data[UOW_KEY].staff.roles_of(user.id)
            if user.id in self.admin_ids:
                roles = roles | {Role.ADMIN}
        data[ROLES_KEY] = roles
        return await handler(event, data)


async def bootstrap_admins(uow_factory: UnitOfWorkFactory, admin_ids: Iterable[int], now: datetime) -> None:
    """Grants the admin role in the database to every configured admin (idempotent)."""
    ids = sorted(set(admin_ids))
    if not ids:
        return
    async with uow_factory() as uow:
        granted = [user_id for user_id in ids if await uow.staff.grant(user_id, Role.ADMIN, by=None, at=now)]
        await uow.commit()
    if granted:
        logger.info("Granted the admin role to %d configured admin(s)", len(granted))
