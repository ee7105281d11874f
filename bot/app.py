"""Composition root: builds the concrete objects from the settings and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import build_api_app, parse_api_keys
from application.aftersales import sweep_aftersales
from application.aftersales_ports import AftersalesSetup
from application.binding import BindingRepository, binding_token, telegram_link
from application.claims import ClaimsSetup
from application.conversation import ChatLanguages, ConversationSetup, remind_overdue
from application.customer_channels import CustomerChannels, record_delivery
from application.exception_delays import follow_up_compensation
from application.exception_report import ExceptionReportSetup, exception_report_sweep
from application.exceptions import ExceptionSetup
from application.execution import ExecutionSetup
from application.kpi import KpiSetup
from application.notifier import build_notifier
from application.ports import ApiOrderLink, OutboxMessage, StoredDocument, UnitOfWork
from application.reports import ReportSetup, StoredReport, monthly_report
from application.retention import run_retention
from application.review import ReviewSetup
from application.services import EventHandlers
from application.sla_sweep_settings import SweepSettings
from application.sla_sweeps import SlaSweeper
from bot.commands import set_commands
from bot.config import TEAM_CHAT_ROLES, Settings
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import PoI18n, create_i18n
from bot.inbox import UpdateProcessor
from bot.metrics import Check, OpsEndpoints
from bot.middlewares import bootstrap_admins
from bot.polling import poll, unless_stopped
from bot.webhook import build_webhook_app
from domain.clock import Clock, SystemClock
from domain.exceptions.causes import cause_catalog
from domain.kpi import department_lookup
from domain.review import ReviewPolicy, parse_threshold
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from handlers import all_commands
from handlers.payment import PaymentSetup
from presentation.archive import PdfArchiveDocuments
from presentation.claims_texts import ClaimNotices
from presentation.conversation_texts import TelegramConversationTexts
from presentation.documents import CompanyDetails, ConfirmationDocuments
from presentation.email_texts import EmailNotices
from presentation.exception_report import ExceptionReportTexts
from presentation.notifications import TelegramNotices, build_review_setup
from presentation.outbound_note import TelegramOutboundNotes
from presentation.outbox_refusals import TelegramRefusalNotices
from presentation.reports import SupervisionDocuments
from presentation.sla_alerts import SlaAlertTexts, render_with
from presentation.survey_texts import AftersalesNotices
from scheduler.channels import ChannelDelivery, SmtpMailer, SmtpSettings, WebhookPoster
from scheduler.job_lock import RedisJobLock
from scheduler.jobs import build_scheduler
from scheduler.outbox_sender import OutboxSender
from scheduler.shared_rate_limit import SharedRateLimiter
from storage.binding_repository import SqlBindingRepository
from storage.conversation_repository import SqlChatLanguages, SqlConversationStore
from storage.database import create_engine, create_session_factory, migrate_apart, parallel_writers
from storage.exception_report_repository import SqlExceptionReportQueries
from storage.fsm import SqlFsmStorage
from storage.health import SqlOpsQueries
from storage.inbox import SqlUpdateInbox
from storage.kpi_repository import SqlKpiQueries
from storage.outbox_queue import SqlOutboxQueue, SqlTeamChats
from storage.uow import SqlUnitOfWork

if TYPE_CHECKING:
    # Redis is imported where it is connected: an instance without REDIS_URL never loads it (issue 17).
    from aiogram.fsm.storage.redis import RedisEventIsolation
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)


def build_storage(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> BaseStorage:
    """Chooses the FSM storage: Redis when configured, else the configured database."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return SqlFsmStorage(session_factory)


@dataclass
class SharedState:
    """What the instances of one bot share in Redis: a lock per user, the sending limits, the job ticks."""

    redis: Redis
    isolation: RedisEventIsolation
    limiter: SharedRateLimiter
    job_lock: RedisJobLock


def build_shared_state(settings: Settings, token: str) -> SharedState | None:
    """Connects to Redis when configured; the keys are the bot's own (its id), as Telegram's limits are."""
    if not settings.redis_url:
        return None
    from aiogram.fsm.storage.redis import RedisEventIsolation
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis_url)
    prefix = f"orderdesk:{token.split(':', 1)[0]}"
    return SharedState(
        redis,
        RedisEventIsolation(redis),
        SharedRateLimiter(redis, prefix=f"{prefix}:limits"),
        RedisJobLock(redis, prefix=f"{prefix}:jobs"),
    )


