"""Dispatchers for handler tests: the project's middlewares in production order with chosen module routers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.fsm.storage.memory import MemoryStorage

from bot.i18n import LanguageMiddleware, PoI18n, create_i18n
from bot.middlewares import RolesMiddleware, UnitOfWorkFactory, UnitOfWorkMiddleware


def detached(router: Router) -> Router:
    """Frees a module router from the dispatcher of a previous test."""
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
    return router


def routed_dispatcher(
    new_uow: UnitOfWorkFactory,
    routers: Iterable[Router],
    *,
    admin_ids: Iterable[int] = (),
    i18n: PoI18n | None = None,
    **data: Any,
) -> Dispatcher:
    """The unit-of-work, roles and language middlewares, then the routers; `data` is the handler data."""
    dispatcher = Dispatcher(storage=MemoryStorage(), **data)
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(new_uow))
    dispatcher.update.outer_middleware(RolesMiddleware(admin_ids))
    dispatcher.update.outer_middleware(LanguageMiddleware(i18n or create_i18n("en")))
    for router in routers:
        dispatcher.include_router(detached(router))
    return dispatcher
