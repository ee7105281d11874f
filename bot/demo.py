"""`python -m bot demo`: the real bot against the built-in Bot API sandbox, played from a browser page.

One process runs three things on loopback: the sandbox Bot API (``sandbox.server``), the bot itself
(``bot.app.run``, the production code, long polling) with a fast-forwardable clock, and the demo
page (``sandbox.demo_app``). Each start and each Reset wipes ``data/demo/``, creates the cast (demo
customers and one staff member per role, granted in the database), the six team group chats, and
starts the bot afresh.

Moving the clock forward sweeps the SLA clocks at once (and posts the progress digest of every
09:00 or 15:00 it passes, at that moment), so warnings, breaches and digests show up right after the
click instead of at the next scheduled sweep.

What customers and platforms receive outside Telegram shows at /channels (issue 12): a local SMTP
sink (aiosmtpd) the bot mails to, and the demo shop's webhook endpoint with every call it got; the
shop's API (a random key each start) places a platform order from that page.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import secrets
import shutil
import sys
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from api.openapi import ORDER_EXAMPLE
from application.sla_sweeps import SlaSweeper
from bot.app import apply_migrations, run, wait_for_stop_signal
from bot.config import ConfigError, Settings, load_settings
from bot.logging import setup_logging
from domain.clock import OffsetClock
from domain.orders.status import Role
from domain.sla.calendar import BusinessCalendar, Duration
from sandbox.channels import ChannelsPage, Mailbox, WebhookLog, free_port
from sandbox.demo_app import DemoHooks, DemoPage, DemoPerson, DemoTeamChat, DemoWorld
from sandbox.server import FakeBotApi, run_fake_bot_api
from scheduler.outbox_sender import OutboxSender
from storage.database import create_engine, create_session_factory
from storage.uow import SqlUnitOfWork

logger = logging.getLogger(__name__)

DEMO_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = Path("data/demo")
DEMO_TIMEZONE = "Asia/Shanghai"
# A token of the right shape; it only ever reaches the loopback sandbox.
DEMO_TOKEN = "7000000001:AAdemo-sandbox-token-never-sent-to-telegram"
# Telegram Payments in the demo are the sandbox's emulation: a test provider token, nothing is charged.
DEMO_PAYMENT_TOKEN = "284685063:TEST:demo-sandbox-payments"
DATABASE_FILE = "orderdesk.sqlite3"
DEMO_BOT_USERNAME = "orderdesk_demo_bot"
BOT_START_SECONDS = 60.0
BOT_STOP_SECONDS = 15.0
EXIT_CONFIG = 2
# The demo shop: its API key name and its webhook path on the demo's own endpoint.
DEMO_SHOP = "demo-shop"
WEBHOOK_PATH = "/demo-shop/orderdesk-events"


class PortUnavailable(Exception):
    """The page's port cannot be listened on (taken, or not allowed)."""


@dataclass(frozen=True)
class TeamChatSpec:
    """One of the six team group chats: its settings key, title and fixed sandbox chat id."""

    key: str
    title: str
    chat_id: int

    @property
    def setting(self) -> str:
        """The Settings field configuring this chat (e.g. order_desk_chat_id)."""
        return f"{self.key}_chat_id"


@dataclass(frozen=True)
class CastMember:
    """A demo Telegram user: a customer (no role) or a staff member with one role and a team chat."""

    user_id: int
    first_name: str
    last_name: str
    language: str
    role: Role | None = None
    team: str | None = None


TEAM_CHATS: tuple[TeamChatSpec, ...] = (
    TeamChatSpec("order_desk", "Order desk", -1_001_000_000_001),
    TeamChatSpec("warehouse", "Warehouse", -1_001_000_000_002),
    TeamChatSpec("logistics", "Logistics", -1_001_000_000_003),
    TeamChatSpec("customer_service", "Customer service", -1_001_000_000_004),
    TeamChatSpec("finance", "Finance", -1_001_000_000_005),
    TeamChatSpec("management", "Management", -1_001_000_000_006),
)

CUSTOMERS: tuple[CastMember, ...] = (
    CastMember(8_001, "Emma", "Brown", "en"),
    CastMember(8_002, "李娜", "", "zh"),
)

