"""Engine settings and migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import alembic_config, create_engine
from storage.models import Base


async def test_migrations_build_exactly_the_models_schema(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
        head = await connection.scalar(text("SELECT version_num FROM alembic_version"))

    assert diff == []
    assert head == ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()


async def test_sqlite_connections_are_tuned_for_concurrent_writers(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/orderdesk.sqlite3")
    try:
        async with engine.connect() as connection:
            settings = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            ]
    finally:
        await engine.dispose()

    # synchronous=1 is NORMAL
    assert settings == ["wal", 1, 10000, 1]


def test_create_engine_makes_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "db"

    engine = create_engine(f"sqlite+aiosqlite:///{folder}/orderdesk.sqlite3")

    assert folder.is_dir()
    assert engine.dialect.name == "sqlite"
