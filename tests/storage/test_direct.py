"""Statements run straight on the SQLite connection store and read what SQLAlchemy would (issue 17)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.direct import DirectStatement, run_direct
from storage.models import FsmStateRow, ProcessedUpdateRow
from storage.repositories import table_of
from tests.fixtures import statements_starting

Sessions = async_sessionmaker[AsyncSession]
AT = datetime(2026, 3, 16, 2, 30, 15, 123456, tzinfo=UTC)
PROCESSED = table_of(ProcessedUpdateRow)
DIALOGS = table_of(FsmStateRow)
_WRITE_DIALOG = DirectStatement(
    insert(DIALOGS).values(
        key=bindparam("key"), state=bindparam("state"), data=bindparam("data"), updated_at=bindparam("at")
    )
)
_MARK = DirectStatement(
    insert(PROCESSED)
    .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
    .returning(PROCESSED.c.update_id)
)
_READ_DIALOG = DirectStatement(
    select(DIALOGS.c.state, DIALOGS.c.data, DIALOGS.c.updated_at).where(DIALOGS.c.key == bindparam("key"))
)


async def test_what_a_direct_statement_writes_sqlalchemy_reads_back_the_same(
    session_factory: Sessions,
) -> None:
    async with session_factory() as session:
        await run_direct(
            session, _WRITE_DIALOG, {"key": "k1", "state": "Form:city", "data": {"city": "Lyon"}, "at": AT}
        )
        await session.commit()
    async with session_factory() as session:
        row = (await session.execute(select(FsmStateRow).where(FsmStateRow.key == "k1"))).scalar_one()
    assert (row.state, row.data, row.updated_at) == ("Form:city", {"city": "Lyon"}, AT)


async def test_a_direct_read_converts_its_columns_and_names_them(session_factory: Sessions) -> None:
    async with session_factory() as session:
        session.add(FsmStateRow(key="k2", state=None, data={"n": [1, 2]}, updated_at=AT))
        await session.commit()
    async with session_factory() as session:
        rows = await run_direct(session, _READ_DIALOG, {"key": "k2"})
    assert len(rows) == 1
    assert tuple(rows[0]) == (None, {"n": [1, 2]}, AT)
    assert (rows[0].state, rows[0].data, rows[0].updated_at.tzinfo) == (None, {"n": [1, 2]}, UTC)


async def test_a_direct_write_rolls_back_with_the_session(session_factory: Sessions) -> None:
    async with session_factory() as session:
        marked = await run_direct(session, _MARK, {"update_id": 7, "processed_at": AT})
        assert [tuple(row) for row in marked] == [(7,)]
        await session.rollback()
    async with session_factory() as session:
        assert (await session.execute(select(PROCESSED.c.update_id))).all() == []


async def test_a_refused_direct_write_raises_sqlalchemys_error(session_factory: Sessions) -> None:
    values: dict[str, object] = {"key": "k3", "state": None, "data": {}, "at": AT}
    async with session_factory() as session:
        await run_direct(session, _WRITE_DIALOG, values)
        with pytest.raises(IntegrityError):
            await run_direct(session, _WRITE_DIALOG, values)


async def test_engine_listeners_see_a_direct_statement(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    with statements_starting(engine, "SELECT") as reads:
        async with session_factory() as session:
            await run_direct(session, _READ_DIALOG, {"key": "nobody"})
    assert len(reads) == 1 and "fsm_states" in reads[0]


def test_a_statement_with_an_in_list_is_refused() -> None:
    expanding = select(PROCESSED.c.update_id).where(
        PROCESSED.c.update_id.in_(bindparam("ids", expanding=True))
    )
    with pytest.raises(ValueError, match="expanding"):
        DirectStatement(expanding)


async def test_on_sqlite_a_direct_statement_bypasses_the_sessions_execution(
    session_factory: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with session_factory() as session:
        if session.get_bind().dialect.name != "sqlite":
            # PostgreSQL runs it through the session: nothing to bypass there.
            assert await run_direct(session, _READ_DIALOG, {"key": "nobody"}) == []
            return

        async def refuse(*_: object, **__: object) -> None:
            raise AssertionError("went through AsyncSession.execute")

        monkeypatch.setattr(session, "execute", refuse)
        assert await run_direct(session, _READ_DIALOG, {"key": "nobody"}) == []


async def test_after_a_commit_a_direct_statement_runs_in_the_sessions_next_transaction(
    session_factory: Sessions,
) -> None:
    async with session_factory() as session:
        await run_direct(session, _WRITE_DIALOG, {"key": "kept", "state": None, "data": {}, "at": AT})
        await session.commit()
        await run_direct(session, _WRITE_DIALOG, {"key": "dropped", "state": None, "data": {}, "at": AT})
        await session.rollback()
    async with session_factory() as session:
        keys = (await session.execute(select(DIALOGS.c.key))).scalars().all()
    assert keys == ["kept"]


def test_parameters_are_picked_as_sqlalchemy_picks_them() -> None:
    """By key, else compiled name, else the statement's own value (literal, callable); required ones asked."""
    statement = (
        select(DIALOGS.c.key)
        .where(DIALOGS.c.key == bindparam("key"))
        .where(DIALOGS.c.state == "Form:city")
        .where(DIALOGS.c.updated_at < bindparam("until", callable_=lambda: AT))
    )
    direct = DirectStatement(statement)
    compiled = statement.compile(dialect=SQLiteDialect_aiosqlite())
    for values in ({"key": "k1"}, {"key": "k1", "until": datetime(2026, 1, 1, tzinfo=UTC)}):
        expected = compiled.construct_params(values)
        processors = cast(Mapping[str, Callable[[Any], Any]], compiled._bind_processors)
        assert direct.parameters(values) == tuple(
            processors[name](expected[name]) if name in processors else expected[name]
            for name in compiled.positiontup or ()
        )
    assert direct.parameters({"key": "k1"})[1] == "Form:city"
    with pytest.raises(InvalidRequestError, match="'key'"):
        direct.parameters({})