STAFF: tuple[CastMember, ...] = (
    CastMember(7_001, "Ada", "Admin", "en", Role.ADMIN, "management"),
    CastMember(7_002, "Olivia", "Desk", "en", Role.ORDER_DESK, "order_desk"),
    CastMember(7_003, "Henry", "Head", "en", Role.ORDER_DESK_HEAD, "order_desk"),
    CastMember(7_004, "王伟", "", "zh", Role.WAREHOUSE, "warehouse"),
    CastMember(7_005, "Lena", "Logistics", "en", Role.LOGISTICS, "logistics"),
    CastMember(7_006, "Chloe", "Care", "en", Role.CUSTOMER_SERVICE, "customer_service"),
    CastMember(7_007, "Felix", "Finance", "en", Role.FINANCE, "finance"),
    CastMember(7_008, "Maya", "Manager", "en", Role.MANAGEMENT, "management"),
)

FAST_FORWARD_HOUR = timedelta(hours=1)
FAST_FORWARD_WORKING_DAY = Duration.parse("1wd")


class DemoRuntime:
    """Owns one run of the demo world (sandbox, database, bot) and can fast-forward or start it over."""

    def __init__(self, data_dir: Path, *, timezone: str = DEMO_TIMEZONE) -> None:
        self.data_dir = data_dir
        self.timezone = timezone
        self.calendar = BusinessCalendar(timezone)
        self.clock = OffsetClock()
        self.world: DemoWorld | None = None
        self.status = "stopped"
        self._stack: AsyncExitStack | None = None
        self._stop: asyncio.Event | None = None
        self._bot_task: asyncio.Task[None] | None = None
        # The running bot's SLA sweeper, handed over by run() once built.
        self._sweeper: SlaSweeper | None = None
        self._sender: OutboxSender | None = None
        # What customers and the demo shop receive outside Telegram (issue 12).
        self.api_key = secrets.token_urlsafe(16)
        self.mailbox = Mailbox()
        self.webhooks = WebhookLog(self.api_key)
        self.api_port: int | None = None

    def hooks(self) -> DemoHooks:
        """Returns the callbacks the demo page uses for the clock, Reset and the bot's state."""
        return DemoHooks(
            now=lambda: self.clock.now(),
            fast_forward=self.fast_forward,
            reset=self.reset,
            bot_status=lambda: self.status,
            timezone=self.timezone,
        )

    async def start(self) -> DemoWorld:
        """Wipes the data directory, creates the cast and chats, and starts the bot; returns the world."""
        self.status = "starting"
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock = OffsetClock()
        self._stack = AsyncExitStack()
        clock = self.clock
        server = await self._stack.enter_async_context(
            run_fake_bot_api(
                DEMO_HOST, 0, bot_username=DEMO_BOT_USERNAME, clock=lambda: clock.now().timestamp()
            )
        )
        self.world = create_world(server)
        channels = await self._start_channels(self._stack)
        settings = demo_settings(server.base_url, self.data_dir / DATABASE_FILE, self.timezone, channels)
        await apply_migrations(settings)
        await grant_staff_roles(settings, self.clock.now())
        self._stop = asyncio.Event()
        self._bot_task = asyncio.create_task(self._run_bot(settings, self._stop), name="demo-bot")
        await self._wait_until_polling(server)
        return self.world

    async def _start_channels(self, stack: AsyncExitStack) -> dict[str, object]:
        """Starts the mailbox and the shop's webhook endpoint; returns the bot's settings for them."""
        self.mailbox.messages.clear()
        self.webhooks.calls.clear()
        smtp_port = self.mailbox.start()
        stack.callback(self.mailbox.stop)
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self.webhooks.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        hook_port = free_port()
        await web.TCPSite(runner, DEMO_HOST, hook_port).start()
        self.api_port = free_port()
        return {
            "smtp_host": DEMO_HOST,
            "smtp_port": smtp_port,
            "smtp_starttls": False,
            "smtp_from": "Hai Yun Logistics <orders@haiyun.example>",
            "company_name": "Hai Yun Logistics 海运物流",
            "company_address": "88 Century Avenue, Pudong, Shanghai",
            "company_phone": "+86 21 5555 0100",
            "company_email": "service@haiyun.example",
            "api_port": self.api_port,
            "api_host": DEMO_HOST,
            "api_keys": f"{DEMO_SHOP}:{self.api_key}",
            "api_webhooks": f"{DEMO_SHOP}:http://{DEMO_HOST}:{hook_port}{WEBHOOK_PATH}",
        }

    async def place_platform_order(self) -> dict[str, object]:
        """Places the API's example order as the demo shop; returns the API's answer."""
        body = copy.deepcopy(ORDER_EXAMPLE)
        body["customer"] = {"name": "Mila Novak", "email": "mila.novak@example.com"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://{DEMO_HOST}:{self.api_port}/api/v1/orders",
                json=body,
                headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": secrets.token_hex(8)},
            ) as answer,
        ):
            document: dict[str, object] = await answer.json()
            return {"http_status": answer.status, **document}

    async def stop(self) -> None:
        """Stops the bot gracefully (as SIGTERM would) and closes the sandbox."""
        if self._stop is not None:
            self._stop.set()
        if self._bot_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._bot_task), BOT_STOP_SECONDS)
            except TimeoutError:
                logger.warning("The demo bot did not stop within %ss; cancelling it", BOT_STOP_SECONDS)
                self._bot_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._bot_task
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = self._stop = self._bot_task = None
        self._sweeper = None
        self._sender = None
        self.status = "stopped"

    async def reset(self) -> DemoWorld:
        """Starts over: stops everything, wipes the database and builds a fresh world."""
        await self.stop()
        return await self.start()

    async def fast_forward(self, step: str) -> None:
        """Moves the bot's clock forward one hour or one working day (09:00-18:00, CN calendar).

        On the way it stops at every digest time it passes to sweep and post that digest, and it
        sweeps once more where it lands, as the scheduler would have done had the time really passed.
        """
        now = self.clock.now()
        if step == "hour":
            target = now + FAST_FORWARD_HOUR
        elif step == "working_day":
            target = self.calendar.add(now, FAST_FORWARD_WORKING_DAY)
        else:
            raise ValueError(f"unknown fast-forward step {step!r}")
        sweeper = self._sweeper
        if sweeper is not None:
            for moment in digest_times(now, target, self.timezone, sweeper.settings.digest_hours):
                self.clock.advance(moment - self.clock.now())
                await _run_job("SLA sweep", sweeper.sweep)
                await _run_job("progress digest", sweeper.digest)
                await self._deliver()
        self.clock.advance(target - self.clock.now())
        if sweeper is not None:
            await _run_job("SLA sweep", sweeper.sweep)
            await self._deliver()
        logger.info("Demo clock moved to %s", self.clock.now().isoformat(timespec="minutes"))

    async def _deliver(self) -> None:
        """Sends what is due before the clock moves on, so each message carries the time it was written."""
        if self._sender is not None:
            await _run_job("outbox delivery", self._sender.deliver_due)

    def _keep_sender(self, sender: OutboxSender) -> None:
        """Remembers the running bot's outbox sender for the fast-forward."""
        self._sender = sender

    def _keep_sweeper(self, sweeper: SlaSweeper) -> None:
        """Remembers the running bot's SLA sweeper for the fast-forward."""
        self._sweeper = sweeper

    async def _run_bot(self, settings: Settings, stop: asyncio.Event) -> None:
        """Runs the bot until stopped, keeping its fate in `status` for the page."""
        try:
            await run(
                settings,
                clock=self.clock,
                stop=stop,
                on_sweeper=self._keep_sweeper,
                on_sender=self._keep_sender,
            )
        except Exception:
            logger.exception("The demo bot stopped with an error; press Reset on the page to start over")
            self.status = "failed"
            return
        self.status = "stopped"

    async def _wait_until_polling(self, server: FakeBotApi) -> None:
        """Returns once the bot asks for updates; raises if it died or took too long."""
        assert self._bot_task is not None
        polling = asyncio.create_task(server.wait_for_call("getUpdates", timeout=BOT_START_SECONDS))
        done, _ = await asyncio.wait({polling, self._bot_task}, return_when=asyncio.FIRST_COMPLETED)
        if polling not in done:
            polling.cancel()
            raise RuntimeError("the demo bot stopped while starting; see the log above")
        polling.result()
        self.status = "running"


