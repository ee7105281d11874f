"""The statements every update runs, straight on the sqlite3 connection of the session's transaction.

Through SQLAlchemy each statement took a greenlet, an execution context, a cursor wrapper and
four hops between greenlets, several times the statement itself on a local file: the three of
a /start were a ninth of its instructions (callgrind, issue 17). A DirectStatement is a Core statement
compiled once, with the same parameter conversions SQLAlchemy would apply (so the stored values
are the same) and the same result conversions; it runs on the connection of the session's open
transaction, so it commits or rolls back with everything else. Listeners of the engine's
before_cursor_execute still see it (the tests count statements that way). On PostgreSQL, or
under a driver that is not the inline SQLite one, the session runs the statement as before.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import BindParameter, Connection, Executable
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import inline_sqlite_of, run_inline

_DIALECT = SQLiteDialect_aiosqlite()
Convert = Callable[[Any], Any]
# Where a session keeps its transaction's connections for direct statements.
_DIRECT = "direct_sqlite_connection"


class DirectStatement:
    """A Core statement compiled once for SQLite: its SQL, its parameters in order, their conversions."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=_DIALECT)  # type: ignore[attr-defined]
        if compiled.post_compile_params:
            # An IN list is rendered per call (expanding parameters): not a statement to keep compiled.
            raise ValueError("a statement with expanding parameters cannot run directly")
        if compiled.escaped_bind_names:
            raise ValueError("a statement with escaped parameter names cannot run directly")
        self.sql: str = compiled.string
        processors: Mapping[str, Convert] = compiled._bind_processors
        binds: dict[str, BindParameter[Any]] = {name: bind for bind, name in compiled.bind_names.items()}
        # Each positional parameter: the names a value may be given by, its conversion, its bind.
        self._parameters: tuple[tuple[str, str, Convert | None, BindParameter[Any]], ...] = tuple(
            (binds[name].key, name, processors.get(name), binds[name]) for name in compiled.positiontup or ()
        )
        columns = compiled._result_columns
        self._results: tuple[Convert | None, ...] = tuple(
            column.type._cached_result_processor(_DIALECT, None) for column in columns
        )
        # Rows read like SQLAlchemy's: by position, and by column name as attributes.
        self._row: Any = namedtuple("DirectRow", [column.keyname for column in columns], rename=True)  # type: ignore[misc]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The statement's positional parameters for these values, converted as SQLAlchemy would.

        As SQLCompiler.construct_params picks them (a value by the parameter's key, else its
        compiled name, else the statement's own), without building its dictionary of every one.
        """
        parameters = []
        for key, name, convert, bind in self._parameters:
            if key in values:
                value = values[key]
            elif name in values:
                value = values[name]
            elif bind.required:
                raise InvalidRequestError(f"A value is required for bind parameter {key!r}")
            else:
                value = bind.effective_value if bind.callable else bind.value
            parameters.append(value if convert is None else convert(value))
        return tuple(parameters)

    def rows(self, cursor: sqlite3.Cursor) -> list[Any]:
        """The rows the cursor returns, each column converted as SQLAlchemy would."""
        fetched = cursor.fetchall()
        if not self._results:
            return fetched
        make, results = self._row._make, self._results
        return [
            make(
                value if convert is None else convert(value)
                for value, convert in zip(row, results, strict=True)
            )
            for row in fetched
        ]


async def run_direct(
    session: AsyncSession, statement: DirectStatement, values: Mapping[str, Any]
) -> Sequence[Any]:
    """Runs the statement in the session's transaction (begun now if need be) and returns its rows.

    The rows read by position and by column name, as SQLAlchemy's do.
    """
    direct = await _sqlite_of(session)
    if direct is None:
        result = await session.execute(statement.statement, dict(values))
        return result.all() if cast(CursorResult[Any], result).returns_rows else []
    sync_connection, sqlite_connection = direct
    parameters = statement.parameters(values)
    for listener in sync_connection.dispatch.before_cursor_execute:
        listener(sync_connection, None, statement.sql, parameters, None, False)
    return statement.rows(run_inline(sqlite_connection, statement.sql, parameters))


async def _sqlite_of(session: AsyncSession) -> tuple[Connection, sqlite3.Connection] | None:
    """The session's connection and its sqlite3 connection, in its open transaction (begun now if need be).

    None on another database or driver. Kept in the session for as long as the transaction is
    open: asking the session for its connection costs a greenlet of its own each time.
    """
    if session.get_bind().dialect.name != "sqlite":
        return None
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_DIRECT)
    if kept is not None and transaction is not None and kept[0] is transaction and transaction.is_active:
        return kept[1], kept[2]
    sync_connection = (await session.connection()).sync_connection
    sqlite_connection = inline_sqlite_of(sync_connection) if sync_connection is not None else None
    if sync_connection is None or sqlite_connection is None:
        return None
    session.info[_DIRECT] = (session.sync_session.get_transaction(), sync_connection, sqlite_connection)
    return sync_connection, sqlite_connection