async def start_ops_server(settings: Settings, ops: OpsEndpoints) -> web.AppRunner | None:
    """Serves /healthz, /readyz and /metrics when METRICS_PORT is set."""
    if settings.metrics_port is None:
        return None
    app = web.Application()
    ops.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    logger.info("Health and metrics on %s:%s", settings.metrics_host, settings.metrics_port)
    return runner


async def apply_migrations(settings: Settings) -> None:
    """Brings the database schema up to date (in a child process: Alembic stays out of the bot's memory)."""
    await migrate_apart(settings.database_url)
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
    bot_username: str | None = None
    aftersales_setup: AftersalesSetup | None = None
    conversation_setup: ConversationSetup | None = None
    payment_setup: PaymentSetup = field(default_factory=PaymentSetup)
    exception_report_setup: ExceptionReportSetup | None = None
    claims_setup: ClaimsSetup | None = None
    exception_setup: ExceptionSetup | None = None

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
            "bindings_of": bindings_of,
            "aftersales_setup": self.aftersales_setup,
            "conversation_setup": self.conversation_setup,
            "chat_languages": ChatLanguages(chat_language_of, set_chat_language),
            "payment_setup": self.payment_setup,
            "exception_report_setup": self.exception_report_setup,
            "claims_setup": self.claims_setup,
            "exception_setup": self.exception_setup
            or ExceptionSetup(self.clock, self.sla, self.event_handlers),
        }


def company_of(settings: Settings) -> CompanyDetails:
    """The company the confirmations come from (COMPANY_* settings)."""
    return CompanyDetails(
        settings.company_name,
        settings.company_address,
        settings.company_phone,
        settings.company_email,
        settings.company_website,
    )


def customer_channels(
    settings: Settings,
    i18n: PoI18n,
    sla: SlaContext,
    documents: ConfirmationDocuments,
    bot_username: str | None,
) -> CustomerChannels:
    """How customers and platforms beyond Telegram are told: email (SMTP_HOST), webhooks, chat links."""
    return CustomerChannels(
        email=EmailNotices(i18n, documents) if settings.smtp_host else None,
        bindings_of=bindings_of,
        bot_username=bot_username or settings.bot_username,
        platform_of=platform_of,
        webhooks=frozenset(settings.webhooks),
        sla=sla,
    )


def build_workflow(
    settings: Settings, clock: Clock, i18n: PoI18n, *, bot_username: str | None = None
) -> Workflow:
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
    documents = ConfirmationDocuments(company_of(settings), settings.timezone, sla)
    # The notices, and an exception case's follow-up of a compensation finance paid (issue 14).
    event_handlers = follow_up_compensation(
        build_notifier(
            ClaimNotices(
                AftersalesNotices(
                    TelegramNotices(i18n, settings.timezone, review_policy, documents),
                    i18n,
                    bot_username or settings.bot_username,
                ),
                i18n,
            ),
            team_chat_of,
            team_language=settings.default_language,
            channels=customer_channels(settings, i18n, sla, documents, bot_username),
            chat_language=chat_language_of,
        )
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
        bot_username or settings.bot_username,
        AftersalesSetup(clock, sla, event_handlers, settings.aftersales()),
        conversation_setup=ConversationSetup(
            clock,
            sla,
            team_chat_of,
            chat_language_of,
            conversations_of,
            TelegramConversationTexts(i18n, settings.timezone),
            settings.default_language,
        ),
        payment_setup=payment_setup_of(settings),
        exception_report_setup=exception_report_setup_of(settings, clock, i18n),
        claims_setup=ClaimsSetup(clock, sla, event_handlers, timezone=settings.timezone),
        exception_setup=ExceptionSetup(clock, sla, event_handlers, settings.exceptions()),
    )


def exception_report_setup_of(settings: Settings, clock: Clock, i18n: PoI18n) -> ExceptionReportSetup:
    """The monthly exception report and /improve (issue 14, R-6.5): causes from the shipped cause list."""
    causes = {kind.value: entry.causes for kind, entry in cause_catalog().types.items()}
    return ExceptionReportSetup(
        clock,
        ZoneInfo(settings.timezone),
        exception_report_queries_of,
        ExceptionReportTexts(i18n, settings.timezone),
        team_chat_of,
        causes,
        chat_language=chat_language_of,
        locale=settings.default_language,
    )