def digest_times(start: datetime, end: datetime, timezone: str, hours: Iterable[int]) -> list[datetime]:
    """Lists the digest times (the given local hours of every day) after start and up to end, in UTC."""
    zone = ZoneInfo(timezone)
    hours = sorted(set(hours))
    times: list[datetime] = []
    day = start.astimezone(zone).date()
    while hours:
        for hour in hours:
            moment = datetime.combine(day, time(hour), zone).astimezone(UTC)
            if moment > end:
                return times
            if moment > start:
                times.append(moment)
        day += timedelta(days=1)
    return times


async def _run_job(name: str, job: Callable[[], Awaitable[object]]) -> None:
    """Runs a scheduler job now; a failure is logged, as the scheduler would, and the clock still moves."""
    try:
        await job()
    except Exception:
        logger.exception("The %s after the fast-forward failed", name)


def create_world(server: FakeBotApi) -> DemoWorld:
    """Creates the demo customers, staff and team group chats in the sandbox."""
    people = []
    for member in CUSTOMERS:
        user = server.create_user(
            member.first_name,
            last_name=member.last_name or None,
            language_code=member.language,
            user_id=member.user_id,
        )
        label = f"{user.first_name} {member.last_name}".strip() + f" (customer, {member.language})"
        people.append(DemoPerson(user, "customer", label=label))
    staff_users = {}
    for member in STAFF:
        assert member.role is not None
        user = server.create_user(
            member.first_name,
            last_name=member.last_name or None,
            language_code=member.language,
            user_id=member.user_id,
        )
        staff_users[member.user_id] = user
        label = f"{user.first_name} {member.last_name}".strip() + f" ({member.role.value})"
        people.append(DemoPerson(user, "staff", (member.role.value,), label, home=member.team or "private"))
    teams = []
    for spec in TEAM_CHATS:
        members = [staff_users[m.user_id] for m in STAFF if m.team == spec.key or m.role == Role.ADMIN]
        chat = server.create_group(spec.title, members, chat_id=spec.chat_id)
        teams.append(DemoTeamChat(spec.key, chat))
    return DemoWorld(server, people, teams)


