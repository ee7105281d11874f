"""End to end (issue 11, finding 7): the bot is SIGKILLed while users press buttons; no press is lost.

A press counts as received once its update is stored in the inbox (bot.inbox); only then is
Telegram told - the next getUpdates offset, or the webhook's 200. Whatever a kill cuts short is
processed at the next start, and the processed-updates record, written in the handler's own
transaction, keeps a replay from acting twice.

The first two tests kill the bot once, in polling and in webhook mode, while the press's handler
waits for a slow Telegram. The acceptance test kills it fifty times at random moments while
order-desk clerks approve review cards of 70 platform orders (some cards pressed by two clerks at
once), then lets a last, clean start finish: every order must show exactly the effects of one
approval - those of a control order approved without a kill. Its bot processes are forked from a
server that has imported the bot once (tests/e2e/forkserver.py), so that fifty restarts take
seconds each rather than the import's; the seed of each run is in every failure message.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from api.app import build_api_app, parse_api_keys
from api.openapi import ORDER_EXAMPLE
from bot.app import build_workflow, seed_team_chats
from bot.config import load_settings
from bot.i18n import create_i18n
from domain.clock import SystemClock
from domain.orders.status import OrderStatus, Role
from sandbox.server import FakeBotApi, FakeUser, Json
from storage.database import create_engine, create_session_factory, migrate
from storage.models import InboxUpdateRow, OrderAuditRow, OrderRow, OutboxRow, ProcessedUpdateRow
from storage.outbox_queue import SENT
from storage.uow import SqlUnitOfWork
from tests.e2e.conftest import ROOT, TOKEN, BotProcess, free_port

pytestmark = pytest.mark.e2e

StartBot = Callable[..., Coroutine[Any, Any, BotProcess]]

API_KEY = "key-shop-0123456789"
SECRET = "crash-test-secret"
ORDERS = 70
KILLS = 50
DESK_TITLE = "Order desk"
DONE_ZH = "好的，今后我将使用中文与您交流。"


def database_url(tmp_path: Path) -> str:
    """The database the start_bot fixture gives the bot process."""
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Waits until the condition holds; fails the test naming what did not happen."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within}s")
        await asyncio.sleep(0.02)


def polled_since(telegram: FakeBotApi, mark: int) -> bool:
    """Whether the bot asked for updates after the first `mark` calls."""
    return any(call.method == "getUpdates" for call in telegram.calls[mark:])


def confirmed(telegram: FakeBotApi, update_id: int) -> bool:
    """Whether the bot asked for an offset past the update, i.e. told Telegram it has it."""
    offsets = [int(call.params.get("offset") or 0) for call in telegram.calls if call.method == "getUpdates"]
    return any(offset > update_id for offset in offsets)


async def language_of(url: str, user: FakeUser) -> str | None:
    """The language the bot saved for a user."""
    engine = create_engine(url)
    try:
        async with SqlUnitOfWork(create_session_factory(engine)) as uow:
            return await uow.users.language_of(user.id)
    finally:
        await engine.dispose()


async def test_a_press_the_bot_was_killed_in_the_middle_of_is_applied_after_the_restart(
    telegram: FakeBotApi, start_bot: StartBot, tmp_path: Path
) -> None:
    user = telegram.create_user("Anna", language_code="en")
    first = await start_bot(LOG_LEVEL="INFO")
    telegram.send_text(user, None, "/lang")
    picker = await telegram.wait_for_bot_message(user.id, timeout=60)
    # Telegram answers slowly, so the press's replies are still being sent at the kill.
    telegram.answer_delay = 30
    telegram.press_button(user, picker, text="中文")
    press_id = int(telegram.pending_updates[-1]["update_id"])
    await until(lambda: any(c.method == "answerCallbackQuery" for c in telegram.calls), 20, "the press")
    await until(lambda: confirmed(telegram, press_id), 20, "the press's confirmation")

    first.process.kill()
    await first.process.wait()
    # The change commits before the replies go (issue 17): the kill cuts off the replies kept in the
    # inbox row, which the restart sends.
    assert await language_of(database_url(tmp_path), user) == "zh"
    telegram.answer_delay = 0
    await start_bot(LOG_LEVEL="INFO")

    done = await telegram.wait_for_bot_message(user.id, lambda m: m.get("text") == DONE_ZH, timeout=60)
    assert done["chat"]["id"] == user.id
    assert await language_of(database_url(tmp_path), user) == "zh"


async def post_update(port: int, update: Json, within: float) -> int:
    """Delivers an update to the bot's webhook as Telegram does; returns the HTTP status."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/telegram/webhook",
            data=json.dumps(update),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=within),
        ) as response,
    ):
        return response.status


