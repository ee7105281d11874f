"""Composition root: builds the concrete objects from the settings and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
from application.sla_sweeps import SlaSweeper, SweepSettings
from bot.commands import set_commands
from bot.config import TEAM_CHAT_ROLES, Settings
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import PoI18n, create_i18n
from bot.inbox import UpdateProcessor
from bot.middlewares import bootstrap_admins
from bot.polling import poll, unless_stopped
from bot.webhook import build_webhook_app
from domain.clock import Clock, SystemClock
from domain.kpi import department_lookup
from domain.review import ReviewPolicy, parse_threshold
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy import load_policy
from handlers import all_commands
from handlers.payment import PaymentSetup
from presentation.notifications import TelegramNotices, build_review_setup
from presentation.outbound_note import TelegramOutboundNotes
from presentation.outbox_refusals import TelegramRefusalNotices
from presentation.reports import SupervisionDocuments
from presentation.sla_alerts import SlaAlertTexts, render_with
from scheduler.jobs import build_scheduler
from scheduler.outbox_sender import OutboxSender
from storage.database import create_engine, create_session_factory, migrate
from storage.fsm import SqlFsmStorage
from storage.inbox import SqlUpdateInbox
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
    payment_setup: PaymentSetup = field(default_factory=PaymentSetup)

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
            "payment_setup": self.payment_setup,
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
        payment_setup_of(settings),
    )


def payment_setup_of(settings: Settings) -> PaymentSetup:
    """The payment settings the handlers need (issue 12)."""
    token = settings.payment_provider_token
    return PaymentSetup(token.get_secret_value() if token is not None else None)


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
    stop: when given, setting it stops serving updates and the process's signals are left alone;
    otherwise SIGINT and SIGTERM stop it. Either way the updates under way finish first.
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
    token = settings.bot_token.get_secret_value()
    # The bot answering updates waits out short flood control in place; the outbox sender's reschedules.
    bot = build_bot(token, settings.telegram_api_base, reply_retry_seconds=settings.reply_retry_seconds)
    sender_bot = build_bot(token, settings.telegram_api_base)
    dispatcher = build_dispatcher(
        uow_factory=uow_factory,
        i18n=i18n,
        admin_ids=settings.admin_ids,
        storage=build_storage(settings, session_factory),
    )
    for key, value in workflow.handler_data().items():
        dispatcher[key] = value
    processor = UpdateProcessor(SqlUpdateInbox(session_factory), dispatcher, bot, clock)
    documents = StoredDocuments(uow_factory)
    sender = OutboxSender(
        SqlOutboxQueue(session_factory),
        sender_bot,
        clock,
        lease=settings.outbox_lease,
        documents=documents,
        reports=documents,
        refusals=TelegramRefusalNotices(i18n, settings.default_language, settings.order_desk_chat_id),
    )
    sweeper = SlaSweeper(
        uow_factory=uow_factory,
        clock=clock,
        sla=workflow.sla,
        team_chats=workflow.team_chats,
        texts=SlaAlertTexts(
            render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)),
            locale=settings.default_language,
            zone=workflow.sla.calendar.zone,
        ),
        settings=SweepSettings(
            sweep_seconds=settings.sla_sweep_seconds,
            escalate_after=settings.escalation_delay,
        ),
        # No event handlers: the customer heard of the cancellation; its completion is bookkeeping.
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
        serving = stop or asyncio.Event()
        with contextlib.nullcontext() if stop is not None else stop_on_signals(serving):
            await dispatcher.emit_startup(bot=bot)
            try:
                if settings.webhook_url:
                    await serve_webhook(bot, dispatcher, processor, settings, serving)
                else:
                    allowed = dispatcher.resolve_used_update_types()
                    await poll(bot, processor, serving, allowed_updates=allowed)
            finally:
                # Closes the FSM storage, once no update is being processed any more.
                await dispatcher.emit_shutdown(bot=bot)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        sender_stop.set()
        if sender_task is not None:
            await sender_task
        if api_runner is not None:
            await api_runner.cleanup()
        await bot.session.close()
        await sender_bot.session.close()
        await engine.dispose()


async def serve_webhook(
    bot: Bot, dispatcher: Dispatcher, processor: UpdateProcessor, settings: Settings, stop: asyncio.Event
) -> None:
    """Processes what the inbox holds, then serves the webhook and registers it with Telegram until `stop`."""
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    secret = settings.webhook_secret.get_secret_value()
    app = build_webhook_app(processor, secret_token=secret, path=settings.webhook_path)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        # What a crash left in the inbox goes first; a stop meanwhile leaves the rest for the next start.
        await unless_stopped(processor.recover(), stop)
        if stop.is_set():
            return
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
        await stop.wait()
    finally:
        # No new update is taken; those stored and under way finish (or wait for the next start).
        await runner.cleanup()
        await processor.close()


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Sets `stop` when the process receives SIGINT or SIGTERM, while the block runs."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def wait_for_stop_signal() -> None:
    """Returns when the process receives SIGINT or SIGTERM."""
    stop = asyncio.Event()
    with stop_on_signals(stop):
        await stop.wait()