def demo_settings(
    api_base: str,
    database: Path,
    timezone: str = DEMO_TIMEZONE,
    channels: dict[str, object] | None = None,
) -> Settings:
    """Returns the bot's settings for the demo: sandbox API, demo database, admins, team chats, channels."""
    admins = [member.user_id for member in STAFF if member.role == Role.ADMIN]
    # No .env: a developer's real token, database or Redis must never leak into the demo.
    return load_settings(
        env_file=None,
        bot_token=DEMO_TOKEN,
        telegram_api_base=api_base,
        database_url=f"sqlite+aiosqlite:///{database.resolve()}",
        redis_url=None,
        admin_ids=admins,
        timezone=timezone,
        webhook_url=None,
        webhook_secret=None,
        payment_provider_token=DEMO_PAYMENT_TOKEN,
        **{spec.setting: spec.chat_id for spec in TEAM_CHATS},
        **(channels or {}),
    )


async def grant_staff_roles(settings: Settings, now: datetime) -> None:
    """Grants every demo staff member their role in the database (the admin too, as ADMIN_IDS does)."""
    engine = create_engine(settings.database_url)
    try:
        async with SqlUnitOfWork(create_session_factory(engine)) as uow:
            for member in STAFF:
                assert member.role is not None
                await uow.staff.grant(member.user_id, member.role, by=None, at=now)
            await uow.commit()
    finally:
        await engine.dispose()


async def serve_demo(
    port: int = DEFAULT_PORT, data_dir: Path = DEFAULT_DATA_DIR, *, stop: asyncio.Event | None = None
) -> None:
    """Runs the demo until SIGINT/SIGTERM (or `stop`), printing the page's URL once it is ready."""
    runtime = DemoRuntime(data_dir)
    world = await runtime.start()
    page = DemoPage(world, runtime.hooks())
    app = page.make_app()
    ChannelsPage(runtime.mailbox, runtime.webhooks, runtime.place_platform_order).install(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, DEMO_HOST, port).start()
        except OSError as error:
            raise PortUnavailable(f"{DEMO_HOST}:{port} ({error.strerror})") from error
        bound = runner.addresses[0][1]
        print(f"open http://{DEMO_HOST}:{bound}", flush=True)
        if stop is None:
            await wait_for_stop_signal()
        else:
            await stop.wait()
    finally:
        await runner.cleanup()
        await runtime.stop()


def main() -> int:
    """Reads DEMO_PORT, DEMO_DATA_DIR and LOG_LEVEL from the environment and runs the demo."""
    try:
        port = int(os.environ.get("DEMO_PORT", DEFAULT_PORT))
    except ValueError:
        print("Configuration error: DEMO_PORT: must be a port number", file=sys.stderr)
        return EXIT_CONFIG
    data_dir = Path(os.environ.get("DEMO_DATA_DIR", DEFAULT_DATA_DIR))
    setup_logging(os.environ.get("LOG_LEVEL", "WARNING").upper(), DEMO_TOKEN)
    try:
        asyncio.run(serve_demo(port, data_dir))
    except ConfigError as error:
        print("\n".join(error.lines), file=sys.stderr)
        return EXIT_CONFIG
    except PortUnavailable as error:
        print(f"The demo cannot listen on {error}: set DEMO_PORT to a free port", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return 0