async def serve_webhook(telegram: FakeBotApi, start_bot: StartBot, port: int) -> BotProcess:
    """Starts the bot in webhook mode and waits until it has registered its webhook."""
    mark = len(telegram.calls)
    bot = await start_bot(
        LOG_LEVEL="INFO",
        WEBHOOK_URL="https://bot.example.com/telegram/webhook",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    await until(lambda: any(c.method == "setWebhook" for c in telegram.calls[mark:]), 60, "setWebhook")
    return bot


def take_update(telegram: FakeBotApi) -> Json:
    """Takes the update a user action just queued, to deliver it by webhook instead of getUpdates."""
    return copy.deepcopy(telegram.pending_updates[-1])


async def test_a_webhook_update_answered_200_survives_a_kill_before_its_handler_committed(
    telegram: FakeBotApi, start_bot: StartBot, tmp_path: Path
) -> None:
    port = free_port()
    user = telegram.create_user("Anna", language_code="en")
    first = await serve_webhook(telegram, start_bot, port)
    telegram.send_text(user, None, "/lang")
    assert await post_update(port, take_update(telegram), within=20) == 200
    picker = await telegram.wait_for_bot_message(user.id, timeout=60)
    telegram.answer_delay = 30
    telegram.press_button(user, picker, text="中文")

    # The 200 comes once the press is stored, while its replies still wait for Telegram.
    assert await post_update(port, take_update(telegram), within=10) == 200
    await until(lambda: any(c.method == "answerCallbackQuery" for c in telegram.calls), 20, "the press")
    first.process.kill()
    await first.process.wait()
    # The change commits before the replies go (issue 17): the kill cuts off the replies kept in the
    # inbox row, which the restart sends.
    assert await language_of(database_url(tmp_path), user) == "zh"
    telegram.answer_delay = 0
    await serve_webhook(telegram, start_bot, port)

    done = await telegram.wait_for_bot_message(user.id, lambda m: m.get("text") == DONE_ZH, timeout=60)
    assert done["chat"]["id"] == user.id
    assert await language_of(database_url(tmp_path), user) == "zh"


class ForkServer:
    """Drives tests/e2e/forkserver.py: bot processes started by fork, killed by SIGKILL."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.alive: set[int] = set()

    @classmethod
    async def launch(cls, env: dict[str, str], cwd: Path) -> ForkServer:
        """Starts the fork server (it imports the bot once)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.e2e.forkserver",
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _ask(self, line: str) -> int:
        """Sends one request line and reads the answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()
        return int(await asyncio.wait_for(self.process.stdout.readline(), 120))

    async def start(self, log: Path) -> int:
        """Forks a bot process logging to `log`; returns its pid."""
        pid = await self._ask(f"start {log}")
        self.alive.add(pid)
        return pid

    async def kill(self, pid: int) -> None:
        """SIGKILLs a bot process and waits until it is gone."""
        os.kill(pid, signal.SIGKILL)
        status = await self._ask(f"wait {pid}")
        self.alive.discard(pid)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status

    async def close(self) -> None:
        """Kills what is left and ends the server."""
        for pid in list(self.alive):
            await self.kill(pid)
        assert self.process.stdin is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 20)


@dataclass
class Press:
    """A press on a review card: which order, whose, and its update and query ids."""

    order_id: str
    update_id: int
    query_id: str


async def place_orders(url: str, settings: dict[str, str]) -> list[str]:
    """Places ORDERS orders through the platform API (in this process, on the bot's database)."""
    config = load_settings(env_file=None, **{key.lower(): value for key, value in settings.items()})
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)

        def uow_factory() -> SqlUnitOfWork:
            """Opens a unit of work on the bot's database."""
            return SqlUnitOfWork(sessions)

        clock = SystemClock()
        await seed_team_chats(uow_factory, config, clock.now())
        workflow = build_workflow(config, clock, create_i18n(config.default_language))
        app = build_api_app(
            uow_factory,
            clock,
            parse_api_keys(f"shop:{API_KEY}"),
            handlers=workflow.event_handlers,
            sla=workflow.sla,
        )
        async with TestClient(TestServer(app)) as client:
            for number in range(ORDERS):
                body = copy.deepcopy(ORDER_EXAMPLE)
                body["external_ref"] = f"CRASH-{number:03d}"
                response = await client.post(
                    "/api/v1/orders", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
                )
                document = await response.json()
                assert response.status == 201, document
        async with sessions() as session:
            return list((await session.scalars(select(OrderRow.id))).all())
    finally:
        await engine.dispose()


async def deliver_review_cards(url: str, telegram: FakeBotApi, desk_id: int) -> dict[str, Json]:
    """Puts the review cards waiting in the outbox into the order-desk chat as sent, and records them sent.

    At Telegram's 20 messages a minute per group the outbox sender would need minutes for them;
    the cards are the ones it would send, and the outbox knows them as sent, as after its run.
    """
    engine = create_engine(url)
    cards: dict[str, Json] = {}
    try:
        async with create_session_factory(engine)() as session:
            rows = (
                await session.scalars(
                    select(OutboxRow).where(OutboxRow.chat_id == desk_id, OutboxRow.state != SENT)
                )
            ).all()
            for row in rows:
                assert row.method == "sendMessage" and row.order_id is not None, row.method
                message = await telegram.accept_as_sent(row.method, {"parse_mode": "HTML", **row.params})
                row.state = SENT
                row.telegram_message_id = message["message_id"]
                row.sent_at = datetime.now(UTC)
                cards[row.order_id] = message
            await session.commit()
    finally:
        await engine.dispose()
    return cards


@dataclass(frozen=True)
class Effects:
    """What the presses left in the database."""

    statuses: Counter[str]
    numbers: int
    # order id -> (audit lines, outbox messages)
    per_order: dict[str, tuple[int, int]]
    processed: set[int]
    inbox: int


async def effects(url: str) -> Effects:
    """Reads the orders, their audit trails and outbox messages, the processed updates and the inbox."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            orders = (await session.execute(select(OrderRow.id, OrderRow.status, OrderRow.number))).all()
            audit = dict(
                (
                    await session.execute(
                        select(OrderAuditRow.order_id, func.count()).group_by(OrderAuditRow.order_id)
                    )
                ).all()
            )
            outbox = dict(
                (
                    await session.execute(
                        select(OutboxRow.order_id, func.count())
                        .where(OutboxRow.order_id.is_not(None))
                        .group_by(OutboxRow.order_id)
                    )
                ).all()
            )
            processed = set((await session.scalars(select(ProcessedUpdateRow.update_id))).all())
            inbox = (await session.execute(select(func.count()).select_from(InboxUpdateRow))).scalar_one()
    finally:
        await engine.dispose()
    return Effects(
        statuses=Counter(status for _, status, _ in orders),
        numbers=len({number for _, _, number in orders if number is not None}),
        per_order={order_id: (audit.get(order_id, 0), outbox.get(order_id, 0)) for order_id, _, _ in orders},
        processed=processed,
        inbox=inbox,
    )


async def settled(url: str, update_ids: set[int], seed: int) -> Effects:
    """Waits until the updates are processed and the inbox is empty; returns the effects then."""
    deadline = time.monotonic() + 120
    while True:
        state = await effects(url)
        if update_ids <= state.processed and state.inbox == 0:
            return state
        left = update_ids - state.processed
        assert time.monotonic() < deadline, f"presses still unprocessed (seed {seed}): {left}"
        await asyncio.sleep(0.2)


def press_card(telegram: FakeBotApi, clerk: FakeUser, card: Json, order_id: str) -> Press:
    """Presses Approve on a review card."""
    query_id = telegram.press_button(clerk, card, text="Approve")
    return Press(order_id, int(telegram.pending_updates[-1]["update_id"]), query_id)


@pytest.fixture
async def fork_server(
    telegram: FakeBotApi, tmp_path: Path
) -> AsyncIterator[tuple[ForkServer, dict[str, str]]]:
    """A fork server for bot processes on the test's database, and the settings they run with."""
    admin = telegram.create_user("Ada Admin")
    clerks = [telegram.create_user(f"Clerk {index}") for index in range(2)]
    desk = telegram.create_group(DESK_TITLE, [admin, *clerks])
    settings = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": telegram.base_url,
        "DATABASE_URL": database_url(tmp_path),
        "ORDER_DESK_CHAT_ID": str(desk.id),
        "ADMIN_IDS": str(admin.id),
        "LOG_LEVEL": "INFO",
        # Short leases, so that messages a kill left claimed go out again soon.
        "OUTBOX_LEASE_SECONDS": "5",
    }
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    server = await ForkServer.launch({**env, **settings}, tmp_path)
    try:
        yield server, settings
    finally:
        await server.close()


