"""Update middlewares: one transaction per update, duplicate updates dropped, the user's roles loaded."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, cast, runtime_checkable

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import TelegramObject, Update, User

from application.ports import UnitOfWork
from bot.replies import collect_replies, dump_replies, send_replies
from domain.orders.status import Role
from storage.fsm import SqlFsmStorage, storage_key
from storage.inbox import UpdateOpening

logger = logging.getLogger(__name__)

UOW_KEY = "uow"
ROLES_KEY = "roles"
# The user's saved language, read with their roles (bot.i18n uses it instead of a read of its own).
SAVED_LANGUAGE_KEY = "saved_language"
# Handler data key of the Settlement the update processor passes in (bot.inbox).
SETTLEMENT_KEY = "settlement"

UnitOfWorkFactory = Callable[[], UnitOfWork]
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Settlement:
    """Tells the update processor how the update's transaction ended."""

    def __init__(self) -> None:
        self.committed = False
        # The transaction removed the update's inbox row: nothing is left to do.
        self.row_removed = False


# Handler data key of the UpdateOpening the transaction middleware read (the roles middleware uses it).
OPENING_KEY = "update_opening"


@runtime_checkable
class UpdateOpener(Protocol):
    """Processed-updates records that read the sender's roles, language and dialog state too."""

    async def open(self, update_id: int, user_id: int, state_key: str | None) -> UpdateOpening: ...


@runtime_checkable
class InboxSettling(Protocol):
    """Processed-updates records that settle the update's inbox row too (storage.inbox)."""

    async def settle(self, update_id: int, replies: str | None) -> None: ...


class UnitOfWorkMiddleware(BaseMiddleware):
    """Runs each update in its own unit of work and handles every update id at most once.

    The handler's plain replies are sent once the transaction has committed (bot.replies), so no
    transaction waits for Telegram.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, fsm: FSMContextMiddleware | None = None) -> None:
        self.uow_factory = uow_factory
        # The dispatcher's FSM middleware, when it keeps dialogs in this database: the update's
        # first statement reads the dialog state too (issue 17).
        self.fsm = fsm if fsm is not None and isinstance(fsm.storage, SqlFsmStorage) else None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Marks the update processed, runs the handler, and commits both together or neither."""
        if not isinstance(event, Update):
            return await handler(event, data)
        async with self.uow_factory() as uow:
            if not await self._open(uow, event, data):
                logger.debug("Update %s was already processed; dropped", event.update_id)
                await _answer_replayed_press(event, data)
                return None
            data[UOW_KEY] = uow
            try:
                with collect_replies() as replies:
                    result = await handler(event, data)
            except BaseException:
                await uow.rollback()
                raise
            finally:
                # Error handlers run after this transaction is over and must not use it.
                data.pop(UOW_KEY, None)
            settles = _settles(type(uow.updates))
            if settles:
                # The replies are kept with the commit: a crash before they go sends them at the next start.
                settling = cast(InboxSettling, uow.updates)
                await settling.settle(event.update_id, dump_replies(replies) if replies else None)
            await uow.commit()
        settlement = data.get(SETTLEMENT_KEY)
        if isinstance(settlement, Settlement):
            settlement.committed = True
            settlement.row_removed = settles and not replies
        await send_replies(replies)
        return result

    async def _open(self, uow: UnitOfWork, update: Update, data: dict[str, Any]) -> bool:
        """Records the update processed; False if it was already. Reads roles, language and state with it."""
        user: User | None = data.get("event_from_user")
        if user is None or not _opens(type(uow.updates)):
            return await uow.updates.mark(update.update_id)
        context = self.fsm.resolve_event_context(data["bot"], data) if self.fsm is not None else None
        opening = await cast(UpdateOpener, uow.updates).open(
            update.update_id, user.id, storage_key(context.key) if context is not None else None
        )
        data[OPENING_KEY] = opening
        return opening.new


@functools.cache
def _settles(records: type) -> bool:
    """Whether processed-updates records of this class settle inbox rows (a protocol check costs ~10 µs)."""
    return issubclass(records, InboxSettling)


@functools.cache
def _opens(records: type) -> bool:
    """Whether processed-updates records of this class read the sender's roles and dialog with the mark."""
    return issubclass(records, UpdateOpener)


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
        """Puts `roles: frozenset[Role]` into the handler data, and the saved language beside it."""
        user: User | None = data.get("event_from_user")
        roles: frozenset[Role] = frozenset()
        opening: UpdateOpening | None = data.get(OPENING_KEY)
        if opening is not None:
            roles, data[SAVED_LANGUAGE_KEY] = opening.roles, opening.language
        elif user is not None:
            roles, data[SAVED_LANGUAGE_KEY] = await data[UOW_KEY].staff.roles_and_language(user.id)
        if user is not None and user.id in self.admin_ids:
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
