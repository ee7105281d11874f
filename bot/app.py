"""Composition root: builds the concrete objects from the settings and runs the bot."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.commands import set_commands
from bot.config import Settings
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import create_i18n
from bot.middlewares import bootstrap_admins
from bot.webhook import build_webhook_app
from domain.clock import Clock, SystemClock
from domain.ports import UnitOfWork
from handlers import all_commands
from storage.database import create_engine, create_session_factory, migrate
from storage.fsm import SqlFsmStorage
from storage.uow import SqlUnitOfWork

logger = logging.getLogger(__name__)


def build_storage(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> BaseStorage:
    """Chooses the FSM storage: Redis when configured, else the configured database."""
    if settings.redis_url:
        return RedisStorage.from_url(settings.redis_url)
    return SqlFsmStorage(session_factory)


async def apply_migrations(settings: Settings) -> None:
    """Brings the database schema up to date."""
    await migrate(settings.database_url)
    logger.info("Database schema is up to date")


# Handler data key of the clock every time-dependent handler asks for (`clock: Clock`).
CLOCK_KEY = "clock"


async def run(settings: Settings, *, clock: Clock | None = None, stop: asyncio.Event | None = None) -> None:
    """Migrates, wires everything, publishes the command menus and serves updates until stopped.

    clock: the time everything reads (the demo injects a fast-forwardable one); the wall clock by default.
    stop: when given, setting it stops long polling and the process's signals are left alone.
    """
    clock = clock or SystemClock()
    if settings.bot_token is None:
        raise ValueError("run() needs settings.bot_token")
    await apply_migrations(settings)
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)

    def uow_factory() -> UnitOfWork:
        """Opens a new SQL unit of work."""
        return SqlUnitOfWork(session_factory)

    i18n = create_i18n(settings.default_language)
    bot = build_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base)
    dispatcher = build_dispatcher(
        uow_factory=uow_factory,
        i18n=i18n,
        admin_ids=settings.admin_ids,
        storage=build_storage(settings, session_factory),
    )
    dispatcher[CLOCK_KEY] = clock
    try:
        await bootstrap_admins(uow_factory, settings.admin_ids, clock.now())
        await set_commands(bot, i18n, all_commands(), settings.team_chats())
        if settings.webhook_url:
            await serve_webhook(bot, dispatcher, settings)
        else:
            await poll(bot, dispatcher, stop)
    finally:
        # The dispatcher closes its FSM storage itself on shutdown.
        await bot.session.close()
        await engine.dispose()


async def poll(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event | None = None) -> None:
    """Long-polls for the update types the routers handle; SIGINT/SIGTERM (or `stop`) end it gracefully."""
    # getUpdates is refused while a webhook is set, e.g. after switching from webhook mode.
    await bot.delete_webhook(drop_pending_updates=False)
    watcher = asyncio.create_task(_stop_polling_when_set(dispatcher, stop)) if stop is not None else None
    try:
        await dispatcher.start_polling(
            bot,
            allowed_updates=dispatcher.resolve_used_update_types(),
            handle_signals=stop is None,
            close_bot_session=False,
        )
    finally:
        if watcher is not None:
            watcher.cancel()


async def _stop_polling_when_set(dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    """Stops the dispatcher's polling once the stop event is set."""
    await stop.wait()
    while True:
        try:
            await dispatcher.stop_polling()
            return
        except RuntimeError:
            # aiogram refuses to stop polling that has not started yet; it will start in a moment.
            await asyncio.sleep(0.05)


async def serve_webhook(bot: Bot, dispatcher: Dispatcher, settings: Settings) -> None:
    """Serves the webhook and registers it with Telegram until SIGINT/SIGTERM."""
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    secret = settings.webhook_secret.get_secret_value()
    app = build_webhook_app(dispatcher, bot, secret_token=secret, path=settings.webhook_path)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
        await bot.set_webhook(
            url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )
        logger.info(
            "Serving the webhook on %s:%s%s",
            settings.webhook_host,
            settings.webhook_port,
            settings.webhook_path,
        )
        await wait_for_stop_signal()
    finally:
        await runner.cleanup()


async def wait_for_stop_signal() -> None:
    """Returns when the process receives SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
