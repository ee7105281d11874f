"""SQL payment tests run on the storage tests' databases: a migrated SQLite file and PostgreSQL."""

from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]
