"""Composition root: builds the concrete objects from the settings and runs the bot."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import build_api_app, parse_api_keys
from application.execution import ExecutionSetup
from application.kpi import KpiSetup
from application.notifications import build_notifier
from application.ports import StoredDocument, UnitOfWork
from application.reports import ReportSetup, StoredReport, monthly_report
from application.review import ReviewSetup
from application.services import EventHandlers
from bot.commands import set_commands
from bot.config import TEAM_CHAT_ROLES, Settings
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import PoI18n, create_i18n
from bot.middlewares import bootstrap_admins
from bot.webhook import build_webhook_app
from domain.clock import Clock, SystemClock
from domain.kpi import department_lookup
from domain.review import ReviewPolicy, parse_threshold
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy import load_policy
from handlers import all_commands
from presentation.notifications import TelegramNotices, build_review_setup
from presentation.outbound_note import TelegramOutboundNotes
from presentation.reports import SupervisionDocuments
from scheduler.jobs import build_scheduler
from scheduler.outbox_sender import OutboxSender
from scheduler.sla import SlaSweeper, SweepSettings, render_with
from storage.database import create_engine, create_session_factory, migrate
from storage.fsm import SqlFsmStorage
from storage.kpi_repository import SqlKpiQueries
from storage.outbox_queue import SqlOutboxQueue, SqlTeamChats
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


@dataclass
class Workflow:
    """The business wiring every handler, use case and job shares."""

    clock: Clock
    timezone: str
    sla: SlaContext
    team_chats: dict[str, int]
    event_handlers: EventHandlers
    review_setup: ReviewSetup
    execution_setup: ExecutionSetup
    kpi_setup: KpiSetup
    report_setup: ReportSetup

    def handler_data(self) -> dict[str, object]:
        """The values handlers receive by parameter name."""
        return {
            CLOCK_KEY: self.clock,
            "timezone": self.timezone,
            "sla": self.sla,
            "team_chats": self.team_chats,
            "event_handlers": self.event_handlers,
            "review_setup": self.review_setup,
            "execution_setup": self.execution_setup,
            "kpi_setup": self.kpi_setup,
            "report_setup": self.report_setup,
        }


def build_workflow(settings: Settings, clock: Clock, i18n: PoI18n) -> Workflow:
    """Builds SLA policy, team chats and the side effects of every status change from the settings."""
    sla = SlaContext(
        load_policy(settings.sla_policy_file),
        BusinessCalendar(settings.timezone, settings.holiday_country, settings.working_time),
    )
    team_chats = {
        key.removesuffix("_chat_id"): chat_id
        for key in TEAM_CHAT_ROLES
        if (chat_id := getattr(settings, key)) is not None
    }
    threshold, currency = parse_threshold(settings.large_order_threshold)
    review_policy = ReviewPolicy(threshold, currency)
    # The one notification policy, shared by every use case: domain events -> outbox rows.
    event_handlers = build_notifier(
        TelegramNotices(i18n, settings.timezone, review_policy),
        team_chat_of,
        team_language=settings.default_language,
    )
    review_setup = build_review_setup(
        i18n=i18n,
        clock=clock,
        timezone=settings.timezone,
        order_desk_chat_id=settings.order_desk_chat_id,
        policy=review_policy,
        sla=sla,
        handlers=event_handlers,
    )
    execution_setup = ExecutionSetup(
        clock, settings.timezone, TelegramOutboundNotes(i18n, settings.timezone), event_handlers, sla=sla
    )
    kpi_setup = KpiSetup(kpi_queries_of, sla, clock)
    report_setup = ReportSetup(
        kpi=kpi_setup,
        queries_of=kpi_queries_of,
        documents=SupervisionDocuments(i18n, settings.timezone, department_lookup(sla.policy)),
        chat_of=team_chat_of,
        locale=settings.default_language,
    )
    return Workflow(
        clock,
        settings.timezone,
        sla,
        team_chats,
        event_handlers,
        review_setup,
        execution_setup,
        kpi_setup,
        report_setup,
    )


async def team_chat_of(uow: UnitOfWork, department: str) -> int | None:
    """Looks a department's chat up in the database, where it follows supergroup migrations."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("team chats live in the SQL database")
    return await SqlTeamChats(uow.session).chat_of(department)


