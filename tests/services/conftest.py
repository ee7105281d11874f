"""Use-case tests run on the same real databases as the storage tests."""

from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]
