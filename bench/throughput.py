"""Updates per second of the real bot against a bare aiogram echo bot, in the same process, round by round.

    .venv/bin/python -m bench.throughput                  # SQLite and PostgreSQL, 5 rounds of 300 updates
    .venv/bin/python -m bench.throughput --updates 200 --rounds 3 --no-postgres

Four scenarios, each from 50 users (the wizard step from as many users as updates, one step each):
`/start`, `/track <reference>` of the user's own order, the answer to a wizard question, and a staff
member's press of an order card's button. The echo bot makes the same Bot API requests per update
(one message; an answer and a message for a press), so the ratio measures what the bot adds: its
database work, its middlewares and its handlers. Each bot long-polls a loopback fake Bot API of its
own; both run throughout, and each round times the echo bot, then the real bot, on the same number of
updates. This machine's speed swings by half within minutes, so a ratio is taken within a round, seconds
apart, and the median of the rounds is printed with their range.
Targets (issue 17): every ratio at least 0.6 on PostgreSQL, at least 0.4 on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
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


@dataclass(frozen=True)
class Round:
    """One round of a scenario: the echo bot's rate, then the real bot's, seconds apart."""

    echo: float
    real: float


async def _measure(api: LeanBotApi, scenario: Scenario, count: int, first: int = 0) -> float:
    """Sends `count` updates of the scenario (after its preparation) and returns the updates per second.

    first: the index of the round's first update (a wizard step needs users who have not answered yet).
    """
    indexes = range(first, first + count)
    if scenario.prepare is not None:
        base = api.counts[scenario.done_method]
        api.queue(scenario.prepare(api, i) for i in indexes)
        # Opening the wizard sends an intro and the first question.
        await api.wait_count(scenario.done_method, base + 2 * count, within=600)
        await asyncio.sleep(0.2)
    base = api.counts[scenario.done_method]
    updates = [scenario.build(api, i) for i in indexes]
    started = time.perf_counter()
    api.queue(updates)
    await api.wait_count(scenario.done_method, base + count, within=600)
    return count / (time.perf_counter() - started)


@asynccontextmanager
async def echo_bot(api: LeanBotApi) -> AsyncIterator[None]:
    """Runs the bare aiogram echo bot, polling its own fake, while the block runs."""
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    # This process imported the whole bot: frozen, that heap costs the echo bot's collections nothing,
    # as in a process of its own.
    freeze_startup_heap()
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        yield
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


async def run_rounds(
    echo_api: LeanBotApi, real_api: LeanBotApi, url: str, count: int, rounds: int
) -> dict[str, list[Round]]:
    """Measures every scenario round by round: the echo bot (already running), then the real bot."""
    await migrate(url)
    await seed(url, SystemClock().now())
    results: dict[str, list[Round]] = {}
    async with real_bot(real_api, url, list(range(FIRST_USER, FIRST_USER + USERS))):
        for scenario in SCENARIOS:
            # The echo bot has no wizard to open: it answers the step's message as it answers any.
            echoed = Scenario(scenario.name, scenario.build, scenario.done_method)
            results[scenario.name] = [
                Round(
                    echo=await _measure(echo_api, echoed, count, first=index * count),
                    real=await _measure(real_api, scenario, count, first=index * count),
                )
                for index in range(rounds)
            ]
    return results


def report(database: str, results: dict[str, list[Round]]) -> None:
    """Prints each scenario's median rates, the median ratio of its rounds and their range, and the target."""
    target = TARGETS[database]
    for name, rounds in results.items():
        ratios = [each.real / each.echo for each in rounds]
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio >= target else "BELOW TARGET"
        print(
            f"{database:10} {name:20} {statistics.median(each.real for each in rounds):6.0f} updates/s   "
            f"echo {statistics.median(each.echo for each in rounds):6.0f}/s   ratio {ratio:4.2f} "
            f"(rounds {min(ratios):4.2f}-{max(ratios):4.2f}; target >= {target}) {verdict}"
        )


async def main(args: argparse.Namespace) -> None:
    """Runs the echo bot throughout, and the real bot on each database, each against its own fake."""
    logging.basicConfig(level=logging.WARNING)
    echo_api, real_api = LeanBotApi(), LeanBotApi()
    await echo_api.start()
    await real_api.start()
    print(f"{args.rounds} rounds of {args.updates} updates a scenario; medians, and the range of the ratios")
    try:
        async with echo_bot(echo_api):
            if not args.no_sqlite:
                with tempfile.TemporaryDirectory() as folder:
                    url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
                    report("SQLite", await run_rounds(echo_api, real_api, url, args.updates, args.rounds))
            if not args.no_postgres:
                async with throwaway_postgres() as postgres:
                    if postgres is not None:
                        rounds = await run_rounds(echo_api, real_api, postgres, args.updates, args.rounds)
                        report("PostgreSQL", rounds)
    finally:
        await echo_api.close()
        await real_api.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """--updates per round and scenario, --rounds, --no-sqlite, --no-postgres."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