def kpi_queries_of(uow: UnitOfWork) -> SqlKpiQueries:
    """The KPI and supervision queries on the unit of work's transaction."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("the KPIs are read from the SQL database")
    return SqlKpiQueries(uow.session)


class StoredDocuments:
    """Lets the outbox sender load generated documents and reports in a short transaction of its own."""

    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork]) -> None:
        self._uow_factory = uow_factory

    async def get_document(self, document_id: int) -> StoredDocument | None:
        """Loads one stored document."""
        async with self._uow_factory() as uow:
            return await uow.reviews.get_document(document_id)

    async def get_report(self, report_id: int) -> StoredReport | None:
        """Loads one stored report document."""
        async with self._uow_factory() as uow:
            return await SqlKpiQueries(uow.session).get_report(report_id)


async def seed_team_chats(
    uow_factory: Callable[[], SqlUnitOfWork], settings: Settings, now: datetime
) -> None:
    """Records the configured team chats so a group's migration to a supergroup can be followed."""
    async with uow_factory() as uow:
        chats = SqlTeamChats(uow.session)
        for key in TEAM_CHAT_ROLES:
            if (chat_id := getattr(settings, key)) is not None:
                await chats.seed(key.removesuffix("_chat_id"), chat_id, now)
        await uow.commit()


async def start_platform_api(
    settings: Settings, uow_factory: Callable[[], SqlUnitOfWork], workflow: Workflow
) -> web.AppRunner | None:
    """Serves the platform intake API when API_PORT is set."""
    if settings.api_port is None or settings.api_keys is None:
        return None
    app = build_api_app(
        uow_factory,
        workflow.clock,
        parse_api_keys(settings.api_keys.get_secret_value()),
        handlers=workflow.event_handlers,
        sla=workflow.sla,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.api_host, settings.api_port).start()
    logger.info("Platform API listening on %s:%s", settings.api_host, settings.api_port)
    return runner


async def run(
    settings: Settings,
    *,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    on_sweeper: Callable[[SlaSweeper], None] | None = None,
) -> None:
    """Migrates, wires everything, publishes the command menus and serves updates until stopped.

    clock: the time everything reads (the demo injects a fast-forwardable one); the wall clock by default.
    stop: when given, setting it stops long polling and the process's signals are left alone.
    on_sweeper: when given, receives the SLA sweeper the scheduler runs, so the demo can sweep (and post
    a digest) right after moving its clock instead of waiting for the next scheduled run.
    """
    clock = clock or SystemClock()
    if settings.bot_token is None:
        raise ValueError("run() needs settings.bot_token")
    await apply_migrations(settings)
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)

    def uow_factory() -> SqlUnitOfWork:
        """Opens a new SQL unit of work."""
        return SqlUnitOfWork(session_factory)

    i18n = create_i18n(settings.default_language)
    workflow = build_workflow(settings, clock, i18n)
    bot = build_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base)
    dispatcher = build_dispatcher(
        uow_factory=uow_factory,
        i18n=i18n,
        admin_ids=settings.admin_ids,
        storage=build_storage(settings, session_factory),
    )
    for key, value in workflow.handler_data().items():
        dispatcher[key] = value
    documents = StoredDocuments(uow_factory)
    sender = OutboxSender(
        SqlOutboxQueue(session_factory),
        bot,
        clock,
        lease=settings.outbox_lease,
        documents=documents,
        reports=documents,
    )
    sweeper = SlaSweeper(
        uow_factory=uow_factory,
        clock=clock,
        sla=workflow.sla,
        team_chats=workflow.team_chats,
        render=render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)),
        settings=SweepSettings(
            sweep_seconds=settings.sla_sweep_seconds,
            escalate_after=settings.escalation_delay,
            locale=settings.default_language,
        ),
    )
    if on_sweeper is not None:
        on_sweeper(sweeper)
    scheduler = build_scheduler(
        sweeper,
        timezone=settings.timezone,
        monthly_report=lambda: monthly_report(uow_factory, workflow.report_setup),
    )
    sender_stop = asyncio.Event()
    sender_task: asyncio.Task[None] | None = None
    api_runner: web.AppRunner | None = None
    try:
        await bootstrap_admins(uow_factory, settings.admin_ids, clock.now())
        await seed_team_chats(uow_factory, settings, clock.now())
        await set_commands(bot, i18n, all_commands(), settings.team_chats())
        sender_task = asyncio.create_task(sender.run_forever(sender_stop), name="outbox-sender")
        scheduler.start()
        api_runner = await start_platform_api(settings, uow_factory, workflow)
        if settings.webhook_url:
            await serve_webhook(bot, dispatcher, settings)
        else:
            await poll(bot, dispatcher, stop)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        sender_stop.set()
        if sender_task is not None:
            await sender_task
        if api_runner is not None:
            await api_runner.cleanup()
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