async def test_every_press_has_its_effect_exactly_once_across_fifty_kills(
    telegram: FakeBotApi,
    start_bot: StartBot,
    fork_server: tuple[ForkServer, dict[str, str]],
    tmp_path: Path,
) -> None:
    server, settings = fork_server
    url = database_url(tmp_path)
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    desk_id = int(settings["ORDER_DESK_CHAT_ID"])
    clerks = [user for user in telegram.users.values() if user.first_name.startswith("Clerk")]
    await migrate(url)
    engine = create_engine(url)
    try:
        async with SqlUnitOfWork(create_session_factory(engine)) as uow:
            for clerk in clerks:
                await uow.staff.grant(clerk.id, Role.ORDER_DESK, by=None, at=datetime.now(UTC))
            await uow.commit()
    finally:
        await engine.dispose()
    order_ids = await place_orders(url, settings)
    logs: list[Path] = []

    async def start_child() -> int:
        """Forks a bot process and waits until it polls (it has processed its inbox by then)."""
        telegram.answer_delay = 0
        mark = len(telegram.calls)
        logs.append(tmp_path / f"bot-{len(logs):02d}.log")
        pid = await server.start(logs[-1])
        await until(lambda: polled_since(telegram, mark), 60, f"bot start {len(logs)} (seed {seed})")
        return pid

    # The fake learns the bot's id from its token on the first call; the cards are the bot's messages.
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url))
    async with Bot(TOKEN, session=session) as probe:
        await probe.get_me()
    cards = await deliver_review_cards(url, telegram, desk_id)
    assert sorted(cards) == sorted(order_ids)
    waiting = list(order_ids)
    rng.shuffle(waiting)
    # The control: one order approved with no kill, whose effects every other order must show.
    control = waiting.pop()
    pid = await start_child()
    presses = [press_card(telegram, clerks[0], cards[control], control)]
    reference = await settled(url, {presses[0].update_id}, seed)
    started = time.monotonic()
    for kill in range(KILLS):
        if kill:
            pid = await start_child()
        # Telegram answers slowly: more of each handler's time is spent inside its transaction.
        telegram.answer_delay = rng.uniform(0.02, 0.08)
        batch = [waiting.pop() for _ in range(min(rng.choice((1, 1, 2)), len(waiting)))]
        for order_id in batch:
            presses.append(press_card(telegram, rng.choice(clerks), cards[order_id], order_id))
            if rng.random() < 0.3:
                # A second clerk presses the same card at once: still one approval.
                presses.append(press_card(telegram, rng.choice(clerks), cards[order_id], order_id))
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await server.kill(pid)
    kill_phase = time.monotonic() - started

    telegram.answer_delay = 0
    for order_id in waiting:
        presses.append(press_card(telegram, rng.choice(clerks), cards[order_id], order_id))
    last = await start_bot(**settings)
    state = await settled(url, {press.update_id for press in presses}, seed)
    await last.stop()

    texts = [log.read_text(encoding="utf-8", errors="replace") for log in logs] + [last.log]
    # Starts that found presses a kill had cut short: stored, not finished.
    recovered = sum("left in the inbox" in text for text in texts[1:])
    context = f"seed {seed}, {recovered} starts recovered presses, kill phase {kill_phase:.0f}s"
    assert recovered >= KILLS // 5, f"too few kills hit a press in flight: {context}"
    assert state.statuses == Counter({OrderStatus.CONFIRMED.value: ORDERS}), context
    assert state.numbers == ORDERS, context
    # Every order shows the effects of one approval: none lost, none doubled, none half-applied.
    control_effects = reference.per_order[control]
    assert control_effects[0] > 0 and control_effects[1] > 0, reference
    assert Counter(state.per_order.values()) == Counter({control_effects: ORDERS}), context
    unanswered = [press for press in presses if press.query_id not in telegram.callback_answers]
    assert unanswered == [], context
    for name, text in zip([log.name for log in logs] + ["the last bot"], texts, strict=True):
        assert "Traceback" not in text and TOKEN not in text, f"{name}:\n{text}"