def exception_report_queries_of(uow: UnitOfWork) -> SqlExceptionReportQueries:
    """The exception report's queries on the unit of work's transaction."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("the exception report is read from the SQL database")
    return SqlExceptionReportQueries(uow.session)


async def chat_language_of(uow: UnitOfWork, chat_id: int) -> str | None:
    """Looks up the language a team chat chose with /lang (issue 18)."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("team chat languages live in the SQL database")
    return await SqlChatLanguages(uow.session).language_of(chat_id)


async def set_chat_language(uow: UnitOfWork, chat_id: int, language: str) -> int:
    """Sets the language of a team chat (every department using it)."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("team chat languages live in the SQL database")
    return await SqlChatLanguages(uow.session).set_language(chat_id, language)


async def remind_unanswered(uow_factory: Callable[[], SqlUnitOfWork], setup: ConversationSetup | None) -> int:
    """Reminds customer service of the customers waiting past the answer time, in a transaction of its own."""
    if setup is None:
        return 0
    async with uow_factory() as uow:
        told = await remind_overdue(uow, setup)
        await uow.commit()
    return told


def conversations_of(uow: UnitOfWork) -> SqlConversationStore:
    """The customer conversations on the unit of work's transaction."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("conversations live in the SQL database")
    return SqlConversationStore(uow.session)


def aftersales_jobs(
    uow_factory: Callable[[], SqlUnitOfWork], workflow: Workflow, i18n: PoI18n, settings: Settings
) -> dict[str, Callable[[], Awaitable[object]]]:
    """The after-sales sweep and the daily retention job of the scheduler (R-7)."""
    setup = workflow.aftersales_setup
    if setup is None:
        return {}
    documents = PdfArchiveDocuments(i18n, settings.timezone, settings.default_language)
    return {
        "aftersales": lambda: sweep_aftersales(uow_factory, setup, documents),
        "retention": lambda: run_retention(uow_factory, setup),
    }


async def retention_command(settings: Settings, *, dry_run: bool, clock: Clock | None = None) -> list[str]:
    """Runs the retention job once (`python -m bot retention [--dry-run]`); returns the lines to print."""
    await apply_migrations(settings)
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    try:
        setup = AftersalesSetup(
            clock or SystemClock(),
            SlaContext(
                load_policy(settings.sla_policy_file),
                BusinessCalendar(settings.timezone, settings.holiday_country, settings.working_time),
            ),
            settings=settings.aftersales(),
        )
        report = await run_retention(lambda: SqlUnitOfWork(session_factory), setup, dry_run=dry_run)
    finally:
        await engine.dispose()
    verb = "would be erased" if dry_run else "erased"
    lines = [
        f"{due.display_id}\tarchived {due.archived_at.date().isoformat()}"
        f"\terase from {due.erase_on.isoformat()}"
        for due in report.due
    ]
    lines.append(f"{len(report.due)} orders {verb}" + ("" if dry_run else f", {report.failed} failed"))
    if not dry_run:
        lines += [f"{key}: {value}" for key, value in sorted(report.counts.items())]
    return lines


def exception_report_job(
    uow_factory: Callable[[], SqlUnitOfWork], workflow: Workflow
) -> Callable[[], Awaitable[object]] | None:
    """The scheduler's sweep that queues last month's exception report to management (R-6.5)."""
    setup = workflow.exception_report_setup
    if setup is None:
        return None
    return lambda: exception_report_sweep(uow_factory, setup)


def payment_setup_of(settings: Settings) -> PaymentSetup:
    """The payment settings the handlers need (issue 12)."""
    token = settings.payment_provider_token
    return PaymentSetup(token.get_secret_value() if token is not None else None)


async def team_chat_of(uow: UnitOfWork, department: str) -> int | None:
    """Looks a department's chat up in the database, where it follows supergroup migrations."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("team chats live in the SQL database")
    return await SqlTeamChats(uow.session).chat_of(department)


def bindings_of(uow: UnitOfWork) -> BindingRepository:
    """The chat-binding tokens and consents on the unit of work's transaction."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("chat bindings live in the SQL database")
    return SqlBindingRepository(uow.session)


