"""Updates per second of the real bot against a bare aiogram echo bot, on the same loopback fake Bot API.

    .venv/bin/python -m bench.throughput                  # SQLite and PostgreSQL, 1,000 updates per scenario
    .venv/bin/python -m bench.throughput --updates 300 --no-postgres

Four scenarios, each from 50 users (the wizard step from as many users as updates, one step each):
`/start`, `/track <reference>` of the user's own order, the answer to a wizard question, and a staff
member's press of an order card's button. The echo bot makes the same Bot API requests per update
(one message; an answer and a message for a press), so the ratio measures what the bot adds: its
database work, its middlewares and its handlers. Both take updates by long polling from the fake.
Targets (issue 17): every ratio at least 0.6 on PostgreSQL, at least 0.4 on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from pydantic import SecretStr
from sqlalchemy import insert

from bench.databases import order_row, throwaway_postgres
from bench.echo_bot import echo_router
from bench.fake_telegram import Json, LeanBotApi, button_press, private_message
from bot.app import build_workflow, freeze_startup_heap
from bot.config import Settings
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import create_i18n
from bot.inbox import UpdateProcessor
from bot.middlewares import bootstrap_admins
from bot.polling import poll
from domain.clock import SystemClock
from presentation.execution_cards import ExecAction, ExecStep
from storage.database import create_engine, create_session_factory, migrate
from storage.fsm import SqlFsmStorage
from storage.inbox import SqlUpdateInbox
from storage.models import OrderRow
from storage.uow import SqlUnitOfWork

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
USERS = 50
FIRST_USER = 10_000
TARGETS = {"PostgreSQL": 0.6, "SQLite": 0.4}


@dataclass(frozen=True)
class Scenario:
    """A kind of update: how to build the i-th one, and the request that ends its handling."""

    name: str
    build: Callable[[LeanBotApi, int], Json]
    done_method: str
    # Updates to send first, untimed (e.g. each user opens the wizard).
    prepare: Callable[[LeanBotApi, int], Json] | None = None


def _user(index: int) -> int:
    return FIRST_USER + index % USERS


def _reference(user_id: int) -> str:
    return f"R-{user_id:08d}"


def _order_id(user_id: int) -> str:
    return str(uuid.UUID(int=user_id))


SCENARIOS = [
    Scenario(
        "/start", lambda api, i: private_message(api.make_update_id(), _user(i), "/start"), "sendMessage"
    ),
    Scenario(
        "/track <reference>",
        lambda api, i: private_message(api.make_update_id(), _user(i), f"/track {_reference(_user(i))}"),
        "sendMessage",
    ),
    Scenario(
        "wizard step",
        lambda api, i: private_message(api.make_update_id(), 50_000 + i, "Li Wei"),
        "sendMessage",
        prepare=lambda api, i: private_message(api.make_update_id(), 50_000 + i, "/neworder"),
    ),
    Scenario(
        "staff button press",
        lambda api, i: button_press(
            api.make_update_id(),
            _user(i),
            ExecAction(order_id=_order_id(_user(i)), step=ExecStep.OPEN).pack(),
        ),
        "sendMessage",
    ),
]


async def _measure(api: LeanBotApi, scenario: Scenario, count: int) -> float:
    """Sends `count` updates of the scenario (after its preparation) and returns the updates per second."""
    if scenario.prepare is not None:
        base = api.counts[scenario.done_method]
        api.queue(scenario.prepare(api, i) for i in range(count))
        # Opening the wizard sends an intro and the first question.
        await api.wait_count(scenario.done_method, base + 2 * count, within=600)
        await asyncio.sleep(0.2)
    base = api.counts[scenario.done_method]
    updates = [scenario.build(api, i) for i in range(count)]
    started = time.perf_counter()
    api.queue(updates)
    await api.wait_count(scenario.done_method, base + count, within=600)
    return count / (time.perf_counter() - started)


async def run_echo(api: LeanBotApi, count: int) -> dict[str, float]:
    """Measures the echo bot on every scenario."""
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    # This process imported the whole bot: frozen, that heap costs the echo bot's collections nothing,
    # as in a process of its own.
    freeze_startup_heap()
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        rates = {}
        for scenario in SCENARIOS:
            done = scenario.done_method
            rates[scenario.name] = await _measure(api, Scenario(scenario.name, scenario.build, done), count)
        return rates
    finally:
        await dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()


async def seed(url: str, now: datetime) -> None:
    """One order per user (its reference is R-<user id>), the users also being warehouse staff."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            rows = [
                order_row(_order_id(user), user, "confirmed", now, customer_telegram_user_id=user, items=[])
                | {"reference": _reference(user)}
                for user in range(FIRST_USER, FIRST_USER + USERS)
            ]
            await connection.execute(insert(OrderRow), rows)
    finally:
        await engine.dispose()


