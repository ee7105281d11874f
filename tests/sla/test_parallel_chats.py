"""The sweep tells its chats side by side on PostgreSQL, each chat's messages in order (issue 17)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import TracebackType
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.notifier import ChatLanguageLookup
from application.ports import UnitOfWork
from application.sla_sweep_settings import SweepSettings
from application.sla_sweeps import SlaSweeper
from domain.clock import FixedClock
from domain.sla.policy import Stage
from presentation.sla_alerts import Render, SlaAlertTexts
from storage.database import parallel_writers
from storage.uow import SqlUnitOfWork
from tests.sla.conftest import (
    LOGISTICS_CHAT,
    ORDER_DESK_CHAT,
    SLA,
    TEAM_CHATS,
    WAREHOUSE_CHAT,
    UowFactory,
    outbox_rows,
    recorded_alerts,
    seed_clock,
)

START = datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
Sessions = async_sessionmaker[AsyncSession]
# Alerts per chat: enough for several merged messages each.
PER_CHAT = 150
STAGE_CHATS = {
    Stage.FIRST_REVIEW: ORDER_DESK_CHAT,
    Stage.PICKING: WAREHOUSE_CHAT,
    Stage.BOOKING: LOGISTICS_CHAT,
}


class OpenUnits:
    """Counts the units of work open at once."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0

    def factory(self, session_factory: Sessions) -> UowFactory:
        """Makes units of work on the database that count themselves while open."""
        counter = self

        class Counted(SqlUnitOfWork):
            async def __aenter__(self) -> Counted:
                await super().__aenter__()
                counter.open += 1
                counter.peak = max(counter.peak, counter.open)
                return self

            async def __aexit__(
                self,
                kind: type[BaseException] | None,
                error: BaseException | None,
                trace: TracebackType | None,
            ) -> None:
                counter.open -= 1
                await super().__aexit__(kind, error, trace)

        return lambda: Counted(session_factory)


def sweeper(
    uow_factory: UowFactory,
    render: Render,
    parallel_chats: int,
    chat_language: ChatLanguageLookup | None = None,
) -> SlaSweeper:
    """A sweeper two days after START, telling up to parallel_chats chats at once."""
    texts = SlaAlertTexts(render, zone=SLA.calendar.zone)
    return SlaSweeper(
        uow_factory=uow_factory,
        clock=FixedClock(START + timedelta(days=2)),
        sla=SLA,
        team_chats=TEAM_CHATS,
        texts=texts,
        settings=SweepSettings(parallel_chats=parallel_chats),
        chat_language=chat_language,
        texts_in=lambda _language: texts,
    )


async def seed_three_chats(new_uow: UowFactory) -> None:
    """Overdue clocks for the order desk, the warehouse and logistics, PER_CHAT each."""
    for stage in STAGE_CHATS:
        for minute in range(PER_CHAT):
            await seed_clock(new_uow, stage, START + timedelta(minutes=minute))


def test_postgresql_tells_chats_side_by_side_and_sqlite_one_after_another() -> None:
    assert parallel_writers("postgresql+asyncpg://postgres@127.0.0.1:5432/test") == 4
    assert parallel_writers("sqlite+aiosqlite:///orderdesk.sqlite3") == 1


async def test_every_chat_gets_its_alerts_in_order_when_chats_are_told_at_once(
    new_uow: UowFactory, session_factory: Sessions, render: Render, database_url: str
) -> None:
    await seed_three_chats(new_uow)
    units = OpenUnits()
    parallel = parallel_writers(database_url)

    report = await sweeper(units.factory(session_factory), render, parallel).sweep()

    assert (report.breaches, report.failed) == (3 * PER_CHAT, 0)
    assert len(await recorded_alerts(session_factory)) == 3 * PER_CHAT
    messages = await outbox_rows(session_factory)
    for chat_id in STAGE_CHATS.values():
        parts = [
            re.search(r"\((\d+) of (\d+)\)", row.params["text"]) for row in messages if row.chat_id == chat_id
        ]
        numbered = [(int(found[1]), int(found[2])) for found in parts if found]
        # The chat's merged messages were queued in their order: part 1 of n first.
        assert len(numbered) == len(parts) >= 2
        assert numbered == [(part, len(parts)) for part in range(1, len(parts) + 1)]
    # The sweep's lock keeps a unit of work open; beside it, one per chat told at the same time.
    assert units.peak == 1 + min(parallel, len(STAGE_CHATS))


async def test_a_chat_whose_language_cannot_be_read_does_not_stop_the_others(
    new_uow: UowFactory, session_factory: Sessions, render: Render, database_url: str
) -> None:
    await seed_three_chats(new_uow)

    async def language_of(_uow: UnitOfWork, chat_id: int) -> str | None:
        if chat_id == WAREHOUSE_CHAT:
            raise LookupError("the chat settings row cannot be read")
        return None

    report = await sweeper(
        new_uow,
        render,
        parallel_writers(database_url),
        chat_language=language_of,
    ).sweep()

    told = {row.chat_id for row in await outbox_rows(session_factory)}
    assert told == {ORDER_DESK_CHAT, LOGISTICS_CHAT}
    assert (report.breaches, report.failed) == (2 * PER_CHAT, 1)
    # The warehouse's alerts wait for the next sweep, which can read the chat's language again.
    again = await sweeper(new_uow, render, parallel_writers(database_url)).sweep()
    assert again.breaches == PER_CHAT