async def platform_of(uow: UnitOfWork, order_id: str) -> ApiOrderLink | None:
    """The platform API key that created the order, if one did."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("API orders live in the SQL database")
    return await uow.api.by_order(order_id)


async def bot_username_of(bot: Bot, settings: Settings) -> str | None:
    """The bot's username for t.me links: BOT_USERNAME, else Telegram's getMe (None if unreachable)."""
    if settings.bot_username:
        return settings.bot_username
    try:
        me = await bot.get_me()
    except Exception as error:
        logger.warning("getMe failed (%s); the API answers carry no telegram_link", type(error).__name__)
        return None
    return me.username


def channel_delivery(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    documents: StoredDocuments,
    told: Callable[[OutboxMessage, datetime], Awaitable[None]],
) -> ChannelDelivery:
    """Delivers the outbox's email and webhook rows (issue 12)."""
    mailer = None
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        mailer = SmtpMailer(
            SmtpSettings(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                settings.smtp_user,
                password,
                settings.smtp_starttls,
            )
        )
    keys = parse_api_keys(settings.api_keys.get_secret_value()) if settings.api_keys else {}
    webhooks = WebhookPoster(settings.webhooks, keys) if settings.webhooks else None
    return ChannelDelivery(
        SqlOutboxQueue(session_factory),
        clock,
        mailer=mailer,
        webhooks=webhooks,
        documents=documents,
        on_delivered=told,
    )


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

    async def link_of(order_id: str) -> str | None:
        """The order's one-time Telegram link, for the API's answer."""
        if not workflow.bot_username:
            return None
        token = await binding_token(uow_factory(), bindings_of, order_id, workflow.clock.now())
        return telegram_link(workflow.bot_username, token)

    app = build_api_app(
        uow_factory,
        workflow.clock,
        parse_api_keys(settings.api_keys.get_secret_value()),
        handlers=workflow.event_handlers,
        sla=workflow.sla,
        links=link_of,
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
    on_sender: Callable[[OutboxSender], None] | None = None,
) -> None:
    """Migrates, wires everything, publishes the command menus and serves updates until stopped.

    clock: the time everything reads (the demo injects a fast-forwardable one); the wall clock by default.
    stop: when given, setting it stops serving updates and the process's signals are left alone;
    otherwise SIGINT and SIGTERM stop it. Either way the updates under way finish first.
    on_sweeper: when given, receives the SLA sweeper the scheduler runs, so the demo can sweep (and post
    a digest) right after moving its clock instead of waiting for the next scheduled run.
    on_sender: when given, receives the outbox sender, so the demo can deliver what a sweep wrote before
    it moves its clock on (each message stamped at the moment it was written, issue 18).
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
    token = settings.bot_token.get_secret_value()
    # The bot answering updates waits out short flood control in place; the outbox sender's reschedules.
    bot = build_bot(token, settings.telegram_api_base, reply_retry_seconds=settings.reply_retry_seconds)
    sender_bot = build_bot(token, settings.telegram_api_base)
    workflow = build_workflow(settings, clock, i18n, bot_username=await bot_username_of(bot, settings))
    shared = build_shared_state(settings, token)
    dispatcher = build_dispatcher(
        uow_factory=uow_factory,
        i18n=i18n,
        admin_ids=settings.admin_ids,
        storage=build_storage(settings, session_factory),
        events_isolation=shared.isolation if shared is not None else None,
    )
    for key, value in workflow.handler_data().items():
        dispatcher[key] = value
    inbox = SqlUpdateInbox(session_factory, lease=settings.inbox_lease)
    processor = UpdateProcessor(inbox, dispatcher, bot, clock)
    checks: dict[str, Check] = {"redis": shared.redis.ping} if shared is not None else {}
    ops = OpsEndpoints(SqlOpsQueries(session_factory), clock, checks)
    documents = StoredDocuments(uow_factory)

    async def told(message: OutboxMessage, at: datetime) -> None:
        """Closes the "customer told" clock when a notice reached the customer (R-5.2)."""
        await record_delivery(uow_factory(), message, at, workflow.sla)

    channels = channel_delivery(settings, session_factory, clock, documents, told)
    sender = OutboxSender(
        SqlOutboxQueue(session_factory),
        sender_bot,
        clock,
        lease=settings.outbox_lease,
        documents=documents,
        reports=documents,
        refusals=TelegramRefusalNotices(i18n, settings.default_language, settings.order_desk_chat_id),
        channels=channels,
        on_delivered=told,
        shared_limiter=shared.limiter if shared is not None else None,
    )

    def alert_texts(language: str) -> SlaAlertTexts:
        """The SLA sweeps' texts in one language (each team chat reads its own, issue 18)."""
        return SlaAlertTexts(
            render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)),
            locale=language,
            zone=workflow.sla.calendar.zone,
        )

    sweeper = SlaSweeper(
        uow_factory=uow_factory,
        clock=clock,
        sla=workflow.sla,
        team_chats=workflow.team_chats,
        texts=alert_texts(settings.default_language),
        settings=SweepSettings(
            sweep_seconds=settings.sla_sweep_seconds,
            escalate_after=settings.escalation_delay,
            parallel_chats=parallel_writers(settings.database_url),
        ),
        chat_language=chat_language_of,
        texts_in=alert_texts,
        after_sweep=lambda: remind_unanswered(uow_factory, workflow.conversation_setup),
        # No event handlers: the customer heard of the cancellation; its completion is bookkeeping.
    )
    if on_sweeper is not None:
        on_sweeper(sweeper)
    if on_sender is not None:
        on_sender(sender)
    jobs = aftersales_jobs(uow_factory, workflow, i18n, settings)
    scheduler = build_scheduler(
        sweeper,
        timezone=settings.timezone,
        monthly_report=lambda: monthly_report(uow_factory, workflow.report_setup),
        aftersales=jobs.get("aftersales"),
        retention=jobs.get("retention"),
        exception_report=exception_report_job(uow_factory, workflow),
        job_lock=shared.job_lock if shared is not None else None,
    )
    sender_stop = asyncio.Event()
    sender_task: asyncio.Task[None] | None = None
    api_runner: web.AppRunner | None = None
    ops_runner: web.AppRunner | None = None
    reclaimer: asyncio.Task[None] | None = None
    try:
        await bootstrap_admins(uow_factory, settings.admin_ids, clock.now())
        await seed_team_chats(uow_factory, settings, clock.now())
        await set_commands(bot, i18n, all_commands(), settings.team_chats())
        sender_task = asyncio.create_task(sender.run_forever(sender_stop), name="outbox-sender")
        scheduler.start()
        api_runner = await start_platform_api(settings, uow_factory, workflow)
        ops_runner = await start_ops_server(settings, ops)
        serving = stop or asyncio.Event()
        # Takes over the updates an instance that died left in the shared inbox.
        every = max(1.0, settings.inbox_lease_seconds / 3)
        reclaimer = asyncio.create_task(
            processor.reclaim_forever(inbox.reclaim, serving, every), name="inbox-reclaim"
        )
        with contextlib.nullcontext() if stop is not None else stop_on_signals(serving):
            await dispatcher.emit_startup(bot=bot)
            freeze_startup_heap()
            try:
                if settings.webhook_url:
                    await serve_webhook(bot, dispatcher, processor, settings, serving, ops)
                else:
                    allowed = dispatcher.resolve_used_update_types()
                    await poll(bot, processor, serving, allowed_updates=allowed)
            finally:
                # Closes the FSM storage, once no update is being processed any more.
                await dispatcher.emit_shutdown(bot=bot)
    finally:
        # A sweep under way ends before the connections it uses close.
        await scheduler.stop()
        sender_stop.set()
        if sender_task is not None:
            await sender_task
        if reclaimer is not None:
            reclaimer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reclaimer
        await channels.close()
        if api_runner is not None:
            await api_runner.cleanup()
        if ops_runner is not None:
            await ops_runner.cleanup()
        if shared is not None:
            await shared.redis.aclose()
        await bot.session.close()
        await sender_bot.session.close()
        await engine.dispose()


def freeze_startup_heap() -> int:
    """Exempts what start-up built from the garbage collector's full collections; returns how many objects.

    Imports, pydantic schemas, routers and the database metadata make some 300,000 objects that live
    as long as the process. A full collection walked all of them, some 250 ms once every thousand
    updates or so (a quarter of a millisecond on each, issue 17); frozen, it walks only what updates
    leave behind. Collected first, so that start-up garbage is not kept.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def serve_webhook(
    bot: Bot,
    dispatcher: Dispatcher,
    processor: UpdateProcessor,
    settings: Settings,
    stop: asyncio.Event,
    ops: OpsEndpoints | None = None,
) -> None:
    """Processes what the inbox holds, then serves the webhook and registers it with Telegram until `stop`."""
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    secret = settings.webhook_secret.get_secret_value()
    app = build_webhook_app(processor, secret_token=secret, path=settings.webhook_path)
    if ops is not None:
        # A reverse proxy or load balancer checks the instance where it sends the webhooks.
        ops.add_routes(app)
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
