"""Fixtures for bot tests: a fake database, the real catalogs, the real dispatcher and a recording bot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n
from tests import telegram
from tests.fakes import FakeDatabase

ADMIN_ID = 900
CUSTOMER_ID = 100


@pytest.fixture
def dispatcher(database: FakeDatabase, i18n: PoI18n) -> Dispatcher:
    """The production dispatcher on the fake database, with one configured admin."""
    return build_dispatcher(uow_factory=database.unit_of_work, i18n=i18n, admin_ids=[ADMIN_ID])


def message_update(
    update_id: int,
    text: str,
    *,
    user_id: int = CUSTOMER_ID,
    language_code: str | None = "en",
    first_name: str = "Ann",
    chat_id: int | None = None,
    chat_type: str = "private",
) -> Update:
    """Builds an update carrying a text message (commands get their bot_command entity)."""
    message = telegram.text_message(
        update_id,
        text,
        chat=telegram.chat(chat_id if chat_id is not None else user_id, first_name, kind=chat_type),
        sender=telegram.user(user_id, first_name, language_code),
        date=datetime.now(UTC),
    )
    return Update.model_validate({"update_id": update_id, "message": message})


def callback_update(
    update_id: int,
    data: str,
    *,
    user_id: int = CUSTOMER_ID,
    language_code: str | None = "en",
    message_id: int = 1,
) -> Update:
    """Builds an update for a button press on a bot message in the user's private chat."""
    message = telegram.bot_message(
        message_id, "Choose your language:", chat=telegram.chat(user_id, "Ann"), date=datetime.now(UTC)
    )
    query = telegram.callback_query(
        f"cb{update_id}", data, sender=telegram.user(user_id, "Ann", language_code), message=message
    )
    return Update.model_validate({"update_id": update_id, "callback_query": query})
