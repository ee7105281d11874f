"""Fixtures for bot tests: a fake database, the real catalogs, the real dispatcher and a recording bot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n, create_i18n
from tests.fakes import FakeDatabase

ADMIN_ID = 900
CUSTOMER_ID = 100
BOT_ID = 42


@pytest.fixture
def i18n() -> PoI18n:
    """The real catalogs, English by default."""
    return create_i18n("en")


@pytest.fixture
def dispatcher(database: FakeDatabase, i18n: PoI18n) -> Dispatcher:
    """The production dispatcher on the fake database, with one configured admin."""
    return build_dispatcher(uow_factory=database.unit_of_work, i18n=i18n, admin_ids=[ADMIN_ID])


def _user(user_id: int, language_code: str | None, first_name: str) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code is not None:
        user["language_code"] = language_code
    return user


def _chat(chat_id: int, chat_type: str, first_name: str) -> dict[str, Any]:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": first_name}
    return {"id": chat_id, "type": chat_type, "title": "Team"}


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
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(datetime.now(UTC).timestamp()),
        "chat": _chat(chat_id if chat_id is not None else user_id, chat_type, first_name),
        "from": _user(user_id, language_code, first_name),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
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
    message = {
        "message_id": message_id,
        "date": int(datetime.now(UTC).timestamp()),
        "chat": _chat(user_id, "private", "Ann"),
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "OrderDesk"},
        "text": "Choose your language:",
    }
    return Update.model_validate(
        {
            "update_id": update_id,
            "callback_query": {
                "id": f"cb{update_id}",
                "from": _user(user_id, language_code, "Ann"),
                "chat_instance": "ci",
                "message": message,
                "data": data,
            },
        }
    )