@asynccontextmanager
async def real_bot(api: LeanBotApi, url: str, admins: list[int]) -> AsyncIterator[None]:
    """Runs the real bot (polling the fake through the inbox) on a migrated database while the block runs."""
    clock = SystemClock()
    settings = Settings(
        bot_token=SecretStr(TOKEN), telegram_api_base=api.base_url, database_url=url, admin_ids=admins
    )
    engine = create_engine(url)
    session_factory = create_session_factory(engine)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(session_factory)

    i18n = create_i18n(settings.default_language)
    workflow = build_workflow(settings, clock, i18n)
    bot = build_bot(TOKEN, api.base_url, reply_retry_seconds=settings.reply_retry_seconds)
    dispatcher = build_dispatcher(
        uow_factory=uow_factory, i18n=i18n, admin_ids=admins, storage=SqlFsmStorage(session_factory)
    )
    for key, value in workflow.handler_data().items():
        dispatcher[key] = value
    await bootstrap_admins(uow_factory, admins, clock.now())
    processor = UpdateProcessor(SqlUpdateInbox(session_factory), dispatcher, bot, clock)
    # As bot.app.run does before it serves updates.
    freeze_startup_heap()
    stop = asyncio.Event()
    polling = asyncio.create_task(
        poll(bot, processor, stop, allowed_updates=["message", "callback_query"], hold_seconds=1)
    )
    try:
        yield
    finally:
        stop.set()
        await polling
        await bot.session.close()
        await engine.dispose()


async def run_real(api: LeanBotApi, url: str, count: int) -> dict[str, float]:
    """Measures the real bot on every scenario."""
    await migrate(url)
    await seed(url, SystemClock().now())
    async with real_bot(api, url, list(range(FIRST_USER, FIRST_USER + USERS))):
        return {scenario.name: await _measure(api, scenario, count) for scenario in SCENARIOS}


def report(database: str, echo: dict[str, float], real: dict[str, float]) -> None:
    """Prints each scenario's rate beside the echo bot's, its ratio and the target."""
    target = TARGETS[database]
    for name, rate in real.items():
        ratio = rate / echo[name]
        verdict = "ok" if ratio >= target else "BELOW TARGET"
        print(
            f"{database:10} {name:20} {rate:8.0f} updates/s   echo {echo[name]:6.0f}/s   "
            f"ratio {ratio:4.2f} (target >= {target}) {verdict}"
        )


async def main(args: argparse.Namespace) -> None:
    """Runs the echo bot, then the real bot on each database, against one fake."""
    logging.basicConfig(level=logging.WARNING)
    api = LeanBotApi()
    await api.start()
    try:
        echo = await run_echo(api, args.updates)
        print("echo bot: " + ", ".join(f"{name} {rate:.0f}/s" for name, rate in echo.items()))
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
                report("SQLite", echo, await run_real(api, url, args.updates))
        if not args.no_postgres:
            async with throwaway_postgres() as postgres_url:
                if postgres_url is not None:
                    report("PostgreSQL", echo, await run_real(api, postgres_url, args.updates))
    finally:
        await api.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """--updates per scenario, --no-sqlite, --no-postgres."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
